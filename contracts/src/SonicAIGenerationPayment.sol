// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IBanditKidzStaking} from "./interfaces/IBanditKidzStaking.sol";
import {IERC3009} from "./interfaces/IERC3009.sol";
import {IGenerationVoting} from "./interfaces/IGenerationVoting.sol";

/**
 * @title SonicAIGenerationPayment
 * @dev Takes payment for one AI generation (an image or a video) in S, in USDC (approved, or signed as an
 * EIP-3009 authorization for x402 and settled by the operator: {payWithAuthorization}) or in prepaid
 * credits, and announces it with {GenerationRequested}; the sf-mcp server (or its indexer)
 * turns that event into a generation job keyed by the payment.
 *
 * Every S and USDC payment is split at once and exactly:
 *
 * - 25 % to the stakers: pushed to the trusted staking contract ({IBanditKidzStaking-notifyRewardS},
 *   or a USDC transfer followed by {IBanditKidzStaking-notifyRewardUSDC});
 * - 15 % to the prize pool of the current weekly contest: pushed to the trusted voting contract;
 * - 50 % to the dev wallet and 10 % plus the rounding dust to the treasury: credited to pull
 *   balances ({withdrawable}, {withdraw}) so that neither recipient can block a payment.
 *
 * Invariant: for each token, the amounts pushed to staking and voting plus the amounts credited to
 * the dev wallet and the treasury equal the amounts paid (nothing is kept, nothing is created), so
 * this contract's balance of the token is at least the sum of all {withdrawable} balances. It can be
 * more: anyone can transfer USDC, or force S (e.g. with `selfdestruct`), to this contract, and an
 * x402 authorization submitted straight to the token (front-running {payWithAuthorization}) moves
 * its USDC here without a payment. Such amounts are credited to no one: they are the {surplus},
 * which only the admin can send on ({recoverSurplus}, e.g. back to the payer), never more than it.
 *
 * Credits are an off-chain-funded allowance (refunds, promotions): {addCredits} by an operator
 * or the admin, one credit per generation. Credit payments are announced with the token
 * `address(0)` and the amount `1`.
 *
 * Excess S sent to {payWithS} is refunded to the payer in the same transaction (after every
 * other effect; the function is `nonReentrant`). A payer that cannot receive S must send the
 * exact price.
 *
 * IMPORTANT: the staking and voting contracts are trusted. Their addresses are immutable here (set
 * at construction), and every S or USDC payment calls their `notify`/`fund` functions, so a payment
 * succeeds only while both accept this contract's calls:
 * - the staking contract is {Pausable}, but pausing it stops only staking, unstaking and claiming:
 *   {IBanditKidzStaking-notifyRewardS} / {IBanditKidzStaking-notifyRewardUSDC} keep working;
 * - the voting contract's `fundPrizePool` / `fundPrizePoolUSDC` are not pausable;
 * - both accept calls only from one configured address, which their admin can change
 *   (`staking.setRewardSource`, `voting.setPaymentContract`): if either stops pointing at this
 *   contract, {payWithS} and {payWithUSDC} revert (nothing is taken) until it is set back or this
 *   contract is paused. {useCredits} and {withdraw} do not call them and keep working.
 */
