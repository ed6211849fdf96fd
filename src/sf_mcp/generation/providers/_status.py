"""HTTP status -> error class, shared by the HTTP providers so they classify alike."""

from __future__ import annotations

from sf_mcp.generation.base import ErrorClass

__all__ = ["MODEL_PROBLEMS", "classify_status"]

# A 400/422 naming one of these is about the model, not the prompt: another model may serve.
MODEL_PROBLEMS = ("not supported", "not found", "does not exist", "unknown model", "no provider mapping",
                  "not available", "no route")


def classify_status(status: int, detail: str) -> ErrorClass:
    """Map an HTTP status (and the body's words) to the chain's error classes."""
    lowered = detail.lower()
    if status in (401, 403):
        return ErrorClass.CONFIG
    if status == 404 or (status in (400, 422) and any(p in lowered for p in MODEL_PROBLEMS)):
        return ErrorClass.UNSUPPORTED
    if status in (400, 422):
        return ErrorClass.REFUSED  # a refused or invalid prompt: every model would say the same
    if status == 429:
        return ErrorClass.RATE_LIMITED
    if status in (408, 504):
        return ErrorClass.TIMEOUT
    return ErrorClass.UNAVAILABLE  # 5xx, 503 loading, anything else unexpected
