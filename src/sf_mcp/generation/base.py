"""The provider seam: one small interface every model backend implements.

The fallback chain (``chain.py``) knows only :class:`Provider`; a provider knows
only its own wire format. A provider raises :class:`ProviderError` with an
:class:`ErrorClass` so the chain can decide whether the next model is worth
trying (a timeout is, a refused prompt is not).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:  # Pillow is imported where images are handled, not by every user of this seam
    from PIL import Image


# The side of an image whose size nobody asked for: the tools' default, and the size a job paid on chain
# (which carries none) is drawn at. Square, SDXL's native resolution.
DEFAULT_IMAGE_SIDE_PX = 1024


class GenerationKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


@dataclass(frozen=True, kw_only=True)
class GenerationRequest:
    """What the caller asked for, already validated and cleaned."""

    kind: GenerationKind
    prompt: str
    width: int = DEFAULT_IMAGE_SIDE_PX
    height: int = DEFAULT_IMAGE_SIDE_PX
    steps: int | None = None
    seed: int | None = None
    negative_prompt: str | None = None
    model: str | None = None  # a preferred model, tried first when a provider serves it
    duration_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class Preview:
    """A small still of stored media for an assistant's context, and the longest side it was made for."""

    data: bytes = field(repr=False)
    mime_type: str
    max_px: int


@dataclass(frozen=True, kw_only=True)
class GeneratedMedia:
    """Bytes a provider produced, before validation and storage.

    ``image`` is set by a provider that drew the picture itself (the local renderer): validation
    then makes the preview from those pixels instead of decoding ``data`` a second time. It is
    dropped once the media is validated, and ``preview`` is set instead.
    """

    data: bytes = field(repr=False)  # never dump megabytes into a log line or traceback
    mime_type: str
    provider: str
    model: str
    width: int | None = None
    height: int | None = None
    notice: str | None = None  # what was fitted to the model's limits, in words for the user
    image: Image.Image | None = field(default=None, repr=False, compare=False)
    preview: Preview | None = field(default=None, repr=False, compare=False)


class ErrorClass(StrEnum):
    """Why one attempt failed; the chain's policy per class is in ``chain.py``.

    Only TIMEOUT, UNAVAILABLE, RATE_LIMITED, BAD_OUTPUT and CONFIG say something
    about a provider's health; UNSUPPORTED and INVALID_INPUT are about one model.
    """

    TIMEOUT = "timeout"  # the attempt ran past its timeout: try the next model
    UNAVAILABLE = "unavailable"  # 5xx, 503 model loading, connection refused: next model
    RATE_LIMITED = "rate_limited"  # 429: next model; a Retry-After holds the provider that long
    REFUSED = "refused"  # a documented content-policy refusal (flagged output): every model would refuse, stop
    INVALID_INPUT = "invalid_input"  # this model rejected a parameter (400/422): next model
    CONFIG = "config"  # bad or missing token / account: the operator must fix it; next provider
    BAD_OUTPUT = "bad_output"  # the bytes were not a valid image/video: next model
    UNSUPPORTED = "unsupported"  # unknown model, no provider serves it, or no access to it: next model
    CIRCUIT_OPEN = "circuit_open"  # skipped without a call, the provider failed recently


class ProviderError(Exception):
    """One failed attempt, classified."""

    def __init__(self, message: str, *, error_class: ErrorClass, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.retry_after_s = retry_after_s  # a 429's Retry-After: the provider is not called again before it


class Attempt(BaseModel):
    """One try of one model, recorded on the job and shown in GenerationResult.attempts."""

    provider: str
    model: str
    outcome: str  # "ok" | "error" | "skipped"
    error_class: ErrorClass | None = None
    message: str | None = None
    ms: int = 0


class Provider(abc.ABC):
    """A backend that turns a request into media with one of its models."""

    name: str

    @abc.abstractmethod
    def models(self, kind: GenerationKind) -> list[str]:
        """The models this provider will try for ``kind``, in order (empty: not served)."""

    @abc.abstractmethod
    async def generate(self, request: GenerationRequest, *, model: str) -> GeneratedMedia:
        """Produce media with ``model`` or raise :class:`ProviderError`."""

    def describe(self) -> str:
        """One line for logs and the chain listing: where this provider sends requests (never secrets)."""
        return self.name

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has none."""
