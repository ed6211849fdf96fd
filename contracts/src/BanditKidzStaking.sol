// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";

import {IBanditKidzStaking} from "./interfaces/IBanditKidzStaking.sol";

/**
 * @title BanditKidzStaking
 * @dev Stake BanditKidz NFTs to earn the stakers' 25 % share of every generation payment, in S
 * and in USDC, and to get voting power in the weekly contests.
 *
 * Rewards use a reward-per-NFT accumulator (the Synthetix StakingRewards shape, without a
 * reward period: a payment is distributed the moment it arrives). For each reward token,
 * `_rewardPerNFT` grows by `amount * 1e18 / totalStaked` on every distribution ({_distribute} is
 * its only writer); a token staked when the accumulator was `start` has accrued
 * `rewardPerNFT - start`. The {updateReward} modifier is the only writer of the per-account
 * settlement and runs before every function that changes a balance or claims, so the order of
 * operations never varies.
 *
 * Lock: what a token accrues is locked until the token has been staked for `minStakePeriod`;
 * only then does it become claimable (all of it, and everything it accrues afterwards). Unstaking
 * a token before that forfeits everything it accrued, none of which was ever claimable, to the
 * remaining stakers through the accumulator (or to the queue if none remain). So neither
 * `claimRewards(); unstake(id)` nor staking, claiming and leaving within the period can take a
 * token's rewards out early. {emergencyUnstake} (which also works while paused) forfeits the
 * token's unclaimed rewards, locked or not.
 *
 * Accounting: an account's tokens are either unlocked (counted in `unlocked`, settled
 * Synthetix-style through `paid`/`rewards`) or locked in a "lot": the tokens it staked in one
 * second at one accumulator value. Lots are kept in stake order, so {updateReward} unlocks them
 * oldest first and stops at the first one still locked: each lot is unlocked once, and claiming
 * costs the same whatever the number of payments ever made (it grows only with the number of
 * the caller's own stakes that unlocked since its last action).
 *
 * Queue: rewards that arrive while nothing is staked, the forfeit of the last staker to leave,
 * and the sub-wei remainder of every distribution are carried in `_queued`. The remainder is
 * added to the next distribution; a queue built while nothing was staked goes to the tokens of
 * the next stake, as rewards they accrued, and so is locked with them for `minStakePeriod`.
 * While anything is staked, the queue holds only a remainder below one wei per staked NFT.
 *
 * Exactness: all reward amounts are kept scaled by 1e18; the part of an account's rewards below
 * one wei stays with the account after a claim. Hence, for each reward token:
 * `claimed + claimable + locked + queued == deposited` (up to the sub-wei remainders kept in
 * accounts), and in particular claimed + claimable never exceeds what was deposited.
 *
 * Voting power: every change of a wallet's staked balance is checkpointed by timestamp
 * ({stakedBalanceAt}), so the voting contract can read balances at a contest's start.
 *
 * IMPORTANT: tokens are returned with `safeTransferFrom`; a contract that stakes must implement
 * {IERC721Receiver}. Only the reward source (the payment contract) may notify rewards.
 */
