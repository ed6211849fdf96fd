// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IERC3009} from "../interfaces/IERC3009.sol";

/**
 * @title MockUSDC
 * @dev Development stand-in for USDC: 6 decimals, anyone may {mint}, and the two parts of Circle's
 * FiatToken v2.2 that sf-mcp relies on:
 *
 * - EIP-3009 transfers with authorization ({transferWithAuthorization}, {receiveWithAuthorization},
 *   {cancelAuthorization}, {authorizationState}), signed as EIP-712 typed data under FiatToken's
 *   domain: name "USDC", version "2", this chain id and this contract ({DOMAIN_SEPARATOR}). As in
 *   v2.2, each takes either `(v, r, s)` or a `bytes signature`; signatures are checked with
 *   OpenZeppelin's {SignatureChecker}, so a contract wallet signs through EIP-1271. Authorizations
 *   are keyed by `(authorizer, nonce)`: each nonce can be used (or canceled) once.
 * - A blocklist ({blacklist}): a blocklisted account can neither send nor receive, like FiatToken's
 *   `Blacklistable`. Only the deployer may change it.
 *
 * IMPORTANT: for local chains and tests only; never deploy it where it could be mistaken for USDC.
 */
contract MockUSDC is ERC20, EIP712, IERC3009 {
    /// @notice `keccak256("TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)")`
    bytes32 public constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH =
        0x7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267;
    /// @notice `keccak256("ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)")`
    bytes32 public constant RECEIVE_WITH_AUTHORIZATION_TYPEHASH =
        0xd099cc98ef71107a616c4f0f941f04c322d8e254fe26b3c6668db87aae413de8;
    /// @notice `keccak256("CancelAuthorization(address authorizer,bytes32 nonce)")`
    bytes32 public constant CANCEL_AUTHORIZATION_TYPEHASH =
        0x158b0a9edf7a828aad02f63cd515c68ef2f50ba807396f6d12842833a1597429;

    address private immutable _blacklister;
    mapping(address authorizer => mapping(bytes32 nonce => bool)) private _authorizationStates;
    mapping(address account => bool) private _blacklisted;

    /// @dev The authorization's `validAfter` has not passed yet.
    error AuthorizationNotYetValid(uint256 validAfter, uint256 timestamp);
    /// @dev The authorization's `validBefore` has passed.
    error AuthorizationExpired(uint256 validBefore, uint256 timestamp);
    /// @dev `nonce` of `authorizer` was already used or canceled.
    error AuthorizationUsedOrCanceled(address authorizer, bytes32 nonce);
    /// @dev The signature is not `authorizer`'s (ECDSA, or EIP-1271 for a contract).
    error AuthorizationInvalidSignature(address authorizer);
    /// @dev {receiveWithAuthorization} must be called by the payee.
    error AuthorizationCallerNotPayee(address caller, address payee);
    /// @dev `account` is blocklisted.
    error Blacklisted(address account);
    /// @dev Only the deployer may change the blocklist.
    error NotBlacklister(address caller);

    /// @notice `nonce` of `authorizer` was used by a transfer.
    event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce);
    /// @notice `nonce` of `authorizer` was canceled.
    event AuthorizationCanceled(address indexed authorizer, bytes32 indexed nonce);
    /// @notice `account` was blocklisted.
    event BlacklistedAccount(address indexed account);
    /// @notice `account` was removed from the blocklist.
    event UnBlacklisted(address indexed account);

    constructor() ERC20("Mock USD Coin", "USDC") EIP712("USDC", "2") {
        _blacklister = msg.sender;
    }

    /// @notice USDC has 6 decimals.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints `amount` to `to`. Open to anyone (development only). Emits {Transfer}.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    // ------------------------------------------------------------------ EIP-3009

    /// @notice The EIP-712 domain separator (name "USDC", version "2", chain id, this contract).
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice Whether `nonce` of `authorizer` was used or canceled.
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool) {
        return _authorizationStates[authorizer][nonce];
    }

    /// @notice Transfers `value` from `from` to `to` with `from`'s signed authorization (anyone may submit
    /// it). Emits {AuthorizationUsed} and {Transfer}.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) public {
        _useAuthorization(
            TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce, signature
        );
        _transfer(from, to, value);
    }

    /// @notice {transferWithAuthorization} with the signature split into `v`, `r`, `s`.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        transferWithAuthorization(from, to, value, validAfter, validBefore, nonce, abi.encodePacked(r, s, v));
    }

    /// @notice Like {transferWithAuthorization}, but only the payee `to` may submit it (front-running
    /// safe); signed as `ReceiveWithAuthorization`.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) public {
        if (msg.sender != to) revert AuthorizationCallerNotPayee(msg.sender, to);
        _useAuthorization(
            RECEIVE_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce, signature
        );
        _transfer(from, to, value);
    }

    /// @notice {receiveWithAuthorization} with the signature split into `v`, `r`, `s`.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        receiveWithAuthorization(from, to, value, validAfter, validBefore, nonce, abi.encodePacked(r, s, v));
    }

    /// @notice Cancels the unused `nonce` of `authorizer` with its signed `CancelAuthorization`.
    /// Emits {AuthorizationCanceled}.
    function cancelAuthorization(address authorizer, bytes32 nonce, bytes memory signature) public {
        if (_authorizationStates[authorizer][nonce]) revert AuthorizationUsedOrCanceled(authorizer, nonce);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce)));
        if (!SignatureChecker.isValidSignatureNow(authorizer, digest, signature)) {
            revert AuthorizationInvalidSignature(authorizer);
        }
        _authorizationStates[authorizer][nonce] = true;
        emit AuthorizationCanceled(authorizer, nonce);
    }

    /// @notice {cancelAuthorization} with the signature split into `v`, `r`, `s`.
    function cancelAuthorization(address authorizer, bytes32 nonce, uint8 v, bytes32 r, bytes32 s) external {
        cancelAuthorization(authorizer, nonce, abi.encodePacked(r, s, v));
    }

    // ------------------------------------------------------------------ blocklist

    /// @notice Whether `account` is blocklisted.
    function isBlacklisted(address account) external view returns (bool) {
        return _blacklisted[account];
    }

    /// @notice Blocklists `account` (it can neither send nor receive). Deployer only. Emits {BlacklistedAccount}.
    function blacklist(address account) external onlyBlacklister {
        _blacklisted[account] = true;
        emit BlacklistedAccount(account);
    }

    /// @notice Removes `account` from the blocklist. Deployer only. Emits {UnBlacklisted}.
    function unBlacklist(address account) external onlyBlacklister {
        _blacklisted[account] = false;
        emit UnBlacklisted(account);
    }

    // ------------------------------------------------------------------ internal

    /// @dev Checks the window, the nonce and the signature of an authorization, then marks the nonce used.
    function _useAuthorization(
        bytes32 typeHash,
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) private {
        if (block.timestamp <= validAfter) revert AuthorizationNotYetValid(validAfter, block.timestamp);
        if (block.timestamp >= validBefore) revert AuthorizationExpired(validBefore, block.timestamp);
        if (_authorizationStates[from][nonce]) revert AuthorizationUsedOrCanceled(from, nonce);
        bytes32 digest =
            _hashTypedDataV4(keccak256(abi.encode(typeHash, from, to, value, validAfter, validBefore, nonce)));
        if (!SignatureChecker.isValidSignatureNow(from, digest, signature)) revert AuthorizationInvalidSignature(from);
        _authorizationStates[from][nonce] = true;
        emit AuthorizationUsed(from, nonce);
    }

    /// @dev Blocklisted accounts can neither send nor receive.
    function _update(address from, address to, uint256 value) internal override {
        if (_blacklisted[from]) revert Blacklisted(from);
        if (_blacklisted[to]) revert Blacklisted(to);
        super._update(from, to, value);
    }

    modifier onlyBlacklister() {
        if (msg.sender != _blacklister) revert NotBlacklister(msg.sender);
        _;
    }
}
