"""A job whose server process dies mid-run is picked up after a restart and finishes exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import anyio
import pytest
from mcp.client import Client

from fakes._server import Behavior
from fakes.huggingface import FakeHuggingFace
from sf_mcp.config import load_settings
from sf_mcp.server import build_server
from support import UpdateWatcher, read_json, subscribed

pytestmark = pytest.mark.anyio

MODEL = "slow/model"


def _mcp_lines(*messages: dict) -> bytes:
    return b"".join(json.dumps(m).encode() + b"\n" for m in messages)


async def test_sigkilled_job_is_resumed_and_finishes_once(data_dir, monkeypatch) -> None:
    with FakeHuggingFace() as fake:
        fake.program(MODEL, Behavior(hang=True), Behavior())  # first call hangs, the next one answers
        env = {
            **os.environ,
            "SF_DATA_DIR": str(data_dir),
            "SF_HF_BASE_URL": fake.base_url,
            "SF_IMAGE_MODELS": json.dumps([MODEL]),
            "SF_LOCAL_RENDERER": "false",
            "SF_JOB_LEASE_S": "1",
        }
        for name, value in env.items():
            if name.startswith("SF_"):
                monkeypatch.setenv(name, value)

        # 1. A real server process starts the job and is killed while the provider works on it.
        proc = subprocess.Popen(
            [sys.executable, "-m", "sf_mcp.cli", "serve", "--transport", "stdio"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        try:
            proc.stdin.write(_mcp_lines(
                {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "crash-test", "version": "1"}}},
                {"jsonrpc": "2.0", "method": "notifications/initialized"},
                {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                    "name": "generate_image",
                    "arguments": {"prompt": "survive a crash", "payment": {"method": "free"},
                                  "width": 64, "height": 64}}},
            ))
            proc.stdin.flush()
            await anyio.to_thread.run_sync(fake.wait_for_calls, MODEL, 1)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdin.close()

        # 2. A new server on the same data dir resumes it once the dead worker's lease runs out.
        settings = load_settings()
        watcher = UpdateWatcher()
        async with Client(build_server(settings), mode="legacy", message_handler=watcher.message_handler) as client:
            [job] = await read_json(client, "generations://recent")
            assert job["status"] == "running"
            uri = f"generation://{job['task_id']}"
            async with subscribed(client, watcher, "legacy", uri):
                task = await read_json(client, uri)
                while task["status"] not in ("succeeded", "failed", "refunded"):
                    assert await watcher.next_update() == uri
                    task = await read_json(client, uri)
            assert task["status"] == "succeeded"
            assert len(fake.calls(MODEL)) == 2  # the killed attempt and the resumed one, nothing more
            recent = await read_json(client, "generations://recent")
            assert len(recent) == 1
