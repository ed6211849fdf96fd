"""Contract artifacts, the deployment record, and the chains sf-mcp knows.

The artifacts (``artifacts/<Name>.json``: ``abi``, ``bytecode``) are exported
from ``contracts/`` by its build. A :class:`Deployment` says where those
contracts live on one chain; it is written by ``sf-mcp deploy`` into the data
dir and checked against the chain id the RPC reports before anything is read.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from sf_mcp.errors import ConfigError

PAYMENT = "SonicAIGenerationPayment"
STAKING = "BanditKidzStaking"
VOTING = "GenerationVotingAndLeaderboard"
USDC = "MockUSDC"
NFT = "BanditKidz"
CORE_CONTRACTS = (PAYMENT, STAKING, VOTING)

NATIVE_TOKEN = "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

SONIC_MAINNET = 146
SONIC_TESTNET = 14601
ANVIL = 31337
EMBEDDED = 131277322940537  # eth-tester's default chain id
CHAIN_NAMES = {
    SONIC_MAINNET: "Sonic",
    SONIC_TESTNET: "Sonic testnet",
    ANVIL: "anvil (local)",
    EMBEDDED: "embedded py-evm chain",
}
DEV_CHAINS = frozenset({ANVIL, EMBEDDED, 1337})


def chain_name(chain_id: int) -> str:
    return CHAIN_NAMES.get(chain_id, f"chain {chain_id}")


def default_confirmations(chain_id: int) -> int:
    """Blocks a payment needs before it counts: none on dev chains, one elsewhere."""
    return 0 if chain_id in DEV_CHAINS else 1


@functools.cache
def artifact(name: str) -> dict[str, Any]:
    """The ABI and bytecode of contract ``name`` as exported by the contracts build."""
    folder = importlib.resources.files("sf_mcp.chain") / "artifacts"
    entry = folder / f"{name}.json"
    try:
        data: dict[str, Any] = json.loads(entry.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"contract artifact {name}.json is missing from sf_mcp/chain/artifacts: run `make -C contracts artifacts`"
        ) from None
    return data


def abi(name: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = artifact(name)["abi"]
    return entries


class ContractRecord(BaseModel):
    address: str
    block_number: int
    tx_hash: str


class Deployment(BaseModel):
    """Where the contracts live on one chain; ``sf-mcp deploy`` writes it, everything else reads it."""

    chain_id: int
    deployer: str
    operator: str
    dev: bool = False
    contracts: dict[str, ContractRecord]
    created_at: float = Field(default_factory=time.time)
    # What `sf-mcp deploy` found when it checked the USDC token for x402: {"enabled", "token_name", "token_version",
    # "problem"}; the server checks again at start (the settings may have changed since).
    x402: dict[str, Any] | None = None

    def address(self, name: str) -> str:
        try:
            return self.contracts[name].address
        except KeyError:
            raise ConfigError(f"the deployment for {chain_name(self.chain_id)} has no {name} contract") from None

    @property
    def start_block(self) -> int:
        """The first block any of our contracts existed in: where the indexer begins."""
        return min(r.block_number for r in self.contracts.values())

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Deployment:
        if not path.is_file():
            raise ConfigError(
                f"no deployment file at {path}: run `sf-mcp deploy --rpc-url URL` first "
                "(or set SF_DEPLOYMENT_FILE to an existing one)"
            )
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValidationError, ValueError) as exc:
            raise ConfigError(f"deployment file {path} is not valid: {exc}") from None
