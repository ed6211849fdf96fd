"""A contest agent: four wallets pay, generate, stake, vote and collect their rewards, all through sf-mcp's tools.

No LLM: a plain MCP Python SDK client that drives one weekly contest from start to payout.

How it talks to the server
    One sf-mcp server, several wallets. The embedded chain lives inside one server process, so
    the agent uses the HTTP transport: each wallet signs in with Ethereum (SIWE, the same flow as
    ``sf-mcp login``), gets its own bearer token and its own MCP session, and every tool acts for
    that session's wallet only. Over HTTP the server never signs for anyone: ``prepare_payment``,
    ``stake``, ``vote`` and ``contest`` answer unsigned transactions (a TxPlan), which each wallet
    signs here with its own key and hands to ``send_transaction`` to broadcast (the embedded chain
    has no RPC endpoint of its own; on anvil or Sonic a wallet may equally send them itself).

    Contests last a week, so the server runs with ``SF_DEV_TOOLS=1``, which adds
    ``dev_advance_time``. It exists only on the embedded chain or a ``--dev`` anvil deployment;
    the server refuses to start with it anywhere else.

What it does (the numbers are the defaults of a dev deployment: 3 S or 1 USDC per generation)
    1. start ``sf-mcp serve --transport http`` (or use ``--url``) and sign in dev accounts 1-4:
       Ana, Ben, Cy and Dee;
    2. stake BanditKidz NFTs: Ana 1, Ben 2, Cy 3; Dee stakes none (she only creates);
    3. move to the next contest: voting power is the NFTs staked when a contest starts;
    4. each wallet pays (prepare_payment, sign, send_transaction, verify_payment) and generates
       its entry: three images paid in S, and Dee's video paid in USDC, for which the agent waits
       for the ``generation://`` resource update;
    5. every staker votes (weight = its NFTs) for every other wallet's entry, then the agent waits
       for ``leaderboard://week`` updates until the leaderboard has counted every vote;
    6. moves past the contest's end, finalizes it, the top three claim their prizes and the
       stakers claim their rewards;
    7. prints the standings and what each wallet received.

    The payout math (docs/contest.md): 15 % of every payment goes to the contest's prize pool,
    split 50/30/20 among the top three creators (dust to first); 25 % goes to the stakers, the
    same amount per staked NFT.

Run it
    python examples/contest_agent.py                                   # embedded chain, own server
    sf-mcp devnet &                                                    # or a fresh local anvil:
    python examples/contest_agent.py --rpc-url http://127.0.0.1:8545
    python examples/contest_agent.py --url http://127.0.0.1:8000       # a server started with SF_DEV_TOOLS=1
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx2
from anyio.streams.text import TextReceiveStream
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

# The public development mnemonic (anvil's; the embedded chain funds the same accounts). Never use it on Sonic.
DEV_MNEMONIC = "test test test test test test test test test test test junk"


@dataclass
class Player:
    """One wallet in the contest: who it is, how many NFTs it stakes, and what it enters."""

    name: str
    account_index: int  # dev account m/44'/60'/0'/0/<index>; a dev deployment gives it NFTs #3i+1..#3i+3
    stake: int  # NFTs to stake (its voting weight)
    entry: str  # the prompt of its contest entry
    kind: str = "image"
    pay_with: str = "S"

    @property
    def token_ids(self) -> list[int]:
        first = 3 * self.account_index + 1
        return list(range(first, first + self.stake))


PLAYERS = [
    Player("Ana", 1, stake=1, entry="a lighthouse made of stained glass at dusk"),
    Player("Ben", 2, stake=2, entry="a fox astronaut planting a flag on the moon"),
    Player("Cy", 3, stake=3, entry="an origami city folding itself at sunrise"),
    Player("Dee", 4, stake=0, entry="waves of neon ink crashing on a quiet beach", kind="video", pay_with="USDC"),
]


class ToolFailed(RuntimeError):
    pass


@dataclass
class Wallet:
    """A signed-in wallet: its key (kept here; only signatures leave) and its own MCP session."""

    player: Player
    account: LocalAccount
    client: Client
    updates: anyio.abc.ObjectReceiveStream[str] | None = None
    payments: list[dict[str, Any]] = field(default_factory=list)  # verify_payment verdicts
    entry_task: str | None = None
    entry_id: int | None = None  # the contest generation id (the payment's request id)
    rewards: dict[str, Any] | None = None  # stake(action="claim") payout
    prize: dict[str, Any] | None = None  # contest(action="claim") payout

    @property
    def address(self) -> str:
        return self.account.address.lower()

    async def tool(self, name: str, **arguments: Any) -> dict[str, Any]:
        result = await self.client.call_tool(name, arguments)
        if result.is_error:
            text = " ".join(getattr(c, "text", "") for c in result.content)
            raise ToolFailed(f"{self.player.name}: {name} refused: {text}")
        return result.structured_content

    async def act(self, name: str, **arguments: Any) -> dict[str, Any]:
        """Call a tool that answers a TxPlan, sign its transactions in order and broadcast them."""
        answer = await self.tool(name, **arguments)
        if answer["mode"] == "plan":
            answer["sent"] = [await self.sign_and_send(tx) for tx in answer["plan"]["transactions"]]
        return answer

    async def sign_and_send(self, tx: dict[str, Any]) -> dict[str, Any]:
        signed = self.account.sign_transaction({
            "type": 2, "chainId": tx["chain_id"], "nonce": tx["nonce"], "to": _checksum(tx["to"]),
            "value": int(tx["value"]), "data": tx["data"], "gas": tx["gas"],
            "maxFeePerGas": int(tx["max_fee_per_gas"]), "maxPriorityFeePerGas": int(tx["max_priority_fee_per_gas"]),
        })
        relayed = await self.tool("send_transaction", signed_tx="0x" + bytes(signed.raw_transaction).hex())
        (sent,) = relayed["sent"]["transactions"]
        if sent["status"] != "success":
            raise ToolFailed(f"{self.player.name}: {tx['summary']} reverted ({sent['tx_hash']})")
        return sent

    async def read(self, uri: str) -> Any:
        result = await self.client.read_resource(uri)
        return json.loads(result.contents[0].text)

    async def next_update(self, timeout: float) -> str:
        assert self.updates is not None
        with anyio.fail_after(timeout):
            return await self.updates.receive()


def _checksum(address: str) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(address)


# -- the server and the sessions -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def started_server(*, rpc_url: str | None, data_dir: Path | None) -> AsyncIterator[str]:
    """``sf-mcp serve --transport http`` with the dev tools on a free loopback port; yields its URL."""
    port = _free_port()
    command = [sys.executable, "-m", "sf_mcp.cli"]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    command += ["serve", "--transport", "http", "--port", str(port)]
    if rpc_url:
        command += ["--rpc-url", rpc_url]
    # The offline renderer stays the last provider, so a dev run works without model API keys.
    env = {"SF_LOCAL_RENDERER": "true", **os.environ, "SF_DEV_TOOLS": "1"}
    process = await anyio.open_process(command, env=env, stdout=None, stderr=subprocess.PIPE)
    ready = anyio.Event()

    async def relay_log() -> None:
        # The server prints "serving MCP at ..." once its socket is bound; everything is passed on.
        async for line in TextReceiveStream(process.stderr):
            sys.stderr.write(line)
            if "serving MCP at" in line:
                ready.set()
        ready.set()  # it exited: the check below says so

    async with anyio.create_task_group() as tg:
        tg.start_soon(relay_log)
        try:
            with anyio.fail_after(60):
                await ready.wait()
            if process.returncode is not None:
                raise RuntimeError(f"sf-mcp serve exited with code {process.returncode}")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            with anyio.move_on_after(10, shield=True):
                await process.wait()
            if process.returncode is None:
                process.kill()
            tg.cancel_scope.cancel()


async def sign_in(url: str, account: LocalAccount) -> str:
    """Sign-In with Ethereum: the server's message, signed locally; answers a bearer token."""
    async with httpx2.AsyncClient(base_url=url, timeout=30) as http:
        issued = await http.get("/auth/nonce", params={"address": account.address})
        issued.raise_for_status()
        message = issued.json()["message"]
        signature = "0x" + bytes(account.sign_message(encode_defunct(text=message)).signature).hex()
        verified = await http.post("/auth/verify", json={"message": message, "signature": signature})
        verified.raise_for_status()
        return verified.json()["token"]


