"""Prompt cleaning, media validation and previews."""

from __future__ import annotations

import html
import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from sf_mcp.errors import InvalidRequest
from sf_mcp.generation import (
    ErrorClass,
    GeneratedMedia,
    GenerationKind,
    GenerationRequest,
    ProviderError,
    clean_prompt,
    make_preview,
    validate_media,
)
from sf_mcp.generation.providers.local import render_png, render_video


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
def test_validate_media_rejects_garbage(data: bytes) -> None:
    with pytest.raises(ProviderError) as caught:
        validate_media(media(data), GenerationKind.IMAGE)
    assert caught.value.error_class is ErrorClass.BAD_OUTPUT


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
