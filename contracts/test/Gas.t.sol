// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Fixture} from "./utils/Fixture.sol";

/// @dev Claiming rewards costs the same however many payments were distributed before.
contract ClaimGasTest is Fixture {
    address internal dave = address(0xDA7E);

    function _notify(uint256 count) internal {
        vm.deal(address(payment), count * 0.75 ether);
        vm.startPrank(address(payment));
        for (uint256 i; i < count; ++i) {
            staking.notifyRewardS{value: 0.75 ether}();
        }
        vm.stopPrank();
    }

    /// @dev Every measured claim runs with the same slots warm: a warm-up claim by another staker
    /// touches the shared slots first, and the measured staker's slots were touched when it staked.
    function _measuredClaim(address warmUp, address measured) internal returns (uint256 used) {
        vm.prank(warmUp);
        staking.claimRewards();
        vm.prank(measured);
        uint256 before = gasleft();
        staking.claimRewards();
        used = before - gasleft();
    }

    function test_claimGas_independentOfPaymentCount() public {
        mintAndStake(alice, 1);
        mintAndStake(bob, 1);
        mintAndStake(carol, 1);
        mintAndStake(dave, 1);
        vm.warp(START + MIN_STAKE); // rewards are claimable once the tokens are past the minimum period

        _notify(10);
        uint256 after10 = _measuredClaim(carol, alice);
        _notify(10_000);
        uint256 after10k = _measuredClaim(dave, bob);

        assertApproxEqAbs(after10, after10k, 50, "claim gas after 10 vs 10,000 payments");
        assertLe(after10k, 150_000, "claim stays cheap");
    }
}

/// @dev One operation per test, everything else prepared in setUp, for `forge snapshot`.
contract GasSnapshotTest is Fixture {
    uint256[] internal batch;
    uint256 internal single;
    uint256 internal stakedId;

    function setUp() public override {
        super.setUp();
        vm.deal(alice, 10 ether);
        usdc.mint(alice, 10e6);
        vm.prank(alice);
        usdc.approve(address(payment), type(uint256).max);
        vm.prank(operator);
        payment.addCredits(alice, 5);

        // Staking: bob has tokens to stake, carol has one staked with rewards.
        single = nft.mint(bob);
        uint256 first = nft.mintBatch(bob, 10);
        for (uint256 i; i < 10; ++i) {
            batch.push(first + i);
        }
        vm.prank(bob);
        nft.setApprovalForAll(address(staking), true);
        stakedId = mintAndStake(carol, 1)[0];
        mintAndStake(stranger, 2);
        payS(alice);
        payUSDC(alice);

        // Voting: contest 2 gets three voted creators and a pool; the tests run in contest 3.
        vm.warp(START + WEEK + 1);
        submit(100, alice);
        submit(101, bob);
        submit(102, dev);
        vm.prank(carol);
        voting.vote(100);
        vm.prank(stranger);
        voting.vote(101);
        vm.prank(stranger);
        voting.vote(102);
        payS(alice);
        payUSDC(alice);
        vm.warp(START + 2 * WEEK + 1);
        submit(1, alice);
        vm.prank(alice);
        usdc.approve(address(payment), type(uint256).max);
    }

    function test_payWithS() public {
        vm.prank(alice);
        payment.payWithS{value: 3 ether}("a cat in space", "image");
    }

    function test_payWithUSDC() public {
        vm.prank(alice);
        payment.payWithUSDC("a cat in space", "image");
    }

    function test_useCredits() public {
        vm.prank(alice);
        payment.useCredits("a cat in space", "image");
    }

    function test_stake() public {
        vm.prank(bob);
        staking.stake(single);
    }

    function test_stakeBatch10() public {
        vm.prank(bob);
        staking.stakeBatch(batch);
    }

    function test_unstake() public {
        vm.prank(carol);
        staking.unstake(stakedId);
    }

    function test_claimRewards() public {
        vm.prank(carol);
        staking.claimRewards();
    }

    function test_submitGeneration() public {
        vm.prank(operator);
        voting.submitGeneration(2, bob, "a cat in space", "https://example.invalid/x.png");
    }

    function test_vote() public {
        vm.prank(carol);
        voting.vote(1);
    }

    function test_finalizeContest() public {
        voting.finalizeContest(2);
    }

    function test_withdraw() public {
        vm.prank(dev);
        payment.withdraw(S);
    }

    function test_claimPrize() public {
        voting.finalizeContest(2);
        vm.prank(alice);
        voting.claimPrize();
    }
}
