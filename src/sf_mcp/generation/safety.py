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

from PIL import Image

__all__ = ["BLACKED_OUT", "is_blacked_out"]

BLACKED_OUT = "the provider's safety checker blacked the image out (a content-policy refusal)"

_DARKEST_ALLOWED = 3  # JPEG noise may lift a black square to 1 or 2; a real picture has brighter pixels


def is_blacked_out(data: bytes) -> bool:
    """True for an image whose every pixel is (near) black; False for anything else, unreadable included."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("L", (64, 64))  # JPEG decodes at a fraction of the size: we only need the extremes
            low, high = image.convert("L").getextrema()
    except (OSError, ValueError):
        return False
    return high <= _DARKEST_ALLOWED and low <= high
