// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @dev The part of {BanditKidzStaking} that the other sf-mcp contracts call.
 *
 * The payment contract pushes the stakers' 25 % share with {notifyRewardS} /
 * {notifyRewardUSDC}; the voting contract reads snapshot voting power with
 * {stakedBalanceAt}.
 */
interface IBanditKidzStaking {
    /// @notice Adds `msg.value` S to the stakers' rewards. Only the reward source may call it.
    function notifyRewardS() external payable;

    /// @notice Adds `amount` USDC, already transferred to the staking contract, to the stakers' rewards.
    function notifyRewardUSDC(uint256 amount) external;

    /// @notice Number of NFTs `wallet` had staked at the end of second `timestamp`.
    function stakedBalanceAt(address wallet, uint256 timestamp) external view returns (uint256);
}
