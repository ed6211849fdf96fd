// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {SonicAIGenerationPayment} from "../src/SonicAIGenerationPayment.sol";
import {MockUSDC} from "../src/mocks/MockUSDC.sol";
import {MockSmartWallet} from "../src/mocks/MockSmartWallet.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @dev Signs EIP-3009 authorizations for MockUSDC (FiatToken v2.2's domain: "USDC", "2").
abstract contract AuthorizationSigner is Fixture {
    uint256 internal constant PAYER_KEY = 0xA0B0C0;
    address internal payer;

    function setUp() public virtual override {
        super.setUp();
        payer = vm.addr(PAYER_KEY);
    }

    function digestOf(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce)
        internal
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(
            abi.encode(usdc.TRANSFER_WITH_AUTHORIZATION_TYPEHASH(), from, to, value, validAfter, validBefore, nonce)
        );
        return keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash));
    }

    function sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev An authorization of `value` from `payer` to the payment contract, valid for an hour.
    function authorize(uint256 value, bytes32 nonce) internal view returns (SonicAIGenerationPayment.Authorization memory a) {
        a = SonicAIGenerationPayment.Authorization({
            from: payer,
            value: value,
            validAfter: block.timestamp - 1,
            validBefore: block.timestamp + 1 hours,
            nonce: nonce,
            signature: ""
        });
        a.signature = sign(PAYER_KEY, digestOf(payer, address(payment), value, a.validAfter, a.validBefore, nonce));
    }

    function settle(SonicAIGenerationPayment.Authorization memory a) internal returns (uint256) {
        vm.prank(operator);
        return payment.payWithAuthorization("a cat in space", "image", a);
    }
}

