// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IBanditKidzStaking} from "./interfaces/IBanditKidzStaking.sol";
import {IGenerationVoting} from "./interfaces/IGenerationVoting.sol";

/**
 * @title GenerationVotingAndLeaderboard
 * @dev Weekly community contests over the generations paid for on {SonicAIGenerationPayment}.
 *
 * Contest `k` (k >= 1) covers `[firstContestStart + (k-1) * contestDuration, firstContestStart + k * contestDuration)`.
 * The operator (the sf-mcp server) submits each finished generation under its payment's request
 * id; it belongs to the contest current at submission and can be voted on only during that contest.
 *
 * Voting power is a snapshot: the number of BanditKidz NFTs the voter had staked at the end of
 * the second before the current contest started (`stakedBalanceAt(voter, start - 1)`).
 *
 * IMPORTANT: why no NFT contributes twice to one generation's votes. At any instant an NFT is
 * staked by at most one wallet, so the staked balances of all wallets at the snapshot second sum
 * to at most the NFTs staked then, and each NFT is counted in exactly one wallet's snapshot. A
 * snapshot second strictly before the contest start is already final when voting opens (no later
 * transaction can change it). Moving an NFT during the contest (unstake from A, stake by B) does
 * not give B any power in this contest, because B's snapshot does not contain it; and since each
 * wallet votes at most once per generation and only during the generation's contest, the votes of
 * a generation never exceed the NFTs staked at its contest's snapshot.
 *
 * Each vote adds the voter's power to the generation's votes and to its creator's points in the
 * contest and all time. The top {TOP_N} creators of each contest are kept sorted on every vote.
 * Rules (docs/contest.md):
 * - a voter's weight counts once per generation, not once per creator: a creator with three entries
 *   can collect the same voter's weight three times;
 * - equal points are ranked by who reached them first (a creator passes another only with more
 *   points), so with four creators tied at the top, the one that reached the points last gets nothing.
 *
 * Prize pools: the payment contract funds the current contest's pool with 15 % of every payment.
 * Anyone may {finalizeContest} once the contest has ended; contests are finalized in order (contest
 * `k` after contest `k - 1`). The pool is split 50/30/20 among the top three creators (shares of
 * missing ranks and rounding dust go to first place) and credited to pull balances, which winners
 * take with {claimPrize} or, token by token and to any recipient, {claimPrizeTo}. A contest with no
 * creator rolls its whole pool over to the next contest (`k + 1`), whenever it is finalized: the
 * rollover cannot be steered by finalizing late.
 *
 * Invariants: for each finalized contest, the prizes credited equal its pool (or the pool moved whole
 * to the next contest); this contract's balance of each token equals the pools of contests not
 * finalized plus the prizes not claimed; a creator's points in a contest equal the vote weight cast
 * for its generations in that contest.
 */
