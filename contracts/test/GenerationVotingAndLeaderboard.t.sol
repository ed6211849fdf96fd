// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {ReentrantRecipient} from "./utils/Attackers.sol";
import {GenerationVotingAndLeaderboard} from "../src/GenerationVotingAndLeaderboard.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

contract GenerationVotingAndLeaderboardTest is Fixture {
    event GenerationSubmitted(
        uint256 indexed generationId, address indexed creator, uint256 indexed contestId, string prompt, string resultUrl
    );
    event VoteCast(
        address indexed voter, uint256 indexed generationId, address indexed creator, uint256 weight, uint256 contestId
    );
    event PrizeClaimed(address indexed account, uint256 sAmount, uint256 usdcAmount);
    event PrizePaid(address indexed account, address indexed token, address indexed recipient, uint256 amount);
    event PrizePoolRolledOver(uint256 indexed contestId, uint256 indexed toContestId, uint256 sAmount, uint256 usdcAmount);

    address internal dave = address(0xDA7E);

    /// @dev Alice (2 NFTs) and Bob (1 NFT) stake before contest 2; the test then runs in contest 2.
    /// Contest 1 (no votes, no pool) is finalized, as contests are finalized in order.
    function setUp() public override {
        super.setUp();
        mintAndStake(alice, 2);
        mintAndStake(bob, 1);
        vm.warp(START + WEEK);
        voting.finalizeContest(1);
    }

    // ------------------------------------------------------------------ views

    function test_contestSchedule() public {
        assertEq(voting.currentContestId(), 2, "current");
        (uint256 s, uint256 e) = voting.contestWindow(1);
        assertEq(s, START, "start 1");
        assertEq(e, START + WEEK, "end 1");
        vm.warp(START + 3 * WEEK - 1);
        assertEq(voting.currentContestId(), 3, "current 3");
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingInvalidContest.selector, 0));
        voting.contestWindow(0);
        assertEq(voting.contestDuration(), WEEK, "duration");
        assertEq(voting.firstContestStart(), START, "first");
        assertEq(voting.staking(), address(staking), "staking");
        assertEq(voting.paymentContract(), address(payment), "payment");
    }

    function test_constructor_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingInvalidSchedule.selector, START, 0));
        new GenerationVotingAndLeaderboard(admin, address(staking), address(usdc), START, 0);
        vm.expectRevert(GenerationVotingAndLeaderboard.VotingZeroAddress.selector);
        new GenerationVotingAndLeaderboard(admin, address(0), address(usdc), START, WEEK);
    }

    function test_votingPower_isSnapshotAtContestStart() public {
        assertEq(voting.getUserVotingPower(alice), 2, "alice");
        assertEq(voting.getUserVotingPower(bob), 1, "bob");
        mintAndStake(carol, 5); // staked during contest 2: no power until contest 3
        assertEq(voting.getUserVotingPower(carol), 0, "carol now");
        vm.warp(START + 2 * WEEK);
        assertEq(voting.getUserVotingPower(carol), 5, "carol next contest");
    }

    // ------------------------------------------------------------------ submit

    function test_submitGeneration() public {
        vm.expectEmit(address(voting));
        emit GenerationSubmitted(7, carol, 2, "p", "u");
        vm.prank(operator);
        voting.submitGeneration(7, carol, "p", "u");
        (address creator, uint256 contestId, uint256 votes, uint256 submittedAt, string memory prompt, string memory url) =
            voting.getGeneration(7);
        assertEq(creator, carol, "creator");
        assertEq(contestId, 2, "contest");
        assertEq(votes, 0, "votes");
        assertEq(submittedAt, START + WEEK, "at");
        assertEq(prompt, "p", "prompt");
        assertEq(url, "u", "url");
    }

    function test_submitGeneration_reverts() public {
        vm.startPrank(operator);
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingInvalidGenerationId.selector, 0));
        voting.submitGeneration(0, carol, "p", "u");
        vm.expectRevert(GenerationVotingAndLeaderboard.VotingZeroAddress.selector);
        voting.submitGeneration(1, address(0), "p", "u");
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingInvalidPrompt.selector, 0));
        voting.submitGeneration(1, carol, "", "u");
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingInvalidPrompt.selector, 1001));
        voting.submitGeneration(1, carol, repeat(1001), "u");
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingInvalidResultUrl.selector, 0));
        voting.submitGeneration(1, carol, "p", "");
        voting.submitGeneration(1, carol, "p", "u");
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingGenerationExists.selector, 1));
        voting.submitGeneration(1, dave, "p", "u");
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ vote

    function test_vote_addsWeightAndPoints() public {
        submit(1, carol);
        vm.expectEmit(address(voting));
        emit VoteCast(alice, 1, carol, 2, 2);
        vm.prank(alice);
        voting.vote(1);
        vm.prank(bob);
        voting.vote(1);
        (,, uint256 votes,,,) = voting.getGeneration(1);
        assertEq(votes, 3, "votes");
        assertEq(voting.creatorPoints(2, carol), 3, "points");
        assertEq(voting.allTimePoints(carol), 3, "all time");
        assertTrue(voting.hasVoted(1, alice), "hasVoted");
        (address[] memory top, uint256[] memory pts) = voting.topCreators(2);
        assertEq(top.length, 1, "one creator");
        assertEq(top[0], carol, "top");
        assertEq(pts[0], 3, "top points");
    }

    function test_vote_reverts() public {
        submit(1, carol);
        submit(2, alice);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingUnknownGeneration.selector, 99));
        voting.vote(99);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingSelfVote.selector, alice, 2));
        voting.vote(2);
        vm.prank(alice);
        voting.vote(1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingAlreadyVoted.selector, alice, 1));
        voting.vote(1);
        vm.prank(dave);
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingNoVotingPower.selector, dave, 2));
        voting.vote(1);
        vm.warp(START + 2 * WEEK);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingContestClosed.selector, 1, 2, 3));
        voting.vote(1);
    }

    function test_vote_nftMovedMidContestCannotVoteTwice() public {
        submit(1, carol);
        vm.prank(bob);
        voting.vote(1);
        // Bob's NFT moves to Dave in the middle of the contest.
        uint256 tokenId = staking.stakedTokensOf(bob)[0];
        vm.warp(START + WEEK + MIN_STAKE);
        vm.prank(bob);
        staking.unstake(tokenId);
        vm.prank(bob);
        nft.transferFrom(bob, dave, tokenId);
        vm.startPrank(dave);
        nft.approve(address(staking), tokenId);
        staking.stake(tokenId);
        assertEq(voting.getUserVotingPower(dave), 0, "no power this contest");
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingNoVotingPower.selector, dave, 2));
        voting.vote(1);
        vm.stopPrank();
        (,, uint256 votes,,,) = voting.getGeneration(1);
        assertEq(votes, 1, "the NFT counted once");
    }

    function test_vote_beforeFirstContestHasNoPower() public {
        GenerationVotingAndLeaderboard v =
            new GenerationVotingAndLeaderboard(admin, address(staking), address(usdc), block.timestamp + 1 days, WEEK);
        assertEq(v.currentContestId(), 1, "contest 1 pending");
        assertEq(v.getUserVotingPower(alice), 0, "not started");
    }

    function test_topCreators_sortedAndBounded() public {
        address[5] memory creators = [address(0xC1), address(0xC2), address(0xC3), address(0xC4), address(0xC5)];
        for (uint256 i; i < 5; ++i) {
            submit(i + 1, creators[i]);
        }
        vm.prank(bob);
        voting.vote(1); // C1: 1
        vm.prank(alice);
        voting.vote(2); // C2: 2
        vm.prank(bob);
        voting.vote(3); // C3: 1
        vm.prank(alice);
        voting.vote(4); // C4: 2
        vm.prank(bob);
        voting.vote(4); // C4: 3
        vm.prank(alice);
        voting.vote(5); // C5: 2 (does not pass C2, who reached 2 first)
        (address[] memory top, uint256[] memory pts) = voting.topCreators(2);
        assertEq(top.length, 3, "three");
        assertEq(top[0], creators[3], "first C4");
        assertEq(pts[0], 3, "3 points");
        assertEq(top[1], creators[1], "second C2");
        assertEq(top[2], creators[4], "third C5");
        vm.prank(bob);
        voting.vote(5); // C5: 3 ties C4, stays second
        (top,) = voting.topCreators(2);
        assertEq(top[1], creators[4], "C5 second");
        assertEq(top[2], creators[1], "C2 third");
    }

    // ------------------------------------------------------------------ prizes

    function test_finalize_splits503020() public {
        submit(1, carol);
        submit(2, dave);
        submit(3, address(0xE1));
        vm.prank(alice);
        voting.vote(1); // carol 2
        vm.prank(bob);
        voting.vote(1); // carol 3
        vm.prank(alice);
        voting.vote(2); // dave 2
        vm.prank(bob);
        voting.vote(3); // E1 1
        for (uint256 i; i < 10; ++i) {
            payS(stranger); // 0.45 S each to the pool
        }
        payUSDC(stranger);
        (uint256 poolS, uint256 poolUSDC) = voting.prizePool(2);
        assertEq(poolS, 4.5 ether, "pool S");
        assertEq(poolUSDC, 150_000, "pool USDC");
        vm.expectRevert(
            abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingContestNotEnded.selector, 2, START + 2 * WEEK)
        );
        voting.finalizeContest(2);
        vm.warp(START + 2 * WEEK);
        voting.finalizeContest(2);
        assertTrue(voting.isFinalized(2), "finalized");
        (uint256 cS, uint256 cU) = voting.pendingPrize(carol);
        (uint256 dS, uint256 dU) = voting.pendingPrize(dave);
        (uint256 eS, uint256 eU) = voting.pendingPrize(address(0xE1));
        assertEq(cS, 2.25 ether, "50%");
        assertEq(dS, 1.35 ether, "30%");
        assertEq(eS, 0.9 ether, "20%");
        assertEq(cU + dU + eU, 150_000, "USDC split exactly");
        assertEq(cU, 75_000, "USDC 50%");
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingContestAlreadyFinalized.selector, 2));
        voting.finalizeContest(2);
        vm.expectEmit(address(voting));
        emit PrizeClaimed(carol, 2.25 ether, 75_000);
        vm.prank(carol);
        voting.claimPrize();
        assertEq(carol.balance, 2.25 ether, "paid S");
        assertEq(usdc.balanceOf(carol), 75_000, "paid USDC");
        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingNothingToClaim.selector, carol));
        voting.claimPrize();
    }

    function test_finalize_singleWinnerTakesAll() public {
        submit(1, carol);
        vm.prank(alice);
        voting.vote(1);
        payS(stranger);
        vm.warp(START + 2 * WEEK);
        voting.finalizeContest(2);
        (uint256 cS,) = voting.pendingPrize(carol);
        assertEq(cS, 0.45 ether, "all");
    }

    /// @dev The audit's case: contest 2 had no creator and is finalized late, in contest 5. Its pool
    /// goes to contest 3 (the next one), not to the contest current at finalization.
    function test_finalize_noCreatorsRollsOverToNextContest() public {
        payS(stranger);
        vm.warp(START + 4 * WEEK);
        assertEq(voting.currentContestId(), 5, "finalized during contest 5");
        vm.expectEmit(address(voting));
        emit PrizePoolRolledOver(2, 3, 0.45 ether, 0);
        voting.finalizeContest(2);
        (uint256 p2,) = voting.prizePool(2);
        (uint256 p3,) = voting.prizePool(3);
        (uint256 p5,) = voting.prizePool(5);
        assertEq(p2, 0, "moved");
        assertEq(p3, 0.45 ether, "into the next contest");
        assertEq(p5, 0, "not into the current contest");
        // Contest 3 (also without creators) passes it on to 4 in turn, whoever finalizes and when.
        vm.prank(stranger);
        voting.finalizeContest(3);
        (uint256 p4,) = voting.prizePool(4);
        assertEq(p4, 0.45 ether, "3 -> 4");
    }

    function test_finalize_inOrderOnly() public {
        vm.warp(START + 4 * WEEK);
        assertEq(voting.nextContestToFinalize(), 2, "next");
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingFinalizeOutOfOrder.selector, 3, 2));
        voting.finalizeContest(3);
        voting.finalizeContest(2);
        voting.finalizeContest(3);
        assertEq(voting.nextContestToFinalize(), 4, "next after 3");
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingContestAlreadyFinalized.selector, 2));
        voting.finalizeContest(2);
    }

    function test_fund_onlyPaymentContract() public {
        vm.deal(stranger, 1 ether);
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingUnauthorizedFunder.selector, stranger));
        voting.fundPrizePool{value: 1 ether}();
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingUnauthorizedFunder.selector, stranger));
        voting.fundPrizePoolUSDC(1);
        vm.stopPrank();
        vm.startPrank(address(payment));
        vm.expectRevert(GenerationVotingAndLeaderboard.VotingZeroAmount.selector);
        voting.fundPrizePool();
        vm.expectRevert(GenerationVotingAndLeaderboard.VotingZeroAmount.selector);
        voting.fundPrizePoolUSDC(0);
        vm.expectRevert(abi.encodeWithSelector(GenerationVotingAndLeaderboard.VotingFundsNotReceived.selector, 0, 7));
        voting.fundPrizePoolUSDC(7);
        vm.stopPrank();
    }

    function test_attack_strangerCallsEveryRestrictedFunction() public {
        bytes32 adminRole = voting.DEFAULT_ADMIN_ROLE();
        bytes32 operatorRole = voting.OPERATOR_ROLE();
        vm.startPrank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, operatorRole)
        );
        voting.submitGeneration(1, stranger, "p", "u");
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, adminRole)
        );
        voting.setPaymentContract(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, adminRole)
        );
        voting.grantRole(operatorRole, stranger);
        vm.stopPrank();
        vm.prank(admin);
        vm.expectRevert(GenerationVotingAndLeaderboard.VotingZeroAddress.selector);
        voting.setPaymentContract(address(0));
    }

    function test_attack_reentrantWinnerClaimsOnce() public {
        ReentrantRecipient r = new ReentrantRecipient(payment);
        submit(1, address(r));
        vm.prank(alice);
        voting.vote(1);
        payS(stranger);
        payS(stranger);
        vm.warp(START + 2 * WEEK);
        voting.finalizeContest(2);
        r.setMode(3, address(voting));
        r.claimPrize(voting);
        assertFalse(r.reentered(), "re-entry must fail");
        assertEq(address(r).balance, 0.9 ether, "paid once");
        assertEq(address(voting).balance, 0, "nothing left");
    }

    // ------------------------------------------------------------------ fuzz

    function _creator(uint256 i) internal pure returns (address) {
        // casting to 'uint160' is safe because i < 6
        // forge-lint: disable-next-line(unsafe-typecast)
        return address(uint160(0xC0 + i));
    }

    function testFuzz_prizeSplitSumsToPool(uint256 amount, uint8 creatorsCount) public {
        amount = bound(amount, 1, 1e30);
        uint256 n = bound(creatorsCount, 0, 5);
        for (uint256 i; i < n; ++i) {
            submit(i + 1, _creator(i));
            vm.prank(i % 2 == 0 ? alice : bob);
            voting.vote(i + 1);
        }
        vm.deal(address(payment), amount);
        vm.prank(address(payment));
        voting.fundPrizePool{value: amount}();
        vm.warp(START + 2 * WEEK);
        voting.finalizeContest(2);
        uint256 total;
        for (uint256 i; i < n; ++i) {
            (uint256 s,) = voting.pendingPrize(_creator(i));
            total += s;
        }
        (uint256 rolled,) = voting.prizePool(3);
        assertEq(total + rolled, amount, "sum of prizes + roll-over == pool");
        if (n > 0) assertEq(rolled, 0, "no roll-over with winners");
    }
}
