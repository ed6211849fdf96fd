// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {FeeOnTransferToken, BlocklistToken, ReentrantRecipient, RejectingRecipient} from "./utils/Attackers.sol";
import {SonicAIGenerationPayment} from "../src/SonicAIGenerationPayment.sol";
import {BanditKidzStaking} from "../src/BanditKidzStaking.sol";
import {GenerationVotingAndLeaderboard} from "../src/GenerationVotingAndLeaderboard.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

contract SonicAIGenerationPaymentTest is Fixture {
    event PaymentReceived(address indexed payer, address indexed token, uint256 amount, string generationType);
    event GenerationRequested(
        uint256 indexed requestId,
        address indexed user,
        string generationType,
        string prompt,
        address paymentToken,
        uint256 amount
    );
    event CreditsAdded(address indexed user, uint256 amount, address indexed operator);
    event CreditsUsed(address indexed user, uint256 amount, uint256 indexed requestId);
    event Withdrawn(address indexed account, address indexed token, uint256 amount);
    event PricesUpdated(uint256 priceS, uint256 priceUSDC);
    event RateLimitsUpdated(uint256 minInterval, uint256 dailyCap);
    event ExcessRefunded(address indexed payer, uint256 amount);

    // ------------------------------------------------------------------ construction and views

    function test_constructor_setsEverything() public view {
        assertEq(payment.priceS(), 3 ether, "priceS");
        assertEq(payment.priceUSDC(), 1e6, "priceUSDC");
        assertEq(payment.nextRequestId(), 1, "nextRequestId");
        assertEq(payment.usdc(), address(usdc), "usdc");
        assertEq(payment.staking(), address(staking), "staking");
        assertEq(payment.voting(), address(voting), "voting");
        assertEq(payment.devWallet(), dev, "dev");
        assertEq(payment.treasury(), treasury, "treasury");
        assertEq(payment.NATIVE_TOKEN(), S, "native");
        assertEq(payment.OPERATOR_ROLE(), keccak256("OPERATOR_ROLE"), "role");
        assertTrue(payment.hasRole(payment.DEFAULT_ADMIN_ROLE(), admin), "admin");
        (uint256 minInterval, uint256 cap) = payment.rateLimits();
        assertEq(minInterval + cap, 0, "limits off");
    }

    function test_constructor_revertsOnZeroAddress() public {
        vm.expectRevert(SonicAIGenerationPayment.PaymentZeroAddress.selector);
        new SonicAIGenerationPayment(admin, address(0), address(staking), address(voting), dev, treasury);
        vm.expectRevert(SonicAIGenerationPayment.PaymentZeroAddress.selector);
        new SonicAIGenerationPayment(admin, address(usdc), address(staking), address(voting), dev, address(0));
    }

    // ------------------------------------------------------------------ payWithS

    function test_payWithS_emitsAndSplits() public {
        vm.deal(alice, 3 ether);
        vm.expectEmit(address(payment));
        emit PaymentReceived(alice, S, 3 ether, "image");
        vm.expectEmit(address(payment));
        emit GenerationRequested(1, alice, "image", "a cat", S, 3 ether);
        vm.prank(alice);
        uint256 id = payment.payWithS{value: 3 ether}("a cat", "image");
        assertEq(id, 1, "id");
        assertEq(payment.nextRequestId(), 2, "next id");
        assertEq(address(staking).balance, 0.75 ether, "stakers 25%");
        assertEq(address(voting).balance, 0.45 ether, "prize 15%");
        assertEq(payment.withdrawable(S, dev), 1.5 ether, "dev 50%");
        assertEq(payment.withdrawable(S, treasury), 0.3 ether, "treasury 10%");
        assertEq(address(payment).balance, 1.8 ether, "held for pull");
        (uint256 poolS,) = voting.prizePool(1);
        assertEq(poolS, 0.45 ether, "pool");
        (uint256 qS,) = staking.queuedRewards();
        assertEq(qS, 0.75 ether * 1e18, "queued for future stakers");
    }

    function test_payWithS_idsIncrement() public {
        assertEq(payS(alice), 1, "first");
        assertEq(payS(bob), 2, "second");
        assertEq(payUSDC(alice), 3, "third");
    }

    function test_payWithS_refundsExcess() public {
        vm.deal(alice, 10 ether);
        vm.expectEmit(address(payment));
        emit ExcessRefunded(alice, 7 ether);
        vm.prank(alice);
        payment.payWithS{value: 10 ether}("a cat", "video");
        assertEq(alice.balance, 7 ether, "refunded");
        assertEq(address(payment).balance + address(staking).balance + address(voting).balance, 3 ether, "kept price only");
    }

    function test_payWithS_revertsBelowPrice() public {
        vm.deal(alice, 3 ether);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentInsufficientValue.selector, 3 ether - 1, 3 ether));
        payment.payWithS{value: 3 ether - 1}("a cat", "image");
    }

    function test_payWithS_rejectingPayerMustPayExact() public {
        RejectingRecipient r = new RejectingRecipient();
        vm.deal(address(r), 5 ether);
        vm.expectRevert();
        r.pay(payment, 4 ether); // the refund cannot be delivered: whole payment reverts, nothing kept
        assertEq(address(r).balance, 5 ether, "nothing taken");
        assertEq(r.pay(payment, 3 ether), 1, "exact price works");
    }

    function test_prompt_boundaries() public {
        vm.deal(alice, 100 ether);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentInvalidPrompt.selector, 0));
        payment.payWithS{value: 3 ether}("", "image");
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentInvalidPrompt.selector, 1001));
        payment.payWithS{value: 3 ether}(repeat(1001), "image");
        payment.payWithS{value: 3 ether}(repeat(1), "image");
        payment.payWithS{value: 3 ether}(repeat(1000), "image");
        vm.stopPrank();
        assertEq(payment.nextRequestId(), 3, "two accepted");
    }

    function test_generationType_onlyImageOrVideo() public {
        vm.deal(alice, 100 ether);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentInvalidGenerationType.selector, "Image"));
        payment.payWithS{value: 3 ether}("p", "Image");
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentInvalidGenerationType.selector, ""));
        payment.payWithS{value: 3 ether}("p", "");
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentInvalidGenerationType.selector, "audio"));
        payment.payWithS{value: 3 ether}("p", "audio");
        payment.payWithS{value: 3 ether}("p", "video");
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ payWithUSDC

    function test_payWithUSDC_emitsAndSplits() public {
        usdc.mint(alice, 1e6);
        vm.startPrank(alice);
        usdc.approve(address(payment), 1e6);
        vm.expectEmit(address(payment));
        emit GenerationRequested(1, alice, "video", "a dog", address(usdc), 1e6);
        uint256 id = payment.payWithUSDC("a dog", "video", 1e6);
        vm.stopPrank();
        assertEq(id, 1, "id");
        assertEq(usdc.balanceOf(address(staking)), 250_000, "stakers");
        assertEq(usdc.balanceOf(address(voting)), 150_000, "prize");
        assertEq(payment.withdrawable(address(usdc), dev), 500_000, "dev");
        assertEq(payment.withdrawable(address(usdc), treasury), 100_000, "treasury");
        (, uint256 poolUSDC) = voting.prizePool(1);
        assertEq(poolUSDC, 150_000, "pool");
    }

    function test_payWithUSDC_revertsWithoutAllowance() public {
        usdc.mint(alice, 1e6);
        vm.prank(alice);
        vm.expectRevert();
        payment.payWithUSDC("a dog", "video", 1e6);
        assertEq(payment.nextRequestId(), 1, "no id used");
    }

    function test_attack_feeOnTransferTokenReverts() public {
        FeeOnTransferToken fee = new FeeOnTransferToken();
        SonicAIGenerationPayment p = _paymentWithToken(address(fee));
        fee.mint(alice, 1e6);
        vm.startPrank(alice);
        fee.approve(address(p), 1e6);
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentUSDCAmountMismatch.selector, 1e6, 990_000));
        p.payWithUSDC("a dog", "video", 1e6);
        vm.stopPrank();
        assertEq(fee.balanceOf(alice), 1e6, "nothing taken");
    }

    function test_attack_blocklistedRecipientCannotBlockPayments() public {
        BlocklistToken bl = new BlocklistToken();
        SonicAIGenerationPayment p = _paymentWithToken(address(bl));
        bl.setBlocked(dev, true);
        bl.mint(alice, 3e6);
        vm.startPrank(alice);
        bl.approve(address(p), 3e6);
        p.payWithUSDC("a", "image", 1e6);
        p.payWithUSDC("b", "image", 1e6);
        vm.stopPrank();
        // The blocked dev wallet only hurts itself; the treasury still withdraws.
        vm.prank(dev);
        vm.expectRevert();
        p.withdraw(address(bl));
        vm.prank(treasury);
        p.withdraw(address(bl));
        assertEq(bl.balanceOf(treasury), 200_000, "treasury paid");
        // A blocked payer cannot pay (and is not charged).
        bl.setBlocked(alice, true);
        vm.prank(alice);
        vm.expectRevert();
        p.payWithUSDC("c", "image", 1e6);
    }

    function _paymentWithToken(address token) internal returns (SonicAIGenerationPayment p) {
        BanditKidzStaking st = new BanditKidzStaking(admin, address(nft), token, MIN_STAKE);
        GenerationVotingAndLeaderboard vo =
            new GenerationVotingAndLeaderboard(admin, address(st), token, START, WEEK);
        p = new SonicAIGenerationPayment(admin, token, address(st), address(vo), dev, treasury);
        vm.startPrank(admin);
        st.setRewardSource(address(p));
        vo.setPaymentContract(address(p));
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ credits

    function test_credits_addAndUse() public {
        vm.expectEmit(address(payment));
        emit CreditsAdded(alice, 2, operator);
        vm.prank(operator);
        payment.addCredits(alice, 2);
        assertEq(payment.credits(alice), 2, "credits");
        vm.expectEmit(address(payment));
        emit GenerationRequested(1, alice, "image", "p", address(0), 1);
        vm.expectEmit(address(payment));
        emit CreditsUsed(alice, 1, 1);
        vm.prank(alice);
        assertEq(payment.useCredits("p", "image"), 1, "id");
        assertEq(payment.credits(alice), 1, "left");
        vm.prank(admin); // the admin may grant credits too
        payment.addCredits(alice, 1);
        assertEq(payment.credits(alice), 2, "admin grant");
    }

    function test_useCredits_revertsWithoutCredits() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentInsufficientCredits.selector, alice, 0, 1));
        payment.useCredits("p", "image");
    }

    function test_addCredits_reverts() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentUnauthorizedOperator.selector, stranger));
        payment.addCredits(alice, 1);
        vm.startPrank(operator);
        vm.expectRevert(SonicAIGenerationPayment.PaymentZeroCredits.selector);
        payment.addCredits(alice, 0);
        vm.expectRevert(SonicAIGenerationPayment.PaymentZeroAddress.selector);
        payment.addCredits(address(0), 1);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ withdraw

    function test_withdraw_paysDevAndTreasury() public {
        payS(alice);
        payUSDC(alice);
        uint256 before = dev.balance;
        vm.expectEmit(address(payment));
        emit Withdrawn(dev, S, 1.5 ether);
        vm.prank(dev);
        payment.withdraw(S);
        assertEq(dev.balance - before, 1.5 ether, "dev S");
        vm.prank(dev);
        payment.withdraw(address(usdc));
        assertEq(usdc.balanceOf(dev), 500_000, "dev USDC");
        assertEq(payment.withdrawable(S, dev), 0, "zeroed");
        vm.prank(dev);
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentNothingToWithdraw.selector, S, dev));
        payment.withdraw(S);
        vm.prank(dev);
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentUnsupportedToken.selector, address(0x1234)));
        payment.withdraw(address(0x1234));
    }

    function test_withdraw_worksWhilePaused() public {
        payS(alice);
        vm.prank(admin);
        payment.pause();
        vm.prank(treasury);
        payment.withdraw(S);
        assertEq(treasury.balance, 0.3 ether, "treasury");
    }

    function test_attack_reentrantPayerCannotPayTwiceInOneCall() public {
        ReentrantRecipient r = new ReentrantRecipient(payment);
        vm.deal(address(r), 10 ether);
        r.setMode(1, address(payment));
        r.pay(4 ether); // 1 ether refund triggers receive(), which tries payWithS again
        assertFalse(r.reentered(), "reentry must fail");
        assertEq(bytes4(r.reentryError()), ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector, "guard");
        assertEq(payment.nextRequestId(), 2, "one request");
    }

    function test_attack_reentrantRecipientCannotWithdrawTwice() public {
        ReentrantRecipient r = new ReentrantRecipient(payment);
        vm.prank(admin);
        payment.setRecipients(address(r), treasury);
        payS(alice);
        payS(bob);
        r.setMode(2, address(payment));
        r.withdraw(S);
        assertFalse(r.reentered(), "reentry must fail");
        assertEq(address(r).balance, 3 ether, "paid exactly once");
        assertEq(payment.withdrawable(S, address(r)), 0, "zeroed");
    }

    function test_attack_rejectingRecipientCannotBlockPayments() public {
        RejectingRecipient r = new RejectingRecipient();
        vm.prank(admin);
        payment.setRecipients(address(r), address(r));
        payS(alice);
        payS(bob); // payments go on: dev/treasury are pull balances
        vm.expectRevert();
        r.withdraw(payment, S);
        assertEq(payment.withdrawable(S, address(r)), 3.6 ether, "kept for r");
    }

    // ------------------------------------------------------------------ admin

    function test_setPrices() public {
        vm.expectEmit(address(payment));
        emit PricesUpdated(5 ether, 2e6);
        vm.prank(admin);
        payment.setPrices(5 ether, 2e6);
        assertEq(payment.priceS(), 5 ether, "S");
        assertEq(payment.priceUSDC(), 2e6, "USDC");
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentInvalidPrice.selector, 0, 1));
        payment.setPrices(0, 1);
    }

    function test_setRecipients() public {
        vm.prank(admin);
        payment.setRecipients(alice, bob);
        assertEq(payment.devWallet(), alice, "dev");
        assertEq(payment.treasury(), bob, "treasury");
        vm.prank(admin);
        vm.expectRevert(SonicAIGenerationPayment.PaymentZeroAddress.selector);
        payment.setRecipients(address(0), bob);
    }

    function test_pause_blocksPayments() public {
        vm.prank(admin);
        payment.pause();
        vm.deal(alice, 3 ether);
        vm.prank(alice);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        payment.payWithS{value: 3 ether}("p", "image");
        vm.prank(alice);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        payment.payWithUSDC("p", "image", 1e6);
        vm.prank(operator);
        payment.addCredits(alice, 1); // refunds still work while paused
        vm.prank(alice);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        payment.useCredits("p", "image");
        vm.prank(admin);
        payment.unpause();
        vm.prank(alice);
        payment.useCredits("p", "image");
    }

    function test_attack_strangerCallsEveryRestrictedFunction() public {
        bytes32 role = payment.DEFAULT_ADMIN_ROLE();
        bytes32 operatorRole = payment.OPERATOR_ROLE();
        bytes memory err = abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role);
        vm.startPrank(stranger);
        vm.expectRevert(err);
        payment.setPrices(1, 1);
        vm.expectRevert(err);
        payment.setRateLimits(1, 1);
        vm.expectRevert(err);
        payment.setRecipients(stranger, stranger);
        vm.expectRevert(err);
        payment.pause();
        vm.expectRevert(err);
        payment.unpause();
        vm.expectRevert(err);
        payment.grantRole(operatorRole, stranger);
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentUnauthorizedOperator.selector, stranger));
        payment.addCredits(stranger, 100);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ rate limits

    function test_rateLimit_minInterval() public {
        vm.expectEmit(address(payment));
        emit RateLimitsUpdated(60, 0);
        vm.prank(admin);
        payment.setRateLimits(60, 0);
        payS(alice);
        vm.deal(alice, 3 ether);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentRateLimited.selector, alice, START + 60));
        payment.payWithS{value: 3 ether}("p", "image");
        assertEq(payment.nextAllowedRequestAt(alice), START + 60, "next allowed");
        payS(bob); // other users are not limited
        vm.warp(START + 60);
        assertEq(payment.nextAllowedRequestAt(alice), 0, "allowed now");
        payS(alice);
    }

    function test_rateLimit_dailyCap() public {
        vm.prank(admin);
        payment.setRateLimits(0, 2);
        vm.prank(operator);
        payment.addCredits(alice, 10);
        vm.startPrank(alice);
        payment.useCredits("p", "image");
        payment.useCredits("p", "image");
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentDailyCapReached.selector, alice, 2));
        payment.useCredits("p", "image");
        vm.stopPrank();
        uint256 tomorrow = (START / 1 days + 1) * 1 days;
        assertEq(payment.nextAllowedRequestAt(alice), tomorrow, "tomorrow");
        vm.warp(tomorrow);
        vm.prank(alice);
        payment.useCredits("p", "image");
        assertEq(payment.credits(alice), 7, "credits");
    }

    // ------------------------------------------------------------------ fuzz

    function testFuzz_splitIsExact(uint256 amount) public view {
        amount = bound(amount, 0, type(uint128).max);
        (uint256 a, uint256 b, uint256 c, uint256 d) = payment.splitOf(amount);
        assertEq(a + b + c + d, amount, "sum");
        assertGe(d, amount / 10, "treasury at least 10%");
        assertLe(d - amount / 10, 3, "dust at most 3 wei");
    }

    function testFuzz_payWithS_anyPriceAndValue(uint256 price, uint256 value) public {
        price = bound(price, 1, 1e30);
        value = bound(value, price, 2e30);
        vm.prank(admin);
        payment.setPrices(price, 1e6);
        vm.deal(alice, value);
        vm.prank(alice);
        payment.payWithS{value: value}("p", "image");
        assertEq(alice.balance, value - price, "excess back");
        uint256 total = address(payment).balance + address(staking).balance + address(voting).balance;
        assertEq(total, price, "exact split");
        assertEq(
            payment.withdrawable(S, dev) + payment.withdrawable(S, treasury), address(payment).balance, "pull == held"
        );
    }

    function testFuzz_promptLength(uint256 length) public {
        length = bound(length, 0, 1200);
        vm.prank(operator);
        payment.addCredits(alice, 1);
        vm.prank(alice);
        if (length == 0 || length > 1000) {
            vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentInvalidPrompt.selector, length));
        }
        payment.useCredits(repeat(length), "video");
    }

    function testFuzz_rateLimitTiming(uint256 interval, uint256 wait) public {
        interval = bound(interval, 1, 30 days);
        wait = bound(wait, 0, 60 days);
        vm.prank(admin);
        payment.setRateLimits(interval, 0);
        vm.prank(operator);
        payment.addCredits(alice, 2);
        vm.prank(alice);
        payment.useCredits("p", "image");
        vm.warp(START + wait);
        vm.prank(alice);
        if (wait < interval) {
            vm.expectRevert(
                abi.encodeWithSelector(SonicAIGenerationPayment.PaymentRateLimited.selector, alice, START + interval)
            );
        }
        payment.useCredits("p", "image");
    }
}