@asynccontextmanager
async def wallet_session(url: str, player: Player) -> AsyncIterator[Wallet]:
    """A signed-in MCP session for ``player``, listening to leaderboard://week from the start."""
    Account.enable_unaudited_hdwallet_features()
    account = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{player.account_index}")
    token = await sign_in(url, account)
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30, read=300)))
        client = await stack.enter_async_context(
            Client(streamable_http_client(f"{url}/mcp", http_client=http), mode="auto", cache=None))
        yield Wallet(player=player, account=account, client=client)


@asynccontextmanager
async def listening(wallet: Wallet, *uris: str) -> AsyncIterator[None]:
    """Collect resource updates for ``uris`` into ``wallet.updates`` while the block runs."""
    send, receive = anyio.create_memory_object_stream[str](1000)
    async with send, receive, wallet.client.listen(resource_subscriptions=list(uris)) as sub, \
            anyio.create_task_group() as tg:

        async def pump() -> None:
            async for event in sub:
                await send.send(str(event.uri))

        tg.start_soon(pump)
        wallet.updates = receive
        try:
            yield
        finally:
            wallet.updates = None
            tg.cancel_scope.cancel()


# -- the contest -----------------------------------------------------------------------------------------------


async def advance_to_next_contest(wallet: Wallet) -> dict[str, Any]:
    now = await wallet.tool("dev_advance_time", seconds=1)
    return await wallet.tool("dev_advance_time", seconds=now["contest_end"] - now["timestamp"])


