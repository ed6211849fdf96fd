// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @dev EIP-3009 "transfer with authorization", as Circle's FiatToken v2.2 (USDC) implements it: the
 * part {SonicAIGenerationPayment} calls to settle x402 payments. v2.2 takes the signature as `bytes`
 * and checks it with ECDSA for accounts and EIP-1271 for contracts.
 */
interface IERC3009 {
    /// @notice Transfers `value` from `from` to `to` with `from`'s EIP-712 signed `TransferWithAuthorization`
    /// (anyone may submit it). Reverts if the window is closed, the nonce used or the signature wrong.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) external;

    /// @notice Whether `nonce` of `authorizer` was used or canceled.
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool);
}
