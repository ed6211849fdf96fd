"""generate_video: answers at once with a running task, then progress, the resource update and the mp4."""

from __future__ import annotations

import base64
import json

import pytest
from mcp.client import Client

from fakes._server import Behavior
from fakes.huggingface import FakeHuggingFace
from sf_mcp.config import load_settings
from sf_mcp.server import build_server
from support import UpdateWatcher, read_json, subscribed

pytestmark = pytest.mark.anyio
VIDEO_MODEL = "video/slow-model"


@pytest.fixture
def video_hf():
    with FakeHuggingFace(video_models=(VIDEO_MODEL,)) as fake:
        fake.program(VIDEO_MODEL, Behavior(delay_s=2.5))  # longer than the tool waits before answering
        yield fake


async def test_video_returns_running_then_updates_then_serves_mp4(data_dir, video_hf, mode, monkeypatch) -> None:
    monkeypatch.setenv("SF_HF_BASE_URL", video_hf.base_url)
    monkeypatch.setenv("SF_VIDEO_MODELS", json.dumps([VIDEO_MODEL]))
    monkeypatch.setenv("SF_LOCAL_RENDERER", "false")
    settings = load_settings(data_dir=data_dir)
    watcher = UpdateWatcher()
    progress: list[str | None] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    async with Client(build_server(settings), mode=mode, message_handler=watcher.message_handler) as client:
        async with subscribed(client, watcher, mode, "generations://recent"):
            result = await client.call_tool(
                "generate_video", {"prompt": "a slow sunrise", "payment": {"method": "free"}, "duration_s": 2},
                progress_callback=on_progress,
            )
            assert not result.is_error, result.content
            info = result.structured_content
            assert info["status"] in ("queued", "running")
            assert result.content[0].type == "resource_link" and result.content[0].uri == info["resource_uri"]
            assert progress and "queued" in progress[0]
            assert await watcher.next_update() == "generations://recent"

        task = await read_json(client, info["resource_uri"])
        assert task["status"] == "succeeded" and task["mime_type"] == "video/mp4"
        media = (await client.read_resource(task["content_uri"])).contents[0]
        assert media.mime_type == "video/mp4"
        assert base64.b64decode(media.blob)[4:8] == b"ftyp"


async def test_video_with_the_local_renderer_is_a_real_mp4(settings, mode) -> None:
    watcher = UpdateWatcher()
    async with Client(build_server(settings), mode=mode, message_handler=watcher.message_handler) as client:
        async with subscribed(client, watcher, mode, "generations://recent"):
            result = await client.call_tool("generate_video", {"prompt": "offline clip", "payment": {"method": "free"}})
            assert not result.is_error
            task_uri = result.structured_content["resource_uri"]
            if result.structured_content["status"] != "succeeded":
                assert await watcher.next_update() == "generations://recent"
        task = await read_json(client, task_uri)
        assert task["status"] == "succeeded" and task["local_renderer"] is True
        media = (await client.read_resource(task["content_uri"])).contents[0]
        assert media.mime_type == "video/mp4" and base64.b64decode(media.blob)[4:8] == b"ftyp"
