// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title MockUSDC
 * @dev Development stand-in for USDC: 6 decimals, and anyone may {mint}.
 *
 * IMPORTANT: for local chains and tests only; never deploy it where it could be mistaken for USDC.
 */
contract MockUSDC is ERC20 {
    constructor() ERC20("Mock USD Coin", "USDC") {}

    /// @notice USDC has 6 decimals.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints `amount` to `to`. Open to anyone (development only). Emits {Transfer}.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
