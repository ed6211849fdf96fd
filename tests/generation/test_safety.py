"""The blacked-out-image check: a safety checker's answer is recognised, a real picture is not decoded twice."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from sf_mcp.generation.safety import is_blacked_out


def encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
@pytest.mark.parametrize("side", [64, 1024])
def test_a_black_square_is_blacked_out(fmt: str, side: int) -> None:
    assert is_blacked_out(encoded(Image.new("RGB", (side, side), (0, 0, 0)), fmt))


def test_a_dark_picture_with_detail_is_not() -> None:
    noise = Image.effect_noise((256, 256), 20).point(lambda v: v // 8)  # dark, but real pixels up to ~30
    assert not is_blacked_out(encoded(Image.merge("RGB", (noise, noise, noise)), "PNG"))


def test_a_large_file_is_not_decoded_to_know_it(monkeypatch: pytest.MonkeyPatch) -> None:
    picture = encoded(Image.merge("RGB", [Image.effect_noise((512, 512), 60)] * 3), "PNG")

    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded a file too large to be uniform")

    monkeypatch.setattr(Image.Image, "getextrema", no_decoding)
    assert not is_blacked_out(picture)


def test_bytes_that_are_no_image_are_not_a_refusal() -> None:
    assert not is_blacked_out(b"<html>busy</html>")
