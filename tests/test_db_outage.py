"""A database another process holds locked (a backup, an operator's sqlite3 shell) never ends the server.

The lock is real: the test opens the same SQLite file and holds ``BEGIN IMMEDIATE`` until it releases it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import anyio
import pytest

import sf_mcp.jobs.runner as runner_module
import sf_mcp.store.db as db_module
from sf_mcp.config import Settings
from sf_mcp.errors import StoreUnavailable
from support import connected

pytestmark = pytest.mark.anyio
SMALL = {"width": 64, "height": 64}


def _signal_failures(target: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> anyio.Event:
    """Set the returned event once ``target.name`` has failed because the database was unavailable."""
    failed = anyio.Event()
    real = getattr(target, name)

    async def watched(*args: Any, **kwargs: Any) -> Any:
        try:
            return await real(*args, **kwargs)
        except StoreUnavailable:
            failed.set()
            raise

    monkeypatch.setattr(target, name, watched)
    return failed


async def test_a_locked_database_is_a_retryable_error_and_loses_no_job(settings: Settings,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr(runner_module, "STORE_RETRY_MAX_S", 0.2, raising=False)
    with anyio.fail_after(120):
        async with connected(settings, mode="auto") as (client, services):
            started, gate = anyio.Event(), anyio.Event()
            real_run = services.providers.run

            async def held(request: Any, *, on_attempt: Any = None) -> Any:
                if not gate.is_set():
                    started.set()
                    await gate.wait()
                return await real_run(request, on_attempt=on_attempt)

            monkeypatch.setattr(services.providers, "run", held)
            first: list[Any] = []

            async def call_first() -> None:
                first.append(await client.call_tool(
                    "generate_image", {"prompt": "running when the lock came", "payment": {"method": "free"}, **SMALL}))

            async with anyio.create_task_group() as tg:
                tg.start_soon(call_first)
                await started.wait()
                (job,) = [r for r in await services.store.generations.recent(limit=5)
                          if r.prompt == "running when the lock came"]
                claim_failed = _signal_failures(services.store.generations, "claim_next", monkeypatch)
                write_failed = _signal_failures(services.store.generations, "mark_succeeded", monkeypatch)

                outside = sqlite3.connect(settings.storage.data_dir / "sf-mcp.db", isolation_level=None)
                outside.execute("BEGIN IMMEDIATE")  # an operator's shell holds the write lock
                try:
                    services.runner.wake()
                    await claim_failed.wait()  # an idle worker met the lock and lives on
                    refused = await client.call_tool(
                        "generate_image", {"prompt": "while locked", "payment": {"method": "free"}, **SMALL})
                    assert refused.is_error
                    text = " ".join(getattr(c, "text", "") for c in refused.content)
                    assert "database is locked" in text and "try again" in text, text
                    gate.set()
                    await write_failed.wait()  # the generated image is waiting to be recorded
                finally:
                    outside.execute("ROLLBACK")
                    outside.close()
                done = await services.runner.wait_finished(job.task_id)
                assert done.status == "succeeded" and done.run_count == 1  # recorded by the same run, not re-run
            after = await client.call_tool(
                "generate_image", {"prompt": "after the lock", "payment": {"method": "free"}, **SMALL})
            assert not after.is_error, after.content
            assert after.structured_content["status"] == "succeeded"
