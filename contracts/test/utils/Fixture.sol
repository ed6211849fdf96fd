// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "./Test.sol";
import {SonicAIGenerationPayment} from "../../src/SonicAIGenerationPayment.sol";
import {BanditKidzStaking} from "../../src/BanditKidzStaking.sol";
import {GenerationVotingAndLeaderboard} from "../../src/GenerationVotingAndLeaderboard.sol";
import {MockUSDC} from "../../src/mocks/MockUSDC.sol";
import {BanditKidz} from "../../src/mocks/BanditKidz.sol";

/// @dev Deploys and wires the whole system the way `sf-mcp deploy` does.
abstract contract Fixture is Test {
    uint256 internal constant START = 1_750_000_000;
    uint256 internal constant WEEK = 7 days;
    uint256 internal constant MIN_STAKE = 3 days;
    address internal constant S = 0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE;

    address internal admin = address(0xAD);
    address internal operator = address(0x0B);
    address internal dev = address(0xDE);
    address internal treasury = address(0x7E);
    address internal alice = address(0xA11CE);
    address internal bob = address(0xB0B);
    address internal carol = address(0xCA201);
    address internal stranger = address(0x5757);

    MockUSDC internal usdc;
    BanditKidz internal nft;
    BanditKidzStaking internal staking;
    GenerationVotingAndLeaderboard internal voting;
    SonicAIGenerationPayment internal payment;

    function setUp() public virtual {
        vm.warp(START);
        usdc = new MockUSDC();
        nft = new BanditKidz();
        staking = new BanditKidzStaking(admin, address(nft), address(usdc), MIN_STAKE);
        voting = new GenerationVotingAndLeaderboard(admin, address(staking), address(usdc), START, WEEK);
        payment = new SonicAIGenerationPayment(admin, address(usdc), address(staking), address(voting), dev, treasury);
        vm.startPrank(admin);
        staking.setRewardSource(address(payment));
        voting.setPaymentContract(address(payment));
        voting.grantRole(voting.OPERATOR_ROLE(), operator);
        payment.grantRole(payment.OPERATOR_ROLE(), operator);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ helpers

    function payS(address user) internal returns (uint256 id) {
        vm.deal(user, user.balance + 3 ether);
        vm.prank(user);
        id = payment.payWithS{value: 3 ether}("a cat in space", "image");
    }

    function payUSDC(address user) internal returns (uint256 id) {
        usdc.mint(user, 1e6);
        vm.startPrank(user);
        usdc.approve(address(payment), 1e6);
        id = payment.payWithUSDC("a cat in space", "video", 1e6);
        vm.stopPrank();
    }

    function mintAndStake(address user, uint256 count) internal returns (uint256[] memory ids) {
        uint256 first = nft.mintBatch(user, count);
        ids = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            ids[i] = first + i;
        }
        vm.startPrank(user);
        nft.setApprovalForAll(address(staking), true);
        if (count == 1) staking.stake(ids[0]);
        else staking.stakeBatch(ids);
        vm.stopPrank();
    }

    function submit(uint256 id, address creator) internal {
        vm.prank(operator);
        voting.submitGeneration(id, creator, "a cat in space", "https://example.invalid/x.png");
    }
}
