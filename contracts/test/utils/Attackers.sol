// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";

import {BanditKidzStaking} from "../../src/BanditKidzStaking.sol";
import {SonicAIGenerationPayment} from "../../src/SonicAIGenerationPayment.sol";
import {GenerationVotingAndLeaderboard} from "../../src/GenerationVotingAndLeaderboard.sol";

/// @dev A USDC look-alike that burns 1 % of every transfer.
contract FeeOnTransferToken is ERC20 {
    constructor() ERC20("Fee USD", "FUSD") {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 fee = value / 100;
            super._update(from, address(0), fee);
            value -= fee;
        }
        super._update(from, to, value);
    }
}

/// @dev A USDC look-alike with a blocklist (like Circle's): blocked accounts cannot send or receive.
contract BlocklistToken is ERC20 {
    mapping(address => bool) public blocked;

    constructor() ERC20("Block USD", "BUSD") {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setBlocked(address account, bool value) external {
        blocked[account] = value;
    }

    function _update(address from, address to, uint256 value) internal override {
        require(!blocked[from] && !blocked[to], "blocked");
        super._update(from, to, value);
    }
}

/// @dev A staker contract whose ERC721 receiver hook tries to re-enter the staking contract.
contract ReentrantStaker is IERC721Receiver {
    BanditKidzStaking public immutable staking;
    IERC721 public immutable nft;
    uint256 public mode; // 1 = unstake again, 2 = claim, 3 = emergencyUnstake, 4 = stake
    uint256 public reentryTarget;
    bool public reentered;
    bytes public reentryError;

    constructor(BanditKidzStaking staking_, IERC721 nft_) {
        staking = staking_;
        nft = nft_;
        nft_.setApprovalForAll(address(staking_), true);
    }

    receive() external payable {}

    function setMode(uint256 newMode, uint256 target) external {
        mode = newMode;
        reentryTarget = target;
    }

    function stake(uint256 tokenId) external {
        staking.stake(tokenId);
    }

    function unstake(uint256 tokenId) external {
        staking.unstake(tokenId);
    }

    function onERC721Received(address, address, uint256, bytes calldata) external returns (bytes4) {
        if (mode != 0 && msg.sender == address(nft)) {
            uint256 m = mode;
            mode = 0;
            bytes memory data;
            if (m == 1) data = abi.encodeCall(BanditKidzStaking.unstake, (reentryTarget));
            else if (m == 2) data = abi.encodeCall(BanditKidzStaking.claimRewards, ());
            else if (m == 3) data = abi.encodeCall(BanditKidzStaking.emergencyUnstake, (reentryTarget));
            else data = abi.encodeCall(BanditKidzStaking.stake, (reentryTarget));
            (bool ok, bytes memory ret) = address(staking).call(data);
            reentered = ok;
            reentryError = ret;
        }
        return IERC721Receiver.onERC721Received.selector;
    }
}

/// @dev A payer / payout recipient whose receive() re-enters the contract that paid it.
contract ReentrantRecipient {
    SonicAIGenerationPayment public immutable payment;
    // 1 = payWithS again, 2 = withdraw again, 3 = claimPrize again, 4 = claimRewards again,
    // 5 = claimRewardTo(S, this) again, 6 = claimPrizeTo(S, this) again
    uint256 public mode;
    address public target;
    bool public reentered;
    bytes public reentryError;

    constructor(SonicAIGenerationPayment payment_) {
        payment = payment_;
    }

    function setMode(uint256 newMode, address newTarget) external {
        mode = newMode;
        target = newTarget;
    }

    function pay(uint256 value) external returns (uint256) {
        return payment.payWithS{value: value}("prompt", "image");
    }

    function withdraw(address token) external {
        payment.withdraw(token);
    }

    function claimPrize(GenerationVotingAndLeaderboard voting) external {
        voting.claimPrize();
    }

    function claimRewards(BanditKidzStaking staking) external {
        staking.claimRewards();
    }

    function claimRewardTo(BanditKidzStaking staking) external {
        staking.claimRewardTo(payment.NATIVE_TOKEN(), address(this));
    }

    function claimPrizeTo(GenerationVotingAndLeaderboard voting) external {
        voting.claimPrizeTo(payment.NATIVE_TOKEN(), address(this));
    }

    receive() external payable {
        uint256 m = mode;
        if (m == 0) return;
        mode = 0;
        bytes memory data;
        if (m == 1) data = abi.encodeWithSignature("payWithS(string,string)", "again", "image");
        else if (m == 2) data = abi.encodeWithSignature("withdraw(address)", payment.NATIVE_TOKEN());
        else if (m == 3) data = abi.encodeWithSignature("claimPrize()");
        else if (m == 4) data = abi.encodeWithSignature("claimRewards()");
        else if (m == 5) data = abi.encodeWithSignature("claimRewardTo(address,address)", payment.NATIVE_TOKEN(), this);
        else data = abi.encodeWithSignature("claimPrizeTo(address,address)", payment.NATIVE_TOKEN(), this);
        (bool ok, bytes memory ret) = target.call{value: m == 1 ? msg.value : 0}(data);
        reentered = ok;
        reentryError = ret;
    }
}

/// @dev A contract that refuses S: a payout to it always fails.
contract RejectingRecipient {
    function pay(SonicAIGenerationPayment payment, uint256 value) external returns (uint256) {
        return payment.payWithS{value: value}("prompt", "image");
    }

    function withdraw(SonicAIGenerationPayment payment, address token) external {
        payment.withdraw(token);
    }
}

/// @dev A contract account without a payable `receive` (a multisig module, a vault): it executes calls
/// its deployer asks for and can hold NFTs, but any S sent to it fails.
contract ContractAccount is IERC721Receiver {
    address private immutable _owner = msg.sender;

    function exec(address target, bytes calldata data) external returns (bytes memory ret) {
        require(msg.sender == _owner, "owner only");
        bool ok;
        (ok, ret) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }

    function onERC721Received(address, address, uint256, bytes calldata) external pure returns (bytes4) {
        return IERC721Receiver.onERC721Received.selector;
    }
}