contract SonicAIGenerationPayment is AccessControl, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    // ------------------------------------------------------------------
    // Constants
    // ------------------------------------------------------------------

    /// @notice Role of the sf-mcp server key: may grant credits (refunds).
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    /// @notice Token value used in events and pull balances for payments in native S.
    address public constant NATIVE_TOKEN = 0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE;

    /// @notice Longest accepted prompt, in bytes of UTF-8.
    uint256 public constant MAX_PROMPT_BYTES = 1000;

    /// @notice Shares of every payment, in basis points. The treasury receives the remainder
    /// (its 10 % plus the rounding dust), so the parts always sum to the payment.
    uint256 public constant STAKERS_BPS = 2500;
    uint256 public constant DEV_BPS = 5000;
    uint256 public constant PRIZE_POOL_BPS = 1500;
    uint256 public constant TREASURY_BPS = 1000;
    uint256 private constant _BPS = 10_000;

    // ------------------------------------------------------------------
    // State
    // ------------------------------------------------------------------

    /// @dev Per-user rate-limit state; only written while a limit is on.
    struct RateState {
        uint64 lastRequestAt;
        uint64 day;
        uint128 countToday;
    }

    IERC20 private immutable _usdc;
    IBanditKidzStaking private immutable _staking;
    IGenerationVoting private immutable _voting;

    address private _devWallet;
    address private _treasury;

    uint256 private _priceS = 3 ether;
    uint256 private _priceUSDC = 1e6;

    uint256 private _minInterval;
    uint256 private _dailyCap;

    uint256 private _nextRequestId = 1;

    uint256 private _owedS; // sum of the S pull balances
    uint256 private _owedUSDC; // sum of the USDC pull balances

    mapping(address user => uint256) private _credits;
    mapping(address user => RateState) private _rateStates;
    mapping(address token => mapping(address account => uint256)) private _withdrawable;

    // ------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------

    /// @dev A constructor or setter argument is the zero address.
    error PaymentZeroAddress();
    /// @dev The prompt is empty or longer than {MAX_PROMPT_BYTES}.
    error PaymentInvalidPrompt(uint256 length);
    /// @dev The generation type is not "image" or "video".
    error PaymentInvalidGenerationType(string generationType);
    /// @dev Less S than the price was sent.
    error PaymentInsufficientValue(uint256 sent, uint256 price);
    /// @dev The USDC balance of this contract grew by `received` instead of `expected`
    /// (fee-on-transfer or otherwise non-standard token).
    error PaymentUSDCAmountMismatch(uint256 expected, uint256 received);
    /// @dev The user has fewer credits than needed.
    error PaymentInsufficientCredits(address user, uint256 available, uint256 required);
    /// @dev A credit grant of zero.
    error PaymentZeroCredits();
    /// @dev The caller has neither {OPERATOR_ROLE} nor the admin role.
    error PaymentUnauthorizedOperator(address caller);
    /// @dev The user's previous request was less than the minimum interval ago.
    error PaymentRateLimited(address user, uint256 nextAllowedAt);
    /// @dev The user has reached the daily cap of requests.
    error PaymentDailyCapReached(address user, uint256 dailyCap);
    /// @dev A price of zero.
    error PaymentInvalidPrice(uint256 priceS, uint256 priceUSDC);
    /// @dev A withdrawal of a token other than {NATIVE_TOKEN} or USDC.
    error PaymentUnsupportedToken(address token);
    /// @dev The caller has nothing to withdraw in `token`.
    error PaymentNothingToWithdraw(address token, address account);
    /// @dev The price (`price`) is above what the payer agreed to pay (`maxAmount`).
    error PaymentPriceAboveMax(uint256 price, uint256 maxAmount);
    /// @dev The authorization's `value` is not the price: x402 "exact" pays the price, no more, no less.
    error PaymentAuthorizationValueMismatch(uint256 value, uint256 price);
    /// @dev The authorization is not valid before `validAfter` (exclusive).
    error PaymentAuthorizationNotYetValid(uint256 validAfter, uint256 timestamp);
    /// @dev The authorization expired at `validBefore`.
    error PaymentAuthorizationExpired(uint256 validBefore, uint256 timestamp);
    /// @dev `nonce` of `payer` was already used or canceled on the token: settled before, submitted to
    /// the token directly (its USDC, if it came here, is in {surplus}), or canceled. Nothing was taken.
    error PaymentAuthorizationUsed(address payer, bytes32 nonce);
    /// @dev `amount` is more than the {surplus} (`available`) of `token`.
    error PaymentSurplusExceeded(address token, uint256 amount, uint256 available);

    // ------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------

    /// @notice A payment (S, USDC or one credit with token `address(0)`) was accepted.
    event PaymentReceived(address indexed payer, address indexed token, uint256 amount, string generationType);
    /// @notice A generation was paid for; the server generates it under `requestId`.
    event GenerationRequested(
        uint256 indexed requestId,
        address indexed user,
        string generationType,
        string prompt,
        address paymentToken,
        uint256 amount
    );
    /// @notice A payment was split: `stakers` pushed to staking, `prizePool` to voting, the rest credited.
    event PaymentSplit(
        uint256 indexed requestId,
        address indexed token,
        uint256 stakers,
        uint256 dev,
        uint256 prizePool,
        uint256 treasury
    );
    /// @notice S sent above the price was returned to the payer.
    event ExcessRefunded(address indexed payer, uint256 amount);
    /// @notice `operator` granted `amount` credits to `user`.
    event CreditsAdded(address indexed user, uint256 amount, address indexed operator);
    /// @notice `user` spent `amount` credits for `requestId`.
    event CreditsUsed(address indexed user, uint256 amount, uint256 indexed requestId);
    /// @notice `account` withdrew `amount` of `token` from its pull balance.
    event Withdrawn(address indexed account, address indexed token, uint256 amount);
    /// @notice The prices per generation changed.
    event PricesUpdated(uint256 priceS, uint256 priceUSDC);
    /// @notice The per-user rate limits changed (0 = off).
    event RateLimitsUpdated(uint256 minInterval, uint256 dailyCap);
    /// @notice The dev wallet or the treasury changed. Balances already credited stay with the old accounts.
    event RecipientsUpdated(address indexed devWallet, address indexed treasury);
    /// @notice The operator settled `payer`'s EIP-3009 authorization `nonce` (x402) as the payment of `requestId`.
    event AuthorizationSettled(uint256 indexed requestId, address indexed payer, bytes32 indexed nonce, uint256 amount);
    /// @notice The admin sent `amount` of `token`'s {surplus} to `to`.
    event SurplusRecovered(address indexed token, address indexed to, uint256 amount);

    // ------------------------------------------------------------------
    // Types
    // ------------------------------------------------------------------

    /**
     * @notice A signed EIP-3009 `TransferWithAuthorization` of USDC from `from` to this contract (the x402
     * "exact" scheme's `authorization` and `signature`): valid after `validAfter` and before `validBefore`
     * (unix seconds, both exclusive), `nonce` chosen by the payer, `signature` 65 bytes `r || s || v`
     * (or what `from`'s EIP-1271 `isValidSignature` accepts, for a contract wallet).
     */
    struct Authorization {
        address from;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
        bytes signature;
    }

    // ------------------------------------------------------------------
    // Constructor
    // ------------------------------------------------------------------

    /**
     * @param admin holder of `DEFAULT_ADMIN_ROLE` (prices, limits, pause, roles).
     * @param usdc the USDC token (6 decimals).
     * @param staking the BanditKidz staking contract (receives 25 %).
     * @param voting the voting and leaderboard contract (receives 15 % for prizes).
     * @param devWallet receives 50 % (pull).
     * @param treasury receives 10 % and the rounding dust (pull).
     */
    constructor(address admin, address usdc, address staking, address voting, address devWallet, address treasury) {
        if (
            admin == address(0) || usdc == address(0) || staking == address(0) || voting == address(0)
                || devWallet == address(0) || treasury == address(0)
        ) revert PaymentZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _usdc = IERC20(usdc);
        _staking = IBanditKidzStaking(staking);
        _voting = IGenerationVoting(voting);
        _devWallet = devWallet;
        _treasury = treasury;
    }

    // ------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------

    /// @notice Price of one generation in S (wei).
    function priceS() external view returns (uint256) {
        return _priceS;
    }

    /// @notice Price of one generation in USDC (6 decimals).
    function priceUSDC() external view returns (uint256) {
        return _priceUSDC;
    }

    /// @notice Credits `user` can spend with {useCredits}.
    function credits(address user) external view returns (uint256) {
        return _credits[user];
    }

    /// @notice The request id the next payment will get (ids start at 1).
    function nextRequestId() external view returns (uint256) {
        return _nextRequestId;
    }

    /// @notice The USDC token.
    function usdc() external view returns (address) {
        return address(_usdc);
    }

    /// @notice The staking contract that receives the stakers' share.
    function staking() external view returns (address) {
        return address(_staking);
    }

    /// @notice The voting contract that receives the prize-pool share.
    function voting() external view returns (address) {
        return address(_voting);
    }

    /// @notice The account credited with the dev share.
    function devWallet() external view returns (address) {
        return _devWallet;
    }

    /// @notice The account credited with the treasury share and the rounding dust.
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @notice Minimum seconds between two requests of one user, and requests per user per UTC day (0 = off).
    function rateLimits() external view returns (uint256 minInterval, uint256 dailyCap) {
        return (_minInterval, _dailyCap);
    }

    /**
     * @notice Earliest timestamp at which `user` may make the next request under the current limits,
     * or 0 if the user may request now.
     */
    function nextAllowedRequestAt(address user) external view returns (uint256) {
        RateState memory st = _rateStates[user];
        uint256 at = 0;
        if (_minInterval != 0 && st.lastRequestAt != 0) {
            uint256 next = uint256(st.lastRequestAt) + _minInterval;
            if (next > block.timestamp) at = next;
        }
        if (_dailyCap != 0 && st.day == block.timestamp / 1 days && st.countToday >= _dailyCap) {
            uint256 tomorrow = (block.timestamp / 1 days + 1) * 1 days;
            if (tomorrow > at) at = tomorrow;
        }
        return at;
    }

    /**
     * @notice Amount of `token` ({NATIVE_TOKEN} or USDC) this contract holds above what it owes (the pull
     * balances): USDC transferred to it directly (e.g. a front-run x402 authorization), S forced on it.
     * @dev Invariant: `balance(token) == sum of withdrawable(token, *) + surplus(token)`.
     */
    function surplus(address token) public view returns (uint256) {
        if (token == NATIVE_TOKEN) return address(this).balance - _owedS;
        if (token == address(_usdc)) return _usdc.balanceOf(address(this)) - _owedUSDC;
        revert PaymentUnsupportedToken(token);
    }

    /// @notice Amount of `token` ({NATIVE_TOKEN} or USDC) that `account` can {withdraw}.
    function withdrawable(address token, address account) external view returns (uint256) {
        return _withdrawable[token][account];
    }

    /**
     * @notice How a payment of `amount` is split.
     * @dev `stakers + dev + prizePool + treasuryPart == amount` for every `amount`.
     */
    function splitOf(uint256 amount)
        public
        pure
        returns (uint256 stakers, uint256 dev, uint256 prizePool, uint256 treasuryPart)
    {
        stakers = amount * STAKERS_BPS / _BPS;
        dev = amount * DEV_BPS / _BPS;
        prizePool = amount * PRIZE_POOL_BPS / _BPS;
        // Each floor is at most the exact share, so the remainder is at least the treasury's 10 %.
        treasuryPart = amount - stakers - dev - prizePool;
    }

    // ------------------------------------------------------------------
    // Mutative
    // ------------------------------------------------------------------

    /**
     * @notice Pays {priceS} in S for one generation of `generationType` ("image" or "video").
     * @dev Excess value is refunded to the caller at the end of the call.
     *
     * Requirements:
     * - not paused; `msg.value >= priceS()`;
     * - `prompt` is 1..1000 bytes; `generationType` is "image" or "video";
     * - the caller's rate limits allow a request now.
     *
     * Emits {PaymentReceived}, {GenerationRequested}, {PaymentSplit}, and {ExcessRefunded} if
     * excess was sent; the staking contract emits its reward event and the voting contract its
     * pool-funding event.
     * @return requestId the id of the generation (the payment's request id).
     */
    function payWithS(string calldata prompt, string calldata generationType)
        external
        payable
        nonReentrant
        whenNotPaused
        returns (uint256 requestId)
    {
        uint256 price = _priceS;
        if (msg.value < price) revert PaymentInsufficientValue(msg.value, price);
        requestId = _request(msg.sender, prompt, generationType, NATIVE_TOKEN, price);
        (uint256 toStakers, uint256 toPrizePool) = _split(requestId, NATIVE_TOKEN, price);
        uint256 excess = msg.value - price;
        if (excess != 0) emit ExcessRefunded(msg.sender, excess);

        if (toStakers != 0) _staking.notifyRewardS{value: toStakers}();
        if (toPrizePool != 0) _voting.fundPrizePool{value: toPrizePool}();
        if (excess != 0) Address.sendValue(payable(msg.sender), excess);
    }

    /**
     * @notice Pays {priceUSDC} in USDC for one generation; the caller must have approved this contract.
     * `maxAmount` is the most the caller agrees to pay: a price raised after the caller looked it up (or
     * approved a large allowance) is refused rather than taken.
     * @dev The amount received is checked by balance delta: a token that delivers less than it was
     * asked to transfer (fee on transfer) is refused with {PaymentUSDCAmountMismatch}.
     *
     * Requirements: as {payWithS}, plus `priceUSDC() <= maxAmount`, and an allowance and balance of at
     * least {priceUSDC}.
     *
     * Emits {PaymentReceived}, {GenerationRequested} and {PaymentSplit}.
     * @return requestId the id of the generation.
     */
    function payWithUSDC(string calldata prompt, string calldata generationType, uint256 maxAmount)
        external
        nonReentrant
        whenNotPaused
        returns (uint256 requestId)
    {
        uint256 price = _priceUSDC;
        if (price > maxAmount) revert PaymentPriceAboveMax(price, maxAmount);
        requestId = _request(msg.sender, prompt, generationType, address(_usdc), price);
        (uint256 toStakers, uint256 toPrizePool) = _split(requestId, address(_usdc), price);

        uint256 balanceBefore = _usdc.balanceOf(address(this));
        _usdc.safeTransferFrom(msg.sender, address(this), price);
        _checkReceived(balanceBefore, price);
        _pushUSDC(toStakers, toPrizePool);
    }

    /**
     * @notice Settles an x402 payment: pulls {priceUSDC} from `auth.from` with its signed EIP-3009
     * authorization (the token's `transferWithAuthorization`, to this contract) and then does exactly
     * what {payWithUSDC} does for `auth.from` as the payer. Operator only (the sf-mcp server key, which
     * verified the authorization off chain and reserved the job).
     * @dev Clients of the x402 "exact" scheme sign `TransferWithAuthorization` with `to` = the advertised
     * `payTo` (this contract), so the token's `receiveWithAuthorization` (another type hash, callable by
     * the payee only) cannot take their signatures. Anyone may therefore submit the authorization to the
     * token first: then its USDC arrives here unsplit, counted in {surplus} (recoverable by the admin),
     * and this function reverts with {PaymentAuthorizationUsed}, which the server reads as "settlement
     * failed, refund". Nothing is ever split twice: a nonce settles at most one payment.
     *
     * Requirements:
     * - the caller has {OPERATOR_ROLE}; not paused; prompt, type and rate limits of `auth.from` as {payWithS};
     * - `auth.value == priceUSDC()`; `auth.validAfter < block.timestamp < auth.validBefore`;
     * - the nonce is unused on the token; the token accepts the signature (else its own error bubbles up).
     *
     * Emits {PaymentReceived}, {GenerationRequested}, {PaymentSplit} and {AuthorizationSettled}; the
     * token emits its `AuthorizationUsed` and `Transfer`.
     * @return requestId the id of the generation.
     */
    function payWithAuthorization(
        string calldata prompt,
        string calldata generationType,
        Authorization calldata auth
    ) external nonReentrant whenNotPaused returns (uint256 requestId) {
        if (!hasRole(OPERATOR_ROLE, msg.sender)) revert PaymentUnauthorizedOperator(msg.sender);
        uint256 price = _priceUSDC;
        if (auth.value != price) revert PaymentAuthorizationValueMismatch(auth.value, price);
        if (block.timestamp <= auth.validAfter) revert PaymentAuthorizationNotYetValid(auth.validAfter, block.timestamp);
        if (block.timestamp >= auth.validBefore) revert PaymentAuthorizationExpired(auth.validBefore, block.timestamp);
        if (IERC3009(address(_usdc)).authorizationState(auth.from, auth.nonce)) {
            revert PaymentAuthorizationUsed(auth.from, auth.nonce);
        }
        requestId = _request(auth.from, prompt, generationType, address(_usdc), price);
        (uint256 toStakers, uint256 toPrizePool) = _split(requestId, address(_usdc), price);
        emit AuthorizationSettled(requestId, auth.from, auth.nonce, price);

        uint256 balanceBefore = _usdc.balanceOf(address(this));
        IERC3009(address(_usdc)).transferWithAuthorization(
            auth.from, address(this), price, auth.validAfter, auth.validBefore, auth.nonce, auth.signature
        );
        _checkReceived(balanceBefore, price);
        _pushUSDC(toStakers, toPrizePool);
    }

    /**
     * @notice Spends one of the caller's credits for one generation.
     *
     * Requirements: not paused; at least one credit; prompt, type and rate limits as {payWithS}.
     *
     * Emits {CreditsUsed}, {PaymentReceived} and {GenerationRequested} with token `address(0)`
     * and amount 1.
     * @return requestId the id of the generation.
     */
    function useCredits(string calldata prompt, string calldata generationType)
        external
        whenNotPaused
        returns (uint256 requestId)
    {
        uint256 available = _credits[msg.sender];
        if (available == 0) revert PaymentInsufficientCredits(msg.sender, available, 1);
        unchecked {
            // available >= 1 was checked above.
            _credits[msg.sender] = available - 1;
        }
        requestId = _request(msg.sender, prompt, generationType, address(0), 1);
        emit CreditsUsed(msg.sender, 1, requestId);
    }

    /**
     * @notice Withdraws the caller's whole pull balance of `token` ({NATIVE_TOKEN} or USDC).
     * @dev Works while paused, so that paused payments never lock earned funds.
     *
     * Emits {Withdrawn}.
     */
    function withdraw(address token) external nonReentrant {
        if (token != NATIVE_TOKEN && token != address(_usdc)) revert PaymentUnsupportedToken(token);
        uint256 amount = _withdrawable[token][msg.sender];
        if (amount == 0) revert PaymentNothingToWithdraw(token, msg.sender);
        _withdrawable[token][msg.sender] = 0;
        if (token == NATIVE_TOKEN) _owedS -= amount;
        else _owedUSDC -= amount;
        emit Withdrawn(msg.sender, token, amount);
        if (token == NATIVE_TOKEN) {
            Address.sendValue(payable(msg.sender), amount);
        } else {
            _usdc.safeTransfer(msg.sender, amount);
        }
    }

    // ------------------------------------------------------------------
    // Restricted
    // ------------------------------------------------------------------

    /**
     * @notice Grants `amount` credits to `user` (refunds, promotions). Operator or admin only.
     *
     * Emits {CreditsAdded}.
     */
    function addCredits(address user, uint256 amount) external {
        if (!hasRole(OPERATOR_ROLE, msg.sender) && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert PaymentUnauthorizedOperator(msg.sender);
        }
        if (user == address(0)) revert PaymentZeroAddress();
        if (amount == 0) revert PaymentZeroCredits();
        _credits[user] += amount;
        emit CreditsAdded(user, amount, msg.sender);
    }

    /**
     * @notice Sets the price per generation in S (wei) and in USDC (6 decimals). Admin only; both non-zero.
     *
     * Emits {PricesUpdated}.
     */
    function setPrices(uint256 newPriceS, uint256 newPriceUSDC) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newPriceS == 0 || newPriceUSDC == 0) revert PaymentInvalidPrice(newPriceS, newPriceUSDC);
        _priceS = newPriceS;
        _priceUSDC = newPriceUSDC;
        emit PricesUpdated(newPriceS, newPriceUSDC);
    }

    /**
     * @notice Sets the per-user minimum interval between requests (seconds) and the per-user cap of
     * requests per UTC day; 0 turns a limit off. Admin only.
     * @dev Only requests made while a limit is on are recorded, so turning a limit on starts every
     * user from a clean state.
     *
     * Emits {RateLimitsUpdated}.
     */
    function setRateLimits(uint256 minInterval, uint256 dailyCap) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _minInterval = minInterval;
        _dailyCap = dailyCap;
        emit RateLimitsUpdated(minInterval, dailyCap);
    }

    /**
     * @notice Sets the accounts credited with the dev and treasury shares of future payments. Admin only.
     *
     * Emits {RecipientsUpdated}.
     */
    function setRecipients(address newDevWallet, address newTreasury) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newDevWallet == address(0) || newTreasury == address(0)) revert PaymentZeroAddress();
        _devWallet = newDevWallet;
        _treasury = newTreasury;
        emit RecipientsUpdated(newDevWallet, newTreasury);
    }

    /**
     * @notice Sends `amount` of `token`'s {surplus} (USDC or S this contract holds above its pull balances)
     * to `to`: e.g. back to the payer of a front-run x402 authorization. Admin only; never touches what
     * is owed to the dev wallet and the treasury.
     *
     * Emits {SurplusRecovered}.
     */
    function recoverSurplus(address token, address to, uint256 amount)
        external
        nonReentrant
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (to == address(0)) revert PaymentZeroAddress();
        uint256 available = surplus(token);
        if (amount == 0 || amount > available) revert PaymentSurplusExceeded(token, amount, available);
        emit SurplusRecovered(token, to, amount);
        if (token == NATIVE_TOKEN) Address.sendValue(payable(to), amount);
        else _usdc.safeTransfer(to, amount);
    }

    /// @notice Stops new payments and credit use. Admin only. Emits {Paused}.
    function pause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _pause();
    }

    /// @notice Resumes payments. Admin only. Emits {Unpaused}.
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------
    // Internal
    // ------------------------------------------------------------------

    /// @dev The one path every payment takes: validates, applies rate limits, assigns the id, emits.
    function _request(
        address user,
        string calldata prompt,
        string calldata generationType,
        address token,
        uint256 amount
    ) private returns (uint256 requestId) {
        uint256 length = bytes(prompt).length;
        if (length == 0 || length > MAX_PROMPT_BYTES) revert PaymentInvalidPrompt(length);
        bytes32 typeHash = keccak256(bytes(generationType));
        if (typeHash != keccak256("image") && typeHash != keccak256("video")) {
            revert PaymentInvalidGenerationType(generationType);
        }
        if (_minInterval != 0 || _dailyCap != 0) _recordRequest(user);

        requestId = _nextRequestId++;
        emit PaymentReceived(user, token, amount, generationType);
        emit GenerationRequested(requestId, user, generationType, prompt, token, amount);
    }

    /// @dev Checks and records one request of `user` against the rate limits.
    function _recordRequest(address user) private {
        RateState memory st = _rateStates[user];
        uint256 minInterval = _minInterval;
        if (minInterval != 0 && st.lastRequestAt != 0) {
            uint256 next = uint256(st.lastRequestAt) + minInterval;
            if (block.timestamp < next) revert PaymentRateLimited(user, next);
        }
        uint64 today = uint64(block.timestamp / 1 days);
        uint128 count = st.day == today ? st.countToday : 0;
        uint256 cap = _dailyCap;
        if (cap != 0 && count >= cap) revert PaymentDailyCapReached(user, cap);
        _rateStates[user] = RateState({lastRequestAt: uint64(block.timestamp), day: today, countToday: count + 1});
    }

    /// @dev Credits the dev and treasury shares of `amount` of `token` and returns the pushed shares.
    function _split(uint256 requestId, address token, uint256 amount)
        private
        returns (uint256 toStakers, uint256 toPrizePool)
    {
        uint256 toDev;
        uint256 toTreasury;
        (toStakers, toDev, toPrizePool, toTreasury) = splitOf(amount);
        _withdrawable[token][_devWallet] += toDev;
        _withdrawable[token][_treasury] += toTreasury;
        if (token == NATIVE_TOKEN) _owedS += toDev + toTreasury;
        else _owedUSDC += toDev + toTreasury;
        emit PaymentSplit(requestId, token, toStakers, toDev, toPrizePool, toTreasury);
    }

    /// @dev Fails unless this contract's USDC balance grew by exactly `price` since `balanceBefore`.
    function _checkReceived(uint256 balanceBefore, uint256 price) private view {
        uint256 received = _usdc.balanceOf(address(this)) - balanceBefore;
        if (received != price) revert PaymentUSDCAmountMismatch(price, received);
    }

    /// @dev Pushes the stakers' and the prize pool's USDC shares to the trusted staking and voting contracts.
    function _pushUSDC(uint256 toStakers, uint256 toPrizePool) private {
        if (toStakers != 0) {
            _usdc.safeTransfer(address(_staking), toStakers);
            _staking.notifyRewardUSDC(toStakers);
        }
        if (toPrizePool != 0) {
            _usdc.safeTransfer(address(_voting), toPrizePool);
            _voting.fundPrizePoolUSDC(toPrizePool);
        }
    }
}
