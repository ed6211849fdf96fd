"""The indexer rides out an RPC outage: backs off (capped, jittered), says "degraded", counts the outage, and
picks up by itself (a payment made during the outage still becomes a job) once the RPC answers again.

anvil from the contracts' npm toolchain, behind the loopback proxy that the test switches off and on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client
from prometheus_client import generate_latest
from tests.chain.conftest import Session
from tests.chain.rpc_proxy import RpcProxy
from tests.chain.test_anvil import _settings, anvil, cast_pay, proxy  # noqa: F401 (fixtures)

from sf_mcp.chain import IndexerState
from sf_mcp.server import build_server, open_http_app

pytestmark = [pytest.mark.anyio, pytest.mark.anvil]
MAX_BACKOFF_S = 0.4


async def test_the_indexer_backs_off_through_an_rpc_outage_and_recovers_by_itself(
    anvil: Any, proxy: RpcProxy, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node, deployment = anvil
    settings = _settings(data_dir, proxy.url, deployment, monkeypatch).updated(
        indexer_max_backoff_s=MAX_BACKOFF_S)
    with anyio.fail_after(120):
        async with open_http_app(settings) as (_, surface), \
                Client(build_server(settings, http=surface), mode="auto") as client:
            s = Session(client=client, services=surface.services)
            indexer = s.indexer
            await indexer.sync()
            waits: list[float] = []
            failing, recovered = anyio.Event(), anyio.Event()
            real_pause, real_recovered = indexer._pause, indexer._recovered

            async def pause(seconds: float) -> None:
                if indexer.state is IndexerState.DEGRADED:
                    waits.append(seconds)
                    if indexer.checkpoint.failures_in_a_row >= 5:
                        failing.set()
                await real_pause(seconds)

            def recovered_now() -> None:
                was = indexer.state
                real_recovered()
                if was is IndexerState.DEGRADED:
                    recovered.set()

            monkeypatch.setattr(indexer, "_pause", pause)
            monkeypatch.setattr(indexer, "_recovered", recovered_now)

            proxy.down = True
            indexer.nudge()
            await failing.wait()
            status, checks = await surface.status()
            assert status == "degraded" and checks["indexer"]["detail"].startswith("degraded"), checks
            assert checks["database"]["ok"] and checks["providers"]["ok"]
            assert b"sf_mcp_indexer_outages_total 1.0" in generate_latest(surface.metrics.registry)
            assert max(waits) <= MAX_BACKOFF_S and len(set(waits)) == len(waits)  # capped; jittered
            # Someone pays on chain directly while our RPC is down.
            tx = cast_pay(node.url, s.chain.deployment.address("SonicAIGenerationPayment"), "paid in the outage")

            proxy.down = False
            indexer.nudge()
            await recovered.wait()
            await indexer.sync()
            assert indexer.state is IndexerState.RUNNING and indexer.checkpoint.outages == 1
            jobs = [r for r in await s.services.store.generations.recent(limit=20) if r.payment.get("tx_hash") == tx]
            assert len(jobs) == 1
            status, _ = await surface.status()
            assert status == "ready"
