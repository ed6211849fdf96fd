"""Media validation and previews: the checks between a provider and the store.

A provider is a stranger: its bytes are decoded and measured before anything is
stored or shown. (Prompts are cleaned by :mod:`sf_mcp.prompt`, before any payment.)
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from collections.abc import Iterator
from dataclasses import replace

from PIL import Image, UnidentifiedImageError

from sf_mcp.generation.base import ErrorClass, GeneratedMedia, GenerationKind, Preview, ProviderError

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


def validate_media(media: GeneratedMedia, kind: GenerationKind, *, preview_px: int | None = None) -> GeneratedMedia:
    """Decode ``media`` and return it with its true mime type and size, or raise BAD_OUTPUT.

    Images are read from their headers first (format and size, before any pixel is
    decoded), then proved sound by a decode; videos must be mp4 and, where PyAV is
    installed, contain a decodable video stream. The provider's claimed mime type is
    not trusted.

    With ``preview_px``, an image's preview (:class:`Preview`) is made from that same
    decode, so the pixels are decoded once per image: from the pixels the provider
    handed over (``media.image``) when it drew them itself, else from the one decode
    that validates the bytes (a JPEG straight at the preview's DCT scale). Without it,
    the decode is bounded (:func:`_bounded_decode`). CPU-bound: callers run it in a
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
        return replace(media, mime_type="video/mp4", width=width, height=height, image=None)
    fmt, width, height, preview = _probe_image(data, preview_px, media.image)
    return replace(media, mime_type=_IMAGE_MIME[fmt], width=width, height=height, image=None, preview=preview)


def _check_dimensions(width: int, height: int) -> None:
    if not (MIN_SIDE_PX <= width <= MAX_SIDE_PX and MIN_SIDE_PX <= height <= MAX_SIDE_PX):
        raise ProviderError(
            f"the output is {width}x{height} px, outside {MIN_SIDE_PX}..{MAX_SIDE_PX} px per side",
            error_class=ErrorClass.BAD_OUTPUT,
        )


def _probe_image(
    data: bytes, preview_px: int | None, drawn: Image.Image | None
) -> tuple[str, int, int, Preview | None]:
    preview = None
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format or ""
            width, height = image.size
            if fmt not in _IMAGE_MIME:
                raise ProviderError(f"the output is {fmt or 'an unknown format'}, not PNG, JPEG or WebP",
                                    error_class=ErrorClass.BAD_OUTPUT)
            _check_dimensions(width, height)  # before any decoding: never decode a decompression bomb
            if preview_px is None:
                _bounded_decode(image, data, fmt)
            elif drawn is not None:
                if drawn.size != image.size:
                    raise ProviderError(f"the provider's picture is {drawn.width}x{drawn.height} px but its "
                                        f"bytes say {width}x{height} px", error_class=ErrorClass.BAD_OUTPUT)
                _bounded_decode(image, data, fmt)
                preview = _preview_of(drawn, preview_px)
            else:
                preview = _preview_of(_decode_once(image, data, fmt, preview_px), preview_px)
    except ProviderError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, zlib.error, Image.DecompressionBombError) as exc:
        raise ProviderError(f"the output is not a decodable image ({exc})", error_class=ErrorClass.BAD_OUTPUT) from exc
    return fmt, width, height, preview


def _decode_once(image: Image.Image, data: bytes, fmt: str, preview_px: int) -> Image.Image:
    """Decode every byte of the image once, as small as its preview allows, proving the file sound.

    - JPEG: at the smallest DCT scale (1/2, 1/4, 1/8) that still covers the preview; every scan
      is read, so a truncated or corrupt file fails.
    - PNG: every chunk's CRC, then the whole zlib stream and every row's filter (a PNG has no
      smaller decode): stronger than the bounded check, and the preview comes from it.
    - WebP: in full.
    """
    if fmt == "JPEG":
        image.draft(None, _fitted(image.size, preview_px))
    elif fmt == "PNG":
        image.verify()  # CRCs: a byte altered inside the pixel data need not break the zlib stream
        image = Image.open(io.BytesIO(data))  # verify() leaves the first reader spent
    image.load()
    return image


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
        inflater, inflated = zlib.decompressobj(), 0
        for payload in _png_chunks(data, b"IDAT"):  # only as many chunks as the probe needs
            inflated += len(inflater.decompress(payload, PNG_PROBE_BYTES - inflated))
            if inflated >= PNG_PROBE_BYTES:
                break
        if not inflated:
            raise ValueError("the PNG has no pixel data")
    else:
        image.load()


def _png_chunks(data: bytes, kind: bytes) -> Iterator[memoryview]:
    """The payloads of every ``kind`` chunk of a PNG, in order, uncopied (the CRCs were checked by ``verify``)."""
    view, pos = memoryview(data), 8
    while pos + 8 <= len(data):
        length, found = struct.unpack_from(">I4s", data, pos)
        if found == kind:
            yield view[pos + 8:pos + 8 + length]
        elif found == b"IEND":
            break
        pos += 12 + length


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

    For media stored without a preview (read by another replica, or after a restart):
    :func:`validate_media` makes a fresh generation's preview from the decode it does
    anyway. A JPEG is decoded straight at the smallest DCT scale that still covers
    ``max_px``. CPU-bound: callers run it in a worker thread.
    """
    if max_px < 1:
        raise ValueError("max_px must be positive")
    image = _first_frame(data) if is_mp4(data) else Image.open(io.BytesIO(data))
    with image:
        if image.format == "JPEG":
            image.draft(None, _fitted(image.size, max_px))
        preview = _preview_of(image, max_px)
    return preview.data, preview.mime_type


def _fitted(size: tuple[int, int], max_px: int) -> tuple[int, int]:
    """``size`` shrunk (never grown) so that its longest side is at most ``max_px``, as ``thumbnail`` does."""
    width, height = size
    scale = min(1.0, max_px / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _preview_of(image: Image.Image, max_px: int) -> Preview:
    """The preview of decoded pixels: the longest side at most ``max_px``, JPEG if opaque, else PNG.

    The preview goes inline into an assistant's context, where every kilobyte costs
    tokens; opaque pictures become JPEG (far smaller for generated pictures), ones with
    transparency PNG. The pixels are first averaged down by the largest integer factor
    that keeps them at least the preview's size (``reduce``: a box filter, as cheap as
    a copy), and only the remaining fraction is resampled with Lanczos.
    """
    transparent = image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info)
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if transparent else "RGB")
    target = _fitted(image.size, max_px)
    factor = min(image.width // target[0], image.height // target[1])
    small = image.reduce(factor) if factor > 1 else image  # new images: the caller's pixels stay as they are
    if small.size != target:
        small = small.resize(target, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if transparent:
        small.save(out, format="PNG", compress_level=6)
        mime = "image/png"
    else:
        small.convert("RGB").save(out, format="JPEG", quality=80)
        mime = "image/jpeg"
    preview = out.getvalue()
    log.debug("preview %dx%d px, %d bytes (%s)", *small.size, len(preview), mime)
    return Preview(data=preview, mime_type=mime, max_px=max_px)


def _first_frame(data: bytes) -> Image.Image:
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        frame = next(container.decode(video=0))
        image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]  # PyAV's stub leaves it untyped
        return image
