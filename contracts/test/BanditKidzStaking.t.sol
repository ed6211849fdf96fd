// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {ReentrantStaker, ReentrantRecipient} from "./utils/Attackers.sol";
import {BanditKidzStaking} from "../src/BanditKidzStaking.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

contract BanditKidzStakingTest is Fixture {
    event Staked(address indexed account, uint256 indexed tokenId);
    event Unstaked(address indexed account, uint256 indexed tokenId, bool early);
    event RewardsClaimed(address indexed account, uint256 sAmount, uint256 usdcAmount);
    event RewardAdded(address indexed token, uint256 amount);
    event RewardsForfeited(address indexed account, uint256 indexed tokenId, uint256 sAmount, uint256 usdcAmount);
    event EmergencyUnstaked(address indexed account, uint256 indexed tokenId);

    function notifyS(uint256 amount) internal {
        vm.deal(address(payment), address(payment).balance + amount);
        vm.prank(address(payment));
        staking.notifyRewardS{value: amount}();
    }

    // ------------------------------------------------------------------ stake

    function test_stake_recordsEverything() public {
        uint256 id = nft.mint(alice);
        vm.startPrank(alice);
        nft.approve(address(staking), id);
        vm.expectEmit(address(staking));
        emit Staked(alice, id);
        staking.stake(id);
        vm.stopPrank();
        assertEq(nft.ownerOf(id), address(staking), "custody");
        assertEq(staking.stakedBalanceOf(alice), 1, "balance");
        assertEq(staking.totalStaked(), 1, "total");
        assertEq(staking.stakedTokensOf(alice)[0], id, "list");
        BanditKidzStaking.StakeInfo memory info = staking.stakeInfo(id);
        assertEq(info.staker, alice, "staker");
        assertEq(info.stakedAt, START, "stakedAt");
        assertEq(info.unstakedAt, 0, "unstakedAt");
        assertFalse(info.earlyUnstake, "early");
        assertTrue(staking.isStaked(id), "isStaked");
        assertEq(staking.minStakePeriod(), MIN_STAKE, "period");
        assertEq(staking.nft(), address(nft), "nft");
        assertEq(staking.usdc(), address(usdc), "usdc");
        assertEq(staking.rewardSource(), address(payment), "source");
    }

    function test_stake_reverts() public {
        uint256 id = nft.mint(alice);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingNotTokenOwner.selector, bob, id, alice));
        staking.stake(id);
        vm.prank(alice);
        vm.expectRevert(); // not approved
        staking.stake(id);
        mintAndStake(bob, 1);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingAlreadyStaked.selector, 2));
        staking.stake(2);
    }

    function test_stakeBatch() public {
        uint256[] memory ids = mintAndStake(alice, 10);
        assertEq(staking.stakedBalanceOf(alice), 10, "balance");
        assertEq(staking.totalStaked(), 10, "total");
        for (uint256 i; i < 10; ++i) {
            assertEq(nft.ownerOf(ids[i]), address(staking), "custody");
        }
    }

    function test_stakeBatch_reverts() public {
        uint256[] memory empty = new uint256[](0);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingInvalidBatch.selector, 0));
        staking.stakeBatch(empty);
        uint256[] memory big = new uint256[](101);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingInvalidBatch.selector, 101));
        staking.stakeBatch(big);
        uint256 id = nft.mint(alice);
        uint256[] memory dup = new uint256[](2);
        dup[0] = id;
        dup[1] = id;
        vm.startPrank(alice);
        nft.setApprovalForAll(address(staking), true);
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingAlreadyStaked.selector, id));
        staking.stakeBatch(dup);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ rewards

    function test_rewards_splitPerNFT() public {
        mintAndStake(alice, 1);
        mintAndStake(bob, 2);
        payS(carol); // 0.75 S to stakers
        payUSDC(carol); // 0.25 USDC
        (uint256 aS, uint256 aU) = staking.pendingRewards(alice);
        assertEq(aS, 0.25 ether, "alice S locked");
        assertEq(aU, 83_333, "alice USDC locked");
        (aS, aU) = staking.earned(alice);
        assertEq(aS + aU, 0, "nothing claimable before the minimum period");
        vm.warp(START + MIN_STAKE);
        (aS, aU) = staking.earned(alice);
        (uint256 bS, uint256 bU) = staking.earned(bob);
        assertEq(aS, 0.25 ether, "alice S");
        assertEq(bS, 0.5 ether, "bob S");
        assertEq(aU, 83_333, "alice USDC");
        assertEq(bU, 166_666, "bob USDC");
        (uint256 pS, uint256 pU) = staking.pendingRewards(alice);
        assertEq(pS + pU, 0, "unlocked");
        vm.expectEmit(address(staking));
        emit RewardsClaimed(alice, 0.25 ether, 83_333);
        vm.prank(alice);
        staking.claimRewards();
        assertEq(alice.balance, 0.25 ether, "paid S");
        assertEq(usdc.balanceOf(alice), 83_333, "paid USDC");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingNothingToClaim.selector, alice));
        staking.claimRewards();
    }

    function test_rewards_keptWhileNobodyStakes() public {
        payS(carol);
        payS(carol);
        mintAndStake(alice, 1);
        (uint256 aS,) = staking.pendingRewards(alice);
        assertEq(aS, 1.5 ether, "queued rewards go to the first staker, locked");
        (aS,) = staking.earned(alice);
        assertEq(aS, 0, "not claimable yet");
        vm.warp(START + MIN_STAKE);
        (aS,) = staking.earned(alice);
        assertEq(aS, 1.5 ether, "claimable after the minimum period");
    }

    function test_rewards_dustCarried() public {
        mintAndStake(alice, 3);
        notifyS(10); // 10 wei over 3 NFTs
        (uint256 qS,) = staking.queuedRewards();
        assertEq(qS, 10e18 % 3, "sub-wei dust queued");
        notifyS(2);
        vm.warp(START + MIN_STAKE);
        (uint256 aS,) = staking.earned(alice);
        assertEq(aS, 12, "the carried dust completes the second distribution");
        vm.prank(alice);
        staking.claimRewards();
        assertEq(alice.balance, 12, "paid");
    }

    function test_unstake_afterPeriodKeepsRewards() public {
        uint256[] memory ids = mintAndStake(alice, 1);
        mintAndStake(bob, 1);
        payS(carol);
        vm.warp(START + MIN_STAKE);
        vm.expectEmit(address(staking));
        emit Unstaked(alice, ids[0], false);
        vm.prank(alice);
        staking.unstake(ids[0]);
        assertEq(nft.ownerOf(ids[0]), alice, "returned");
        (uint256 aS,) = staking.earned(alice);
        assertEq(aS, 0.375 ether, "kept");
        BanditKidzStaking.StakeInfo memory info = staking.stakeInfo(ids[0]);
        assertEq(info.unstakedAt, START + MIN_STAKE, "unstakedAt");
        assertFalse(info.earlyUnstake, "not early");
        vm.prank(alice);
        staking.claimRewards();
        assertEq(alice.balance, 0.375 ether, "claimed after unstake");
    }

    function test_unstake_earlyForfeitsToRemainingStakers() public {
        uint256[] memory ids = mintAndStake(alice, 1);
        mintAndStake(bob, 1);
        payS(carol); // 0.375 each
        vm.expectEmit(address(staking));
        emit RewardsForfeited(alice, ids[0], 0.375 ether, 0);
        vm.prank(alice);
        staking.unstake(ids[0]);
        (uint256 aS,) = staking.earned(alice);
        (uint256 aP,) = staking.pendingRewards(alice);
        (uint256 bS,) = staking.pendingRewards(bob);
        assertEq(aS + aP, 0, "alice forfeited");
        assertEq(bS, 0.75 ether, "bob got it (locked like the rest of his rewards)");
        assertTrue(staking.stakeInfo(ids[0]).earlyUnstake, "early");
    }

    function test_unstake_earlyForfeitsOnlyThatToken() public {
        uint256[] memory first = mintAndStake(alice, 1);
        mintAndStake(bob, 1);
        payS(carol); // alice token1: 0.375
        vm.warp(START + MIN_STAKE);
        uint256[] memory second = mintAndStake(alice, 1);
        payS(carol); // 0.25 per token
        vm.prank(alice);
        staking.unstake(second[0]); // early: forfeits 0.25, split to 2 remaining tokens
        (uint256 aS,) = staking.earned(alice);
        assertEq(aS, 0.375 ether + 0.25 ether + 0.125 ether, "first token keeps its rewards plus a share");
        vm.prank(alice);
        staking.unstake(first[0]); // not early
        assertEq(nft.ownerOf(first[0]), alice, "back");
    }

    function test_unstake_earlyWithNoStakersLeftQueuesForfeit() public {
        uint256[] memory ids = mintAndStake(alice, 1);
        payS(carol);
        vm.prank(alice);
        staking.unstake(ids[0]);
        (uint256 qS,) = staking.queuedRewards();
        assertEq(qS, 0.75 ether * 1e18, "kept for future stakers");
        mintAndStake(bob, 1);
        (uint256 bS,) = staking.pendingRewards(bob);
        assertEq(bS, 0.75 ether, "next staker, locked");
    }

    function test_unstake_reverts() public {
        uint256[] memory ids = mintAndStake(alice, 1);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingNotStaker.selector, bob, ids[0], alice));
        staking.unstake(ids[0]);
        vm.prank(alice);
        staking.unstake(ids[0]);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingNotStaker.selector, alice, ids[0], address(0)));
        staking.unstake(ids[0]);
    }

    function test_emergencyUnstake_worksWhilePausedWithoutRewards() public {
        uint256[] memory ids = mintAndStake(alice, 2);
        mintAndStake(bob, 1);
        payS(carol); // 0.25 per token
        vm.warp(START + MIN_STAKE);
        vm.prank(admin);
        staking.pause();
        vm.expectEmit(address(staking));
        emit EmergencyUnstaked(alice, ids[0]);
        vm.prank(alice);
        staking.emergencyUnstake(ids[0]);
        assertEq(nft.ownerOf(ids[0]), alice, "returned while paused");
        (uint256 aS,) = staking.earned(alice);
        assertEq(aS, 0.25 ether + 0.125 ether, "other token keeps rewards, plus half the forfeit");
        vm.prank(alice);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        staking.claimRewards();
    }

    function test_pause_blocksStakingFunctions() public {
        uint256 id = nft.mint(alice);
        vm.prank(admin);
        staking.pause();
        vm.startPrank(alice);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        staking.stake(id);
        uint256[] memory ids = new uint256[](1);
        ids[0] = id;
        vm.expectRevert(Pausable.EnforcedPause.selector);
        staking.stakeBatch(ids);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        staking.unstake(id);
        vm.stopPrank();
        payS(carol); // payments still flow into a paused staking contract
        vm.prank(admin);
        staking.unpause();
    }

    // ------------------------------------------------------------------ lock

    function test_lock_tokenPastPeriodClaimsNormally() public {
        uint256[] memory ids = mintAndStake(alice, 1);
        mintAndStake(bob, 1);
        payS(carol); // 0.375 each
        vm.warp(START + MIN_STAKE - 1);
        (uint256 aS,) = staking.earned(alice);
        (uint256 pS,) = staking.pendingRewards(alice);
        assertEq(aS, 0, "locked one second before the end of the period");
        assertEq(pS, 0.375 ether, "pending");
        vm.warp(START + MIN_STAKE);
        (aS,) = staking.earned(alice);
        (pS,) = staking.pendingRewards(alice);
        assertEq(aS, 0.375 ether, "unlocked at the end of the period");
        assertEq(pS, 0, "nothing pending");
        vm.prank(alice);
        staking.claimRewards();
        assertEq(alice.balance, 0.375 ether, "claimed");
        payS(carol); // an unlocked token's new rewards are claimable at once
        (aS,) = staking.earned(alice);
        assertEq(aS, 0.375 ether, "claimable at once");
        vm.prank(alice);
        staking.unstake(ids[0]);
        assertFalse(staking.stakeInfo(ids[0]).earlyUnstake, "not early");
        vm.prank(alice);
        staking.claimRewards();
        assertEq(alice.balance, 0.75 ether, "everything it accrued");
    }

    /// @dev The reviewer's first attack: claim, then unstake early in the same block.
    function test_attack_claimThenUnstakeEarlyKeepsNothing() public {
        uint256[] memory ids = mintAndStake(alice, 1);
        mintAndStake(bob, 1);
        payS(carol);
        payUSDC(carol);
        vm.warp(START + MIN_STAKE - 1);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingNothingToClaim.selector, alice));
        staking.claimRewards();
        vm.expectEmit(address(staking));
        emit RewardsForfeited(alice, ids[0], 0.375 ether, 125_000);
        staking.unstake(ids[0]);
        vm.stopPrank();
        (uint256 aS, uint256 aU) = staking.earned(alice);
        (uint256 pS, uint256 pU) = staking.pendingRewards(alice);
        assertEq(alice.balance + usdc.balanceOf(alice) + aS + aU + pS + pU, 0, "alice keeps nothing");
        (uint256 bS, uint256 bU) = staking.pendingRewards(bob);
        assertEq(bS, 0.75 ether, "bob has all the S");
        assertEq(bU, 250_000, "and all the USDC");
    }

    /// @dev The same with an older, unlocked token: the claim pays only that token's rewards, and the
    /// young token's are forfeited whole.
    function test_attack_claimThenUnstakeEarlyKeepsOnlyWhatWasClaimable() public {
        uint256[] memory old = mintAndStake(alice, 1);
        vm.warp(START + MIN_STAKE);
        uint256[] memory young = mintAndStake(alice, 1);
        mintAndStake(bob, 1);
        payS(carol); // 0.25 per token
        vm.startPrank(alice);
        staking.claimRewards();
        assertEq(alice.balance, 0.25 ether, "only the unlocked token's share");
        vm.expectEmit(address(staking));
        emit RewardsForfeited(alice, young[0], 0.25 ether, 0);
        staking.unstake(young[0]);
        vm.stopPrank();
        // The forfeit is split over the two remaining tokens: the old one (alice) and bob's.
        (uint256 aS,) = staking.earned(alice);
        (uint256 bS,) = staking.pendingRewards(bob);
        assertEq(aS, 0.125 ether, "alice's old token gets its share of the forfeit");
        assertEq(bS, 0.375 ether, "bob");
        assertEq(staking.stakeInfo(old[0]).lastClaimedDistribution, 0.25 ether * 1e18, "old token paid up to the claim");
    }

    /// @dev The reviewer's second attack: rewards queued while nothing is staked; the first staker
    /// stakes, claims and leaves in one block.
    function test_attack_firstStakerTakesQueueAndLeaves() public {
        payS(carol);
        payUSDC(carol);
        (uint256 qS, uint256 qU) = staking.queuedRewards();
        assertEq(qS, 0.75 ether * 1e18, "queued S");
        assertEq(qU, 250_000 * 1e18, "queued USDC");
        uint256[] memory ids = mintAndStake(alice, 3);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingNothingToClaim.selector, alice));
        staking.claimRewards();
        for (uint256 i; i < 3; ++i) {
            staking.unstake(ids[i]);
        }
        vm.stopPrank();
        assertEq(alice.balance + usdc.balanceOf(alice), 0, "nothing taken");
        (qS, qU) = staking.queuedRewards();
        assertEq(qS, 0.75 ether * 1e18, "the whole queue is back");
        assertEq(qU, 250_000 * 1e18, "USDC too");
        (uint256 pS,) = staking.pendingRewards(alice);
        assertEq(pS, 0, "nothing left to alice");
    }

    /// @dev A newcomer gets no part of what was distributed before it staked, queue included.
    function test_queue_notSharedWithLaterStakers() public {
        payS(carol); // 0.75 queued
        mintAndStake(alice, 1); // takes the queue (locked)
        mintAndStake(bob, 1);
        (uint256 aS,) = staking.pendingRewards(alice);
        (uint256 bS,) = staking.pendingRewards(bob);
        assertEq(aS, 0.75 ether, "first staker");
        assertEq(bS, 0, "later staker");
    }

    function test_lock_perTokenLotsUnlockOldestFirst() public {
        mintAndStake(alice, 1); // lot 0 at START
        vm.warp(START + 1 days);
        mintAndStake(alice, 2); // lot 1
        mintAndStake(alice, 1); // same second, same accumulator: joins lot 1
        payS(carol); // 0.1875 per token
        vm.warp(START + 2 days);
        uint256[] memory late = mintAndStake(alice, 1); // lot 2
        payS(carol); // 0.15 per token
        vm.warp(START + MIN_STAKE);
        (uint256 aS,) = staking.earned(alice);
        (uint256 pS,) = staking.pendingRewards(alice);
        assertEq(aS, 0.1875 ether + 0.15 ether, "lot 0 unlocked");
        assertEq(pS, 3 * (0.1875 ether + 0.15 ether) + 0.15 ether, "lots 1 and 2 locked");
        vm.prank(alice);
        staking.unstake(late[0]); // early: its 0.15 goes to the 4 remaining tokens (alice's)
        vm.warp(START + 1 days + MIN_STAKE);
        (aS,) = staking.earned(alice);
        (pS,) = staking.pendingRewards(alice);
        assertEq(aS, 1.5 ether, "lots 0 and 1 unlocked: everything but nothing of the forfeit is lost");
        assertEq(pS, 0, "lot 2 emptied");
        vm.prank(alice);
        staking.claimRewards();
        assertEq(alice.balance, 1.5 ether, "claimed");
    }

    function test_emergencyUnstake_forfeitsOnlyUnpaidRewardsOfAnUnlockedToken() public {
        uint256[] memory ids = mintAndStake(alice, 2);
        mintAndStake(bob, 2);
        payS(carol); // 0.1875 per token
        vm.warp(START + MIN_STAKE);
        vm.prank(alice);
        staking.claimRewards(); // 0.375
        payS(carol); // 0.1875 per token
        assertEq(staking.stakeInfo(ids[0]).lastClaimedDistribution, 0.1875 ether * 1e18, "paid up to the claim");
        vm.expectEmit(address(staking));
        emit RewardsForfeited(alice, ids[0], 0.1875 ether, 0);
        vm.prank(alice);
        staking.emergencyUnstake(ids[0]);
        (uint256 aS,) = staking.earned(alice);
        assertEq(aS, 0.1875 ether + 0.0625 ether, "other token, plus a third of the forfeit");
        assertEq(alice.balance, 0.375 ether, "the claim stays paid");
    }

    function test_emergencyUnstake_tokenUnlockedAfterTheLastClaimForfeitsAllItAccrued() public {
        mintAndStake(alice, 1);
        vm.warp(START + 1 days);
        uint256[] memory young = mintAndStake(alice, 1);
        mintAndStake(bob, 1);
        payS(carol); // 0.25 per token
        vm.warp(START + MIN_STAKE);
        vm.prank(alice);
        staking.claimRewards(); // only the first token's 0.25
        vm.warp(START + 1 days + MIN_STAKE);
        assertEq(staking.stakeInfo(young[0]).lastClaimedDistribution, 0, "the claim did not pay it");
        vm.expectEmit(address(staking));
        emit RewardsForfeited(alice, young[0], 0.25 ether, 0);
        vm.prank(alice);
        staking.emergencyUnstake(young[0]);
        (uint256 aS,) = staking.earned(alice);
        assertEq(aS, 0.125 ether, "half the forfeit via the first token");
    }

    function test_lock_zeroPeriodIsClaimableAtOnce() public {
        BanditKidzStaking s0 = new BanditKidzStaking(admin, address(nft), address(usdc), 0);
        vm.prank(admin);
        s0.setRewardSource(address(this));
        uint256 id = nft.mint(alice);
        vm.startPrank(alice);
        nft.approve(address(s0), id);
        s0.stake(id);
        vm.stopPrank();
        vm.deal(address(this), 1 ether);
        s0.notifyRewardS{value: 1 ether}();
        (uint256 aS,) = s0.earned(alice);
        assertEq(aS, 1 ether, "claimable at once");
        vm.startPrank(alice);
        s0.claimRewards();
        s0.unstake(id);
        vm.stopPrank();
        assertEq(alice.balance, 1 ether, "paid");
        assertFalse(s0.stakeInfo(id).earlyUnstake, "not early");
    }

    // ------------------------------------------------------------------ checkpoints

    function test_stakedBalanceAt_isASnapshot() public {
        uint256[] memory ids = mintAndStake(alice, 2);
        vm.warp(START + 100);
        vm.prank(alice);
        staking.unstake(ids[0]);
        vm.warp(START + 200);
        assertEq(staking.stakedBalanceAt(alice, START - 1), 0, "before");
        assertEq(staking.stakedBalanceAt(alice, START), 2, "at stake");
        assertEq(staking.stakedBalanceAt(alice, START + 99), 2, "before unstake");
        assertEq(staking.stakedBalanceAt(alice, START + 100), 1, "after unstake");
        assertEq(staking.stakedBalanceAt(alice, type(uint256).max), 1, "latest");
    }

    // ------------------------------------------------------------------ restricted

    function test_notify_onlyRewardSource() public {
        vm.deal(stranger, 1 ether);
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingUnauthorizedRewardSource.selector, stranger));
        staking.notifyRewardS{value: 1 ether}();
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingUnauthorizedRewardSource.selector, stranger));
        staking.notifyRewardUSDC(1);
        vm.stopPrank();
        vm.startPrank(address(payment));
        vm.expectRevert(BanditKidzStaking.StakingZeroReward.selector);
        staking.notifyRewardS();
        vm.expectRevert(BanditKidzStaking.StakingZeroReward.selector);
        staking.notifyRewardUSDC(0);
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingRewardNotReceived.selector, 0, 5));
        staking.notifyRewardUSDC(5); // not transferred first
        vm.stopPrank();
    }

    function test_attack_strangerCallsEveryRestrictedFunction() public {
        bytes32 role = staking.DEFAULT_ADMIN_ROLE();
        bytes memory err = abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role);
        vm.startPrank(stranger);
        vm.expectRevert(err);
        staking.setRewardSource(stranger);
        vm.expectRevert(err);
        staking.pause();
        vm.expectRevert(err);
        staking.unpause();
        vm.stopPrank();
        vm.prank(admin);
        vm.expectRevert(BanditKidzStaking.StakingZeroAddress.selector);
        staking.setRewardSource(address(0));
    }

    // ------------------------------------------------------------------ attacks

    function test_attack_reentrantReceiverOnUnstake() public {
        ReentrantStaker attacker = new ReentrantStaker(staking, nft);
        uint256 a = nft.mint(address(attacker));
        uint256 b = nft.mint(address(attacker));
        attacker.stake(a);
        attacker.stake(b);
        payS(carol);
        vm.warp(START + MIN_STAKE);
        for (uint256 m = 1; m <= 4; ++m) {
            uint256 tokenId = m % 2 == 1 ? a : b;
            attacker.setMode(m, m == 4 ? tokenId : (tokenId == a ? b : a));
            attacker.unstake(tokenId);
            assertFalse(attacker.reentered(), "re-entry must fail");
            assertEq(
                bytes4(attacker.reentryError()), ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector, "guard"
            );
            attacker.stake(tokenId);
        }
        assertEq(staking.stakedBalanceOf(address(attacker)), 2, "state consistent");
        assertEq(staking.totalStaked(), 2, "total consistent");
    }

    function test_attack_reentrantClaimer() public {
        ReentrantRecipient r = new ReentrantRecipient(payment);
        uint256 id = nft.mint(address(this));
        nft.transferFrom(address(this), address(r), id);
        vm.startPrank(address(r));
        nft.approve(address(staking), id);
        staking.stake(id);
        vm.stopPrank();
        payS(carol);
        payS(carol);
        vm.warp(START + MIN_STAKE);
        r.setMode(4, address(staking));
        r.claimRewards(staking);
        assertFalse(r.reentered(), "re-entry must fail");
        assertEq(address(r).balance, 1.5 ether, "paid once");
    }

    // ------------------------------------------------------------------ fuzz

    function testFuzz_earlyUnstakeTiming(uint256 wait, uint256 amount) public {
        wait = bound(wait, 0, 2 * MIN_STAKE);
        amount = bound(amount, 1, 1e27);
        uint256[] memory ids = mintAndStake(alice, 1);
        mintAndStake(bob, 1);
        notifyS(amount);
        vm.warp(START + wait);
        vm.prank(alice);
        staking.unstake(ids[0]);
        (uint256 aS,) = staking.earned(alice);
        (uint256 aP,) = staking.pendingRewards(alice);
        (uint256 bS,) = staking.earned(bob);
        (uint256 bP,) = staking.pendingRewards(bob);
        assertEq(aP, 0, "nothing locked once unstaked");
        if (wait < MIN_STAKE) assertEq(aS, 0, "forfeited");
        else assertEq(aS, amount / 2, "kept");
        if (wait < MIN_STAKE) assertEq(bS, 0, "bob's still locked");
        bS += bP;
        assertLe(aS + bS, amount, "never more than deposited");
        assertGe(aS + bS + 1, amount, "at most one wei of dust");
    }

    /// @dev Whatever the order of claims and payments, unstaking early takes nothing out.
    function testFuzz_noProfitFromEarlyUnstake(uint256 wait, uint256 amount, bool queueFirst, bool claimFirst) public {
        wait = bound(wait, 0, MIN_STAKE - 1);
        amount = bound(amount, 1, 1e27);
        if (queueFirst) notifyS(amount);
        else mintAndStake(bob, 1);
        uint256[] memory ids = mintAndStake(alice, 2);
        notifyS(amount);
        vm.warp(START + wait);
        vm.startPrank(alice);
        if (claimFirst) {
            vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingNothingToClaim.selector, alice));
            staking.claimRewards();
        }
        staking.unstake(ids[0]);
        staking.unstake(ids[1]);
        vm.stopPrank();
        (uint256 aS,) = staking.earned(alice);
        (uint256 aP,) = staking.pendingRewards(alice);
        assertEq(alice.balance + aS + aP, 0, "nothing kept");
    }

    function testFuzz_rewardsProportional(uint8 nA, uint8 nB, uint256 amount) public {
        uint256 a = bound(nA, 1, 20);
        uint256 b = bound(nB, 1, 20);
        amount = bound(amount, 1, 1e27);
        mintAndStake(alice, a);
        mintAndStake(bob, b);
        notifyS(amount);
        vm.warp(START + MIN_STAKE);
        (uint256 aS,) = staking.earned(alice);
        (uint256 bS,) = staking.earned(bob);
        assertLe(aS + bS, amount, "conservation");
        assertApproxEqAbs(aS * b, bS * a, a + b, "proportional to NFTs");
    }
}
