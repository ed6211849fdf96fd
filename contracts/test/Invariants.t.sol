// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "./utils/Test.sol";
import {Fixture} from "./utils/Fixture.sol";
import {SonicAIGenerationPayment} from "../src/SonicAIGenerationPayment.sol";
import {BanditKidzStaking} from "../src/BanditKidzStaking.sol";
import {GenerationVotingAndLeaderboard} from "../src/GenerationVotingAndLeaderboard.sol";
import {MockUSDC} from "../src/mocks/MockUSDC.sol";
import {BanditKidz} from "../src/mocks/BanditKidz.sol";

/**
 * @dev Drives the whole system with random, bounded actions by four wallets and keeps ghost
 * totals that the invariants compare with the contracts' state.
 */
contract SystemHandler is Test {
    address internal constant S = 0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE;

    SonicAIGenerationPayment public immutable payment;
    BanditKidzStaking public immutable staking;
    GenerationVotingAndLeaderboard public immutable voting;
    MockUSDC public immutable usdc;
    BanditKidz public immutable nft;
    address public immutable operator;
    address public immutable dev;
    address public immutable treasury;

    address[4] public actors = [address(0xA1), address(0xA2), address(0xA3), address(0xA4)];

    // Invariant 1: payments and their parts.
    uint256 public paidS;
    uint256 public paidUSDC;
    uint256 public stakersS;
    uint256 public stakersUSDC;
    uint256 public prizeS;
    uint256 public prizeUSDC;
    uint256 public withdrawnS;
    uint256 public withdrawnUSDC;
    // Invariant 2: staker rewards.
    uint256 public claimedS;
    uint256 public claimedUSDC;
    // Invariant 3: per-contest staked balance of each actor just before the contest started.
    mapping(uint256 contestId => mapping(address actor => uint256)) public snapshot;
    uint256 public generations;
    uint256 public votesCast;
    uint256 public nftMoves;
    // Invariant 4: prizes credited per finalized contest.
    mapping(uint256 contestId => uint256) public creditedS;
    mapping(uint256 contestId => uint256) public creditedUSDC;
    uint256 public prizeClaimedS;
    uint256 public prizeClaimedUSDC;
    uint256 public finalized;
    // Invariant 5: NFTs staked by everyone at the end of the second before each contest started.
    mapping(uint256 contestId => uint256) public stakedAtStart;
    // Invariant 6: vote weight cast for each creator's generations per contest.
    mapping(uint256 contestId => mapping(address creator => uint256)) public weightCast;
    mapping(address creator => uint256) public weightCastAllTime;
    uint256 public lotChurns;
    // Invariant 8: x402 settlements; authorizations front-run to the token (surplus) and recovered.
    uint256 public authorizationsSettled;
    uint256 public frontRunUSDC;
    uint256 public recoveredUSDC;
    uint256 internal _nonceCounter;

    /// @dev Recipients of claims made to another address: an actor or an outside wallet.
    address internal constant OUTSIDE = address(0x0E7);

    constructor(
        SonicAIGenerationPayment payment_,
        BanditKidzStaking staking_,
        GenerationVotingAndLeaderboard voting_,
        MockUSDC usdc_,
        BanditKidz nft_,
        address operator_,
        address dev_,
        address treasury_
    ) {
        payment = payment_;
        staking = staking_;
        voting = voting_;
        usdc = usdc_;
        nft = nft_;
        operator = operator_;
        dev = dev_;
        treasury = treasury_;
        for (uint256 i; i < 4; ++i) {
            vm.prank(actors[i]);
            nft_.setApprovalForAll(address(staking_), true);
        }
        // Every wallet starts with a staked NFT, so that later contests have voting power to use.
        for (uint256 i; i < 4; ++i) {
            uint256 id = nft_.mint(actors[i]);
            vm.prank(actors[i]);
            staking_.stake(id);
        }
    }

    function actorCount() external pure returns (uint256) {
        return 4;
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % 4];
    }

    // ------------------------------------------------------------------ payments

    function payWithS(uint256 actorSeed, uint256 excess) external {
        address a = _actor(actorSeed);
        uint256 price = payment.priceS();
        excess = bound(excess, 0, 5 ether);
        vm.deal(a, a.balance + price + excess);
        vm.prank(a);
        payment.payWithS{value: price + excess}("prompt", "image");
        _account(price, true);
    }

    function payWithUSDC(uint256 actorSeed) external {
        address a = _actor(actorSeed);
        uint256 price = payment.priceUSDC();
        usdc.mint(a, price);
        vm.startPrank(a);
        usdc.approve(address(payment), price);
        payment.payWithUSDC("prompt", "video", price);
        vm.stopPrank();
        _account(price, false);
    }

    /// @dev An x402 payment by one of three signing payers, settled by the operator; with `frontRun`,
    /// someone submits the authorization to the token first and the settlement must fail.
    function payWithAuthorization(uint256 keySeed, bool frontRun) external {
        uint256 key = 0xA11 + keySeed % 3;
        address from = vm.addr(key);
        uint256 price = payment.priceUSDC();
        usdc.mint(from, price);
        SonicAIGenerationPayment.Authorization memory a = SonicAIGenerationPayment.Authorization({
            from: from,
            value: price,
            validAfter: block.timestamp - 1,
            validBefore: block.timestamp + 1 hours,
            nonce: keccak256(abi.encode(++_nonceCounter)),
            signature: ""
        });
        bytes32 structHash = keccak256(
            abi.encode(
                usdc.TRANSFER_WITH_AUTHORIZATION_TYPEHASH(), from, address(payment), price, a.validAfter, a.validBefore, a.nonce
            )
        );
        (uint8 v, bytes32 r, bytes32 sig) =
            vm.sign(key, keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash)));
        a.signature = abi.encodePacked(r, sig, v);
        if (frontRun) {
            usdc.transferWithAuthorization(from, address(payment), price, a.validAfter, a.validBefore, a.nonce, a.signature);
            frontRunUSDC += price;
            vm.prank(operator);
            try payment.payWithAuthorization("prompt", "image", a) {
                revert("a front-run authorization was settled");
            } catch {}
            return;
        }
        vm.prank(operator);
        payment.payWithAuthorization("prompt", "image", a);
        ++authorizationsSettled;
        _account(price, false);
    }

    function recoverSurplus(uint256 amountSeed) external {
        uint256 available = payment.surplus(address(usdc));
        if (available == 0) return;
        uint256 amount = bound(amountSeed, 1, available);
        vm.prank(address(0xAD));
        payment.recoverSurplus(address(usdc), address(0x5E7), amount);
        recoveredUSDC += amount;
    }

    function setPrices(uint256 priceS, uint256 priceUSDC) external {
        priceS = bound(priceS, 1, 10 ether);
        priceUSDC = bound(priceUSDC, 1, 10e6);
        address admin = address(0xAD);
        vm.prank(admin);
        payment.setPrices(priceS, priceUSDC);
    }

    function _account(uint256 amount, bool isS) internal {
        (uint256 st,, uint256 pr,) = payment.splitOf(amount);
        if (isS) {
            paidS += amount;
            stakersS += st;
            prizeS += pr;
        } else {
            paidUSDC += amount;
            stakersUSDC += st;
            prizeUSDC += pr;
        }
    }

    function withdraw(uint256 who, bool native) external {
        address account = who % 2 == 0 ? dev : treasury;
        address token = native ? S : address(usdc);
        uint256 amount = payment.withdrawable(token, account);
        if (amount == 0) return;
        vm.prank(account);
        payment.withdraw(token);
        if (native) withdrawnS += amount;
        else withdrawnUSDC += amount;
    }

    // ------------------------------------------------------------------ staking

    function stake(uint256 actorSeed, uint256 count) external {
        address a = _actor(actorSeed);
        count = bound(count, 1, 3);
        uint256 first = nft.mintBatch(a, count);
        vm.startPrank(a);
        if (count == 1) {
            staking.stake(first);
        } else {
            uint256[] memory ids = new uint256[](count);
            for (uint256 i; i < count; ++i) {
                ids[i] = first + i;
            }
            staking.stakeBatch(ids);
        }
        vm.stopPrank();
    }

    function unstake(uint256 actorSeed, uint256 index, bool emergency) external {
        address a = _actor(actorSeed);
        uint256[] memory ids = staking.stakedTokensOf(a);
        if (ids.length == 0) return;
        uint256 id = ids[index % ids.length];
        vm.prank(a);
        if (emergency) staking.emergencyUnstake(id);
        else staking.unstake(id);
    }

    /// @dev Moves a staked NFT to another wallet, which stakes it at once (the double-vote attempt).
    function moveStakedNft(uint256 fromSeed, uint256 toSeed, uint256 index) external {
        address from = _actor(fromSeed);
        address to = _actor(toSeed);
        if (from == to) return;
        uint256[] memory ids = staking.stakedTokensOf(from);
        if (ids.length == 0) return;
        uint256 id = ids[index % ids.length];
        vm.startPrank(from);
        staking.unstake(id);
        nft.transferFrom(from, to, id);
        vm.stopPrank();
        vm.prank(to);
        staking.stake(id);
        ++nftMoves;
    }

    /// @dev Stakes a new NFT and unstakes it before its period ends: an empty lot left behind.
    function churnLot(uint256 actorSeed) external {
        address a = _actor(actorSeed);
        uint256 id = nft.mint(a);
        vm.startPrank(a);
        staking.stake(id);
        staking.unstake(id);
        vm.stopPrank();
        ++lotChurns;
    }

    /// @dev Claims one token's rewards to the staker itself or to another address.
    function claimRewardTo(uint256 actorSeed, bool native, uint256 recipientSeed) external {
        address a = _actor(actorSeed);
        (uint256 s, uint256 u) = staking.earned(a);
        uint256 amount = native ? s : u;
        if (amount == 0) return;
        address recipient = recipientSeed % 5 == 4 ? OUTSIDE : _actor(recipientSeed);
        vm.prank(a);
        uint256 paid = staking.claimRewardTo(native ? S : address(usdc), recipient);
        assertEq(paid, amount, "claimRewardTo pays earned()");
        if (native) claimedS += paid;
        else claimedUSDC += paid;
    }

    function settleRewards(uint256 actorSeed) external {
        vm.prank(_actor(actorSeed));
        staking.settleRewards();
    }

    function claimRewards(uint256 actorSeed) external {
        address a = _actor(actorSeed);
        (uint256 s, uint256 u) = staking.earned(a);
        if (s == 0 && u == 0) return;
        vm.prank(a);
        staking.claimRewards();
        claimedS += s;
        claimedUSDC += u;
    }

    // ------------------------------------------------------------------ voting

    function submit(uint256 creatorSeed) external {
        uint256 id = ++generations;
        vm.prank(operator);
        voting.submitGeneration(id, _actor(creatorSeed), "prompt", "https://example.invalid/x");
    }

    /// @dev Votes for a random generation; submits one by another wallet first if there is none yet
    /// in the current contest.
    function vote(uint256 voterSeed, uint256 generationSeed) external {
        address voter = _actor(voterSeed);
        if (generations == 0 || _contestOf(generations) != voting.currentContestId()) {
            this.submit(voterSeed % 4 + 1 + generationSeed % 3);
        }
        // Mostly the newest generations (those of the current contest).
        uint256 recent = generations < 3 ? generations : 3;
        uint256 id = generations - generationSeed % recent;
        (address creator, uint256 contestId,,,,) = voting.getGeneration(id);
        if (
            creator == voter || contestId != voting.currentContestId() || voting.hasVoted(id, voter)
                || voting.getUserVotingPower(voter) == 0
        ) return;
        uint256 weight = voting.getUserVotingPower(voter);
        vm.prank(voter);
        voting.vote(id);
        ++votesCast;
        weightCast[contestId][creator] += weight;
        weightCastAllTime[creator] += weight;
    }

    /// @dev Finalizes every ended contest not finalized yet (oldest first, or newest first), then
    /// lets the winners claim when `claimAfter`.
    function _contestOf(uint256 generationId) internal view returns (uint256 contestId) {
        (, contestId,,,,) = voting.getGeneration(generationId);
    }

    /// @dev Contests are finalized in order: with `newestFirst` the newest ended contest is tried
    /// first and must be refused while an older one is open, then all are finalized oldest first.
    function finalize(bool newestFirst, bool claimAfter) external {
        uint256 current = voting.currentContestId();
        uint256 next = voting.nextContestToFinalize();
        if (newestFirst && current - 1 > next) {
            try voting.finalizeContest(current - 1) {
                revert("finalized out of order");
            } catch {}
        }
        for (uint256 k = next; k < current; ++k) {
            _finalize(k);
        }
        if (claimAfter) {
            for (uint256 i; i < 4; ++i) {
                claimPrize(i);
            }
        }
    }

    function _finalize(uint256 contestId) internal {
        if (voting.isFinalized(contestId)) return;
        uint256[4] memory beforeS;
        uint256[4] memory beforeU;
        for (uint256 i; i < 4; ++i) {
            (beforeS[i], beforeU[i]) = voting.pendingPrize(actors[i]);
        }
        voting.finalizeContest(contestId);
        ++finalized;
        for (uint256 i; i < 4; ++i) {
            (uint256 s, uint256 u) = voting.pendingPrize(actors[i]);
            creditedS[contestId] += s - beforeS[i];
            creditedUSDC[contestId] += u - beforeU[i];
        }
    }

    /// @dev Claims one token's prizes to the winner itself or to another address.
    function claimPrizeTo(uint256 actorSeed, bool native, uint256 recipientSeed) external {
        address a = _actor(actorSeed);
        (uint256 s, uint256 u) = voting.pendingPrize(a);
        uint256 amount = native ? s : u;
        if (amount == 0) return;
        address recipient = recipientSeed % 5 == 4 ? OUTSIDE : _actor(recipientSeed);
        vm.prank(a);
        voting.claimPrizeTo(native ? S : address(usdc), recipient);
        if (native) prizeClaimedS += amount;
        else prizeClaimedUSDC += amount;
    }

    function claimPrize(uint256 actorSeed) public {
        address a = _actor(actorSeed);
        (uint256 s, uint256 u) = voting.pendingPrize(a);
        if (s == 0 && u == 0) return;
        vm.prank(a);
        voting.claimPrize();
        prizeClaimedS += s;
        prizeClaimedUSDC += u;
    }

    // ------------------------------------------------------------------ time

    function warp(uint256 secondsSeed) external {
        uint256 before = voting.currentContestId();
        uint256 next = block.timestamp + bound(secondsSeed, 1 hours, 7 days);
        (uint256 start,) = voting.contestWindow(before + 1);
        if (next >= start) {
            // Balances now are the balances at the end of every second up to the new contest's start.
            uint256 reached = before + 1;
            (uint256 s2,) = voting.contestWindow(reached + 1);
            while (next >= s2) {
                ++reached;
                (s2,) = voting.contestWindow(reached + 1);
            }
            for (uint256 c = before + 1; c <= reached; ++c) {
                for (uint256 i; i < 4; ++i) {
                    snapshot[c][actors[i]] = staking.stakedBalanceOf(actors[i]);
                }
                stakedAtStart[c] = staking.totalStaked();
            }
        }
        vm.warp(next);
    }
}