contract PaymentAuthorizationTest is AuthorizationSigner {
    event PaymentReceived(address indexed payer, address indexed token, uint256 amount, string generationType);
    event GenerationRequested(
        uint256 indexed requestId,
        address indexed user,
        string generationType,
        string prompt,
        address paymentToken,
        uint256 amount
    );
    event AuthorizationSettled(uint256 indexed requestId, address indexed payer, bytes32 indexed nonce, uint256 amount);
    event SurplusRecovered(address indexed token, address indexed to, uint256 amount);

    bytes32 internal constant NONCE = keccak256("x402 nonce 1");

    function setUp() public override {
        super.setUp();
        usdc.mint(payer, 10e6);
        mintAndStake(alice, 1);
    }

    // ------------------------------------------------------------------ the domain

    function test_mockUSDC_domainIsFiatTokenV22() public view {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("USDC"),
                keccak256("2"),
                block.chainid,
                address(usdc)
            )
        );
        assertEq(usdc.DOMAIN_SEPARATOR(), expected, "domain: USDC / 2 / chain / token");
        assertEq(
            usdc.TRANSFER_WITH_AUTHORIZATION_TYPEHASH(),
            keccak256(
                "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
            ),
            "type hash"
        );
    }

    // ------------------------------------------------------------------ settlement

    function test_payWithAuthorization_doesWhatPayWithUSDCDoes() public {
        SonicAIGenerationPayment.Authorization memory a = authorize(1e6, NONCE);
        vm.expectEmit(address(payment));
        emit PaymentReceived(payer, address(usdc), 1e6, "image");
        vm.expectEmit(address(payment));
        emit GenerationRequested(1, payer, "image", "a cat in space", address(usdc), 1e6);
        vm.expectEmit(address(payment));
        emit AuthorizationSettled(1, payer, NONCE, 1e6);
        uint256 id = settle(a);
        assertEq(id, 1, "request id");
        assertEq(usdc.balanceOf(payer), 9e6, "pulled the price");
        assertTrue(usdc.authorizationState(payer, NONCE), "nonce used");
        assertEq(usdc.balanceOf(address(staking)), 250_000, "25 % to stakers");
        (, uint256 pool) = voting.prizePool(1);
        assertEq(pool, 150_000, "15 % to the pool");
        assertEq(payment.withdrawable(address(usdc), dev), 500_000, "50 % dev");
        assertEq(payment.withdrawable(address(usdc), treasury), 100_000, "10 % treasury");
        assertEq(payment.surplus(address(usdc)), 0, "no surplus");
    }

    function test_payWithAuthorization_eip1271Payer() public {
        MockSmartWallet wallet = new MockSmartWallet(payer);
        usdc.mint(address(wallet), 1e6);
        SonicAIGenerationPayment.Authorization memory a = SonicAIGenerationPayment.Authorization({
            from: address(wallet),
            value: 1e6,
            validAfter: 0,
            validBefore: block.timestamp + 60,
            nonce: NONCE,
            signature: ""
        });
        // The wallet's owner signs the EIP-712 digest; the token asks the wallet (EIP-1271).
        a.signature = sign(PAYER_KEY, digestOf(address(wallet), address(payment), 1e6, 0, a.validBefore, NONCE));
        settle(a);
        assertEq(usdc.balanceOf(address(wallet)), 0, "paid by the contract wallet");
        // A signature by another key is refused by the wallet.
        usdc.mint(address(wallet), 1e6);
        a.nonce = keccak256("another");
        a.signature = sign(0xBAD, digestOf(address(wallet), address(payment), 1e6, 0, a.validBefore, a.nonce));
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(MockUSDC.AuthorizationInvalidSignature.selector, address(wallet)));
        payment.payWithAuthorization("a cat in space", "image", a);
    }

    // ------------------------------------------------------------------ attacks

    function test_attack_expired() public {
        SonicAIGenerationPayment.Authorization memory a = authorize(1e6, NONCE);
        vm.warp(a.validBefore);
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(SonicAIGenerationPayment.PaymentAuthorizationExpired.selector, a.validBefore, a.validBefore)
        );
        payment.payWithAuthorization("a cat in space", "image", a);
    }

    function test_attack_notYetValid() public {
        SonicAIGenerationPayment.Authorization memory a = authorize(1e6, NONCE);
        a.validAfter = block.timestamp;
        a.signature = sign(PAYER_KEY, digestOf(payer, address(payment), 1e6, a.validAfter, a.validBefore, NONCE));
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(
                SonicAIGenerationPayment.PaymentAuthorizationNotYetValid.selector, block.timestamp, block.timestamp
            )
        );
        payment.payWithAuthorization("a cat in space", "image", a);
        vm.warp(block.timestamp + 1);
        settle(a); // valid one second later
    }

    function test_attack_reusedNonce() public {
        SonicAIGenerationPayment.Authorization memory a = authorize(1e6, NONCE);
        settle(a);
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(SonicAIGenerationPayment.PaymentAuthorizationUsed.selector, payer, NONCE)
        );
        payment.payWithAuthorization("a cat in space", "image", a);
        assertEq(payment.nextRequestId(), 2, "one payment");
        assertEq(usdc.balanceOf(payer), 9e6, "taken once");
    }

    function test_attack_wrongTo() public {
        SonicAIGenerationPayment.Authorization memory a = authorize(1e6, NONCE);
        // Signed to someone else: the token recomputes the digest with to = the payment contract.
        a.signature = sign(PAYER_KEY, digestOf(payer, stranger, 1e6, a.validAfter, a.validBefore, NONCE));
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(MockUSDC.AuthorizationInvalidSignature.selector, payer));
        payment.payWithAuthorization("a cat in space", "image", a);
    }

    function test_attack_wrongValue() public {
        SonicAIGenerationPayment.Authorization memory a = authorize(0.5e6, NONCE);
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(SonicAIGenerationPayment.PaymentAuthorizationValueMismatch.selector, 0.5e6, 1e6)
        );
        payment.payWithAuthorization("a cat in space", "image", a);
        // The price in the struct, but the signature was for half of it.
        a.value = 1e6;
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(MockUSDC.AuthorizationInvalidSignature.selector, payer));
        payment.payWithAuthorization("a cat in space", "image", a);
        // More than the price is refused too (x402 "exact").
        a = authorize(2e6, NONCE);
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(SonicAIGenerationPayment.PaymentAuthorizationValueMismatch.selector, 2e6, 1e6)
        );
        payment.payWithAuthorization("a cat in space", "image", a);
    }

    function test_attack_signatureOfAnotherKey() public {
        SonicAIGenerationPayment.Authorization memory a = authorize(1e6, NONCE);
        a.signature = sign(0xBAD, digestOf(payer, address(payment), 1e6, a.validAfter, a.validBefore, NONCE));
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(MockUSDC.AuthorizationInvalidSignature.selector, payer));
        payment.payWithAuthorization("a cat in space", "image", a);
        assertEq(usdc.balanceOf(payer), 10e6, "nothing taken");
    }

    function test_attack_onlyTheOperatorSettles() public {
        SonicAIGenerationPayment.Authorization memory a = authorize(1e6, NONCE);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(SonicAIGenerationPayment.PaymentUnauthorizedOperator.selector, stranger)
        );
        payment.payWithAuthorization("a cat in space", "image", a);
        vm.prank(admin);
        payment.pause();
        vm.prank(operator);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        payment.payWithAuthorization("a cat in space", "image", a);
    }

    /// @dev Someone submits the authorization straight to the token first: the USDC arrives unsplit and
    /// shows as surplus; the operator's settlement fails with PaymentAuthorizationUsed (the server then
    /// refunds the job); the admin sends the surplus back to the payer.
    function test_attack_frontRunToTheToken() public {
        SonicAIGenerationPayment.Authorization memory a = authorize(1e6, NONCE);
        vm.prank(stranger);
        usdc.transferWithAuthorization(
            a.from, address(payment), a.value, a.validAfter, a.validBefore, a.nonce, a.signature
        );
        assertEq(payment.surplus(address(usdc)), 1e6, "surplus visible");
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(SonicAIGenerationPayment.PaymentAuthorizationUsed.selector, payer, NONCE)
        );
        payment.payWithAuthorization("a cat in space", "image", a);
        assertEq(payment.nextRequestId(), 1, "no generation requested");
        assertEq(usdc.balanceOf(address(staking)), 0, "nothing split");
        assertEq(payment.withdrawable(address(usdc), dev), 0, "nothing credited");

        bytes32 adminRole = payment.DEFAULT_ADMIN_ROLE();
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, adminRole)
        );
        payment.recoverSurplus(address(usdc), stranger, 1e6);
        vm.startPrank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(SonicAIGenerationPayment.PaymentSurplusExceeded.selector, address(usdc), 2e6, 1e6)
        );
        payment.recoverSurplus(address(usdc), payer, 2e6);
        vm.expectEmit(address(payment));
        emit SurplusRecovered(address(usdc), payer, 1e6);
        payment.recoverSurplus(address(usdc), payer, 1e6);
        vm.stopPrank();
        assertEq(usdc.balanceOf(payer), 10e6, "payer refunded");
        assertEq(payment.surplus(address(usdc)), 0, "no surplus left");
    }

    /// @dev The surplus never includes what is owed: after payments, only the extra can be recovered.
    function test_recoverSurplus_neverTouchesPullBalances() public {
        settle(authorize(1e6, NONCE));
        payS(stranger);
        usdc.mint(address(payment), 7);
        assertEq(payment.surplus(address(usdc)), 7, "only the extra");
        assertEq(payment.surplus(S), 0, "S owed only");
        vm.prank(admin);
        vm.expectRevert(
            abi.encodeWithSelector(SonicAIGenerationPayment.PaymentSurplusExceeded.selector, S, 1, 0)
        );
        payment.recoverSurplus(S, admin, 1);
        vm.prank(admin);
        payment.recoverSurplus(address(usdc), admin, 7);
        vm.prank(dev);
        payment.withdraw(address(usdc));
        assertEq(usdc.balanceOf(dev), 500_000, "dev paid in full");
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentUnsupportedToken.selector, stranger));
        payment.surplus(stranger);
    }

    // ------------------------------------------------------------------ maxAmount

    function test_payWithUSDC_refusesAPriceAboveMaxAmount() public {
        usdc.mint(alice, 5e6);
        vm.prank(alice);
        usdc.approve(address(payment), type(uint256).max);
        vm.prank(admin);
        payment.setPrices(3 ether, 2e6);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(SonicAIGenerationPayment.PaymentPriceAboveMax.selector, 2e6, 1e6));
        payment.payWithUSDC("a cat in space", "image", 1e6);
        assertEq(usdc.balanceOf(alice), 5e6, "nothing taken");
        vm.prank(alice);
        payment.payWithUSDC("a cat in space", "image", 2e6);
        assertEq(usdc.balanceOf(alice), 3e6, "the price, not the allowance");
    }

    // ------------------------------------------------------------------ fuzz

    function testFuzz_payWithAuthorization_onlyInsideTheWindow(uint256 price, uint64 after_, uint64 before_, uint32 at)
        public
    {
        price = bound(price, 1, 10e6);
        vm.prank(admin);
        payment.setPrices(3 ether, price);
        usdc.mint(payer, price);
        uint256 now_ = START + bound(at, 0, 1000);
        vm.warp(now_);
        uint256 validAfter = START + bound(after_, 0, 1000);
        uint256 validBefore = START + bound(before_, 0, 1000);
        bytes32 nonce = keccak256(abi.encode(price, validAfter, validBefore));
        SonicAIGenerationPayment.Authorization memory a = SonicAIGenerationPayment.Authorization({
            from: payer,
            value: price,
            validAfter: validAfter,
            validBefore: validBefore,
            nonce: nonce,
            signature: sign(PAYER_KEY, digestOf(payer, address(payment), price, validAfter, validBefore, nonce))
        });
        uint256 payerBefore = usdc.balanceOf(payer);
        vm.prank(operator);
        try payment.payWithAuthorization("a cat in space", "video", a) {
            assertTrue(validAfter < now_ && now_ < validBefore, "settled only inside the window");
            (uint256 st, uint256 dv, uint256 pr, uint256 tr) = payment.splitOf(price);
            assertEq(st + dv + pr + tr, price, "split sums to the price");
            assertEq(payerBefore - usdc.balanceOf(payer), price, "took the price");
            assertEq(
                payment.withdrawable(address(usdc), dev) + payment.withdrawable(address(usdc), treasury), dv + tr, "credited"
            );
        } catch {
            assertFalse(validAfter < now_ && now_ < validBefore, "refused only outside the window");
            assertEq(usdc.balanceOf(payer), payerBefore, "nothing taken");
        }
    }
}

