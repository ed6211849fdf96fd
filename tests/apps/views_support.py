"""The MCP Apps browser tests' parts: a live ``sf-mcp serve``, a contest set up through the tools, the browser host.

``served()`` starts ``sf-mcp serve --transport http`` with the development tools (a contest
lasts a week), and ``set_up_contest`` prepares what the views show, with the MCP Python SDK
over HTTP exactly as ``examples/contest_agent.py`` plays a contest: the viewer (dev account 1)
stakes an NFT before the open contest starts, a creator (dev account 2) pays 3 S and enters
an image, and the viewer makes a few free images for the gallery.

``Host`` runs ``tests/browser/apps.mjs`` (playwright-core with Debian's chromium, the ext-apps
``AppBridge`` and the MCP TypeScript client, signed in as the viewer) and sends it one command
at a time.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from support import load_example, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
BROWSER = ROOT / "tests" / "browser"
SHOTS = ROOT / "test-output" / "apps"

# A prompt made of markup: the views must show these characters, never build elements from them.
MARKUP_PROMPT = ('<img src=x onerror="document.body.dataset.injected=1"><script>document.body.dataset.injected=1'
                 '</script><b class="injected" data-injected="1">bold</b> &lt;i&gt; a fox')
# What survives the server's prompt cleaning still holds characters HTML gives meaning to.
PLAIN_PROMPT_WITH_SIGNS = 'fox <3 & "friends" a < b > c'


def load_agent() -> Any:
    """examples/contest_agent.py as a module: its sign-in, sessions and signing helpers."""
    return sys.modules.get("contest_agent") or load_example("contest_agent")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(data_dir: Path) -> Iterator[str]:
    """``sf-mcp serve --transport http`` with the dev tools, as a user runs it; yields its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_") and k != "HF_TOKEN"}
    env.update(SF_DATA_DIR=str(data_dir), SF_DEV_TOOLS="1", SF_LOCAL_RENDERER="true", SF_INDEXER_POLL_S="0.2",
               SF_FREE_DAILY_QUOTA="50")
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "sf_mcp.cli", "serve", "--transport", "http", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until_serving(process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclass
class Contest:
    """What the set-up made: who views, whose entry they can vote for, and the token the browser host uses."""

    url: str
    viewer: LocalAccount
    creator: LocalAccount
    token: str
    entry_task: str
    entry_id: int
    contest_id: int
    free_tasks: list[str]


async def set_up_contest(url: str) -> Contest:
    agent = load_agent()
    viewer_player = agent.Player("Viewer", 1, stake=1, entry="")
    creator_player = agent.Player("Creator", 2, stake=0, entry="a lighthouse of stained glass at dusk")
    async with AsyncExitStack() as stack:
        viewer = await stack.enter_async_context(agent.wallet_session(url, viewer_player))
        creator = await stack.enter_async_context(agent.wallet_session(url, creator_player))
        await viewer.act("stake", action="stake", token_ids=viewer_player.token_ids)
        moved = await agent.advance_to_next_contest(viewer)
        await agent.enter(creator)
        free_tasks = []
        for prompt in ("a red fox in snow", "a paper boat on a pond", PLAIN_PROMPT_WITH_SIGNS, "a quiet harbour"):
            made = await viewer.tool("generate_image", prompt=prompt, payment={"method": "free"}, width=128, height=128)
            free_tasks.append(made["task_id"])
        await _until_entered(agent, viewer, creator.entry_id)
        token = await agent.sign_in(url, viewer.account)
        return Contest(url=url, viewer=viewer.account, creator=creator.account, token=token,
                       entry_task=str(creator.entry_task), entry_id=int(creator.entry_id),
                       contest_id=int(moved["contest_id"]), free_tasks=free_tasks)


async def _until_entered(agent: Any, viewer: Any, entry_id: int) -> None:
    """Wait (on leaderboard://week updates) until the operator submitted the entry, so a vote can be planned.

    Planning a vote sends nothing: the viewer's vote is cast later, from the gallery view.
    """
    async with agent.listening(viewer, "leaderboard://week"):
        for _ in range(30):
            try:
                await viewer.tool("vote", generation_id=entry_id)
                return
            except agent.ToolFailed as exc:
                if "not submitted yet" not in str(exc):
                    raise
                await viewer.next_update(timeout=30)
    raise AssertionError(f"generation {entry_id} was never submitted to the contest")


async def wait_for_points(url: str, account: LocalAccount, points: int) -> dict[str, Any]:
    """The open contest's leaderboard once the indexer counted ``points`` points (waits on its updates)."""
    agent = load_agent()
    player = agent.Player("Watcher", 1, stake=0, entry="")
    async with agent.wallet_session(url, player) as wallet:
        board: dict[str, Any] = await agent.wait_for_leaderboard(wallet, points=points)
        return board


def sign(account: LocalAccount, unsigned: dict[str, Any]) -> str:
    """Sign one transaction of a plan, as the user's wallet would (the view shows it as JSON)."""
    signed = account.sign_transaction({
        "type": 2, "chainId": unsigned["chainId"], "nonce": unsigned["nonce"], "to": to_checksum_address(unsigned["to"]),
        "value": int(unsigned["value"]), "data": unsigned["data"], "gas": unsigned["gas"],
        "maxFeePerGas": int(unsigned["maxFeePerGas"]), "maxPriorityFeePerGas": int(unsigned["maxPriorityFeePerGas"]),
    })
    return "0x" + bytes(signed.raw_transaction).hex()


class HostError(AssertionError):
    pass


class Host:
    """``tests/browser/apps.mjs``: one chromium for the whole module; each call is one command."""

    def __init__(self, url: str, token: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self._node = subprocess.Popen(["node", "apps.mjs", url, token, str(SHOTS)], cwd=BROWSER, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._lock = threading.Lock()

    def __call__(self, cmd: str, **args: Any) -> Any:
        node = self._node
        assert node.stdin is not None and node.stdout is not None and node.stderr is not None
        with self._lock:
            deadline = threading.Timer(180, node.kill)  # a hung browser fails the test instead of hanging it
            deadline.start()
            try:
                node.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
                node.stdin.flush()
                line = node.stdout.readline()
            finally:
                deadline.cancel()
        if not line:
            raise HostError("the browser host ended:\n" + node.stderr.read()[-3000:])
        answer = json.loads(line)
        if "error" in answer:
            raise HostError(answer["error"])
        return answer["ok"]

    def close(self) -> None:
        node = self._node
        assert node.stdin is not None
        node.stdin.close()
        try:
            node.wait(timeout=30)
        finally:
            if node.poll() is None:
                node.kill()
