// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {ContractAccount, ReentrantRecipient} from "./utils/Attackers.sol";
import {BanditKidzStaking} from "../src/BanditKidzStaking.sol";
import {GenerationVotingAndLeaderboard} from "../src/GenerationVotingAndLeaderboard.sol";
import {MockUSDC} from "../src/mocks/MockUSDC.sol";
import {Errors} from "@openzeppelin/contracts/utils/Errors.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/**
 * @dev Issue 18, part 1: no funds stuck for good. A staker or winner that cannot receive S (a contract
 * without a payable `receive`) or that USDC blocklists takes each token out on its own, to a recipient
 * of its choice ({claimRewardTo}, {claimPrizeTo}); the old both-tokens claims keep working for others.
 */
contract ClaimsTest is Fixture {
    event RewardPaid(address indexed account, address indexed token, address indexed recipient, uint256 amount);
    event PrizePaid(address indexed account, address indexed token, address indexed recipient, uint256 amount);

    ContractAccount internal vault;
    address internal safe = address(0x5AFE);

    function setUp() public override {
        super.setUp();
        vault = new ContractAccount();
    }

    /// @dev `vault` stakes one NFT; alice stakes one; payments in S and USDC; the period passes.
    function _vaultStakesAndEarns() internal returns (uint256 vaultToken) {
        vaultToken = nft.mint(address(vault));
        vault.exec(address(nft), abi.encodeCall(nft.approve, (address(staking), vaultToken)));
        vault.exec(address(staking), abi.encodeCall(staking.stake, (vaultToken)));
        mintAndStake(alice, 1);
        payS(stranger);
        payUSDC(stranger);
        vm.warp(START + MIN_STAKE);
    }

    function _reentrancyError() internal pure returns (bytes32) {
        return keccak256(abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector));
    }

    // ------------------------------------------------------------------ staking

    function test_claimRewardTo_contractWithoutReceiveGetsBothTokensOut() public {
        _vaultStakesAndEarns();
        (uint256 s, uint256 u) = staking.earned(address(vault));
        assertEq(s, 0.375 ether, "half of 0.75 S");
        assertEq(u, 125_000, "half of 0.25 USDC");
        // The old claim pays S to the caller, which refuses it: both tokens are stuck that way.
        vm.expectRevert(Errors.FailedCall.selector);
        vault.exec(address(staking), abi.encodeCall(staking.claimRewards, ()));

        // USDC to itself, S to another address it names.
        vm.expectEmit(address(staking));
        emit RewardPaid(address(vault), address(usdc), address(vault), u);
        vault.exec(address(staking), abi.encodeCall(staking.claimRewardTo, (address(usdc), address(vault))));
        assertEq(usdc.balanceOf(address(vault)), u, "USDC out");
        (uint256 s2, uint256 u2) = staking.earned(address(vault));
        assertEq(s2, s, "S untouched by the USDC claim");
        assertEq(u2, 0, "USDC claimed");
        vm.expectEmit(address(staking));
        emit RewardPaid(address(vault), S, safe, s);
        vault.exec(address(staking), abi.encodeCall(staking.claimRewardTo, (S, safe)));
        assertEq(safe.balance, s, "S out to the named recipient");
        (s2, u2) = staking.earned(address(vault));
        assertEq(s2 + u2, 0, "nothing left");
    }

    function test_claimRewardTo_usdcBlocklistedStakerTakesS() public {
        mintAndStake(alice, 1);
        payS(stranger);
        payUSDC(stranger);
        vm.warp(START + MIN_STAKE);
        usdc.blacklist(alice);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(MockUSDC.Blacklisted.selector, alice));
        staking.claimRewards();
        vm.prank(alice);
        staking.claimRewardTo(S, alice);
        assertEq(alice.balance, 0.75 ether, "S claimed despite the USDC blocklist");
        // Its USDC can go to another address of its own.
        vm.prank(alice);
        staking.claimRewardTo(address(usdc), safe);
        assertEq(usdc.balanceOf(safe), 250_000, "USDC to another address");
    }

    function test_claimRewardTo_reverts() public {
        mintAndStake(alice, 1);
        payS(stranger);
        vm.warp(START + MIN_STAKE);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingUnsupportedToken.selector, address(nft)));
        staking.claimRewardTo(address(nft), alice);
        vm.expectRevert(BanditKidzStaking.StakingZeroAddress.selector);
        staking.claimRewardTo(S, address(0));
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingNothingToClaim.selector, alice));
        staking.claimRewardTo(address(usdc), alice); // no USDC was paid
        staking.claimRewardTo(S, alice);
        vm.expectRevert(abi.encodeWithSelector(BanditKidzStaking.StakingNothingToClaim.selector, alice));
        staking.claimRewardTo(S, alice);
        vm.stopPrank();
        vm.prank(admin);
        staking.pause();
        vm.prank(alice);
        vm.expectRevert(); // EnforcedPause
        staking.claimRewardTo(S, alice);
    }

    /// @dev An S-only claim and a later emergency unstake: the token forfeits only its unclaimed S, and
    /// all of its USDC (none of which was claimed).
    function test_claimRewardTo_thenEmergencyUnstakeForfeitsOnlyUnclaimed() public {
        uint256 id = mintAndStake(alice, 1)[0];
        mintAndStake(bob, 1);
        payS(stranger);
        payUSDC(stranger);
        vm.warp(START + MIN_STAKE);
        vm.prank(alice);
        staking.claimRewardTo(S, alice); // 0.375 S
        payS(stranger); // alice's token accrues 0.375 S more
        vm.prank(alice);
        staking.emergencyUnstake(id);
        (uint256 s, uint256 u) = staking.earned(alice);
        assertEq(s + u, 0, "everything unclaimed forfeited");
        // Bob gets the forfeit: his 0.375 + 0.375 S and alice's 0.375 S; 0.25 USDC whole.
        (s, u) = staking.earned(bob);
        assertEq(s, 1.125 ether, "bob's S");
        assertEq(u, 250_000, "bob's USDC");
        assertEq(alice.balance, 0.375 ether, "alice keeps what she claimed");
    }

    /// @dev A recipient whose receive() calls claimRewardTo again is refused (nonReentrant): paid once.
    function test_attack_reentrantClaimRewardTo() public {
        ReentrantRecipient r = new ReentrantRecipient(payment);
        uint256 id = nft.mint(address(r));
        vm.startPrank(address(r));
        nft.approve(address(staking), id);
        staking.stake(id);
        vm.stopPrank();
        payS(carol);
        payS(carol);
        vm.warp(START + MIN_STAKE);
        r.setMode(5, address(staking));
        r.claimRewardTo(staking);
        assertFalse(r.reentered(), "re-entry must fail");
        assertEq(keccak256(r.reentryError()), _reentrancyError(), "refused by the guard");
        assertEq(address(r).balance, 1.5 ether, "paid once");
        (uint256 s,) = staking.earned(address(r));
        assertEq(s, 0, "nothing left to take twice");
    }

    // ------------------------------------------------------------------ prizes

    function test_attack_reentrantClaimPrizeTo() public {
        ReentrantRecipient r = new ReentrantRecipient(payment);
        mintAndStake(bob, 1);
        vm.warp(START + WEEK);
        voting.finalizeContest(1);
        submit(1, address(r));
        vm.prank(bob);
        voting.vote(1);
        payS(stranger);
        vm.warp(START + 2 * WEEK);
        voting.finalizeContest(2);
        r.setMode(6, address(voting));
        r.claimPrizeTo(voting);
        assertFalse(r.reentered(), "re-entry must fail");
        assertEq(keccak256(r.reentryError()), _reentrancyError(), "refused by the guard");
        assertEq(address(r).balance, 0.45 ether, "paid once");
        assertEq(address(voting).balance, 0, "nothing left");
    }

    /// @dev The vault and alice win contest 2 (finalized in order after contest 1).
    function _vaultWinsPrize() internal {
        mintAndStake(bob, 2);
        vm.warp(START + WEEK);
        voting.finalizeContest(1);
        submit(1, address(vault));
        submit(2, alice);
        vm.prank(bob);
        voting.vote(1);
        payS(stranger);
        payUSDC(stranger);
        vm.warp(START + 2 * WEEK);
        voting.finalizeContest(2);
    }

    function test_claimPrizeTo_contractWithoutReceiveGetsBothTokensOut() public {
        _vaultWinsPrize();
        (uint256 s, uint256 u) = voting.pendingPrize(address(vault));
        assertEq(s, 0.45 ether, "whole S pool");
        assertEq(u, 150_000, "whole USDC pool");
        vm.expectRevert(Errors.FailedCall.selector);
        vault.exec(address(voting), abi.encodeCall(voting.claimPrize, ()));
        vm.expectEmit(address(voting));
        emit PrizePaid(address(vault), address(usdc), address(vault), u);
        vault.exec(address(voting), abi.encodeCall(voting.claimPrizeTo, (address(usdc), address(vault))));
        vm.expectEmit(address(voting));
        emit PrizePaid(address(vault), S, safe, s);
        vault.exec(address(voting), abi.encodeCall(voting.claimPrizeTo, (S, safe)));
        assertEq(usdc.balanceOf(address(vault)), u, "USDC out");
        assertEq(safe.balance, s, "S out");
        assertEq(address(voting).balance, 0, "nothing left in S");
        assertEq(usdc.balanceOf(address(voting)), 0, "nothing left in USDC");
    }

    function test_claimPrizeTo_usdcBlocklistedWinnerTakesS() public {
        mintAndStake(bob, 2);
        vm.warp(START + WEEK);
        voting.finalizeContest(1);
        submit(1, alice);
        vm.prank(bob);
        voting.vote(1);
        payS(stranger);
        payUSDC(stranger);
        vm.warp(START + 2 * WEEK);
        voting.finalizeContest(2);
        usdc.blacklist(alice);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(MockUSDC.Blacklisted.selector, alice));
        voting.claimPrize();
        vm.startPrank(alice);
        voting.claimPrizeTo(S, alice);
        voting.claimPrizeTo(address(usdc), safe);
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingUnsupportedToken.selector, bob));
        voting.claimPrizeTo(bob, alice);
        vm.expectRevert(GenerationVotingAndLeaderboard.VotingZeroAddress.selector);
        voting.claimPrizeTo(S, address(0));
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingNothingToClaim.selector, alice));
        voting.claimPrizeTo(S, alice);
        vm.stopPrank();
        assertEq(alice.balance, 0.45 ether, "S prize");
        assertEq(usdc.balanceOf(safe), 150_000, "USDC prize to another address");
    }
}

