// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {SonicAIGenerationPayment} from "../src/SonicAIGenerationPayment.sol";

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
        voting.finalizeContest(1); // contests are finalized in order
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
        payment.payWithUSDC("a cat in space", "image", 1e6);
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

/**
 * @dev Issue 18, part 2: every call's work is bounded, whatever the number of the caller's lots. Alice
 * leaves 10,000 empty lots behind (one NFT staked and unstaked early, once per second), next to one
 * long-staked NFT; then every lot passes its period. Before the fix, `claimRewards` cost 5.4M gas at
 * 1,000 lots and ran out of gas (30M) at about 5,600.
 */
contract LotsGasTest is Fixture {
    uint256 internal constant LOTS = 10_000;
    /// @dev At most 32 lots settled per call, at ~2,500-5,000 gas each, on top of the call's usual cost.
    uint256 internal constant BOUND = 400_000;

    uint256 internal keep;
    uint256 internal churn;

    function setUp() public override {
        super.setUp();
        keep = mintAndStake(alice, 1)[0];
        churn = nft.mint(alice);
        vm.startPrank(alice);
        for (uint256 i; i < LOTS; ++i) {
            vm.warp(START + 1 + i);
            staking.stake(churn);
            staking.unstake(churn); // early: leaves an empty lot
        }
        vm.stopPrank();
        mintAndStake(bob, 1);
        payS(stranger);
        payUSDC(stranger);
        vm.warp(START + 1 + LOTS + MIN_STAKE); // every lot is past its period
    }

    function _gas(bytes memory call) internal returns (uint256 used) {
        vm.prank(alice);
        uint256 before = gasleft();
        (bool ok,) = address(staking).call(call);
        used = before - gasleft();
        assertTrue(ok, "call failed");
    }

    function test_lots10k_claimBounded() public {
        uint256 used = _gas(abi.encodeCall(staking.claimRewards, ()));
        assertLe(used, BOUND, "claimRewards with 10,001 lots");
        assertEq(alice.balance, 0.375 ether, "the long-staked NFT's S, settled in the first call");
    }

    function test_lots10k_unstakeBounded() public {
        assertLe(_gas(abi.encodeCall(staking.unstake, (keep))), BOUND, "unstake with 10,001 lots");
    }

    function test_lots10k_emergencyUnstakeBounded() public {
        assertLe(_gas(abi.encodeCall(staking.emergencyUnstake, (keep))), BOUND, "emergencyUnstake with 10,001 lots");
    }

    function test_lots10k_stakeBounded() public {
        assertLe(_gas(abi.encodeCall(staking.stake, (churn))), BOUND, "stake with 10,001 lots");
    }

    function test_lots10k_viewsBounded() public {
        uint256 before = gasleft();
        (uint256 s, uint256 u) = staking.earned(alice);
        assertLe(before - gasleft(), BOUND, "earned() with 10,001 lots");
        assertEq(s, 0.375 ether, "earned S");
        assertEq(u, 125_000, "earned USDC");
        before = gasleft();
        staking.pendingRewards(alice);
        assertLe(before - gasleft(), 50_000, "pendingRewards() is constant work");
    }

    /// @dev The lots are settled 32 per call; the rewards stay exact throughout (claimable + locked).
    function test_lots10k_settledInBoundedSteps() public {
        (uint256 settled, uint256 opened) = staking.lotsOf(alice);
        assertEq(settled, 0, "none settled yet");
        assertEq(opened, LOTS + 1, "10,001 lots");
        uint256 calls;
        while (settled < opened) {
            (uint256 s, uint256 u) = staking.earned(alice);
            (uint256 ps, uint256 pu) = staking.pendingRewards(alice);
            assertEq(s + ps, 0.375 ether, "S exact");
            assertEq(u + pu, 125_000, "USDC exact");
            assertLe(_gas(abi.encodeCall(staking.settleRewards, ())), BOUND, "settleRewards");
            ++calls;
            uint256 before = settled;
            (settled,) = staking.lotsOf(alice);
            assertEq(settled - before, opened - before < 32 ? opened - before : 32, "32 lots per call");
        }
        assertEq(calls, (LOTS + 1 + 31) / 32, "ceil(10,001 / 32) calls");
        (uint256 sAmount,) = staking.earned(alice);
        assertEq(sAmount, 0.375 ether, "all claimable");
    }
}

/// @dev The x402 settlement, for `forge snapshot` (the signature is made in setUp).
contract AuthorizationGasTest is Fixture {
    uint256 internal constant KEY = 0xA0B0C0;
    SonicAIGenerationPayment.Authorization internal auth;

    function setUp() public override {
        super.setUp();
        mintAndStake(alice, 1);
        payUSDC(alice); // warms the split's first writes, as on a live deployment
        address from = vm.addr(KEY);
        usdc.mint(from, 1e6);
        auth = SonicAIGenerationPayment.Authorization({
            from: from,
            value: 1e6,
            validAfter: 0,
            validBefore: block.timestamp + 1 hours,
            nonce: keccak256("gas"),
            signature: ""
        });
        bytes32 structHash = keccak256(
            abi.encode(
                usdc.TRANSFER_WITH_AUTHORIZATION_TYPEHASH(), from, address(payment), 1e6, 0, auth.validBefore, auth.nonce
            )
        );
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(KEY, keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash)));
        auth.signature = abi.encodePacked(r, s, v);
    }

    function test_payWithAuthorization() public {
        vm.prank(operator);
        uint256 before = gasleft();
        payment.payWithAuthorization("a cat in space", "image", auth);
        assertLe(before - gasleft(), 220_000, "x402 settlement");
    }
}
