// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Fixture} from "./utils/Fixture.sol";
import {MockSmartWallet} from "../src/mocks/MockSmartWallet.sol";
import {SonicAIGenerationPayment} from "../src/SonicAIGenerationPayment.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/// @dev The signing cheatcode (not in the minimal Vm of utils/Test.sol).
interface VmSign {
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
}

contract MockSmartWalletTest is Fixture {
    VmSign internal constant signer = VmSign(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);
    bytes4 internal constant MAGIC = 0x1626ba7e;
    bytes4 internal constant INVALID = 0xffffffff;
    uint256 internal constant OWNER_KEY = 0xA11CE0;
    uint256 internal constant OTHER_KEY = 0xB0B0;

    event Executed(address indexed target, uint256 value, bytes data);
    event GenerationRequested(
        uint256 indexed requestId,
        address indexed user,
        string generationType,
        string prompt,
        address paymentToken,
        uint256 amount
    );

    address internal owner;
    MockSmartWallet internal wallet;

    function setUp() public override {
        super.setUp();
        owner = vm.addr(OWNER_KEY);
        wallet = new MockSmartWallet(owner);
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = signer.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev What sf-mcp asks: the EIP-191 personal_sign digest of the SIWE message text.
    function _siweDigest() internal pure returns (bytes32) {
        return MessageHashUtils.toEthSignedMessageHash(bytes("example.org wants you to sign in with your account"));
    }

    function test_constructor_zeroOwnerReverts() public {
        vm.expectRevert(MockSmartWallet.MockSmartWalletZeroOwner.selector);
        new MockSmartWallet(address(0));
    }

    function test_isValidSignature_ownerPersonalSign() public view {
        bytes32 digest = _siweDigest();
        assertTrue(wallet.isValidSignature(digest, _sign(OWNER_KEY, digest)) == MAGIC, "owner's signature");
    }

    function test_isValidSignature_refusesOthersAndGarbage() public view {
        bytes32 digest = _siweDigest();
        assertTrue(wallet.isValidSignature(digest, _sign(OTHER_KEY, digest)) == INVALID, "another key");
        assertTrue(wallet.isValidSignature(keccak256("other"), _sign(OWNER_KEY, digest)) == INVALID, "another hash");
        assertTrue(wallet.isValidSignature(digest, hex"1234") == INVALID, "short signature");
        assertTrue(wallet.isValidSignature(digest, new bytes(65)) == INVALID, "zero signature");
    }

    function test_execute_paysWithSAsTheWallet() public {
        vm.deal(address(this), 5 ether);
        (bool ok,) = address(wallet).call{value: 5 ether}("");
        assertTrue(ok, "receive");
        bytes memory data = abi.encodeCall(payment.payWithS, ("a cat in space", "image"));
        vm.expectEmit(address(wallet));
        emit Executed(address(payment), 3 ether, data);
        vm.expectEmit(address(payment));
        emit GenerationRequested(1, address(wallet), "image", "a cat in space", S, 3 ether);
        vm.prank(owner);
        bytes memory result = wallet.execute(address(payment), 3 ether, data);
        assertEq(abi.decode(result, (uint256)), 1, "request id returned");
        assertEq(address(wallet).balance, 2 ether, "wallet balance");
    }

    function test_execute_onlyOwner() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(MockSmartWallet.MockSmartWalletUnauthorized.selector, stranger));
        wallet.execute(stranger, 0, "");
        vm.prank(owner);
        vm.expectRevert(MockSmartWallet.MockSmartWalletZeroTarget.selector);
        wallet.execute(address(0), 0, "");
    }

    function test_execute_bubblesRevertsAndSendsToAccounts() public {
        vm.prank(owner);
        vm.expectRevert(
            abi.encodeWithSelector(SonicAIGenerationPayment.PaymentInsufficientValue.selector, 0, 3 ether)
        );
        wallet.execute(address(payment), 0, abi.encodeCall(payment.payWithS, ("a cat", "image")));
        vm.deal(address(wallet), 1 ether);
        vm.prank(owner);
        wallet.execute(alice, 1 ether, "");
        assertEq(alice.balance, 1 ether, "plain transfer");
    }
}