contract BanditKidzStaking is IBanditKidzStaking, AccessControl, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using Checkpoints for Checkpoints.Trace208;

    // ------------------------------------------------------------------
    // Types and constants
    // ------------------------------------------------------------------

    /// @notice Public view of one token's stake.
    /// @param staker the wallet that staked the token (last one, once unstaked).
    /// @param stakedAt when it was staked; its rewards unlock at `stakedAt + minStakePeriod`.
    /// @param unstakedAt when it was unstaked (0 while staked).
    /// @param earlyUnstake whether its unclaimed rewards were forfeited when it was unstaked (before the
    /// minimum stake period, or through {emergencyUnstake}).
    /// @param lastClaimedDistribution value of the S reward-per-NFT accumulator ({rewardPerNFT}, S part,
    /// scaled by 1e18) up to which this token's S rewards have been paid to its staker: the value when it
    /// was staked, or, if its staker claimed after the token's minimum stake period had ended, the value
    /// at the staker's last claim. The token's unclaimed S rewards (claimable or locked) are
    /// `(rewardPerNFT - lastClaimedDistribution) / 1e18`, rounded down; this is what {emergencyUnstake}
    /// would forfeit. For a token no longer staked: the value when it was last staked.
    struct StakeInfo {
        address staker;
        uint64 stakedAt;
        uint64 unstakedAt;
        bool earlyUnstake;
        uint256 lastClaimedDistribution;
    }

    /// @dev Stored per token.
    struct TokenStake {
        address staker;
        uint48 stakedAt;
        uint48 unstakedAt;
        bool earlyUnstake;
        uint32 index; // position in the staker's `_tokensOf` list while staked
        uint32 lot; // its lot in the staker's `_lots`
    }

    /// @dev Tokens one account staked in one second at one accumulator value; locked until
    /// `stakedAt + minStakePeriod`. Two slots, the second one zero until USDC rewards arrive: the S
    /// accumulator value is stored in 176 bits, which holds more than any real S amount (2^176 / 1e18
    /// wei is about 10^17 S per NFT), and {_openLot} casts it with {SafeCast}, so a stake would revert
    /// rather than truncate.
    struct Lot {
        uint48 stakedAt;
        uint32 count; // tokens of the lot still staked (only maintained while the lot is locked)
        uint176 startS; // accumulator values when they were staked
        uint256 startUSDC;
    }

    /// @dev Stored per account; reward amounts scaled by `_PRECISION`.
    struct Account {
        uint256 paidS; // accumulator value at the last {updateReward}
        uint256 paidUSDC;
        uint256 rewardsS; // settled, unclaimed, claimable rewards
        uint256 rewardsUSDC;
        uint256 claimedAtS; // accumulator value at the last claim of S
        uint256 claimedAtUSDC; // accumulator value at the last claim of USDC
        uint256 lockedStartS; // sum of `count * startS` over the lots not settled yet
        uint256 lockedStartUSDC; // sum of `count * startUSDC` over the lots not settled yet
        uint32 unlocked; // staked tokens whose rewards are claimable (settled through paid/rewards)
        uint32 lotHead; // oldest lot not settled yet
        uint32 lotTail; // number of lots ever opened
        uint32 lockedCount; // staked tokens in lots not settled yet
        uint32 claimHeadS; // `lotHead` at the last claim of S: tokens of older lots were paid up to `claimedAtS`
        uint32 claimHeadUSDC; // `lotHead` at the last claim of USDC
    }

    /// @notice Token value used in events for S.
    address public constant NATIVE_TOKEN = 0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE;

    /// @notice Largest batch accepted by {stakeBatch} (bounds the gas of one call).
    uint256 public constant MAX_BATCH = 100;

    /// @notice Most lots one call settles (the bound on the work of every call that settles an
    /// account). Lots past their period beyond it are settled by the account's next calls (or
    /// {settleRewards}); until then their rewards are reported by {pendingRewards}. At about 2,500 gas
    /// per empty lot and 5,000 per lot with tokens, this adds at most about 160,000 gas to a call,
    /// whatever the number of lots (tested with 10,000).
    uint256 public constant MAX_LOTS_PER_CALL = 32;

    /// @dev Scale of the accumulators. Amounts times 1e18 stay far below 2^256 for any real supply.
    uint256 private constant _PRECISION = 1e18;

    // ------------------------------------------------------------------
    // State
    // ------------------------------------------------------------------

    IERC721 private immutable _nft;
    IERC20 private immutable _usdc;
    uint256 private immutable _minStakePeriod;

    address private _rewardSource;
    uint256 private _totalStaked;

    uint256 private _rewardPerNFTS;
    uint256 private _rewardPerNFTUSDC;
    uint256 private _queuedS; // scaled, not yet in the accumulator
    uint256 private _queuedUSDC;
    uint256 private _usdcOwed; // USDC deposited and not yet claimed

    mapping(uint256 tokenId => TokenStake) private _stakes;
    mapping(address account => uint256[]) private _tokensOf;
    mapping(address account => Account) private _accounts;
    mapping(address account => mapping(uint256 lotIndex => Lot)) private _lots;
    mapping(address account => Checkpoints.Trace208) private _balanceHistory;

    // ------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------

    /// @dev A constructor or setter argument is the zero address.
    error StakingZeroAddress();
    /// @dev `caller` does not own `tokenId` (owned by `owner`).
    error StakingNotTokenOwner(address caller, uint256 tokenId, address owner);
    /// @dev `tokenId` is already staked.
    error StakingAlreadyStaked(uint256 tokenId);
    /// @dev `caller` is not the staker of `tokenId` (or it is not staked: `staker` is zero).
    error StakingNotStaker(address caller, uint256 tokenId, address staker);
    /// @dev An empty batch, or one larger than {MAX_BATCH}.
    error StakingInvalidBatch(uint256 length);
    /// @dev The caller has no claimable rewards (rewards of tokens staked for less than the minimum
    /// stake period are locked: see {pendingRewards}).
    error StakingNothingToClaim(address account);
    /// @dev Only the reward source may notify rewards.
    error StakingUnauthorizedRewardSource(address caller);
    /// @dev A reward notification of zero.
    error StakingZeroReward();
    /// @dev The USDC to be notified was not transferred to this contract first.
    error StakingRewardNotReceived(uint256 balance, uint256 required);
    /// @dev A claim in a token other than {NATIVE_TOKEN} or USDC.
    error StakingUnsupportedToken(address token);

    // ------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------

    /// @notice `account` staked `tokenId`.
    event Staked(address indexed account, uint256 indexed tokenId);
    /// @notice `account` unstaked `tokenId`; `early` means before the minimum period (rewards forfeited).
    event Unstaked(address indexed account, uint256 indexed tokenId, bool early);
    /// @notice `account` unstaked `tokenId` through {emergencyUnstake}.
    event EmergencyUnstaked(address indexed account, uint256 indexed tokenId);
    /// @notice `account` claimed rewards (both tokens, to itself: {claimRewards}).
    event RewardsClaimed(address indexed account, uint256 sAmount, uint256 usdcAmount);
    /// @notice `account` claimed `amount` of its `token` rewards (NATIVE_TOKEN for S), sent to `recipient`
    /// ({claimRewardTo}).
    event RewardPaid(address indexed account, address indexed token, address indexed recipient, uint256 amount);
    /// @notice `amount` of `token` (NATIVE_TOKEN for S) was added to the stakers' rewards.
    event RewardAdded(address indexed token, uint256 amount);
    /// @notice The unclaimed rewards of `tokenId` (everything it accrued, if it was still locked) were
    /// forfeited by `account` and redistributed (amounts rounded down to whole units; the exact scaled
    /// amounts are redistributed).
    event RewardsForfeited(address indexed account, uint256 indexed tokenId, uint256 sAmount, uint256 usdcAmount);
    /// @notice The reward source changed.
    event RewardSourceUpdated(address indexed rewardSource);

    // ------------------------------------------------------------------
    // Constructor
    // ------------------------------------------------------------------

    /**
     * @param admin holder of `DEFAULT_ADMIN_ROLE` (reward source, pause).
     * @param nft the BanditKidz ERC721.
     * @param usdc the USDC token.
     * @param minStakePeriod seconds a token must stay staked before its rewards can be claimed (and so as
     * not to forfeit them when unstaked); 0 makes rewards claimable at once.
     */
    constructor(address admin, address nft, address usdc, uint256 minStakePeriod) {
        if (admin == address(0) || nft == address(0) || usdc == address(0)) revert StakingZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _nft = IERC721(nft);
        _usdc = IERC20(usdc);
        _minStakePeriod = minStakePeriod;
    }

    // ------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------

    /**
     * @notice Rewards `account` can claim now, in S (wei) and USDC (6 decimals): exactly what
     * {claimRewards} would pay. Only rewards of tokens staked for at least `minStakePeriod` (and of
     * tokens already unstaked after it) are claimable; see {pendingRewards} for the locked rest.
     * @dev Bounded work: it settles, like every call, at most {MAX_LOTS_PER_CALL} lots.
     */
    function earned(address account) public view returns (uint256 sAmount, uint256 usdcAmount) {
        (uint256 scaledS, uint256 scaledUSDC,,) = _rewardsOf(account);
        return (scaledS / _PRECISION, scaledUSDC / _PRECISION);
    }

    /**
     * @notice Rewards accrued by `account`'s tokens that are not claimable yet, in S (wei) and USDC (6
     * decimals): those of tokens staked for less than `minStakePeriod` (forfeited if the token is
     * unstaked before its period ends), and those of tokens past their period in lots beyond the
     * {MAX_LOTS_PER_CALL} that one call settles (claimable after the next calls or {settleRewards}).
     * @dev Constant work (per-account sums over the lots not settled yet).
     */
    function pendingRewards(address account) external view returns (uint256 sAmount, uint256 usdcAmount) {
        (,, uint256 settlingS, uint256 settlingUSDC) = _rewardsOf(account);
        Account storage a = _accounts[account];
        uint256 count = a.lockedCount;
        sAmount = count * _rewardPerNFTS - a.lockedStartS - settlingS;
        usdcAmount = count * _rewardPerNFTUSDC - a.lockedStartUSDC - settlingUSDC;
        return (sAmount / _PRECISION, usdcAmount / _PRECISION);
    }

    /**
     * @notice `account`'s lots (the groups of tokens it staked in one second): `opened` ever, of which the
     * oldest `settled` are settled (their rewards counted as claimable). Lots past their period are settled
     * at most {MAX_LOTS_PER_CALL} per call.
     */
    function lotsOf(address account) external view returns (uint256 settled, uint256 opened) {
        Account storage a = _accounts[account];
        return (a.lotHead, a.lotTail);
    }

    /// @notice Stake record of `tokenId` (all zero if it was never staked).
    function stakeInfo(uint256 tokenId) external view returns (StakeInfo memory info) {
        TokenStake storage s = _stakes[tokenId];
        info.staker = s.staker;
        info.stakedAt = s.stakedAt;
        info.unstakedAt = s.unstakedAt;
        info.earlyUnstake = s.earlyUnstake;
        if (s.staker == address(0)) return info;
        info.lastClaimedDistribution = _lots[s.staker][s.lot].startS;
        if (s.unstakedAt == 0) {
            Account storage a = _accounts[s.staker];
            if (s.lot < a.claimHeadS && a.claimedAtS > info.lastClaimedDistribution) {
                info.lastClaimedDistribution = a.claimedAtS;
            }
        }
    }

    /// @notice Whether `tokenId` is staked now.
    function isStaked(uint256 tokenId) public view returns (bool) {
        TokenStake storage s = _stakes[tokenId];
        return s.staker != address(0) && s.unstakedAt == 0;
    }

    /// @notice Number of NFTs `account` has staked now.
    function stakedBalanceOf(address account) external view returns (uint256) {
        return _tokensOf[account].length;
    }

    /**
     * @notice Number of NFTs `wallet` had staked at the end of second `timestamp`.
     * @dev Final only for `timestamp < block.timestamp`; later stakes in the current second can still
     * change the value for the current second.
     */
    function stakedBalanceAt(address wallet, uint256 timestamp) external view returns (uint256) {
        if (timestamp > type(uint48).max) return _balanceHistory[wallet].latest();
        // forge-lint: disable-next-line(unsafe-typecast)
        return _balanceHistory[wallet].upperLookupRecent(uint48(timestamp));
    }

    /// @notice Token ids `account` has staked now (unordered).
    function stakedTokensOf(address account) external view returns (uint256[] memory) {
        return _tokensOf[account];
    }

    /// @notice Number of NFTs staked by everyone.
    function totalStaked() external view returns (uint256) {
        return _totalStaked;
    }

    /// @notice Seconds a token must stay staked before its rewards can be claimed; unstaking it earlier
    /// forfeits them.
    function minStakePeriod() external view returns (uint256) {
        return _minStakePeriod;
    }

    /// @notice The only address allowed to notify rewards (the payment contract).
    function rewardSource() external view returns (address) {
        return _rewardSource;
    }

    /// @notice The staked ERC721.
    function nft() external view returns (address) {
        return address(_nft);
    }

    /// @notice The USDC token.
    function usdc() external view returns (address) {
        return address(_usdc);
    }

    /// @notice Accumulated rewards per staked NFT since deployment, scaled by 1e18.
    function rewardPerNFT() external view returns (uint256 sAmount, uint256 usdcAmount) {
        return (_rewardPerNFTS, _rewardPerNFTUSDC);
    }

    /**
     * @notice Rewards received but not yet distributed (scaled by 1e18): the sub-wei remainder of
     * past distributions, and everything that arrived (or was forfeited by the last staker) while
     * nothing was staked. The remainder joins the next distribution; a queue built while nothing was
     * staked goes to the tokens of the next stake, locked with them for `minStakePeriod`.
     */
    function queuedRewards() external view returns (uint256 sScaled, uint256 usdcScaled) {
        return (_queuedS, _queuedUSDC);
    }

    // ------------------------------------------------------------------
    // Mutative
    // ------------------------------------------------------------------

    /**
     * @notice Stakes `tokenId`; the caller must own it and have approved this contract. Its rewards
     * are locked until it has been staked for `minStakePeriod`.
     *
     * Requirements: not paused.
     *
     * Emits {Staked}.
     */
    function stake(uint256 tokenId) external nonReentrant whenNotPaused updateReward(msg.sender) {
        bool wasEmpty = _totalStaked == 0;
        uint32 lot = _openLot(msg.sender, 1);
        _addStake(msg.sender, tokenId, lot);
        _afterStake(msg.sender, wasEmpty);
        _nft.transferFrom(msg.sender, address(this), tokenId);
    }

    /**
     * @notice Stakes every token of `tokenIds` (1..{MAX_BATCH}, no duplicates). Their rewards are locked
     * until they have been staked for `minStakePeriod`.
     *
     * Requirements: not paused; the caller owns and approved every token.
     *
     * Emits one {Staked} per token.
     */
    function stakeBatch(uint256[] calldata tokenIds) external nonReentrant whenNotPaused updateReward(msg.sender) {
        uint256 n = tokenIds.length;
        if (n == 0 || n > MAX_BATCH) revert StakingInvalidBatch(n);
        bool wasEmpty = _totalStaked == 0;
        uint32 lot = _openLot(msg.sender, n);
        for (uint256 i; i < n; ++i) {
            _addStake(msg.sender, tokenIds[i], lot);
        }
        _afterStake(msg.sender, wasEmpty);
        for (uint256 i; i < n; ++i) {
            _nft.transferFrom(msg.sender, address(this), tokenIds[i]);
        }
    }

    /**
     * @notice Unstakes `tokenId` and returns it to the caller. Before `minStakePeriod` has passed
     * since it was staked, everything it accrued (all still locked) is forfeited to the remaining
     * stakers; after it, its rewards stay claimable by the caller.
     *
     * Requirements: not paused; the caller staked `tokenId`.
     *
     * Emits {Unstaked}, and {RewardsForfeited} if early.
     */
    function unstake(uint256 tokenId) external nonReentrant whenNotPaused updateReward(msg.sender) {
        bool early = !_isUnlocked(_stakes[tokenId].stakedAt);
        _removeStake(msg.sender, tokenId, early);
        emit Unstaked(msg.sender, tokenId, early);
        _nft.safeTransferFrom(address(this), msg.sender, tokenId);
    }

    /**
     * @notice Unstakes `tokenId` without its unclaimed rewards, locked or not (forfeited to the
     * remaining stakers). Works while paused. The caller's other rewards stay as they are.
     *
     * Emits {EmergencyUnstaked} and {RewardsForfeited}.
     */
    function emergencyUnstake(uint256 tokenId) external nonReentrant updateReward(msg.sender) {
        _removeStake(msg.sender, tokenId, true);
        emit EmergencyUnstaked(msg.sender, tokenId);
        _nft.safeTransferFrom(address(this), msg.sender, tokenId);
    }

    /**
     * @notice Sends the caller all its claimable S and USDC rewards ({earned}); rewards of tokens
     * staked for less than `minStakePeriod` stay locked ({pendingRewards}).
     * @dev Gas independent of the number of payments, and bounded whatever the number of the caller's
     * stakes (at most {MAX_LOTS_PER_CALL} lots settled). A wallet that cannot receive S, or that USDC
     * refuses, claims each token on its own, to any recipient, with {claimRewardTo}.
     *
     * Requirements: not paused; something to claim.
     *
     * Emits {RewardsClaimed}.
     */
    function claimRewards() external nonReentrant whenNotPaused updateReward(msg.sender) {
        uint256 sAmount = _claim(msg.sender, NATIVE_TOKEN);
        uint256 usdcAmount = _claim(msg.sender, address(_usdc));
        if (sAmount == 0 && usdcAmount == 0) revert StakingNothingToClaim(msg.sender);
        emit RewardsClaimed(msg.sender, sAmount, usdcAmount);
        if (sAmount != 0) Address.sendValue(payable(msg.sender), sAmount);
        if (usdcAmount != 0) _usdc.safeTransfer(msg.sender, usdcAmount);
    }

    /**
     * @notice Sends the caller's claimable rewards in one `token` ({NATIVE_TOKEN} for S, or USDC) to
     * `recipient`; the caller's rewards in the other token stay as they are. For stakers that cannot
     * receive S (a contract without a payable `receive`) or that USDC refuses (blocklisted): each
     * token can be taken out on its own, to another address.
     *
     * Requirements: not paused; `token` is {NATIVE_TOKEN} or USDC; `recipient` is not zero; something to
     * claim in `token`.
     *
     * Emits {RewardPaid}.
     * @return amount what was sent, in S (wei) or USDC (6 decimals).
     */
    function claimRewardTo(address token, address recipient)
        external
        nonReentrant
        whenNotPaused
        updateReward(msg.sender)
        returns (uint256 amount)
    {
        if (token != NATIVE_TOKEN && token != address(_usdc)) revert StakingUnsupportedToken(token);
        if (recipient == address(0)) revert StakingZeroAddress();
        amount = _claim(msg.sender, token);
        if (amount == 0) revert StakingNothingToClaim(msg.sender);
        emit RewardPaid(msg.sender, token, recipient, amount);
        if (token == NATIVE_TOKEN) Address.sendValue(payable(recipient), amount);
        else _usdc.safeTransfer(recipient, amount);
    }

    /**
     * @notice Settles up to {MAX_LOTS_PER_CALL} more of the caller's lots whose minimum stake period has
     * ended, making their rewards claimable. Only needed by an account with more such lots than one
     * call settles (every other call settles them too). Works while paused; changes no balance.
     */
    function settleRewards() external nonReentrant updateReward(msg.sender) {}

    // ------------------------------------------------------------------
    // Restricted
    // ------------------------------------------------------------------

    /**
     * @notice Adds `msg.value` S to the stakers' rewards. Reward source only; works while paused.
     *
     * Emits {RewardAdded}.
     */
    function notifyRewardS() external payable onlyRewardSource {
        if (msg.value == 0) revert StakingZeroReward();
        _distribute(msg.value * _PRECISION, 0);
        emit RewardAdded(NATIVE_TOKEN, msg.value);
    }

    /**
     * @notice Adds `amount` USDC to the stakers' rewards; the reward source must have transferred it
     * to this contract first (checked against this contract's USDC balance). Works while paused.
     *
     * Emits {RewardAdded}.
     */
    function notifyRewardUSDC(uint256 amount) external onlyRewardSource {
        if (amount == 0) revert StakingZeroReward();
        uint256 owed = _usdcOwed + amount;
        uint256 balance = _usdc.balanceOf(address(this));
        if (balance < owed) revert StakingRewardNotReceived(balance, owed);
        _usdcOwed = owed;
        _distribute(0, amount * _PRECISION);
        emit RewardAdded(address(_usdc), amount);
    }

    /**
     * @notice Sets the only address allowed to notify rewards (the payment contract). Admin only.
     * @dev Changing it makes the previous source's notifications (so its payments) revert.
     *
     * Emits {RewardSourceUpdated}.
     */
    function setRewardSource(address payment) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (payment == address(0)) revert StakingZeroAddress();
        _rewardSource = payment;
        emit RewardSourceUpdated(payment);
    }

    /// @notice Stops staking, unstaking and claiming ({emergencyUnstake} and reward notifications still
    /// work). Admin only. Emits {Paused}.
    function pause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _pause();
    }

    /// @notice Resumes staking. Admin only. Emits {Unpaused}.
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------
    // Internal
    // ------------------------------------------------------------------

    /// @dev Whether a token staked at `stakedAt` has passed the minimum stake period (written as a
    /// difference, so that no `minStakePeriod` can overflow it).
    function _isUnlocked(uint256 stakedAt) private view returns (bool) {
        return block.timestamp - stakedAt >= _minStakePeriod;
    }

    /**
     * @dev Takes `account`'s whole claimable amount of `token` (a supported token) off its rewards and
     * returns it (0 if below one unit); the sub-unit remainder stays with the account. Records the
     * accumulator value and the settled lots the claim paid up to (read by {_removeStake} and
     * {stakeInfo}). Requires {updateReward} to have run for `account` in this call.
     */
    function _claim(address account, address token) private returns (uint256 amount) {
        Account storage a = _accounts[account];
        if (token == NATIVE_TOKEN) {
            amount = a.rewardsS / _PRECISION;
            a.rewardsS -= amount * _PRECISION;
            a.claimedAtS = _rewardPerNFTS;
            a.claimHeadS = a.lotHead;
        } else {
            amount = a.rewardsUSDC / _PRECISION;
            a.rewardsUSDC -= amount * _PRECISION;
            a.claimedAtUSDC = _rewardPerNFTUSDC;
            a.claimHeadUSDC = a.lotHead;
            _usdcOwed -= amount;
        }
    }

    /**
     * @dev Returns the lot for `n` tokens `account` stakes now: the newest lot if it is still locked and
     * was opened in this second at the current accumulator values, else a new one.
     */
    function _openLot(address account, uint256 n) private returns (uint32 index) {
        Account storage a = _accounts[account];
        mapping(uint256 => Lot) storage lots = _lots[account];
        uint32 tail = a.lotTail;
        if (tail > a.lotHead) {
            Lot storage last = lots[tail - 1];
            if (
                last.stakedAt == block.timestamp && last.startS == _rewardPerNFTS
                    && last.startUSDC == _rewardPerNFTUSDC
            ) {
                // casting to 'uint32' is safe because n <= MAX_BATCH (and the sum, checked, counts staked NFTs).
                // forge-lint: disable-next-line(unsafe-typecast)
                last.count += uint32(n);
                _lockTokens(a, n, last.startS, last.startUSDC);
                return tail - 1;
            }
        }
        lots[tail] = Lot({
            stakedAt: uint48(block.timestamp),
            // casting to 'uint32' is safe because n <= MAX_BATCH.
            // forge-lint: disable-next-line(unsafe-typecast)
            count: uint32(n),
            startS: SafeCast.toUint176(_rewardPerNFTS),
            startUSDC: _rewardPerNFTUSDC
        });
        a.lotTail = tail + 1;
        _lockTokens(a, n, _rewardPerNFTS, _rewardPerNFTUSDC);
        return tail;
    }

    /// @dev Adds `n` tokens staked at accumulator values `startS` / `startUSDC` to `a`'s unsettled sums.
    function _lockTokens(Account storage a, uint256 n, uint256 startS, uint256 startUSDC) private {
        // casting to 'uint32' is safe because n <= MAX_BATCH and the sum counts the account's staked NFTs,
        // whose positions (`TokenStake.index`) are uint32 too (checked arithmetic).
        // forge-lint: disable-next-line(unsafe-typecast)
        a.lockedCount += uint32(n);
        if (startS != 0) a.lockedStartS += n * startS;
        if (startUSDC != 0) a.lockedStartUSDC += n * startUSDC;
    }

    /// @dev Records the stake of `tokenId` by `account` in `lot` (checks and effects; the transfer comes later).
    function _addStake(address account, uint256 tokenId, uint32 lot) private {
        if (isStaked(tokenId)) revert StakingAlreadyStaked(tokenId);
        address owner = _nft.ownerOf(tokenId);
        if (owner != account) revert StakingNotTokenOwner(account, tokenId, owner);
        uint256[] storage list = _tokensOf[account];
        _stakes[tokenId] = TokenStake({
            staker: account,
            stakedAt: uint48(block.timestamp),
            unstakedAt: 0,
            earlyUnstake: false,
            index: uint32(list.length),
            lot: lot
        });
        list.push(tokenId);
        ++_totalStaked;
        emit Staked(account, tokenId);
    }

    /**
     * @dev Checkpoints `account`'s balance after a stake. If nothing was staked before, the queue (rewards
     * that arrived or were forfeited while nothing was staked) goes to the tokens just staked, which
     * accrue it like any reward, locked for `minStakePeriod`: their lot's start values were read before.
     * Otherwise the queue is only a sub-wei remainder, left for the next distribution.
     */
    function _afterStake(address account, bool wasEmpty) private {
        _checkpoint(account);
        if (wasEmpty && (_queuedS != 0 || _queuedUSDC != 0)) _distribute(0, 0);
    }

    /**
     * @dev Removes the stake of `tokenId` by `account`. A token of a lot not settled yet had nothing
     * credited to the account: if `forfeit` it forfeits everything it accrued (all of it locked, or
     * past its period but not settled), else (past its period) that accrual is credited now. A token
     * of a settled lot leaves the unlocked count and, if `forfeit` ({emergencyUnstake}), gives back its
     * credited rewards not paid yet: those since its lot's start, or since the last claim of the token
     * if that claim came after the lot was settled.
     * Requires {updateReward} to have run for `account` in this call.
     */
    function _removeStake(address account, uint256 tokenId, bool forfeit) private {
        TokenStake storage s = _stakes[tokenId];
        if (s.staker != account || s.unstakedAt != 0) {
            revert StakingNotStaker(account, tokenId, s.unstakedAt == 0 ? s.staker : address(0));
        }

        uint256[] storage list = _tokensOf[account];
        uint256 last = list[list.length - 1];
        list[s.index] = last;
        _stakes[last].index = s.index;
        list.pop();
        --_totalStaked;
        s.unstakedAt = uint48(block.timestamp);
        s.earlyUnstake = forfeit;

        Account storage a = _accounts[account];
        (uint256 accruedS, uint256 accruedUSDC) =
            s.lot >= a.lotHead ? _leaveUnsettledLot(account, s.lot, forfeit) : _leaveSettled(account, s.lot, forfeit);

        if (forfeit) {
            emit RewardsForfeited(account, tokenId, accruedS / _PRECISION, accruedUSDC / _PRECISION);
            // Also flushes a queue built while nothing was staked (none is: see {_afterStake}).
            if (accruedS != 0 || accruedUSDC != 0) _distribute(accruedS, accruedUSDC);
        }
        _checkpoint(account);
    }

    /**
     * @dev Takes one token out of `account`'s unsettled lot `lotIndex`. Nothing of its accrual since the
     * lot's start was credited: returns it, and credits it unless `forfeit` (a token past its period).
     */
    function _leaveUnsettledLot(address account, uint32 lotIndex, bool forfeit)
        private
        returns (uint256 accruedS, uint256 accruedUSDC)
    {
        Account storage a = _accounts[account];
        Lot storage lot = _lots[account][lotIndex];
        uint256 startS = lot.startS;
        uint256 startUSDC = lot.startUSDC;
        --lot.count;
        --a.lockedCount;
        if (startS != 0) a.lockedStartS -= startS;
        if (startUSDC != 0) a.lockedStartUSDC -= startUSDC;
        accruedS = _rewardPerNFTS - startS;
        accruedUSDC = _rewardPerNFTUSDC - startUSDC;
        if (!forfeit) {
            a.rewardsS += accruedS;
            a.rewardsUSDC += accruedUSDC;
        }
    }

    /**
     * @dev Takes one token of `account`'s settled lot `lotIndex` out of the unlocked count. If `forfeit`,
     * takes back and returns its credited rewards not paid yet: those since the lot's start, or, for each
     * token, since its last claim if that claim came after the lot was settled.
     */
    function _leaveSettled(address account, uint32 lotIndex, bool forfeit)
        private
        returns (uint256 accruedS, uint256 accruedUSDC)
    {
        Account storage a = _accounts[account];
        --a.unlocked;
        if (!forfeit) return (0, 0);
        Lot storage lot = _lots[account][lotIndex];
        uint256 fromS = lot.startS;
        uint256 fromUSDC = lot.startUSDC;
        if (lotIndex < a.claimHeadS && a.claimedAtS > fromS) fromS = a.claimedAtS;
        if (lotIndex < a.claimHeadUSDC && a.claimedAtUSDC > fromUSDC) fromUSDC = a.claimedAtUSDC;
        accruedS = _rewardPerNFTS - fromS;
        accruedUSDC = _rewardPerNFTUSDC - fromUSDC;
        // {updateReward} credited this settled token's share since `from`, so this cannot underflow.
        a.rewardsS -= accruedS;
        a.rewardsUSDC -= accruedUSDC;
    }

    /// @dev Records `account`'s staked balance at this second (voting power).
    function _checkpoint(address account) private {
        _balanceHistory[account].push(uint48(block.timestamp), uint208(_tokensOf[account].length));
    }

    /**
     * @dev Adds scaled amounts, plus everything queued, to the accumulators: the only writer of
     * `_rewardPerNFT*`. What does not divide evenly among the staked NFTs (or everything, if none is
     * staked) stays queued.
     */
    function _distribute(uint256 scaledS, uint256 scaledUSDC) private {
        uint256 total = _totalStaked;
        uint256 poolS = _queuedS + scaledS;
        uint256 poolUSDC = _queuedUSDC + scaledUSDC;
        if (total == 0) {
            _queuedS = poolS;
            _queuedUSDC = poolUSDC;
            return;
        }
        uint256 incS = poolS / total;
        uint256 incUSDC = poolUSDC / total;
        if (incS != 0) _rewardPerNFTS += incS;
        if (incUSDC != 0) _rewardPerNFTUSDC += incUSDC;
        _queuedS = poolS - incS * total;
        _queuedUSDC = poolUSDC - incUSDC * total;
    }

    // ------------------------------------------------------------------
    // Modifiers
    // ------------------------------------------------------------------

    /**
     * @dev Settles `account`'s unlocked tokens up to the current accumulators, then settles its lots
     * whose period has ended (oldest first, lots are in stake order; at most {MAX_LOTS_PER_CALL}),
     * crediting everything they accrued since they were staked. The only writer of `paid`, `unlocked`
     * and `lotHead`, and of `rewards` besides claiming, forfeiting and unstaking from an unsettled lot.
     */
    modifier updateReward(address account) {
        _updateReward(account);
        _;
    }

    modifier onlyRewardSource() {
        if (msg.sender != _rewardSource) revert StakingUnauthorizedRewardSource(msg.sender);
        _;
    }

    /// @dev Body of {updateReward}.
    function _updateReward(address account) private {
        Account storage a = _accounts[account];
        uint256 rS = _rewardPerNFTS;
        uint256 rUSDC = _rewardPerNFTUSDC;
        uint256 unlocked = a.unlocked;
        uint256 addS = unlocked * (rS - a.paidS);
        uint256 addUSDC = unlocked * (rUSDC - a.paidUSDC);
        a.paidS = rS;
        a.paidUSDC = rUSDC;

        (uint32 head, uint256 tokens, uint256 startSumS, uint256 startSumUSDC) = _settleable(account, a);
        if (head != a.lotHead) {
            a.lotHead = head;
            if (tokens != 0) {
                addS += tokens * rS - startSumS;
                addUSDC += tokens * rUSDC - startSumUSDC;
                // casting to 'uint32' is safe because both counts are at most the account's staked NFTs,
                // whose positions (`TokenStake.index`) are uint32 too.
                // forge-lint: disable-next-line(unsafe-typecast)
                a.unlocked = uint32(unlocked + tokens);
                // forge-lint: disable-next-line(unsafe-typecast)
                a.lockedCount -= uint32(tokens);
                if (startSumS != 0) a.lockedStartS -= startSumS;
                if (startSumUSDC != 0) a.lockedStartUSDC -= startSumUSDC;
            }
        }
        if (addS != 0) a.rewardsS += addS;
        if (addUSDC != 0) a.rewardsUSDC += addUSDC;
    }

    /**
     * @dev The lots the next {updateReward} of `account` settles: from `lotHead`, oldest first, those whose
     * period has ended, at most {MAX_LOTS_PER_CALL} (empty lots included, so the work is bounded). Returns
     * the new head, the tokens in those lots and the sums of `count * start` over them.
     */
    function _settleable(address account, Account storage a)
        private
        view
        returns (uint32 head, uint256 tokens, uint256 startSumS, uint256 startSumUSDC)
    {
        head = a.lotHead;
        uint256 end = a.lotTail;
        if (end - head > MAX_LOTS_PER_CALL) end = head + MAX_LOTS_PER_CALL;
        mapping(uint256 => Lot) storage lots = _lots[account];
        while (head < end) {
            Lot storage lot = lots[head];
            if (!_isUnlocked(lot.stakedAt)) break;
            uint256 n = lot.count;
            if (n != 0) {
                tokens += n;
                startSumS += n * lot.startS;
                startSumUSDC += n * lot.startUSDC;
            }
            ++head;
        }
    }

    /**
     * @dev `account`'s claimable rewards after its next {updateReward} (scaled), and the part of them that
     * comes from the lots that call would settle.
     */
    function _rewardsOf(address account)
        private
        view
        returns (uint256 claimableS, uint256 claimableUSDC, uint256 settlingS, uint256 settlingUSDC)
    {
        Account storage a = _accounts[account];
        uint256 rS = _rewardPerNFTS;
        uint256 rUSDC = _rewardPerNFTUSDC;
        (, uint256 tokens, uint256 startSumS, uint256 startSumUSDC) = _settleable(account, a);
        settlingS = tokens * rS - startSumS;
        settlingUSDC = tokens * rUSDC - startSumUSDC;
        uint256 unlocked = a.unlocked;
        claimableS = a.rewardsS + unlocked * (rS - a.paidS) + settlingS;
        claimableUSDC = a.rewardsUSDC + unlocked * (rUSDC - a.paidUSDC) + settlingUSDC;
    }
}
