"""examples/x402_agent.py end to end: an agent pays per call with USDC only, over stdio, on the embedded chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from support import load_example

pytestmark = pytest.mark.anyio


def _load_agent() -> Any:
    return load_example("x402_agent")


async def test_the_x402_agent_pays_two_images_with_signed_usdc(tmp_path: Path) -> None:
    agent = _load_agent()
    fresh_dir = tmp_path / "server"
    report = await agent.main(["--data-dir", str(fresh_dir)])
    payer = Account.from_key(agent.DEV_KEY_3).address
    assert report["payer"] == payer and report["price"]["display"] == "1 USDC"
    paid = report["paid"]
    assert len(paid) == 2 and len({p["task_id"] for p in paid}) == 2 and len({p["transaction"] for p in paid}) == 2
    assert all(p["payer"] == payer and p["content_uri"].startswith("content://") for p in paid)