/// @dev The token's own EIP-3009 functions (MockUSDC mirrors FiatToken v2.2).
contract MockUSDCAuthorizationTest is AuthorizationSigner {
    bytes32 internal constant NONCE = keccak256("n");

    function setUp() public override {
        super.setUp();
        usdc.mint(payer, 5e6);
    }

    function test_transferWithAuthorization_vrsAndReplay() public {
        bytes32 digest = digestOf(payer, bob, 1e6, 0, block.timestamp + 10, NONCE);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, digest);
        vm.prank(stranger);
        usdc.transferWithAuthorization(payer, bob, 1e6, 0, block.timestamp + 10, NONCE, v, r, s);
        assertEq(usdc.balanceOf(bob), 1e6, "moved");
        vm.expectRevert(abi.encodeWithSelector(MockUSDC.AuthorizationUsedOrCanceled.selector, payer, NONCE));
        usdc.transferWithAuthorization(payer, bob, 1e6, 0, block.timestamp + 10, NONCE, v, r, s);
    }

    function test_receiveWithAuthorization_onlyByThePayee() public {
        bytes32 structHash = keccak256(
            abi.encode(usdc.RECEIVE_WITH_AUTHORIZATION_TYPEHASH(), payer, bob, 1e6, 0, block.timestamp + 10, NONCE)
        );
        bytes memory sig = sign(PAYER_KEY, keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash)));
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(MockUSDC.AuthorizationCallerNotPayee.selector, stranger, bob));
        usdc.receiveWithAuthorization(payer, bob, 1e6, 0, block.timestamp + 10, NONCE, sig);
        vm.prank(bob);
        usdc.receiveWithAuthorization(payer, bob, 1e6, 0, block.timestamp + 10, NONCE, sig);
        assertEq(usdc.balanceOf(bob), 1e6, "received");
    }

    function test_cancelAuthorization_blocksTheNonce() public {
        bytes32 structHash = keccak256(abi.encode(usdc.CANCEL_AUTHORIZATION_TYPEHASH(), payer, NONCE));
        bytes memory sig = sign(PAYER_KEY, keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash)));
        usdc.cancelAuthorization(payer, NONCE, sig);
        assertTrue(usdc.authorizationState(payer, NONCE), "canceled");
        bytes memory transferSig = sign(PAYER_KEY, digestOf(payer, bob, 1e6, 0, block.timestamp + 10, NONCE));
        vm.expectRevert(abi.encodeWithSelector(MockUSDC.AuthorizationUsedOrCanceled.selector, payer, NONCE));
        usdc.transferWithAuthorization(payer, bob, 1e6, 0, block.timestamp + 10, NONCE, transferSig);
    }

    function test_blacklist_deployerOnly_blocksBothWays() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(MockUSDC.NotBlacklister.selector, stranger));
        usdc.blacklist(bob);
        usdc.blacklist(bob);
        assertTrue(usdc.isBlacklisted(bob), "listed");
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(MockUSDC.Blacklisted.selector, bob));
        usdc.transfer(bob, 1);
        usdc.unBlacklist(bob);
        vm.prank(payer);
        usdc.transfer(bob, 1);
        assertEq(usdc.balanceOf(bob), 1, "unblocked");
    }
}