contract GenerationVotingAndLeaderboard is IGenerationVoting, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    // ------------------------------------------------------------------
    // Types and constants
    // ------------------------------------------------------------------

    /// @notice Role of the sf-mcp server key: submits generations.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    /// @notice Token value used in events for S.
    address public constant NATIVE_TOKEN = 0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE;

    /// @notice Number of creators ranked per contest (and paid prizes).
    uint256 public constant TOP_N = 3;

    /// @notice Longest prompt and result URL accepted by {submitGeneration}, in bytes.
    uint256 public constant MAX_PROMPT_BYTES = 1000;
    uint256 public constant MAX_URL_BYTES = 2048;

    uint256 private constant _BPS = 10_000;

    struct Generation {
        address creator;
        uint48 contestId;
        uint48 submittedAt;
        uint256 votes;
        string prompt;
        string resultUrl;
    }

    struct Contest {
        uint256 poolS;
        uint256 poolUSDC;
        address[3] top; // sorted by points, descending; ties keep the earlier
        bool finalized;
    }

    // ------------------------------------------------------------------
    // State
    // ------------------------------------------------------------------

    IBanditKidzStaking private immutable _staking;
    IERC20 private immutable _usdc;
    uint256 private immutable _firstContestStart;
    uint256 private immutable _contestDuration;

    address private _paymentContract;
    uint256 private _usdcOwed; // USDC in pools and unclaimed prizes
    uint256 private _lastFinalized; // contests 1.._lastFinalized are finalized (in order)

    mapping(uint256 generationId => Generation) private _generations;
    mapping(uint256 generationId => mapping(address voter => bool)) private _hasVoted;
    mapping(uint256 contestId => mapping(address creator => uint256)) private _creatorPoints;
    mapping(address creator => uint256) private _allTimePoints;
    mapping(uint256 contestId => Contest) private _contests;
    mapping(address winner => uint256) private _pendingS;
    mapping(address winner => uint256) private _pendingUSDC;

    // ------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------

    /// @dev A constructor or setter argument is the zero address.
    error VotingZeroAddress();
    /// @dev The contest duration is zero or the first contest start is zero.
    error VotingInvalidSchedule(uint256 firstContestStart, uint256 contestDuration);
    /// @dev Generation ids start at 1 (they are payment request ids).
    error VotingInvalidGenerationId(uint256 generationId);
    /// @dev `generationId` was already submitted.
    error VotingGenerationExists(uint256 generationId);
    /// @dev `generationId` was never submitted.
    error VotingUnknownGeneration(uint256 generationId);
    /// @dev The prompt is empty or longer than {MAX_PROMPT_BYTES}.
    error VotingInvalidPrompt(uint256 length);
    /// @dev The result URL is empty or longer than {MAX_URL_BYTES}.
    error VotingInvalidResultUrl(uint256 length);
    /// @dev The generation belongs to `generationContest`, not to the current contest.
    error VotingContestClosed(uint256 generationId, uint256 generationContest, uint256 currentContest);
    /// @dev Creators cannot vote for their own generations.
    error VotingSelfVote(address voter, uint256 generationId);
    /// @dev `voter` already voted for `generationId`.
    error VotingAlreadyVoted(address voter, uint256 generationId);
    /// @dev `voter` had no NFT staked at the snapshot of `contestId` (or the contest has not started).
    error VotingNoVotingPower(address voter, uint256 contestId);
    /// @dev Contest ids start at 1.
    error VotingInvalidContest(uint256 contestId);
    /// @dev `contestId` ends at `end`, which is still in the future.
    error VotingContestNotEnded(uint256 contestId, uint256 end);
    /// @dev `contestId` was already finalized.
    error VotingContestAlreadyFinalized(uint256 contestId);
    /// @dev Only the payment contract may fund prize pools.
    error VotingUnauthorizedFunder(address caller);
    /// @dev A pool funding of zero.
    error VotingZeroAmount();
    /// @dev The USDC to be credited was not transferred to this contract first.
    error VotingFundsNotReceived(uint256 balance, uint256 required);
    /// @dev `account` has no prize to claim.
    error VotingNothingToClaim(address account);
    /// @dev Contests are finalized in order: `contestId` comes after `next`, which is not finalized yet.
    error VotingFinalizeOutOfOrder(uint256 contestId, uint256 next);
    /// @dev A claim in a token other than {NATIVE_TOKEN} or USDC.
    error VotingUnsupportedToken(address token);

    // ------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------

    /// @notice The operator submitted a generation to `contestId`.
    event GenerationSubmitted(
        uint256 indexed generationId, address indexed creator, uint256 indexed contestId, string prompt, string resultUrl
    );
    /// @notice `voter` gave `weight` votes to `generationId` of `creator` in `contestId`.
    event VoteCast(
        address indexed voter, uint256 indexed generationId, address indexed creator, uint256 weight, uint256 contestId
    );
    /// @notice `amount` of `token` (NATIVE_TOKEN for S) was added to the pool of `contestId`.
    event PrizePoolFunded(uint256 indexed contestId, address indexed token, uint256 amount);
    /// @notice `contestId` was finalized: `winners[i]` was credited `sAmounts[i]` S and `usdcAmounts[i]` USDC.
    event ContestFinalized(
        uint256 indexed contestId, address[] winners, uint256[] sAmounts, uint256[] usdcAmounts
    );
    /// @notice `contestId` had no creator; its pool moved to `toContestId` (always `contestId + 1`).
    event PrizePoolRolledOver(uint256 indexed contestId, uint256 indexed toContestId, uint256 sAmount, uint256 usdcAmount);
    /// @notice `account` claimed its prizes (both tokens, to itself: {claimPrize}).
    event PrizeClaimed(address indexed account, uint256 sAmount, uint256 usdcAmount);
    /// @notice `account` claimed `amount` of its `token` prizes (NATIVE_TOKEN for S), sent to `recipient`
    /// ({claimPrizeTo}).
    event PrizePaid(address indexed account, address indexed token, address indexed recipient, uint256 amount);
    /// @notice The payment contract (the only pool funder) changed.
    event PaymentContractUpdated(address indexed paymentContract);

    // ------------------------------------------------------------------
    // Constructor
    // ------------------------------------------------------------------

    /**
     * @param admin holder of `DEFAULT_ADMIN_ROLE` (roles, payment contract).
     * @param staking the BanditKidz staking contract (voting power).
     * @param usdc the USDC token.
     * @param firstContestStart start of contest 1 (unix seconds, > 0; may be in the past).
     * @param contestDuration length of every contest in seconds (7 days in production).
     */
    constructor(address admin, address staking, address usdc, uint256 firstContestStart, uint256 contestDuration) {
        if (admin == address(0) || staking == address(0) || usdc == address(0)) revert VotingZeroAddress();
        if (firstContestStart == 0 || contestDuration == 0) {
            revert VotingInvalidSchedule(firstContestStart, contestDuration);
        }
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _staking = IBanditKidzStaking(staking);
        _usdc = IERC20(usdc);
        _firstContestStart = firstContestStart;
        _contestDuration = contestDuration;
    }

    // ------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------

    /// @notice The contest open now (1 before the first contest starts).
    function currentContestId() public view returns (uint256) {
        if (block.timestamp < _firstContestStart) return 1;
        return (block.timestamp - _firstContestStart) / _contestDuration + 1;
    }

    /// @notice Start (inclusive) and end (exclusive) of `contestId`.
    function contestWindow(uint256 contestId) public view returns (uint256 start, uint256 end) {
        if (contestId == 0) revert VotingInvalidContest(contestId);
        start = _firstContestStart + (contestId - 1) * _contestDuration;
        end = start + _contestDuration;
    }

    /**
     * @notice Votes `user` casts per vote in the current contest: its NFTs staked at the end of the
     * second before the contest started (0 before the first contest starts).
     */
    function getUserVotingPower(address user) public view returns (uint256) {
        (uint256 start,) = contestWindow(currentContestId());
        if (block.timestamp < start) return 0;
        return _staking.stakedBalanceAt(user, start - 1);
    }

    /// @notice Points of `creator` in `contestId`.
    function creatorPoints(uint256 contestId, address creator) external view returns (uint256) {
        return _creatorPoints[contestId][creator];
    }

    /// @notice Points of `creator` over all contests.
    function allTimePoints(address creator) external view returns (uint256) {
        return _allTimePoints[creator];
    }

    /// @notice A submitted generation (creator zero if unknown).
    function getGeneration(uint256 id)
        external
        view
        returns (
            address creator,
            uint256 contestId,
            uint256 votes,
            uint256 submittedAt,
            string memory prompt,
            string memory resultUrl
        )
    {
        Generation storage g = _generations[id];
        return (g.creator, g.contestId, g.votes, g.submittedAt, g.prompt, g.resultUrl);
    }

    /// @notice Whether `voter` voted for `generationId`.
    function hasVoted(uint256 generationId, address voter) external view returns (bool) {
        return _hasVoted[generationId][voter];
    }

    /// @notice The top creators of `contestId` (at most {TOP_N}, best first) and their points.
    function topCreators(uint256 contestId) external view returns (address[] memory creators, uint256[] memory points) {
        address[3] storage top = _contests[contestId].top;
        uint256 n;
        while (n < TOP_N && top[n] != address(0)) ++n;
        creators = new address[](n);
        points = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            creators[i] = top[i];
            points[i] = _creatorPoints[contestId][top[i]];
        }
    }

    /// @notice Prize pool of `contestId` (after finalization: what was split, or 0 if it rolled over).
    function prizePool(uint256 contestId) external view returns (uint256 sAmount, uint256 usdcAmount) {
        Contest storage c = _contests[contestId];
        return (c.poolS, c.poolUSDC);
    }

    /// @notice Whether `contestId` was finalized.
    function isFinalized(uint256 contestId) external view returns (bool) {
        return _contests[contestId].finalized;
    }

    /// @notice The contest {finalizeContest} accepts next (contests are finalized in order); it may not
    /// have ended yet.
    function nextContestToFinalize() external view returns (uint256) {
        return _lastFinalized + 1;
    }

    /// @notice Prizes `account` can take with {claimPrize}.
    function pendingPrize(address account) external view returns (uint256 s, uint256 usdc) {
        return (_pendingS[account], _pendingUSDC[account]);
    }

    /// @notice The only address allowed to fund prize pools.
    function paymentContract() external view returns (address) {
        return _paymentContract;
    }

    /// @notice The staking contract that provides voting power.
    function staking() external view returns (address) {
        return address(_staking);
    }

    /// @notice Length of every contest in seconds.
    function contestDuration() external view returns (uint256) {
        return _contestDuration;
    }

    /// @notice Start of contest 1.
    function firstContestStart() external view returns (uint256) {
        return _firstContestStart;
    }

    // ------------------------------------------------------------------
    // Mutative
    // ------------------------------------------------------------------

    /**
     * @notice Votes for `generationId` with the caller's snapshot voting power.
     *
     * Requirements:
     * - the generation exists and belongs to the current contest;
     * - the caller is not its creator and has not voted for it;
     * - the caller's voting power ({getUserVotingPower}) is non-zero.
     *
     * Emits {VoteCast}.
     */
    function vote(uint256 generationId) external {
        Generation storage g = _generations[generationId];
        address creator = g.creator;
        if (creator == address(0)) revert VotingUnknownGeneration(generationId);
        uint256 contestId = currentContestId();
        if (g.contestId != contestId) revert VotingContestClosed(generationId, g.contestId, contestId);
        if (creator == msg.sender) revert VotingSelfVote(msg.sender, generationId);
        if (_hasVoted[generationId][msg.sender]) revert VotingAlreadyVoted(msg.sender, generationId);
        uint256 weight = getUserVotingPower(msg.sender);
        if (weight == 0) revert VotingNoVotingPower(msg.sender, contestId);

        _hasVoted[generationId][msg.sender] = true;
        g.votes += weight;
        uint256 points = _creatorPoints[contestId][creator] + weight;
        _creatorPoints[contestId][creator] = points;
        _allTimePoints[creator] += weight;
        _rank(contestId, creator, points);
        emit VoteCast(msg.sender, generationId, creator, weight, contestId);
    }

    /**
     * @notice Pays out the pool of `contestId` once it has ended: 50/30/20 % to its top three
     * creators (missing ranks' shares and dust to first place), credited to pull balances. With no
     * creator, the whole pool rolls over to contest `contestId + 1`: deterministic, whoever finalizes
     * and whenever (that contest cannot be finalized before this one, so it still pays the pool out).
     * Anyone may call it.
     *
     * Requirements: `contestId` has ended; it is {nextContestToFinalize} (contests are finalized in order).
     *
     * Emits {ContestFinalized}, or {PrizePoolRolledOver} when nobody received votes.
     */
    function finalizeContest(uint256 contestId) external {
        (, uint256 end) = contestWindow(contestId);
        if (block.timestamp < end) revert VotingContestNotEnded(contestId, end);
        Contest storage c = _contests[contestId];
        if (c.finalized) revert VotingContestAlreadyFinalized(contestId);
        uint256 next = _lastFinalized + 1;
        if (contestId != next) revert VotingFinalizeOutOfOrder(contestId, next);
        c.finalized = true;
        _lastFinalized = contestId;

        uint256 poolS = c.poolS;
        uint256 poolUSDC = c.poolUSDC;
        uint256 n;
        while (n < TOP_N && c.top[n] != address(0)) ++n;

        if (n == 0) {
            // Contest `to` is not finalized (finalization is in order), so it can still pay this pool out.
            uint256 to = contestId + 1;
            c.poolS = 0;
            c.poolUSDC = 0;
            Contest storage following = _contests[to];
            following.poolS += poolS;
            following.poolUSDC += poolUSDC;
            emit PrizePoolRolledOver(contestId, to, poolS, poolUSDC);
            return;
        }

        address[] memory winners = new address[](n);
        uint256[] memory sAmounts = new uint256[](n);
        uint256[] memory usdcAmounts = new uint256[](n);
        uint256 restS = poolS;
        uint256 restUSDC = poolUSDC;
        for (uint256 i = n; i > 1;) {
            --i;
            winners[i] = c.top[i];
            sAmounts[i] = poolS * _prizeShare(i) / _BPS;
            usdcAmounts[i] = poolUSDC * _prizeShare(i) / _BPS;
            restS -= sAmounts[i];
            restUSDC -= usdcAmounts[i];
        }
        winners[0] = c.top[0];
        sAmounts[0] = restS;
        usdcAmounts[0] = restUSDC;
        for (uint256 i; i < n; ++i) {
            _pendingS[winners[i]] += sAmounts[i];
            _pendingUSDC[winners[i]] += usdcAmounts[i];
        }
        emit ContestFinalized(contestId, winners, sAmounts, usdcAmounts);
    }

    /**
     * @notice Sends the caller all its prizes, in S and USDC. A winner that cannot receive S, or that
     * USDC refuses, claims each token on its own, to any recipient, with {claimPrizeTo}.
     *
     * Emits {PrizeClaimed}.
     */
    function claimPrize() external nonReentrant {
        uint256 s = _takePrize(msg.sender, NATIVE_TOKEN);
        uint256 u = _takePrize(msg.sender, address(_usdc));
        if (s == 0 && u == 0) revert VotingNothingToClaim(msg.sender);
        emit PrizeClaimed(msg.sender, s, u);
        if (s != 0) Address.sendValue(payable(msg.sender), s);
        if (u != 0) _usdc.safeTransfer(msg.sender, u);
    }

    /**
     * @notice Sends the caller's prizes in one `token` ({NATIVE_TOKEN} for S, or USDC) to `recipient`;
     * its prizes in the other token stay as they are.
     *
     * Requirements: `token` is {NATIVE_TOKEN} or USDC; `recipient` is not zero; a prize in `token`.
     *
     * Emits {PrizePaid}.
     * @return amount what was sent, in S (wei) or USDC (6 decimals).
     */
    function claimPrizeTo(address token, address recipient) external nonReentrant returns (uint256 amount) {
        if (token != NATIVE_TOKEN && token != address(_usdc)) revert VotingUnsupportedToken(token);
        if (recipient == address(0)) revert VotingZeroAddress();
        amount = _takePrize(msg.sender, token);
        if (amount == 0) revert VotingNothingToClaim(msg.sender);
        emit PrizePaid(msg.sender, token, recipient, amount);
        if (token == NATIVE_TOKEN) Address.sendValue(payable(recipient), amount);
        else _usdc.safeTransfer(recipient, amount);
    }

    // ------------------------------------------------------------------
    // Restricted
    // ------------------------------------------------------------------

    /**
     * @notice Enters generation `generationId` (the payment's request id) by `creator` into the
     * current contest. Operator only.
     *
     * Requirements: `generationId` > 0 and new; `creator` non-zero; prompt 1..1000 bytes; URL 1..2048 bytes.
     *
     * Emits {GenerationSubmitted}.
     */
    function submitGeneration(
        uint256 generationId,
        address creator,
        string calldata prompt,
        string calldata resultUrl
    ) external onlyRole(OPERATOR_ROLE) {
        if (generationId == 0) revert VotingInvalidGenerationId(generationId);
        if (creator == address(0)) revert VotingZeroAddress();
        if (_generations[generationId].creator != address(0)) revert VotingGenerationExists(generationId);
        uint256 promptLength = bytes(prompt).length;
        if (promptLength == 0 || promptLength > MAX_PROMPT_BYTES) revert VotingInvalidPrompt(promptLength);
        uint256 urlLength = bytes(resultUrl).length;
        if (urlLength == 0 || urlLength > MAX_URL_BYTES) revert VotingInvalidResultUrl(urlLength);

        uint256 contestId = currentContestId();
        _generations[generationId] = Generation({
            creator: creator,
            // casting to 'uint48' is safe because contest ids grow by one per contest (per second at most).
            // forge-lint: disable-next-line(unsafe-typecast)
            contestId: uint48(contestId),
            submittedAt: uint48(block.timestamp),
            votes: 0,
            prompt: prompt,
            resultUrl: resultUrl
        });
        emit GenerationSubmitted(generationId, creator, contestId, prompt, resultUrl);
    }

    /**
     * @notice Adds `msg.value` S to the current contest's prize pool. Payment contract only.
     *
     * Emits {PrizePoolFunded}.
     */
    function fundPrizePool() external payable onlyPaymentContract {
        if (msg.value == 0) revert VotingZeroAmount();
        uint256 contestId = currentContestId();
        _contests[contestId].poolS += msg.value;
        emit PrizePoolFunded(contestId, NATIVE_TOKEN, msg.value);
    }

    /**
     * @notice Adds `amount` USDC, transferred to this contract beforehand (checked against its
     * balance), to the current contest's prize pool. Payment contract only.
     *
     * Emits {PrizePoolFunded}.
     */
    function fundPrizePoolUSDC(uint256 amount) external onlyPaymentContract {
        if (amount == 0) revert VotingZeroAmount();
        uint256 owed = _usdcOwed + amount;
        uint256 balance = _usdc.balanceOf(address(this));
        if (balance < owed) revert VotingFundsNotReceived(balance, owed);
        _usdcOwed = owed;
        uint256 contestId = currentContestId();
        _contests[contestId].poolUSDC += amount;
        emit PrizePoolFunded(contestId, address(_usdc), amount);
    }

    /**
     * @notice Sets the only address allowed to fund prize pools (the payment contract). Admin only.
     * @dev Changing it makes the previous payment contract's S and USDC payments revert.
     *
     * Emits {PaymentContractUpdated}.
     */
    function setPaymentContract(address payment) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (payment == address(0)) revert VotingZeroAddress();
        _paymentContract = payment;
        emit PaymentContractUpdated(payment);
    }

    // ------------------------------------------------------------------
    // Internal
    // ------------------------------------------------------------------

    /// @dev Zeroes `account`'s pending prize in `token` (a supported token) and returns it.
    function _takePrize(address account, address token) private returns (uint256 amount) {
        if (token == NATIVE_TOKEN) {
            amount = _pendingS[account];
            if (amount != 0) _pendingS[account] = 0;
        } else {
            amount = _pendingUSDC[account];
            if (amount != 0) {
                _pendingUSDC[account] = 0;
                _usdcOwed -= amount;
            }
        }
    }

    /// @dev Prize share of rank `i` (0-based) in basis points.
    function _prizeShare(uint256 i) private pure returns (uint256) {
        if (i == 0) return 5000;
        if (i == 1) return 3000;
        return 2000;
    }

    /**
     * @dev Moves `creator`, whose points just rose to `points`, to its place in the sorted top list.
     * Points only grow, so a creator outside the list can only enter by passing the last entry.
     */
    function _rank(uint256 contestId, address creator, uint256 points) private {
        address[3] storage top = _contests[contestId].top;
        uint256 pos = TOP_N;
        for (uint256 i; i < TOP_N; ++i) {
            address current = top[i];
            if (current == creator) {
                pos = i;
                break;
            }
            if (current == address(0)) {
                top[i] = creator;
                pos = i;
                break;
            }
        }
        if (pos == TOP_N) {
            if (points <= _creatorPoints[contestId][top[TOP_N - 1]]) return;
            pos = TOP_N - 1;
            top[pos] = creator;
        }
        while (pos > 0) {
            address above = top[pos - 1];
            if (points <= _creatorPoints[contestId][above]) break;
            top[pos - 1] = creator;
            top[pos] = above;
            --pos;
        }
    }

    // ------------------------------------------------------------------
    // Modifiers
    // ------------------------------------------------------------------

    modifier onlyPaymentContract() {
        if (msg.sender != _paymentContract) revert VotingUnauthorizedFunder(msg.sender);
        _;
    }
}
