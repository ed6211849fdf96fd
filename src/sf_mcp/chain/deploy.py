"""Deploying the contracts: the one path used by ``sf-mcp deploy``, ``sf-mcp devnet`` and the embedded chain.

Order: (mocks) -> staking -> voting -> payment, then wiring: the staking
contract's reward source and the voting contract's payment contract are the
payment contract; OPERATOR_ROLE on payment (refunds) and voting
(submitGeneration) goes to the operator. With ``dev`` the first funded
development accounts get MockUSDC and BanditKidz NFTs.
"""

from __future__ import annotations

import logging
from typing import Any

from web3 import AsyncWeb3
from web3.providers import AsyncBaseProvider

from sf_mcp.chain.accounts import DEV_ADDRESSES, DEV_NFTS, DEV_USDC, FUNDED_ACCOUNTS
from sf_mcp.chain.client import Signer, is_unavailable
from sf_mcp.chain.contracts import NFT, PAYMENT, STAKING, USDC, VOTING, ContractRecord, Deployment, artifact
from sf_mcp.chain.units import fee_fields
from sf_mcp.errors import ChainError, ChainUnavailable, ConfigError

logger = logging.getLogger(__name__)

WEEK = 7 * 24 * 3600
OPERATOR_ROLE = AsyncWeb3.keccak(text="OPERATOR_ROLE")


class _Sender:
    """Signs and sends the deployment's transactions in order, with local nonces."""

    def __init__(self, w3: AsyncWeb3[AsyncBaseProvider], chain_id: int, signer: Signer) -> None:
        self.w3 = w3
        self.chain_id = chain_id
        self.signer = signer
        self.nonce: int | None = None

    async def send(self, fn: Any, what: str, *, value: int = 0) -> dict[str, Any]:
        w3 = self.w3
        if self.nonce is None:
            self.nonce = await w3.eth.get_transaction_count(w3.to_checksum_address(self.signer.address), "pending")
        base = (await w3.eth.get_block("latest"))["baseFeePerGas"]
        tx = await fn.build_transaction({
            "from": w3.to_checksum_address(self.signer.address), "nonce": self.nonce, "chainId": self.chain_id,
            "value": value, **fee_fields(base), "type": 2,
        })
        tx_hash = await w3.eth.send_raw_transaction(self.signer.sign(tx))
        self.nonce += 1
        receipt = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.05)
        if receipt["status"] != 1:
            raise ChainError(f"deploy: {what} reverted ({tx_hash.to_0x_hex()})")
        logger.info("deploy: %s in block %s", what, receipt["blockNumber"])
        return dict(receipt)

    async def create(self, name: str, *args: Any) -> ContractRecord:
        art = artifact(name)
        factory = self.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        receipt = await self.send(factory.constructor(*args), f"create {name}")
        return ContractRecord(
            address=receipt["contractAddress"].lower(),
            block_number=receipt["blockNumber"],
            tx_hash=receipt["transactionHash"].to_0x_hex(),
        )


async def deploy(
    w3: AsyncWeb3[AsyncBaseProvider],
    deployer: Signer,
    *,
    operator: str | None = None,
    dev: bool = False,
    usdc: str | None = None,
    nft: str | None = None,
    dev_wallet: str | None = None,
    treasury: str | None = None,
    min_stake_period: int | None = None,
    contest_duration: int = WEEK,
    first_contest_start: int | None = None,
) -> Deployment:
    """Deploy and wire the contracts with ``deployer`` as admin; return the deployment record."""
    try:
        return await _deploy(
            w3, deployer, operator=operator or deployer.address, dev=dev, usdc=usdc, nft=nft,
            dev_wallet=dev_wallet or deployer.address, treasury=treasury or deployer.address,
            min_stake_period=min_stake_period if min_stake_period is not None else (3600 if dev else WEEK),
            contest_duration=contest_duration, first_contest_start=first_contest_start,
        )
    except (ChainError, ConfigError):
        raise
    except Exception as exc:
        if is_unavailable(exc):
            raise ChainUnavailable(f"deploy: the RPC endpoint is unreachable ({type(exc).__name__})") from exc
        raise ChainError(f"deploy failed: {exc}") from exc


async def _deploy(
    w3: AsyncWeb3[AsyncBaseProvider], deployer: Signer, *, operator: str, dev: bool, usdc: str | None, nft: str | None,
    dev_wallet: str, treasury: str, min_stake_period: int, contest_duration: int, first_contest_start: int | None,
) -> Deployment:
    chain_id = await w3.eth.chain_id
    tx = _Sender(w3, chain_id, deployer)
    cs = w3.to_checksum_address
    records: dict[str, ContractRecord] = {}
    if dev and usdc is None:
        records[USDC] = await tx.create(USDC)
    if dev and nft is None:
        records[NFT] = await tx.create(NFT)
    usdc = usdc or (records[USDC].address if USDC in records else None)
    nft = nft or (records[NFT].address if NFT in records else None)
    if not usdc or not nft:
        raise ConfigError("deploy: give the USDC token and the BanditKidz NFT addresses (--usdc, --nft), or use --dev")
    admin = cs(deployer.address)
    if first_contest_start is None:
        first_contest_start = (await w3.eth.get_block("latest"))["timestamp"]
    records[STAKING] = await tx.create(STAKING, admin, cs(nft), cs(usdc), min_stake_period)
    records[VOTING] = await tx.create(VOTING, admin, cs(records[STAKING].address), cs(usdc), first_contest_start,
                                      contest_duration)
    records[PAYMENT] = await tx.create(PAYMENT, admin, cs(usdc), cs(records[STAKING].address),
                                       cs(records[VOTING].address), cs(dev_wallet), cs(treasury))
    contract = {n: w3.eth.contract(address=cs(r.address), abi=artifact(n)["abi"]) for n, r in records.items()}
    payment = cs(records[PAYMENT].address)
    await tx.send(contract[STAKING].functions.setRewardSource(payment), "staking.setRewardSource")
    await tx.send(contract[VOTING].functions.setPaymentContract(payment), "voting.setPaymentContract")
    await tx.send(contract[PAYMENT].functions.grantRole(OPERATOR_ROLE, cs(operator)), "payment.grantRole(OPERATOR)")
    await tx.send(contract[VOTING].functions.grantRole(OPERATOR_ROLE, cs(operator)), "voting.grantRole(OPERATOR)")
    if dev and USDC in contract and NFT in contract:
        for wallet in DEV_ADDRESSES[:FUNDED_ACCOUNTS]:
            await tx.send(contract[USDC].functions.mint(cs(wallet), DEV_USDC), f"mint USDC to {wallet}")
            await tx.send(contract[NFT].functions.mintBatch(cs(wallet), DEV_NFTS), f"mint NFTs to {wallet}")
    if USDC not in records:
        records[USDC] = ContractRecord(address=usdc.lower(), block_number=records[STAKING].block_number, tx_hash="")
    if NFT not in records:
        records[NFT] = ContractRecord(address=nft.lower(), block_number=records[STAKING].block_number, tx_hash="")
    return Deployment(chain_id=chain_id, deployer=deployer.address, operator=operator.lower(), dev=dev,
                      contracts=records)
