// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
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
 * `_rewardPerNFT` grows by `amount * 1e18 / totalStaked` on every notification; an account's
 * rewards are `balance * (rewardPerNFT - paid)`. The {updateReward} modifier is the only writer
 * of the per-account accumulators and runs before every function that changes a balance or
 * claims, so the order of operations never varies. Claiming costs the same whatever the number
 * of payments ever made.
 *
 * Exactness: all reward amounts are kept scaled by 1e18. The part of a distribution that does not
 * divide evenly among the staked NFTs (and every distribution while nothing is staked) is carried
 * in `_queued` and added to the next distribution; the part of an account's rewards below one
 * wei stays with the account after a claim. Hence, for each token:
 * `claimed + claimable + queued == deposited` (up to the sub-wei remainders kept in accounts),
 * and in particular claimed + claimable never exceeds what was deposited.
 *
 * Early unstake: unstaking a token before `minStakePeriod` has passed since it was staked
 * forfeits that token's unclaimed rewards (those accrued since it was staked or since its
 * staker's last claim, whichever is later). They are redistributed to the remaining stakers
 * through the accumulator, or kept for future stakers if none remain. {emergencyUnstake}
 * (available while paused) always forfeits them.
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
    /// @param stakedAt when it was staked.
    /// @param unstakedAt when it was unstaked (0 while staked).
    /// @param earlyUnstake whether its unclaimed rewards were forfeited when it was unstaked (before the
    /// minimum stake period, or through {emergencyUnstake}).
    /// @param lastClaimedDistribution value of the S reward-per-NFT accumulator (scaled 1e18) up to
    /// which this token's rewards are claimed: the later of its stake and its staker's last claim.
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
        uint256 startRewardPerNFTS;
        uint256 startRewardPerNFTUSDC;
    }

    /// @dev Stored per account; reward amounts scaled by `_PRECISION`.
    struct Account {
        uint256 paidS; // accumulator value at the last {updateReward}
        uint256 paidUSDC;
        uint256 rewardsS; // settled, unclaimed rewards
        uint256 rewardsUSDC;
        uint256 claimedAtS; // accumulator value at the last claim
        uint256 claimedAtUSDC;
    }

    /// @notice Token value used in events for S.
    address public constant NATIVE_TOKEN = 0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE;

    /// @notice Largest batch accepted by {stakeBatch} (bounds the gas of one call).
    uint256 public constant MAX_BATCH = 100;

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
    /// @dev The caller has no rewards to claim.
    error StakingNothingToClaim(address account);
    /// @dev Only the reward source may notify rewards.
    error StakingUnauthorizedRewardSource(address caller);
    /// @dev A reward notification of zero.
    error StakingZeroReward();
    /// @dev The USDC to be notified was not transferred to this contract first.
    error StakingRewardNotReceived(uint256 balance, uint256 required);

    // ------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------

    /// @notice `account` staked `tokenId`.
    event Staked(address indexed account, uint256 indexed tokenId);
    /// @notice `account` unstaked `tokenId`; `early` means before the minimum period (rewards forfeited).
    event Unstaked(address indexed account, uint256 indexed tokenId, bool early);
    /// @notice `account` unstaked `tokenId` through {emergencyUnstake}.
    event EmergencyUnstaked(address indexed account, uint256 indexed tokenId);
    /// @notice `account` claimed rewards.
    event RewardsClaimed(address indexed account, uint256 sAmount, uint256 usdcAmount);
    /// @notice `amount` of `token` (NATIVE_TOKEN for S) was added to the stakers' rewards.
    event RewardAdded(address indexed token, uint256 amount);
    /// @notice The unclaimed rewards of `tokenId` were forfeited by `account` and redistributed
    /// (amounts rounded down to whole units; the exact scaled amounts are redistributed).
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
     * @param minStakePeriod seconds a token must stay staked to keep its rewards when unstaked.
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

    /// @notice Rewards `account` can claim now, in S (wei) and USDC (6 decimals).
    function earned(address account) public view returns (uint256 sAmount, uint256 usdcAmount) {
        Account storage a = _accounts[account];
        uint256 balance = _tokensOf[account].length;
        sAmount = (a.rewardsS + balance * (_rewardPerNFTS - a.paidS)) / _PRECISION;
        usdcAmount = (a.rewardsUSDC + balance * (_rewardPerNFTUSDC - a.paidUSDC)) / _PRECISION;
    }

    /// @notice Stake record of `tokenId` (all zero if it was never staked).
    function stakeInfo(uint256 tokenId) external view returns (StakeInfo memory info) {
        TokenStake storage s = _stakes[tokenId];
        info.staker = s.staker;
        info.stakedAt = s.stakedAt;
        info.unstakedAt = s.unstakedAt;
        info.earlyUnstake = s.earlyUnstake;
        uint256 claimedAt = _accounts[s.staker].claimedAtS;
        info.lastClaimedDistribution = s.unstakedAt == 0 && claimedAt > s.startRewardPerNFTS
            ? claimedAt
            : s.startRewardPerNFTS;
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

    /// @notice Seconds a token must stay staked to keep its rewards when unstaked.
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
     * @notice Rewards received but not yet distributed (scaled by 1e18): rounding dust and
     * everything that arrived while nothing was staked. Added to the next distribution.
     */
    function queuedRewards() external view returns (uint256 sScaled, uint256 usdcScaled) {
        return (_queuedS, _queuedUSDC);
    }

    // ------------------------------------------------------------------
    // Mutative
    // ------------------------------------------------------------------

    /**
     * @notice Stakes `tokenId`; the caller must own it and have approved this contract.
     *
     * Requirements: not paused.
     *
     * Emits {Staked} (and {RewardAdded}-free redistribution of queued rewards, if any).
     */
    function stake(uint256 tokenId) external nonReentrant whenNotPaused updateReward(msg.sender) {
        _addStake(msg.sender, tokenId);
        _afterBalanceChange(msg.sender);
        _nft.transferFrom(msg.sender, address(this), tokenId);
    }

    /**
     * @notice Stakes every token of `tokenIds` (1..{MAX_BATCH}, no duplicates).
     *
     * Requirements: not paused; the caller owns and approved every token.
     *
     * Emits one {Staked} per token.
     */
    function stakeBatch(uint256[] calldata tokenIds) external nonReentrant whenNotPaused updateReward(msg.sender) {
        uint256 n = tokenIds.length;
        if (n == 0 || n > MAX_BATCH) revert StakingInvalidBatch(n);
        for (uint256 i; i < n; ++i) {
            _addStake(msg.sender, tokenIds[i]);
        }
        _afterBalanceChange(msg.sender);
        for (uint256 i; i < n; ++i) {
            _nft.transferFrom(msg.sender, address(this), tokenIds[i]);
        }
    }

    /**
     * @notice Unstakes `tokenId` and returns it to the caller. Before `minStakePeriod` has passed
     * since it was staked, its unclaimed rewards are forfeited to the remaining stakers.
     *
     * Requirements: not paused; the caller staked `tokenId`.
     *
     * Emits {Unstaked}, and {RewardsForfeited} if early.
     */
    function unstake(uint256 tokenId) external nonReentrant whenNotPaused updateReward(msg.sender) {
        TokenStake storage s = _stakes[tokenId];
        bool early = block.timestamp < uint256(s.stakedAt) + _minStakePeriod;
        _removeStake(msg.sender, tokenId, early);
        emit Unstaked(msg.sender, tokenId, early);
        _nft.safeTransferFrom(address(this), msg.sender, tokenId);
    }

    /**
     * @notice Unstakes `tokenId` without its unclaimed rewards (forfeited to the remaining stakers).
     * Works while paused. The caller's other rewards stay claimable.
     *
     * Emits {EmergencyUnstaked} and {RewardsForfeited}.
     */
    function emergencyUnstake(uint256 tokenId) external nonReentrant updateReward(msg.sender) {
        _removeStake(msg.sender, tokenId, true);
        emit EmergencyUnstaked(msg.sender, tokenId);
        _nft.safeTransferFrom(address(this), msg.sender, tokenId);
    }

    /**
     * @notice Sends the caller all its claimable S and USDC rewards.
     * @dev Constant gas whatever the number of payments or staked tokens.
     *
     * Requirements: not paused; something to claim.
     *
     * Emits {RewardsClaimed}.
     */
    function claimRewards() external nonReentrant whenNotPaused updateReward(msg.sender) {
        Account storage a = _accounts[msg.sender];
        uint256 sAmount = a.rewardsS / _PRECISION;
        uint256 usdcAmount = a.rewardsUSDC / _PRECISION;
        if (sAmount == 0 && usdcAmount == 0) revert StakingNothingToClaim(msg.sender);
        // The sub-wei remainders stay with the account.
        a.rewardsS -= sAmount * _PRECISION;
        a.rewardsUSDC -= usdcAmount * _PRECISION;
        a.claimedAtS = _rewardPerNFTS;
        a.claimedAtUSDC = _rewardPerNFTUSDC;
        _usdcOwed -= usdcAmount;
        emit RewardsClaimed(msg.sender, sAmount, usdcAmount);
        if (sAmount != 0) Address.sendValue(payable(msg.sender), sAmount);
        if (usdcAmount != 0) _usdc.safeTransfer(msg.sender, usdcAmount);
    }

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
     *
     * Emits {RewardSourceUpdated}.
     */
    function setRewardSource(address payment) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (payment == address(0)) revert StakingZeroAddress();
        _rewardSource = payment;
        emit RewardSourceUpdated(payment);
    }

    /// @notice Stops staking, unstaking and claiming ({emergencyUnstake} still works). Admin only. Emits {Paused}.
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

    /// @dev Records the stake of `tokenId` by `account` (checks and effects; the transfer comes later).
    function _addStake(address account, uint256 tokenId) private {
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
            startRewardPerNFTS: _rewardPerNFTS,
            startRewardPerNFTUSDC: _rewardPerNFTUSDC
        });
        list.push(tokenId);
        ++_totalStaked;
        emit Staked(account, tokenId);
    }

    /// @dev Removes the stake of `tokenId` by `account`; forfeits its unclaimed rewards if `forfeit`.
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

        if (forfeit) {
            Account storage a = _accounts[account];
            uint256 fromS = a.claimedAtS > s.startRewardPerNFTS ? a.claimedAtS : s.startRewardPerNFTS;
            uint256 fromUSDC = a.claimedAtUSDC > s.startRewardPerNFTUSDC ? a.claimedAtUSDC : s.startRewardPerNFTUSDC;
            uint256 forfeitS = _rewardPerNFTS - fromS;
            uint256 forfeitUSDC = _rewardPerNFTUSDC - fromUSDC;
            // {updateReward} credited this token's share since `from` to the account, so this cannot underflow.
            a.rewardsS -= forfeitS;
            a.rewardsUSDC -= forfeitUSDC;
            emit RewardsForfeited(account, tokenId, forfeitS / _PRECISION, forfeitUSDC / _PRECISION);
            if (forfeitS != 0 || forfeitUSDC != 0) _distribute(forfeitS, forfeitUSDC);
        }
        _afterBalanceChange(account);
    }

    /// @dev Checkpoints `account`'s balance and flushes queued rewards to the current stakers.
    function _afterBalanceChange(address account) private {
        _balanceHistory[account].push(uint48(block.timestamp), uint208(_tokensOf[account].length));
        if (_queuedS != 0 || _queuedUSDC != 0) _distribute(0, 0);
    }

    /**
     * @dev Adds scaled amounts, plus everything queued, to the accumulators. What does not divide
     * evenly among the staked NFTs (or everything, if none is staked) stays queued.
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

    /// @dev Settles `account`'s rewards up to the current accumulators. The only writer of `paid`/`rewards`
    /// besides claiming and forfeiting.
    modifier updateReward(address account) {
        Account storage a = _accounts[account];
        uint256 balance = _tokensOf[account].length;
        uint256 rS = _rewardPerNFTS;
        uint256 rUSDC = _rewardPerNFTUSDC;
        if (balance != 0) {
            a.rewardsS += balance * (rS - a.paidS);
            a.rewardsUSDC += balance * (rUSDC - a.paidUSDC);
        }
        a.paidS = rS;
        a.paidUSDC = rUSDC;
        _;
    }

    modifier onlyRewardSource() {
        if (msg.sender != _rewardSource) revert StakingUnauthorizedRewardSource(msg.sender);
        _;
    }
}
