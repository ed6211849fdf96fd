"""Media validation and previews: the checks between a provider and the store.

A provider is a stranger: its bytes are decoded and measured before anything is
stored or shown. (Prompts are cleaned by :mod:`sf_mcp.prompt`, before any payment.)
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from dataclasses import replace

from PIL import Image, UnidentifiedImageError

from sf_mcp.generation.base import ErrorClass, GeneratedMedia, GenerationKind, ProviderError

__all__ = [
    "MAX_MEDIA_BYTES",
    "MAX_SIDE_PX",
    "MIN_SIDE_PX",
    "is_mp4",
    "make_preview",
    "validate_media",
]

log = logging.getLogger(__name__)

MIN_SIDE_PX = 16  # smaller than this is no picture, whatever the decoder says
MAX_SIDE_PX = 4096  # larger than any model we call produces; bounds memory per decode
MAX_MEDIA_BYTES = 64 * 1024 * 1024  # a generous ceiling for a short video
PNG_PROBE_BYTES = 256 * 1024  # pixel data inflated to check a PNG: about 64 rows of a 1024 px RGBA image

_IMAGE_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}

def is_mp4(data: bytes) -> bool:
    """True when ``data`` starts with an ISO base media ``ftyp`` box (mp4, mov, m4v)."""
    return len(data) >= 12 and data[4:8] == b"ftyp"


def validate_media(media: GeneratedMedia, kind: GenerationKind) -> GeneratedMedia:
    """Decode ``media`` and return it with its true mime type and size, or raise BAD_OUTPUT.

    Images are read from their headers and checked with a bounded decode
    (:func:`_bounded_decode`: a truncated or altered file fails here, not in a
    user's browser, at a fraction of a full decode's cost); videos must be mp4
    and, where PyAV is installed, contain a decodable video stream. The
    provider's claimed mime type is not trusted. CPU-bound: callers run it in a
    worker thread.
    """
    data = media.data
    if not data:
        raise ProviderError("the provider returned no bytes", error_class=ErrorClass.BAD_OUTPUT)
    if len(data) > MAX_MEDIA_BYTES:
        raise ProviderError(
            f"the provider returned {len(data)} bytes, over the {MAX_MEDIA_BYTES}-byte limit",
            error_class=ErrorClass.BAD_OUTPUT,
        )
    if kind is GenerationKind.VIDEO:
        width, height = _probe_video(data)
        return replace(media, mime_type="video/mp4", width=width, height=height)
    fmt, width, height = _probe_image(data)
    return replace(media, mime_type=_IMAGE_MIME[fmt], width=width, height=height)


def _check_dimensions(width: int, height: int) -> None:
    if not (MIN_SIDE_PX <= width <= MAX_SIDE_PX and MIN_SIDE_PX <= height <= MAX_SIDE_PX):
        raise ProviderError(
            f"the output is {width}x{height} px, outside {MIN_SIDE_PX}..{MAX_SIDE_PX} px per side",
            error_class=ErrorClass.BAD_OUTPUT,
        )


def _probe_image(data: bytes) -> tuple[str, int, int]:
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format or ""
            width, height = image.size
            if fmt not in _IMAGE_MIME:
                raise ProviderError(f"the output is {fmt or 'an unknown format'}, not PNG, JPEG or WebP",
                                    error_class=ErrorClass.BAD_OUTPUT)
            _check_dimensions(width, height)  # before any decoding: never decode a decompression bomb
            _bounded_decode(image, data, fmt)
    except ProviderError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, zlib.error, Image.DecompressionBombError) as exc:
        raise ProviderError(f"the output is not a decodable image ({exc})", error_class=ErrorClass.BAD_OUTPUT) from exc
    return fmt, width, height


def _bounded_decode(image: Image.Image, data: bytes, fmt: str) -> None:
    """Prove the bytes are a whole, sound image for a small, bounded share of a full decode's cost.

    - JPEG: decode at 1/8 scale (libjpeg's DCT scaling): every scan is still read, so a truncated
      or corrupt file fails, but only an eighth of the pixels per side are reconstructed.
    - PNG: walk every chunk checking its CRC up to IEND (a truncated or altered file fails), then
      inflate the first :data:`PNG_PROBE_BYTES` of pixel data (the stream must be real zlib).
    - WebP: decoded in full (rare from our providers; libwebp has no scaled decode).
    """
    if fmt == "JPEG":
        image.draft(None, (max(1, image.size[0] // 8), max(1, image.size[1] // 8)))
        image.load()
    elif fmt == "PNG":
        image.verify()
        probe = zlib.decompressobj().decompress(b"".join(_png_chunks(data, b"IDAT")), PNG_PROBE_BYTES)
        if not probe:
            raise ValueError("the PNG has no pixel data")
    else:
        image.load()


def _png_chunks(data: bytes, kind: bytes) -> list[bytes]:
    """The payloads of every ``kind`` chunk of a PNG (the CRCs were checked by ``verify``)."""
    out, pos = [], 8
    while pos + 8 <= len(data):
        length, found = struct.unpack(">I4s", data[pos:pos + 8])
        if found == kind:
            out.append(data[pos + 8:pos + 8 + length])
        elif found == b"IEND":
            break
        pos += 12 + length
    return out


def _probe_video(data: bytes) -> tuple[int | None, int | None]:
    if not is_mp4(data):
        raise ProviderError("the output is not an mp4 video", error_class=ErrorClass.BAD_OUTPUT)
    try:
        import av  # optional: a deeper check where PyAV is installed
    except ImportError:  # pragma: no cover - av is a dependency, but the signature check still stands
        return None, None
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise ProviderError("the mp4 has no video stream", error_class=ErrorClass.BAD_OUTPUT)
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            next(container.decode(stream))  # one frame proves the codec data is sound
    except ProviderError:
        raise
    except (av.FFmpegError, StopIteration, ValueError, OSError) as exc:
        raise ProviderError(f"the mp4 does not decode ({exc})", error_class=ErrorClass.BAD_OUTPUT) from exc
    _check_dimensions(width, height)
    return width, height


def make_preview(data: bytes, max_px: int) -> tuple[bytes, str]:
    """Return a small still of ``data`` (an image, or an mp4's first frame) and its mime type.

    The preview goes inline into an assistant's context, where every kilobyte
    costs tokens: the longest side is at most ``max_px``; opaque images become
    JPEG (far smaller for generated pictures), images with transparency PNG.

    A JPEG is decoded straight at the smallest DCT scale (1/2, 1/4, 1/8) that
    still covers ``max_px``, and every image is first shrunk by an integer
    factor before the final Lanczos pass, so the cost follows the preview's
    size more than the original's. CPU-bound: callers run it in a worker thread.
    """
    if max_px < 1:
        raise ValueError("max_px must be positive")
    image = _first_frame(data) if is_mp4(data) else Image.open(io.BytesIO(data))
    with image:
        if image.format == "JPEG":
            image.draft(None, (max_px, max_px))
        image.thumbnail((max_px, max_px), Image.Resampling.LANCZOS, reducing_gap=2.0)
        out = io.BytesIO()
        if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
            image.save(out, format="PNG", compress_level=6)
            mime = "image/png"
        else:
            image.convert("RGB").save(out, format="JPEG", quality=80)
            mime = "image/jpeg"
    preview = out.getvalue()
    log.debug("preview %dx%d px, %d bytes (%s)", *image.size, len(preview), mime)
    return preview, mime


def _first_frame(data: bytes) -> Image.Image:
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        frame = next(container.decode(video=0))
        image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]  # PyAV's stub leaves it untyped
        return image
