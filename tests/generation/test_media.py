"""Prompt cleaning, media validation and previews."""

from __future__ import annotations

import html
import io
import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from sf_mcp.errors import InvalidRequest
from sf_mcp.generation import (
    ErrorClass,
    GeneratedMedia,
    GenerationKind,
    GenerationRequest,
    ProviderError,
    make_preview,
    validate_media,
)
from sf_mcp.generation.providers.local import render_png, render_video
from sf_mcp.prompt import clean_prompt


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<b>a red</b> <i>fox</i>", "a red fox"),
        ("a <script>alert(1)</script> cat", "a alert(1) cat"),
        ("<!-- hidden -->visible", "visible"),
        ("x < y and y > z", "x < y and y > z"),  # not markup: kept
        ("  tabs\tand\nnew\r\nlines  ", "tabs and new lines"),
        ("bell\x07 and nul\x00 gone", "bell and nul gone"),
        ("evil\u202eright-to-left", "evilright-to-left"),
        ("café 東京 🦊‍🔥", "café 東京 🦊‍🔥"),  # other scripts, emoji and ZWJ sequences stay
    ],
)
def test_clean_prompt(raw: str, clean: str) -> None:
    assert clean_prompt(raw) == clean


@pytest.mark.parametrize("raw", ["", "   ", "<p></p>", "\x00\x01"])
def test_clean_prompt_rejects_empty(raw: str) -> None:
    with pytest.raises(InvalidRequest, match="^prompt: is empty"):
        clean_prompt(raw)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<img<b> src=x onerror=alert(1)>", "src=x onerror=alert(1)>"),  # one pass used to leave <img src=x ...>
        ("<scr<script>ipt>alert(1)</script>", "ipt>alert(1)"),
        ("&lt;img src=x onerror=alert(1)&gt; fox", "fox"),  # an entity-encoded tag is a tag
        ("&amp;lt;b&amp;gt;bold", "bold"),  # ... even encoded twice
        ("a <b unclosed tag", "a"),  # a broken tag runs to the end
        ("<!-- never closed <b>x</b>", ""),
        ("<<b>i>mg", "< i>mg"),  # the removed tag leaves a space, so no new tag forms
        ("Tom &amp; Jerry &#x1F98A;", "Tom & Jerry \U0001f98a"),  # entities of plain text are decoded
        ("<\x00b>bold<\u202e/b>", "bold"),  # a control or bidi character inside a tag does not hide it
    ],
)
def test_clean_prompt_leaves_no_tag_behind(raw: str, clean: str) -> None:
    if not clean:
        with pytest.raises(InvalidRequest, match="^prompt: is empty"):
            clean_prompt(raw)
        return
    assert clean_prompt(raw) == clean


# An HTML parser starts a tag (or comment, doctype, processing instruction) at "<" followed by these.
_TAG_OPEN = re.compile(r"<[A-Za-z/!?]")
_FRAGMENTS = [
    "<", ">", "/", "!", "?", "-", "--", "<!--", "-->", "<!", "</", "<?", "=", '"', "'", " ", "\t", "\n",
    "img", "b", "script", "src=x", "onerror=alert(1)", "&", ";", "#", "&lt;", "&gt;", "&amp;", "&#60;",
    "&#x3c;", "&#X3C", "&lt", "&LT;", "&quot;", "&nbsp;", "\x00", "\x1b", "\u202e", "\u2066", "x", "東", "🦊",
]
adversarial = st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=3), max_size=40).map("".join)


@settings(max_examples=600, deadline=None)
@given(adversarial)
def test_clean_prompt_is_idempotent_and_never_leaves_a_tag(raw: str) -> None:
    try:
        clean = clean_prompt(raw)
    except InvalidRequest as exc:
        assert str(exc).startswith("prompt: is empty")
        return
    assert not _TAG_OPEN.search(clean), clean
    assert not _TAG_OPEN.search(html.unescape(clean)), clean  # not even once a gallery decodes entities
    assert clean_prompt(clean) == clean


def test_clean_prompt_refuses_very_long_input_before_cleaning() -> None:
    with pytest.raises(InvalidRequest, match="prompt: is 8001 characters; the limit is 8000 before cleaning"):
        clean_prompt("<b>" * 2667)


def test_clean_prompt_limit_is_1000_utf8_bytes_after_cleaning() -> None:
    assert clean_prompt("a" * 1000) == "a" * 1000
    with pytest.raises(InvalidRequest, match="prompt: is 1001 bytes"):
        clean_prompt("a" * 1001)
    # markup does not count: it is removed first
    assert clean_prompt("<b>" + "a" * 1000 + "</b>") == "a" * 1000
    # multi-byte characters count in bytes: 333 x 3 bytes + 1 = 1000, one more 3-byte char is over
    assert len(clean_prompt("東" * 333 + "a").encode()) == 1000
    with pytest.raises(InvalidRequest, match="prompt: is 1002 bytes"):
        clean_prompt("東" * 334)