/**
 * @dev The contest rules written in docs/contest.md, one test each.
 */
contract ContestRulesTest is Fixture {
    address[4] internal creators = [address(0xC1), address(0xC2), address(0xC3), address(0xC4)];

    function setUp() public override {
        super.setUp();
        mintAndStake(alice, 2);
        mintAndStake(bob, 3);
        vm.warp(START + WEEK);
        voting.finalizeContest(1);
    }

    /// @dev Equal points are ranked by who reached them first: with four creators tied, the fourth to
    /// reach the points gets nothing.
    function test_rule_tiesRankedByWhoReachedThePointsFirst() public {
        // Entries in order C1..C4; each gets 2 points (alice's weight), in the order C3, C1, C4, C2.
        for (uint256 i; i < 4; ++i) {
            submit(i + 1, creators[i]);
        }
        uint256[4] memory order = [uint256(3), 1, 4, 2];
        for (uint256 i; i < 4; ++i) {
            vm.prank(alice);
            voting.vote(order[i]);
        }
        (address[] memory top, uint256[] memory points) = voting.topCreators(2);
        assertEq(top.length, 3, "three ranked");
        assertEq(top[0], creators[2], "C3 reached 2 first");
        assertEq(top[1], creators[0], "then C1");
        assertEq(top[2], creators[3], "then C4");
        for (uint256 i; i < 3; ++i) {
            assertEq(points[i], 2, "all tied");
        }
        assertEq(voting.creatorPoints(2, creators[1]), 2, "C2 tied too");
        payS(stranger);
        vm.warp(START + 2 * WEEK);
        voting.finalizeContest(2);
        (uint256 s,) = voting.pendingPrize(creators[1]);
        assertEq(s, 0, "the fourth gets nothing");
        (s,) = voting.pendingPrize(creators[2]);
        assertEq(s, 0.225 ether, "first: 50 %");
    }

    /// @dev A voter's weight counts once per generation: a creator with three entries collects the same
    /// voter's weight three times.
    function test_rule_weightCountsOncePerGeneration() public {
        submit(1, carol);
        submit(2, carol);
        submit(3, carol);
        submit(4, dev);
        for (uint256 id = 1; id <= 4; ++id) {
            vm.prank(bob);
            voting.vote(id);
        }
        vm.prank(alice);
        voting.vote(4);
        assertEq(voting.creatorPoints(2, carol), 9, "3 entries x bob's weight 3");
        assertEq(voting.creatorPoints(2, dev), 5, "bob 3 + alice 2");
        (address[] memory top,) = voting.topCreators(2);
        assertEq(top[0], carol, "carol first with one voter");
    }
}