contract InvariantsTest is Fixture {
    SystemHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new SystemHandler(payment, staking, voting, usdc, nft, operator, dev, treasury);
        targetContract(address(handler));
        // Start near the end of contest 1 so that most runs see several contests.
        vm.warp(START + WEEK - 1 hours);
    }

    /// @dev 1. Every payment is split exactly, for S and USDC separately; no wei stuck or created. An
    /// x402 authorization front-run to the token is never split: it stays as surplus until recovered.
    function invariant_paymentsSplitExactly() public view {
        // What the payment contract holds is exactly what dev and treasury can still withdraw.
        assertEq(
            address(payment).balance,
            payment.withdrawable(S, dev) + payment.withdrawable(S, treasury),
            "payment S == pull balances"
        );
        assertEq(
            usdc.balanceOf(address(payment)),
            payment.withdrawable(address(usdc), dev) + payment.withdrawable(address(usdc), treasury)
                + handler.frontRunUSDC() - handler.recoveredUSDC(),
            "payment USDC == pull balances + surplus"
        );
        assertEq(payment.surplus(address(usdc)), handler.frontRunUSDC() - handler.recoveredUSDC(), "surplus");
        // Parts: staking received 25 %, voting 15 %, pull balances (held or withdrawn) the rest.
        assertEq(address(staking).balance + handler.claimedS(), handler.stakersS(), "stakers' S");
        assertEq(usdc.balanceOf(address(staking)) + handler.claimedUSDC(), handler.stakersUSDC(), "stakers' USDC");
        assertEq(address(voting).balance + handler.prizeClaimedS(), handler.prizeS(), "prize S");
        assertEq(usdc.balanceOf(address(voting)) + handler.prizeClaimedUSDC(), handler.prizeUSDC(), "prize USDC");
        assertEq(
            handler.stakersS() + handler.prizeS() + address(payment).balance + handler.withdrawnS(),
            handler.paidS(),
            "S parts sum to payments"
        );
        assertEq(
            handler.stakersUSDC() + handler.prizeUSDC() + usdc.balanceOf(address(payment)) + handler.withdrawnUSDC(),
            handler.paidUSDC() + handler.frontRunUSDC() - handler.recoveredUSDC(),
            "USDC parts sum to payments (+ surplus)"
        );
    }

    /// @dev 2. Rewards claimed + claimable + locked (+ queued, which holds what was forfeited while
    /// nothing was staked) never exceed what was deposited for stakers.
    function invariant_stakerRewardsNeverExceedDeposits() public view {
        uint256 claimableS;
        uint256 claimableUSDC;
        uint256 lockedS;
        uint256 lockedUSDC;
        for (uint256 i; i < 4; ++i) {
            (uint256 s, uint256 u) = staking.earned(handler.actors(i));
            claimableS += s;
            claimableUSDC += u;
            (s, u) = staking.pendingRewards(handler.actors(i));
            lockedS += s;
            lockedUSDC += u;
        }
        (uint256 qS, uint256 qU) = staking.queuedRewards();
        uint256 accountedS = handler.claimedS() + claimableS + lockedS + qS / 1e18;
        uint256 accountedUSDC = handler.claimedUSDC() + claimableUSDC + lockedUSDC + qU / 1e18;
        assertLe(accountedS, handler.stakersS(), "S rewards <= deposits");
        assertLe(accountedUSDC, handler.stakersUSDC(), "USDC rewards <= deposits");
        // And the contract can always pay every claim, and every locked reward once it unlocks.
        assertGe(address(staking).balance, claimableS + lockedS, "S solvent");
        assertGe(usdc.balanceOf(address(staking)), claimableUSDC + lockedUSDC, "USDC solvent");
        // Rounding loses at most two wei per account (claimable and locked are rounded down apart) and
        // one per claim (carried dust stays in the contract).
        assertLe(handler.stakersS() - accountedS, 8 + 4 * 64, "S dust bounded");
    }

    /// @dev 3. Voting power never exceeds the NFTs staked at the contest start; no NFT counts twice.
    function invariant_votingPowerIsSnapshot() public view {
        uint256 contestId = voting.currentContestId();
        for (uint256 i; i < 4; ++i) {
            address a = handler.actors(i);
            assertEq(voting.getUserVotingPower(a), handler.snapshot(contestId, a), "power == staked at start");
        }
        uint256 n = handler.generations();
        for (uint256 g = 1; g <= n; ++g) {
            (, uint256 gContest, uint256 votes,,,) = voting.getGeneration(g);
            uint256 voted;
            uint256 stakedAtStart;
            for (uint256 i; i < 4; ++i) {
                address a = handler.actors(i);
                stakedAtStart += handler.snapshot(gContest, a);
                if (voting.hasVoted(g, a)) voted += handler.snapshot(gContest, a);
            }
            assertEq(votes, voted, "votes == snapshots of its voters");
            assertLe(votes, stakedAtStart, "no NFT counted twice");
        }
    }

    /// @dev 5. (Audit) Claimable plus locked amounts never exceed a contract's balance, in each token:
    /// staker rewards (claimable and locked) in staking, open pools and unclaimed prizes in voting,
    /// pull balances in payment.
    function invariant_claimableAndLockedWithinBalance() public view {
        uint256 stakingS;
        uint256 stakingUSDC;
        uint256 prizesS;
        uint256 prizesUSDC;
        for (uint256 i; i < 4; ++i) {
            address a = handler.actors(i);
            (uint256 s, uint256 u) = staking.earned(a);
            (uint256 ls, uint256 lu) = staking.pendingRewards(a);
            stakingS += s + ls;
            stakingUSDC += u + lu;
            (s, u) = voting.pendingPrize(a);
            prizesS += s;
            prizesUSDC += u;
        }
        uint256 current = voting.currentContestId();
        for (uint256 c = 1; c <= current + 1; ++c) {
            if (voting.isFinalized(c)) continue;
            (uint256 s, uint256 u) = voting.prizePool(c);
            prizesS += s;
            prizesUSDC += u;
        }
        assertLe(stakingS, address(staking).balance, "staking S");
        assertLe(stakingUSDC, usdc.balanceOf(address(staking)), "staking USDC");
        assertLe(prizesS, address(voting).balance, "voting S");
        assertLe(prizesUSDC, usdc.balanceOf(address(voting)), "voting USDC");
        assertLe(
            payment.withdrawable(S, dev) + payment.withdrawable(S, treasury), address(payment).balance, "payment S"
        );
        assertLe(
            payment.withdrawable(address(usdc), dev) + payment.withdrawable(address(usdc), treasury),
            usdc.balanceOf(address(payment)),
            "payment USDC"
        );
    }

    /// @dev 6. (Audit) The voting power of all wallets at a contest's snapshot sums to the NFTs staked then.
    function invariant_votingPowerSumsToStakedAtSnapshot() public view {
        uint256 current = voting.currentContestId();
        for (uint256 c = 1; c <= current; ++c) {
            (uint256 start,) = voting.contestWindow(c);
            uint256 sum;
            for (uint256 i; i < 4; ++i) {
                sum += staking.stakedBalanceAt(handler.actors(i), start - 1);
            }
            assertEq(sum, handler.stakedAtStart(c), "sum of snapshots == NFTs staked at the snapshot");
        }
        uint256 power;
        for (uint256 i; i < 4; ++i) {
            power += voting.getUserVotingPower(handler.actors(i));
        }
        assertEq(power, handler.stakedAtStart(current), "current voting power == NFTs staked at its start");
    }

    /// @dev 7. (Audit) A creator's points equal the vote weight cast for its generations, per contest and
    /// all time.
    function invariant_creatorPointsEqualWeightCast() public view {
        uint256 current = voting.currentContestId();
        for (uint256 i; i < 4; ++i) {
            address a = handler.actors(i);
            for (uint256 c = 1; c <= current; ++c) {
                assertEq(voting.creatorPoints(c, a), handler.weightCast(c, a), "points == weight cast");
            }
            assertEq(voting.allTimePoints(a), handler.weightCastAllTime(a), "all-time points == weight cast");
        }
    }

    /// @dev 4. The prizes credited for a contest equal its pool (or the pool rolled over whole).
    function invariant_prizesEqualPool() public view {
        uint256 current = voting.currentContestId();
        uint256 pendingS;
        uint256 pendingUSDC;
        uint256 openPoolsS;
        uint256 openPoolsUSDC;
        for (uint256 c = 1; c <= current; ++c) {
            (uint256 poolS, uint256 poolUSDC) = voting.prizePool(c);
            if (voting.isFinalized(c)) {
                assertEq(handler.creditedS(c), poolS, "S prizes == pool");
                assertEq(handler.creditedUSDC(c), poolUSDC, "USDC prizes == pool");
            } else {
                openPoolsS += poolS;
                openPoolsUSDC += poolUSDC;
            }
        }
        for (uint256 i; i < 4; ++i) {
            (uint256 s, uint256 u) = voting.pendingPrize(handler.actors(i));
            pendingS += s;
            pendingUSDC += u;
        }
        assertEq(address(voting).balance, openPoolsS + pendingS, "voting S == open pools + pending prizes");
        assertEq(usdc.balanceOf(address(voting)), openPoolsUSDC + pendingUSDC, "voting USDC == open pools + pending");
    }
}
