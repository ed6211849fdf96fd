// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/**
 * @title MockSmartWallet
 * @dev A minimal smart-contract wallet with one externally owned {owner}, to test what sf-mcp does
 * with contract wallets (a Safe, an ERC-4337 account) on development chains:
 *
 * - Sign-In with Ethereum through EIP-1271: the server recovers the signer of the SIWE message; when
 *   it is not the address in the message it calls {isValidSignature} on that address with the
 *   EIP-191 personal_sign digest of the message text,
 *   `keccak256("\x19Ethereum Signed Message:\n" || len(message) || message)`
 *   (`sf_mcp.server.siwe.message_hash`, passed by `sf_mcp.server.auth` to `sf_mcp.chain.eip1271`).
 *   This wallet accepts that digest signed by its owner, i.e. the owner's own personal_sign of the
 *   message; it does not hash again.
 * - Paying through the wallet: the owner calls {execute} with the payment contract's
 *   `payWithS` calldata, so the payment's payer (`msg.sender`) is this wallet.
 *
 * IMPORTANT: for local chains and tests only. A real wallet binds signatures to itself and its chain
 * (e.g. an EIP-712 domain); this one accepts any digest its owner signed, so a signature the owner
 * made for another contract wallet with the same owner is valid here too.
 */
contract MockSmartWallet is IERC1271 {
    /// @dev `bytes4(keccak256("isValidSignature(bytes32,bytes)"))`: the EIP-1271 "valid" answer.
    bytes4 internal constant MAGIC_VALUE = IERC1271.isValidSignature.selector;
    /// @dev The answer for any signature that is not the owner's (EIP-1271 allows any other value).
    bytes4 internal constant INVALID_VALUE = 0xffffffff;

    /// @notice The externally owned account that signs for this wallet and may call {execute}.
    address public immutable owner;

    /// @notice Emitted by {execute} before the call is made.
    event Executed(address indexed target, uint256 value, bytes data);

    /// @notice The constructor was given the zero address as owner.
    error MockSmartWalletZeroOwner();
    /// @notice `caller` is not the {owner}.
    error MockSmartWalletUnauthorized(address caller);
    /// @notice {execute} was asked to call the zero address (S sent there would be burnt).
    error MockSmartWalletZeroTarget();

    /// @param initialOwner the owner; may not be the zero address. S sent with the deployment is kept.
    constructor(address initialOwner) payable {
        if (initialOwner == address(0)) revert MockSmartWalletZeroOwner();
        owner = initialOwner;
    }

    /// @notice Accepts S (to fund payments made through {execute}).
    receive() external payable {}

    /**
     * @notice EIP-1271: `0x1626ba7e` when `signature` is the {owner}'s ECDSA signature of `hash`,
     * `0xffffffff` otherwise (never reverts on a malformed signature).
     * @dev `hash` is used as given (for SIWE: the EIP-191 personal_sign digest of the message).
     * Recovery is OpenZeppelin's {ECDSA-tryRecoverCalldata}: 65-byte signatures with a low `s` only.
     * @param hash the digest that was signed.
     * @param signature the 65-byte `r || s || v` signature.
     * @return magicValue `0x1626ba7e` if valid, `0xffffffff` if not.
     */
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4 magicValue) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(hash, signature);
        return err == ECDSA.RecoverError.NoError && recovered == owner ? MAGIC_VALUE : INVALID_VALUE;
    }

    /**
     * @notice Calls `target` with `value` wei of S and `data`, as this wallet. Only the {owner}.
     * @dev A revert in the call is bubbled up unchanged ({Errors-FailedCall} when it gave no reason).
     * `target` may be an account without code (a plain S transfer), but not the zero address. `value` comes from this wallet's
     * balance (S sent with this call included). Emits {Executed}.
     * @param target the contract (or account) to call.
     * @param value the S to send with the call, in wei.
     * @param data the calldata.
     * @return result what the call returned.
     */
    function execute(address target, uint256 value, bytes calldata data)
        external
        payable
        returns (bytes memory result)
    {
        if (msg.sender != owner) revert MockSmartWalletUnauthorized(msg.sender);
        if (target == address(0)) revert MockSmartWalletZeroTarget();
        emit Executed(target, value, data);
        // The owner chooses the target and value: arbitrary calls are this function's purpose.
        (bool success, bytes memory returndata) = target.call{value: value}(data);
        return Address.verifyCallResult(success, returndata);
    }
}
