"""The local renderer: an offline, deterministic last resort that never fails for network reasons.

It draws an abstract picture from a hash of the prompt and seed, with the prompt
and a "sf-mcp local renderer" banner written on it, so nobody mistakes it for a
model's work. Same prompt, seed and size give the same bytes, which makes it
the provider of choice for tests, demos and the embedded mode.
"""

from __future__ import annotations

import hashlib
import io
import random
import textwrap
from fractions import Fraction
from typing import cast

import anyio
from PIL import Image, ImageDraw, ImageFont, ImageOps

from sf_mcp.generation.base import (
    ErrorClass,
    GeneratedMedia,
    GenerationKind,
    GenerationRequest,
    Provider,
    ProviderError,
)

__all__ = ["LABEL", "LocalRenderer"]

LABEL = "sf-mcp local renderer"
MODEL = "sf-mcp/local-renderer"
_MAX_SIDE = 2048  # drawing is cheap, but a 4096 px PNG is not; models do not go higher either
_VIDEO_MAX_SIDE = 512  # keeps a clip under a second of CPU on a small machine
_VIDEO_FPS = 12
_VIDEO_MAX_S = 6.0


class LocalRenderer(Provider):
    """Draws deterministic PNGs (and short mp4 clips) with Pillow and PyAV, offline."""

    name = "local"

    def describe(self) -> str:
        return "sf-mcp local renderer (offline, deterministic placeholder art, labelled as such)"

    def models(self, kind: GenerationKind) -> list[str]:
        """One model for both kinds; video needs PyAV, which is a dependency."""
        return [MODEL]

    async def generate(self, request: GenerationRequest, *, model: str) -> GeneratedMedia:
        """Render in a worker thread so a large canvas never stalls the event loop."""
        if model != MODEL:
            raise ProviderError(f"the local renderer has no model {model!r}", error_class=ErrorClass.UNSUPPORTED)
        if request.kind is GenerationKind.VIDEO:
            data = await anyio.to_thread.run_sync(render_video, request)
            width, height = _video_size(request)
            return GeneratedMedia(data=data, mime_type="video/mp4", provider=self.name, model=MODEL,
                                  width=width, height=height)
        data, image = await anyio.to_thread.run_sync(_render_png, request)
        # The drawn pixels go along: the preview is made from them, not from a second decode of the PNG.
        return GeneratedMedia(data=data, mime_type="image/png", provider=self.name, model=MODEL,
                              width=image.width, height=image.height, image=image)


def _image_size(request: GenerationRequest) -> tuple[int, int]:
    return (max(16, min(request.width, _MAX_SIDE)), max(16, min(request.height, _MAX_SIDE)))


def _video_size(request: GenerationRequest) -> tuple[int, int]:
    width, height = _image_size(request)
    scale = min(1.0, _VIDEO_MAX_SIDE / max(width, height))
    # yuv420p needs even sides
    return (max(16, int(width * scale)) // 2 * 2, max(16, int(height * scale)) // 2 * 2)


def _rng(request: GenerationRequest) -> random.Random:
    seed = request.seed if request.seed is not None else 0
    digest = hashlib.sha256(f"{seed}\x00{request.prompt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def _palette(rng: random.Random) -> list[tuple[int, int, int]]:
    return [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(6)]


def _background(size: tuple[int, int], colours: list[tuple[int, int, int]], rng: random.Random) -> Image.Image:
    gradient = Image.linear_gradient("L").rotate(rng.choice((0, 45, 90, 135)), expand=False)
    gradient = gradient.resize(size, Image.Resampling.BILINEAR)
    return ImageOps.colorize(gradient, colours[0], colours[1])


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


# (0 ellipse / 1 rectangle, centre x, centre y, radius, drift x, drift y, RGBA colour); positions are fractions
Shape = tuple[int, float, float, float, float, float, tuple[int, ...]]


def _draw_shapes(draw: ImageDraw.ImageDraw, size: tuple[int, int], shapes: list[Shape], phase: float) -> None:
    width, height = size
    for kind, cx, cy, radius, dx, dy, colour in shapes:
        x = (cx + dx * phase) % 1.0 * width
        y = (cy + dy * phase) % 1.0 * height
        r = radius * min(width, height)
        box = (x - r, y - r, x + r, y + r)
        if kind == 0:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)


def _make_shapes(rng: random.Random, colours: list[tuple[int, int, int]]) -> list[Shape]:
    return [
        (rng.randrange(2), rng.random(), rng.random(), rng.uniform(0.05, 0.2),
         rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), (*rng.choice(colours[2:]), 170))
        for _ in range(rng.randint(5, 9))
    ]


def _draw_text(canvas: Image.Image, prompt: str, caption: str) -> None:
    width, height = canvas.size
    draw = ImageDraw.Draw(canvas)
    banner_h = max(14, height // 12)
    draw.rectangle((0, 0, width, banner_h), fill=(0, 0, 0))
    draw.text((banner_h // 3, banner_h // 2), caption, font=_font(int(banner_h * 0.6)), fill=(255, 255, 255),
              anchor="lm")
    font_px = max(10, min(width, height) // 24)
    chars_per_line = max(8, int(width / (font_px * 0.55)))
    lines = textwrap.wrap(prompt, chars_per_line)[: max(1, (height // 3) // (font_px + 4))]
    text = "\n".join(lines)
    box_top = height - (font_px + 4) * len(lines) - font_px
    draw.rectangle((0, box_top, width, height), fill=(0, 0, 0, 150))
    draw.multiline_text((font_px // 2, box_top + font_px // 2), text, font=_font(font_px), fill=(255, 255, 255),
                        spacing=4)


def _frame(request: GenerationRequest, size: tuple[int, int], phase: float, caption: str) -> Image.Image:
    rng = _rng(request)
    colours = _palette(rng)
    canvas = _background(size, colours, rng).convert("RGBA")
    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    _draw_shapes(ImageDraw.Draw(overlay), size, _make_shapes(rng, colours), phase)
    canvas = Image.alpha_composite(canvas, overlay)
    _draw_text(canvas, request.prompt, caption)
    return canvas.convert("RGB")


def render_png(request: GenerationRequest) -> bytes:
    """Return the PNG for ``request``: a pure function of prompt, seed, width and height."""
    return _render_png(request)[0]


def _render_png(request: GenerationRequest) -> tuple[bytes, Image.Image]:
    size = _image_size(request)
    seed = request.seed if request.seed is not None else 0
    image = _frame(request, size, 0.0, f"{LABEL} · seed {seed}")
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)  # no timestamps or text chunks: byte-identical
    return out.getvalue(), image


def render_video(request: GenerationRequest) -> bytes:
    """Return a short H.264 mp4 for ``request`` in which the shapes drift; deterministic too."""
    import av  # optional (the video extra): imported only when a video is made
    from av.video.stream import VideoStream

    size = _video_size(request)
    duration = min(max(request.duration_s or 2.0, 0.5), _VIDEO_MAX_S)
    frames = max(2, round(duration * _VIDEO_FPS))
    seed = request.seed if request.seed is not None else 0
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        options = {"preset": "veryfast", "crf": "28"} if codec == "libx264" else {}
        stream = cast(VideoStream, container.add_stream(codec, rate=Fraction(_VIDEO_FPS), options=options))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1  # one thread: frame-exact, byte-identical output
        for index in range(frames):
            image = _frame(request, size, index / frames, f"{LABEL} (video) · seed {seed}")
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]  # untyped in PyAV's stub
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()
