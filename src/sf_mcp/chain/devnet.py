"""The chain commands behind ``sf-mcp deploy``, ``sf-mcp devnet`` and ``sf-mcp indexer``, and an anvil launcher.

anvil comes from the contracts' npm toolchain
(``contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil``, installed by
``npm ci`` in ``contracts/``); ``SF_ANVIL_BIN`` names another binary.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from sf_mcp.chain import open_chain
from sf_mcp.chain.accounts import DEV_ADDRESSES, DEV_KEYS, FUNDED_ACCOUNTS
from sf_mcp.chain.client import Signer, connect_rpc, http_web3, is_unavailable
from sf_mcp.chain.contracts import Deployment, chain_name
from sf_mcp.chain.deploy import deploy
from sf_mcp.chain.indexer import Indexer
from sf_mcp.chain.operator import OperatorActions
from sf_mcp.chain.x402 import X402Chain
from sf_mcp.config import Settings
from sf_mcp.errors import ChainUnavailable, ConfigError
from sf_mcp.store import Store

ANVIL_RELATIVE = Path("contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")


def find_anvil() -> Path | None:
    """The anvil binary: SF_ANVIL_BIN, the repo's npm toolchain (from the package or the working dir), or PATH."""
    explicit = os.environ.get("SF_ANVIL_BIN")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    here = Path(__file__).resolve()
    for base in [*here.parents, Path.cwd()]:
        candidate = base / ANVIL_RELATIVE
        if candidate.is_file():
            return candidate
    found = shutil.which("anvil")
    return Path(found) if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Anvil:
    """A running anvil child process on a loopback port."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_anvil(*, port: int | None = None, block_time: float | None = None, quiet: bool = True) -> Anvil:
    binary = find_anvil()
    if binary is None:
        raise ConfigError(
            f"anvil not found: run `npm ci` in contracts/ (it installs {ANVIL_RELATIVE}) or set SF_ANVIL_BIN"
        )
    port = port or free_port()
    cmd = [str(binary), "--port", str(port), "--host", "127.0.0.1", "--accounts", "10"]
    if block_time:
        cmd += ["--block-time", str(block_time)]
    out = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen(cmd, stdout=out, stderr=out)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConfigError(f"anvil exited at start-up (code {process.returncode}); is port {port} in use?")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return Anvil(process, port)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise ConfigError("anvil did not open its port within 20 s")


async def run_deploy(settings: Settings, *, dev: bool, usdc: str | None = None, nft: str | None = None,
                     dev_wallet: str | None = None, treasury: str | None = None, operator: str | None = None,
                     contest_duration: int | None = None, min_stake_period: int | None = None) -> Deployment:
    """Deploy to ``settings.chain.rpc_url`` and write the deployment file; the key is SF_OPERATOR_KEY (or dev key #0)."""
    if settings.chain.rpc_url is None:
        raise ConfigError("deploy: give --rpc-url (the embedded chain deploys itself at start-up)")
    if settings.chain.operator_key is not None:
        deployer = Signer(settings.chain.operator_key.get_secret_value())
    elif dev:
        deployer = Signer(DEV_KEYS[0])
    else:
        raise ConfigError("deploy: set SF_OPERATOR_KEY to the deploying (admin and operator) key, or use --dev on anvil")
    w3 = http_web3(settings.chain.rpc_url, timeout_s=settings.chain.rpc_timeout_s)
    try:
        try:
            chain_id = await w3.eth.chain_id
        except Exception as exc:
            if is_unavailable(exc):
                raise ChainUnavailable(f"deploy: cannot reach {settings.chain.rpc_url} ({type(exc).__name__})") from exc
            raise
        if dev and chain_id in (146, 14601):
            raise ConfigError(f"deploy: --dev deploys mocks with public keys; refusing on {chain_name(chain_id)}")
        kwargs: dict[str, Any] = {}
        if contest_duration:
            kwargs["contest_duration"] = contest_duration
        deployment = await deploy(w3, deployer, operator=operator, dev=dev, usdc=usdc, nft=nft, dev_wallet=dev_wallet,
                                  treasury=treasury, min_stake_period=min_stake_period, **kwargs)
    finally:
        try:
            await w3.provider.disconnect()
        except Exception:
            pass
    deployment.save(settings.deployment_path)
    deployment.x402 = await check_x402(settings)
    deployment.save(settings.deployment_path)
    return deployment


async def check_x402(settings: Settings) -> dict[str, Any]:
    """Check the deployment's USDC for x402: EIP-3009 present and its EIP-712 domain = the configured name/version."""
    client = await connect_rpc(settings)
    try:
        problem = await X402Chain(client, token_name=settings.chain.x402_token_name,
                                  token_version=settings.chain.x402_token_version).check_domain()
    finally:
        await client.close()
    found: dict[str, Any] = {"enabled": problem is None, "token_name": settings.chain.x402_token_name,
                             "token_version": settings.chain.x402_token_version}
    if problem is not None:
        found["problem"] = problem
    return found


def describe(deployment: Deployment, path: Path) -> str:
    lines = [f"Deployed on {chain_name(deployment.chain_id)} (chain id {deployment.chain_id}); wrote {path}"]
    for name, record in deployment.contracts.items():
        lines.append(f"  {name:32} {record.address}  (block {record.block_number})")
    lines.append(f"  admin / deployer {deployment.deployer}; operator {deployment.operator}")
    if deployment.x402 is not None:
        x402 = deployment.x402
        lines.append(f"  x402: on (the USDC's EIP-712 domain is {x402['token_name']!r} version {x402['token_version']!r})"
                     if x402["enabled"] else f"  x402: off ({x402.get('problem')})")
    return "\n".join(lines)


def devnet(settings: Settings, *, port: int) -> int:
    """Start anvil, deploy with the dev mocks, print addresses and accounts, and run until interrupted.

    SIGTERM is treated like Ctrl-C so that anvil never outlives the command.
    """
    signal.signal(signal.SIGTERM, _interrupt)
    node = start_anvil(port=port, quiet=True)
    try:
        dev_settings = settings.updated(rpc_url=node.url)
        deployment = anyio.run(lambda: run_deploy(dev_settings, dev=True))
        print(describe(deployment, settings.deployment_path))
        print(f"\nanvil is listening at {node.url} (Ctrl-C stops it). Funded accounts (public dev keys):")
        for i, (address, key) in enumerate(zip(DEV_ADDRESSES, DEV_KEYS, strict=True)):
            extra = " + 1000 USDC, 3 BanditKidz" if i < FUNDED_ACCOUNTS else ""
            print(f"  #{i} {address}  key {key}  10000 S{extra}")
        print(f"\nServe against it:  sf-mcp serve --rpc-url {node.url}")
        print(f'Pay with cast:     cast send {deployment.address("SonicAIGenerationPayment")} '
              f'"payWithS(string,string)" "a red fox" image --value 3ether --private-key {DEV_KEYS[0]} '
              f"--rpc-url {node.url}")
        sys.stdout.flush()
        node.process.wait()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        node.stop()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


async def run_indexer(settings: Settings) -> dict[str, Any]:
    """The indexer without the MCP server: follows the chain, creates jobs, submits and refunds; until cancelled."""
    if settings.chain.rpc_url is None:
        raise ConfigError("indexer: give --rpc-url; the embedded chain only lives inside `sf-mcp serve`")
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    chain = await open_chain(settings)
    try:
        store = await Store.open(settings.storage.database)
    except BaseException:
        await chain.close()
        raise
    operator = OperatorActions(chain, store, resend_after_s=settings.chain.operator_resend_after_s)
    indexer = Indexer(chain, store, operator=operator, batch_blocks=settings.chain.indexer_batch_blocks,
                      poll_s=settings.chain.indexer_poll_s, max_backoff_s=settings.chain.indexer_max_backoff_s)
    try:
        await indexer.run()
    finally:
        with anyio.CancelScope(shield=True):
            await chain.close()
            await store.close()
            print(json.dumps(indexer.checkpoint.model_dump(), indent=2), file=sys.stderr)
    return indexer.checkpoint.model_dump()