def media(data: bytes, mime: str = "image/png") -> GeneratedMedia:
    return GeneratedMedia(data=data, mime_type=mime, provider="p", model="m")


def test_validate_media_reads_true_type_and_size() -> None:
    image = Image.new("RGB", (96, 80), "red")
    out = io.BytesIO()
    image.save(out, "JPEG")
    checked = validate_media(media(out.getvalue(), "image/png"), GenerationKind.IMAGE)
    assert (checked.mime_type, checked.width, checked.height) == ("image/jpeg", 96, 80)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage bytes that are no image",
        render_png(GenerationRequest(kind=GenerationKind.IMAGE, prompt="x", width=64, height=64))[:200],  # truncated
        b"GIF89a" + b"\x00" * 64,
    ],
)
@pytest.mark.parametrize("preview_px", [None, 256])
def test_validate_media_rejects_garbage(data: bytes, preview_px: int | None) -> None:
    with pytest.raises(ProviderError) as caught:
        validate_media(media(data), GenerationKind.IMAGE, preview_px=preview_px)
    assert caught.value.error_class is ErrorClass.BAD_OUTPUT


def _photo(side: int, fmt: str, size: tuple[int, int] | None = None) -> bytes:
    """A noisy picture (compresses like a model's output), PNG or JPEG."""
    width, height = size or (side, side)
    image = Image.merge("RGB", [Image.effect_noise((width, height), 40)] * 3)
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {"compress_level": 3}))
    return out.getvalue()