async def pay(wallet: Wallet, prompt: str, kind: str, method: str) -> str:
    """Pay for one generation on chain; answers the payment transaction's hash, checked by verify_payment."""
    answer = await wallet.act("prepare_payment", method=method, prompt=prompt, generation_type=kind)
    tx_hash = answer["sent"][-1]["tx_hash"] if answer["mode"] == "plan" else answer["sent"]["transactions"][-1]["tx_hash"]
    verdict = await wallet.tool("verify_payment", tx_hash=tx_hash, generation_type=kind, prompt=prompt)
    # consumed_by may already be set: the server's indexer saw the payment first and started the task
    # itself; generating with the same payment and prompt then returns that task.
    if not verdict["valid"]:
        raise ToolFailed(f"{wallet.player.name}: payment {tx_hash} not accepted: {verdict}")
    wallet.payments.append(verdict)
    return tx_hash


async def enter(wallet: Wallet) -> None:
    """Pay for and generate the wallet's entry; a video is awaited through its resource update."""
    p = wallet.player
    tx_hash = await pay(wallet, p.entry, p.kind, p.pay_with)
    payment = {"method": "crypto", "tx_hash": tx_hash}
    if p.kind == "image":
        task = await wallet.tool("generate_image", prompt=p.entry, payment=payment, width=256, height=256)
    else:
        task = await wallet.tool("generate_video", prompt=p.entry, payment=payment, duration_s=1)
        uri = task["resource_uri"]
        async with listening(wallet, uri):
            task = await wallet.read(uri)  # it may have finished before the subscription started
            while task["status"] not in ("succeeded", "failed", "refunded"):
                await wallet.next_update(timeout=120)
                task = await wallet.read(uri)
    if task["status"] != "succeeded":
        raise ToolFailed(f"{p.name}: the {p.kind} failed: {task.get('error')}")
    wallet.entry_task = task["task_id"]
    wallet.entry_id = wallet.payments[-1]["request_id"]
    print(f"  {p.name:4} entered generation {wallet.entry_id}: {p.kind} by {task['model']} ({task['content_uri']})")


async def vote_for_others(voter: Wallet, others: list[Wallet]) -> int:
    """Vote for each other entry; one the server has not entered in the contest yet is retried on an update."""
    cast = 0
    async with listening(voter, "leaderboard://week"):
        for other in others:
            for attempt in range(20):
                try:
                    await voter.act("vote", generation_id=other.entry_id)
                    break
                except ToolFailed as exc:
                    if "not submitted yet" not in str(exc) or attempt == 19:
                        raise
                    await voter.next_update(timeout=30)  # GenerationSubmitted updates the leaderboard
            cast += voter.player.stake
    return cast


async def wait_for_leaderboard(wallet: Wallet, *, points: int) -> dict[str, Any]:
    """Wait (on leaderboard://week updates, not by polling) until the leaderboard has counted ``points`` points."""
    async with listening(wallet, "leaderboard://week"):
        board = await wallet.read("leaderboard://week")
        while sum(e["points"] for e in board["entries"]) < points:
            await wallet.next_update(timeout=60)
            board = await wallet.read("leaderboard://week")
    return board


