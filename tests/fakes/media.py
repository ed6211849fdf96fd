"""Small valid media for the fakes' success answers: what a real model would send back."""

from __future__ import annotations

import functools
import hashlib
import io

from PIL import Image

__all__ = ["tiny_mp4", "tiny_png"]


@functools.lru_cache(maxsize=64)
def tiny_png(width: int = 64, height: int = 64, tag: str = "") -> bytes:
    """A solid PNG whose colour depends on ``tag`` (the model), so tests can tell who served it."""
    colour = tuple(hashlib.sha256(tag.encode()).digest()[:3])
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


@functools.lru_cache(maxsize=4)
def tiny_mp4(width: int = 64, height: int = 64, frames: int = 4) -> bytes:
    """A real H.264 (or MPEG-4) mp4 of a few solid frames."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        stream = container.add_stream(codec, rate=8)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame.from_image(Image.new("RGB", (width, height), (index * 40, 80, 160)))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()
