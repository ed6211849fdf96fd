"""A bounded wait in generate_image, get_generation for the result, and notes that say what changed."""

from __future__ import annotations

import json

import pytest
from mcp.client import Client

from fakes._server import Behavior
from fakes.huggingface import FakeHuggingFace
from sf_mcp.config import Settings, load_settings
from sf_mcp.server import build_server
from support import connected, generate, read_json

pytestmark = pytest.mark.anyio
SLOW_MODEL = "image/slow-model"


@pytest.fixture
def slow_hf():
    with FakeHuggingFace() as fake:
        fake.program(SLOW_MODEL, Behavior(delay_s=3.0))  # far longer than generate_image may wait here
        yield fake


async def test_a_slow_image_answers_running_and_get_generation_returns_it(data_dir, slow_hf, mode, monkeypatch) -> None:
    monkeypatch.setenv("SF_HF_BASE_URL", slow_hf.base_url)
    monkeypatch.setenv("SF_IMAGE_MODELS", json.dumps([SLOW_MODEL]))
    monkeypatch.setenv("SF_LOCAL_RENDERER", "false")
    monkeypatch.setenv("SF_IMAGE_ANSWER_WITHIN_S", "0.2")
    async with Client(build_server(load_settings(data_dir=data_dir)), mode=mode) as client:
        early = await generate(client, "a slow fox")
        assert not early.is_error, early.content
        info = early.structured_content
        assert info["status"] in ("queued", "running")
        assert [c.type for c in early.content] == ["resource_link", "text"]
        assert early.content[0].uri == f"generation://{info['task_id']}"
        assert f"get_generation with task_id {info['task_id']!r}" in early.content[1].text

        done = await client.call_tool("get_generation", {"task_id": info["task_id"], "wait_s": 50})
        assert not done.is_error, done.content
        assert [c.type for c in done.content] == ["image", "resource_link", "text"]
        result = done.structured_content
        assert result["status"] == "succeeded" and result["task_id"] == info["task_id"]
        assert result["model"] == SLOW_MODEL and result["payment"]["method"] == "free"
        assert result["content_uri"] and "ready" in done.content[2].text

        again = await client.call_tool("get_generation", {"task_id": info["task_id"], "wait_s": 0})
        assert again.structured_content["status"] == "succeeded"


async def test_get_generation_of_unknown_or_foreign_tasks(settings: Settings) -> None:
    async with connected(settings) as (client, services):
        unknown = await client.call_tool("get_generation", {"task_id": "f" * 32})
        assert unknown.is_error and "no generation task" in unknown.content[0].text
        store = services.store
        theirs = await store.generations.reserve_free(wallet="0x" + "12" * 20, kind="image", prompt="theirs",
                                                      params={}, daily_quota=5)
        refused = await client.call_tool("get_generation", {"task_id": theirs.task_id})
        assert refused.is_error
        text = refused.content[0].text
        assert "another wallet" in text and f"generation://{theirs.task_id}" in text
        public = await read_json(client, f"generation://{theirs.task_id}")
        assert "payment" not in public  # the resource keeps showing others only the public fields


async def test_a_model_nobody_serves_is_named_in_the_result(client: Client) -> None:
    result = await generate(client, "a fox", model="acme/no-such-model")
    assert not result.is_error
    info = result.structured_content
    assert info["model_requested"] == "acme/no-such-model" and info["model"] != "acme/no-such-model"
    (note,) = info["notes"]
    assert "acme/no-such-model" in note and "not available" in note and info["model"] in note
    assert note in result.content[-1].text
    plain = (await generate(client, "a fox")).structured_content
    assert plain["model_requested"] is None and plain["notes"] == []
