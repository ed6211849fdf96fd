"""The offline renderer: deterministic, labelled, fast enough to be the last resort."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from sf_mcp.generation import GenerationKind, GenerationRequest
from sf_mcp.generation.media import is_mp4
from sf_mcp.generation.providers.local import MODEL, LocalRenderer

pytestmark = pytest.mark.anyio


def req(**kw: object) -> GenerationRequest:
    base: dict[str, object] = {"kind": GenerationKind.IMAGE, "prompt": "a koi pond in the rain", "width": 512,
                               "height": 512, "seed": 42}
    base.update(kw)
    return GenerationRequest(**base)  # type: ignore[arg-type]


async def test_same_inputs_same_bytes_other_inputs_other_bytes() -> None:
    renderer = LocalRenderer()
    first = await renderer.generate(req(), model=MODEL)
    again = await renderer.generate(req(), model=MODEL)
    assert first.data == again.data
    assert (first.provider, first.model, first.mime_type) == ("local", "sf-mcp/local-renderer", "image/png")
    for changed in (req(seed=43), req(prompt="a koi pond in the sun"), req(width=640)):
        assert (await renderer.generate(changed, model=MODEL)).data != first.data


async def test_image_has_requested_size() -> None:
    media = await LocalRenderer().generate(req(width=640, height=360), model=MODEL)
    assert Image.open(io.BytesIO(media.data)).size == (640, 360) == (media.width, media.height)


async def test_label_banner_is_drawn() -> None:
    # The banner is a black strip with white text across the top: both colours must be there.
    media = await LocalRenderer().generate(req(), model=MODEL)
    strip = Image.open(io.BytesIO(media.data)).convert("RGB").crop((0, 0, 512, 40))
    colours = {c for _, c in strip.getcolors(maxcolors=100_000) or []}
    assert (0, 0, 0) in colours and (255, 255, 255) in colours


async def test_video_is_a_deterministic_mp4() -> None:
    renderer = LocalRenderer()
    clip = await renderer.generate(req(kind=GenerationKind.VIDEO, duration_s=1.0, width=1024, height=576),
                                   model=MODEL)
    again = await renderer.generate(req(kind=GenerationKind.VIDEO, duration_s=1.0, width=1024, height=576),
                                    model=MODEL)
    assert clip.mime_type == "video/mp4" and is_mp4(clip.data) and clip.data == again.data
    assert (clip.width, clip.height) == (512, 288)  # scaled down, aspect kept, even sides