async def run_contest(url: str) -> dict[str, Any]:
    async with AsyncExitStack() as stack:
        wallets = [await stack.enter_async_context(wallet_session(url, p)) for p in PLAYERS]
        by_address = {w.address: w for w in wallets}
        stakers = [w for w in wallets if w.player.stake]

        print("1. staking BanditKidz NFTs")
        for w in stakers:
            await w.act("stake", action="stake", token_ids=w.player.token_ids)
            print(f"  {w.player.name:4} staked {', '.join(f'#{i}' for i in w.player.token_ids)}")

        moved = await advance_to_next_contest(wallets[0])
        contest_id = moved["contest_id"]
        print(f"2. contest {contest_id} is open (dev_advance_time); voting power counts the NFTs staked before it")

        print("3. paying and generating the entries")
        for w in wallets:
            await enter(w)

        print("4. voting")
        points = 0
        for voter in stakers:
            points += await vote_for_others(voter, [w for w in wallets if w is not voter])
            print(f"  {voter.player.name:4} voted for {len(wallets) - 1} entries with weight {voter.player.stake}")
        board = await wait_for_leaderboard(wallets[0], points=points)
        print(f"  the leaderboard counted all {points} points; pool {board['prize_pool_s']} S + {board['prize_pool_usdc']} USDC")

        print("5. closing the contest")
        moved = await advance_to_next_contest(wallets[0])
        finalized = await wallets[0].act("contest", action="finalize", contest_id=contest_id)
        print(f"  {finalized['summary']}")
        final = await wallets[0].tool("leaderboard", period="week", contest_id=contest_id)
        for w in wallets:
            try:
                w.prize = (await w.act("contest", action="claim"))["payout"]
            except ToolFailed as exc:
                if "no contest prizes" not in str(exc):
                    raise
            if w.player.stake:
                w.rewards = (await w.act("stake", action="claim"))["payout"]

    report = {
        "contest_id": contest_id,
        "prize_pool": {"s": final["prize_pool_s"], "usdc": final["prize_pool_usdc"]},
        "standings": [
            {**e, "name": by_address[e["creator"]].player.name if e["creator"] in by_address else e["creator"]}
            for e in final["entries"]
        ],
        "wallets": [
            {
                "name": w.player.name, "address": w.address, "staked": w.player.token_ids, "entry": w.entry_id,
                "payments": [{"tx_hash": v["tx_hash"], "token": v["token"], "amount": v["amount"],
                              "request_id": v["request_id"]} for v in w.payments],
                "prize": w.prize, "staking_rewards": w.rewards,
            }
            for w in wallets
        ],
    }
    print_report(report)
    return report


def print_report(report: dict[str, Any]) -> None:
    print(f"\nContest {report['contest_id']}: prize pool {report['prize_pool']['s']} S + {report['prize_pool']['usdc']} USDC")
    print(f"{'rank':>4}  {'creator':8} {'points':>6} {'votes':>5}")
    for e in report["standings"]:
        print(f"{e['rank']:>4}  {e['name']:8} {e['points']:>6} {e['votes']:>5}")
    print(f"\n{'wallet':8} {'paid':>12}  {'prize S':>10} {'prize USDC':>10}  {'staking S':>10} {'staking USDC':>12}")
    for w in report["wallets"]:
        paid = ", ".join(_amount(p["token"], p["amount"]) for p in w["payments"])
        prize, rewards = w["prize"] or {}, w["staking_rewards"] or {}
        print(f"{w['name']:8} {paid:>12}  {prize.get('s', '-'):>10} {prize.get('usdc', '-'):>10}  "
              f"{rewards.get('s', '-'):>10} {rewards.get('usdc', '-'):>12}")


def _amount(token: str, amount: str) -> str:
    decimals = 18 if token == "S" else 6
    return f"{Decimal(int(amount)) / Decimal(10**decimals):f}".rstrip("0").rstrip(".") + f" {token}"


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="an sf-mcp HTTP server started with SF_DEV_TOOLS=1 (default: start one)")
    parser.add_argument("--rpc-url", help="start the server against this dev node (e.g. `sf-mcp devnet`'s anvil)")
    parser.add_argument("--data-dir", type=Path, help="the started server's data dir (with --rpc-url: where "
                        "`sf-mcp deploy` wrote deployment.json; default a temporary dir on the embedded chain)")
    args = parser.parse_args(argv)
    if args.url:
        return await run_contest(args.url.rstrip("/").removesuffix("/mcp"))
    with tempfile.TemporaryDirectory(prefix="sf-mcp-contest-") as tmp:
        data_dir = args.data_dir or (None if args.rpc_url else Path(tmp))
        async with started_server(rpc_url=args.rpc_url, data_dir=data_dir) as url:
            return await run_contest(url)


if __name__ == "__main__":
    try:
        anyio.run(main)
    except ToolFailed as exc:
        sys.exit(f"contest agent: {exc}")
