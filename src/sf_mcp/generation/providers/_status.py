"""HTTP status -> error class, shared by the HTTP providers so they classify alike.

A 400 or 422 is never read as a refused prompt: none of the services we call
documents a content-policy refusal as an HTTP status (Workers AI's error table,
the Inference Providers task specs), so a rejected request is an invalid
parameter or an unknown model, and the next model may well serve it. The only
refusals are the documented ones read from a successful answer (fal's
``has_nsfw_concepts``, a blacked-out image): see ``sf_mcp.generation.safety``.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from sf_mcp.generation.base import ErrorClass

__all__ = ["MODEL_PROBLEMS", "classify_status", "retry_after_s"]

# A 400/422 naming one of these is about the model, not its parameters: another model may serve.
MODEL_PROBLEMS = ("not supported", "not found", "does not exist", "unknown model", "no provider mapping",
                  "not available", "no route", "no such model")

# A 403 naming one of these is about one model (gated, terms not accepted, private), not the token.
_NO_ACCESS_TO_MODEL = ("gated", "restricted", "agree", "not allowed to access this model")

_RETRY_AFTER_CAP_S = 3600.0  # a bogus "Retry-After: 99999999" must not switch a provider off for days


def classify_status(status: int, detail: str) -> ErrorClass:
    """Map an HTTP status (and the body's words) to the chain's error classes."""
    lowered = detail.lower()
    if status == 403 and any(w in lowered for w in _NO_ACCESS_TO_MODEL):
        return ErrorClass.UNSUPPORTED  # this model is closed to the account; its other models are not
    if status in (401, 402, 403):  # a rejected token, no credit left: the same for every model of the provider
        return ErrorClass.CONFIG
    if status in (404, 405, 410) or (status in (400, 422) and any(p in lowered for p in MODEL_PROBLEMS)):
        return ErrorClass.UNSUPPORTED
    if status in (400, 413, 422):
        return ErrorClass.INVALID_INPUT
    if status == 429:
        return ErrorClass.RATE_LIMITED
    if status in (408, 504):
        return ErrorClass.TIMEOUT
    return ErrorClass.UNAVAILABLE  # 5xx, 503 loading, anything else unexpected


def retry_after_s(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks us to wait (delta-seconds or an HTTP date), capped; None if absent."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), _RETRY_AFTER_CAP_S)
