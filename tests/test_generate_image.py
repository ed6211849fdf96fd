"""generate_image end to end through an MCP client, in both protocol eras."""

from __future__ import annotations

import base64
import io

import pytest
from mcp.client import Client
from PIL import Image

from sf_mcp.config import Settings
from sf_mcp.generation.base import DEFAULT_IMAGE_SIDE_PX
from sf_mcp.server import build_server
from support import UpdateWatcher, generate, read_json, subscribed

pytestmark = pytest.mark.anyio


async def test_tools_list_shows_generate_image_with_schemas(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    tool = tools["generate_image"]
    props = tool.input_schema["properties"]
    assert {"prompt", "payment", "width", "height", "steps", "seed", "negative_prompt", "model"} <= set(props)
    assert props["width"]["default"] == props["height"]["default"] == DEFAULT_IMAGE_SIDE_PX
    # payment may be left out when the request's _meta carries an x402 payment (the x402 MCP transport).
    assert set(tool.input_schema["required"]) == {"prompt"}
    assert "task_id" in tool.output_schema["properties"]
    assert "generate_video" in tools


async def test_free_generation_returns_preview_link_and_structured_result(client: Client, settings: Settings) -> None:
    progress: list[tuple[float, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message))

    result = await client.call_tool(
        "generate_image",
        {"prompt": "a <b>red</b> fox", "payment": {"method": "free"}, "width": 512, "height": 384, "seed": 3},
        progress_callback=on_progress,
    )
    assert not result.is_error, result.content
    kinds = [block.type for block in result.content]
    assert kinds == ["image", "resource_link", "text"]
    preview = Image.open(io.BytesIO(base64.b64decode(result.content[0].data)))
    assert max(preview.size) <= settings.providers.preview_max_px
    info = result.structured_content
    assert info["status"] == "succeeded"
    assert info["prompt"] == "a red fox"  # markup stripped, text kept
    assert info["local_renderer"] is True and "local renderer" in info["notice"]
    assert info["model"] == "sf-mcp/local-renderer"
    assert info["attempts"][-1]["outcome"] == "ok"
    assert info["payment"]["method"] == "free"
    assert result.content[1].uri == f"generation://{info['task_id']}"
    assert progress and progress[-1][1] == "done"

    task = await read_json(client, info["resource_uri"])
    assert task["status"] == "succeeded" and task["content_uri"] == info["content_uri"]
    media = (await client.read_resource(info["content_uri"])).contents[0]
    assert media.mime_type == "image/png"
    full = Image.open(io.BytesIO(base64.b64decode(media.blob)))
    assert full.size == (512, 384)

    recent = await read_json(client, "generations://recent")
    assert recent[0]["task_id"] == info["task_id"]
    history = await read_json(client, f"generations://wallet/{info['wallet']}")
    assert [h["task_id"] for h in history] == [info["task_id"]]
    assert history[0]["payment"]["method"] == "free"  # own wallet: full details


async def test_the_answer_shows_the_preview_made_while_validating(client: Client, settings: Settings,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The image is decoded once: the answer's preview is the one the chain made, not one made from the stored bytes."""
    from sf_mcp.generation import content

    def second_decode(data: bytes, max_px: int) -> tuple[bytes, str]:
        raise AssertionError("the stored image was decoded again for the preview")

    monkeypatch.setattr(content, "make_preview", second_decode)
    result = await client.call_tool(
        "generate_image", {"prompt": "a heron", "payment": {"method": "free"}, "width": 640, "height": 320})
    assert not result.is_error, result.content
    assert result.content[0].type == "image" and result.content[0].mime_type == "image/jpeg"
    preview = Image.open(io.BytesIO(base64.b64decode(result.content[0].data)))
    assert preview.size == (settings.providers.preview_max_px, settings.providers.preview_max_px // 2)


async def test_same_seed_same_image(client: Client) -> None:
    a = (await generate(client, "same", seed=11)).structured_content
    b = (await generate(client, "same", seed=11)).structured_content
    assert a["task_id"] != b["task_id"] and a["content_uri"] == b["content_uri"]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 1001}, "prompt"),
        ({"prompt": "é" * 501}, "prompt"),  # 1002 bytes
        ({"width": 0}, "width"),
        ({"width": 100000}, "width"),
        ({"height": 63}, "height"),
        ({"payment": {"method": "bitcoin"}}, "payment"),
        ({"payment": {"method": "crypto", "tx_hash": "0x1234"}}, "payment"),
        ({"steps": 0}, "steps"),
    ],
)
async def test_bad_input_is_an_error_naming_the_field(client: Client, arguments: dict, field: str) -> None:
    base = {"prompt": "ok", "payment": {"method": "free"}, "width": 256, "height": 256}
    result = await client.call_tool("generate_image", {**base, **arguments})
    assert result.is_error
    assert field in result.content[0].text
    assert "Traceback" not in result.content[0].text
    # the server keeps serving
    assert not (await generate(client, "still alive")).is_error


async def test_malformed_address_and_unknown_task_are_clear_errors(client: Client) -> None:
    from mcp.shared.exceptions import MCPError

    with pytest.raises(MCPError, match="address"):
        await client.read_resource("generations://wallet/0x123", cache_mode="bypass")
    with pytest.raises(MCPError, match="no generation task"):
        await client.read_resource("generation://nope", cache_mode="bypass")
    with pytest.raises(MCPError, match="sha256"):
        await client.read_resource("content://not-a-hash", cache_mode="bypass")


async def test_free_quota_is_per_day_and_then_refused(data_dir, mode: str, monkeypatch) -> None:
    monkeypatch.setenv("SF_FREE_DAILY_QUOTA", "2")
    from sf_mcp.config import load_settings

    async with Client(build_server(load_settings(data_dir=data_dir)), mode=mode) as client:
        assert not (await generate(client, "one")).is_error
        assert not (await generate(client, "two")).is_error
        third = await generate(client, "three")
        assert third.is_error and "free tier allows 2" in third.content[0].text


async def test_finished_job_publishes_resource_updates(settings: Settings, mode: str) -> None:
    watcher = UpdateWatcher()
    async with Client(build_server(settings), mode=mode, message_handler=watcher.message_handler) as client:
        async with subscribed(client, watcher, mode, "generations://recent"):
            result = await generate(client, "notify me")
            assert not result.is_error
            assert await watcher.next_update() == "generations://recent"
