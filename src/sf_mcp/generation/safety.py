"""Recognise a provider's content-policy refusal that arrives as a "successful" image.

Safety checkers answer in the image, not in the status: diffusers' checker and
fal's (``has_nsfw_concepts``) black the picture out and still return 200, and
the hub client passes that on as a success. A user must not pay for a black
square, so a flagged answer becomes a REFUSED attempt (which stops the chain and
returns the payment). The flag is read where the route exposes it (fal, in
the Hugging Face provider); everywhere else a uniform black image is the sign.
"""

from __future__ import annotations

import io
from typing import cast

from PIL import Image

__all__ = ["BLACKED_OUT", "is_blacked_out"]

BLACKED_OUT = "the provider's safety checker blacked the image out (a content-policy refusal)"

_DARKEST_ALLOWED = 3  # JPEG noise may lift a black square to 1 or 2; a real picture has brighter pixels
# A uniform image compresses to almost nothing (a black 1024x1024 PNG is ~3 KB, a JPEG ~17 KB, about
# 0.02 bytes per pixel, plus headers and tables); a file above 4 KB + 1/16 byte per pixel cannot be one,
# so it is not decoded a second time (that costs ~100 ms at 1024 px).
_BYTES_PER_PIXEL_OF_A_UNIFORM_IMAGE = 1 / 16
_HEADER_ALLOWANCE = 4096


def is_blacked_out(data: bytes) -> bool:
    """True for an image whose every pixel is (near) black; False for anything else, unreadable included."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if len(data) > _HEADER_ALLOWANCE + width * height * _BYTES_PER_PIXEL_OF_A_UNIFORM_IMAGE:
                return False
            image.draft("L", (64, 64))  # JPEG decodes at a fraction of the size: we only need the extremes
            # One band ("L"): Pillow answers (lowest, highest) as ints.
            low, high = cast(tuple[int, int], image.convert("L").getextrema())
    except (OSError, ValueError):
        return False
    return high <= _DARKEST_ALLOWED and low <= high
