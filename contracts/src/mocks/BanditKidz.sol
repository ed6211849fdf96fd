// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/**
 * @title BanditKidz
 * @dev Development stand-in for the BanditKidz ERC721 collection. Token ids start at 1 and
 * anyone may {mint} (development only).
 */
contract BanditKidz is ERC721 {
    uint256 private _nextTokenId = 1;

    constructor() ERC721("BanditKidz", "KIDZ") {}

    /// @notice Mints the next token id to `to`. Open to anyone (development only). Emits {Transfer}.
    function mint(address to) external returns (uint256 tokenId) {
        tokenId = _nextTokenId++;
        _mint(to, tokenId);
    }

    /// @notice Mints `count` consecutive token ids to `to`; returns the first. Emits one {Transfer} each.
    function mintBatch(address to, uint256 count) external returns (uint256 firstTokenId) {
        firstTokenId = _nextTokenId;
        for (uint256 i; i < count; ++i) {
            _mint(to, firstTokenId + i);
        }
        _nextTokenId = firstTokenId + count;
    }

    /// @notice Number of tokens minted so far.
    function totalMinted() external view returns (uint256) {
        return _nextTokenId - 1;
    }
}