@pytest.mark.parametrize("preview_px", [None, 256])
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_validate_media_refuses_a_truncated_large_image(fmt: str, preview_px: int | None) -> None:
    whole = _photo(512, fmt)
    assert validate_media(media(whole), GenerationKind.IMAGE, preview_px=preview_px).width == 512
    for cut in (len(whole) // 2, len(whole) - 20):
        with pytest.raises(ProviderError, match="not a decodable image") as caught:
            validate_media(media(whole[:cut]), GenerationKind.IMAGE, preview_px=preview_px)
        assert caught.value.error_class is ErrorClass.BAD_OUTPUT


@pytest.mark.parametrize("preview_px", [None, 256])
def test_validate_media_refuses_a_png_altered_after_encoding(preview_px: int | None) -> None:
    whole = bytearray(_photo(256, "PNG"))
    idat = whole.index(b"IDAT")
    whole[idat + 5000] ^= 0xFF  # one byte of pixel data changed: its chunk's CRC no longer matches
    with pytest.raises(ProviderError, match="not a decodable image"):
        validate_media(media(bytes(whole)), GenerationKind.IMAGE, preview_px=preview_px)


def test_validate_media_refuses_a_png_whose_pixel_data_is_not_zlib() -> None:
    import struct
    import zlib as _zlib

    good = _photo(64, "PNG")
    ihdr_end = 8 + 12 + 13
    junk = b"\x00not a zlib stream" * 10
    chunk = struct.pack(">I", len(junk)) + b"IDAT" + junk + struct.pack(">I", _zlib.crc32(b"IDAT" + junk))
    iend = good[good.index(b"IEND") - 4:]
    for preview_px in (None, 256):
        with pytest.raises(ProviderError, match="not a decodable image"):
            validate_media(media(good[:ihdr_end] + chunk + iend), GenerationKind.IMAGE, preview_px=preview_px)


def test_the_preview_decode_reads_the_whole_png_stream_where_the_bounded_check_reads_its_start() -> None:
    """Pixel data cut short inside sound chunks passes the bounded check, but not the decode that makes the preview."""
    import struct
    import zlib as _zlib

    good = _photo(512, "PNG")
    ihdr_end = 8 + 12 + 13
    pixels = b"".join(good[pos + 8:pos + 8 + struct.unpack(">I", good[pos:pos + 4])[0]]
                      for pos in (m.start() - 4 for m in re.finditer(b"IDAT", good)))
    cut = pixels[: len(pixels) * 2 // 3]  # a third of the rows missing; every chunk's CRC is right
    chunk = struct.pack(">I", len(cut)) + b"IDAT" + cut + struct.pack(">I", _zlib.crc32(b"IDAT" + cut))
    short = good[:ihdr_end] + chunk + good[good.index(b"IEND") - 4:]
    assert validate_media(media(short), GenerationKind.IMAGE).width == 512
    with pytest.raises(ProviderError, match="not a decodable image"):
        validate_media(media(short), GenerationKind.IMAGE, preview_px=256)


def _mean_difference(a: bytes, b: bytes) -> float:
    with Image.open(io.BytesIO(a)) as first, Image.open(io.BytesIO(b)) as second:
        assert first.size == second.size
        diff = ImageChops.difference(first.convert("RGB"), second.convert("RGB")).convert("L")
        return sum(i * n for i, n in enumerate(diff.histogram())) / (first.width * first.height)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_validate_media_makes_the_preview_from_the_decode_that_checks_the_bytes(fmt: str) -> None:
    data = _photo(0, fmt, (1024, 768))
    checked = validate_media(media(data), GenerationKind.IMAGE, preview_px=256)
    assert checked.preview is not None and checked.image is None
    assert (checked.preview.mime_type, checked.preview.max_px) == ("image/jpeg", 256)
    with Image.open(io.BytesIO(checked.preview.data)) as preview:
        assert (preview.format, preview.size) == ("JPEG", (256, 192))
    made, _ = make_preview(data, 256)  # what a replica that did not validate it makes from the stored bytes
    assert _mean_difference(checked.preview.data, made) < 2
    assert validate_media(media(data), GenerationKind.IMAGE).preview is None


def test_a_drawn_picture_is_previewed_from_its_pixels_not_from_a_second_decode() -> None:
    out = io.BytesIO()
    Image.new("RGB", (512, 384), "blue").save(out, "PNG")
    drawn = Image.new("RGB", (512, 384), "red")  # not what the bytes hold: shows which pixels the preview used
    handed = GeneratedMedia(data=out.getvalue(), mime_type="image/png", provider="p", model="m", image=drawn)
    checked = validate_media(handed, GenerationKind.IMAGE, preview_px=128)
    assert checked.preview is not None and checked.image is None
    with Image.open(io.BytesIO(checked.preview.data)) as preview:
        assert preview.size == (128, 96)
        red, green, blue = preview.convert("RGB").getpixel((64, 48))  # type: ignore[misc]
        assert red > 200 and green < 50 and blue < 50
    assert drawn.size == (512, 384), "the provider's picture is left as it was"

    with pytest.raises(ProviderError, match="picture is 512x383 px but its bytes say 512x384 px") as caught:
        validate_media(replace(handed, image=Image.new("RGB", (512, 383))), GenerationKind.IMAGE, preview_px=128)
    assert caught.value.error_class is ErrorClass.BAD_OUTPUT
    with pytest.raises(ProviderError, match="not a decodable image"):  # the bytes are still checked
        validate_media(replace(handed, data=handed.data[:-20]), GenerationKind.IMAGE, preview_px=128)


@pytest.mark.parametrize(("size", "fmt", "preview"), [
    ((1024, 768), "JPEG", (256, 192)), ((768, 1024), "JPEG", (192, 256)), ((1024, 1024), "PNG", (256, 256)),
    ((300, 200), "JPEG", (256, 171)), ((100, 80), "JPEG", (100, 80)),
])
def test_make_preview_dimensions(size: tuple[int, int], fmt: str, preview: tuple[int, int]) -> None:
    out, mime = make_preview(_photo(0, fmt, size), 256)
    with Image.open(io.BytesIO(out)) as image:
        assert (mime, image.format, image.size) == ("image/jpeg", "JPEG", preview)


def test_validate_media_rejects_absurd_sizes() -> None:
    out = io.BytesIO()
    Image.new("L", (8, 8)).save(out, "PNG")
    with pytest.raises(ProviderError, match="8x8 px"):
        validate_media(media(out.getvalue()), GenerationKind.IMAGE)


def test_validate_media_video_needs_mp4() -> None:
    clip = render_video(GenerationRequest(kind=GenerationKind.VIDEO, prompt="waves", width=64, height=64,
                                          duration_s=0.5))
    checked = validate_media(media(clip, "application/octet-stream"), GenerationKind.VIDEO)
    assert (checked.mime_type, checked.width, checked.height) == ("video/mp4", 64, 64)
    png = render_png(GenerationRequest(kind=GenerationKind.IMAGE, prompt="x", width=64, height=64))
    with pytest.raises(ProviderError, match="not an mp4"):
        validate_media(media(png), GenerationKind.VIDEO)
    with pytest.raises(ProviderError, match="does not decode"):
        validate_media(media(clip[:40] + b"\x00" * 200), GenerationKind.VIDEO)


def test_make_preview_is_small() -> None:
    png = render_png(GenerationRequest(kind=GenerationKind.IMAGE, prompt="a big picture", width=1024, height=768))
    preview, mime = make_preview(png, 256)
    assert mime == "image/jpeg" and len(preview) < len(png)
    assert Image.open(io.BytesIO(preview)).size == (256, 192)

    rgba = io.BytesIO()
    Image.new("RGBA", (300, 300), (0, 0, 0, 0)).save(rgba, "PNG")
    preview, mime = make_preview(rgba.getvalue(), 100)
    assert mime == "image/png" and Image.open(io.BytesIO(preview)).size == (100, 100)


def test_make_preview_of_a_video_is_its_first_frame() -> None:
    clip = render_video(GenerationRequest(kind=GenerationKind.VIDEO, prompt="waves", width=128, height=64,
                                          duration_s=0.5))
    preview, mime = make_preview(clip, 64)
    assert mime == "image/jpeg" and Image.open(io.BytesIO(preview)).size == (64, 32)
