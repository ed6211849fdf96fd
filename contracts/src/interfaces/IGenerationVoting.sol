// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @dev The part of {GenerationVotingAndLeaderboard} that the payment contract calls to fund
 * the prize pool of the current weekly contest with its 15 % share of every payment.
 */
interface IGenerationVoting {
    /// @notice Adds `msg.value` S to the current contest's prize pool. Only the payment contract may call it.
    function fundPrizePool() external payable;

    /// @notice Adds `amount` USDC, already transferred to the voting contract, to the current contest's prize pool.
    function fundPrizePoolUSDC(uint256 amount) external;
}
