"""The structured results tools return: what an assistant reads back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from sf_mcp.generation.base import Attempt
from sf_mcp.store import GenerationRow, JobStatus

LOCAL_RENDERER = "local"
LOCAL_NOTICE = (
    "Rendered offline by the sf-mcp local renderer (a placeholder picture drawn from the prompt), "
    "not by an AI model: configure SF_HF_TOKEN or Cloudflare for real generations."
)


class PaymentView(BaseModel):
    method: str
    replay: bool = Field(default=False, description="True when this payment had already started this task.")
    refunded: bool = False
    details: dict[str, Any] = {}
    refund: dict[str, Any] | None = None


class PublicGeneration(BaseModel):
    """What anyone may see of someone else's generation (no payment or error details)."""

    task_id: str
    status: str = Field(description="queued | running | succeeded | failed | refunded")
    kind: str
    prompt: str
    wallet: str
    model: str | None = None
    content_uri: str | None = None
    public_url: str | None = None
    created_at: datetime

    @classmethod
    def from_row(cls, row: GenerationRow) -> PublicGeneration:
        return cls(**_public_fields(row))


class GenerationResult(PublicGeneration):
    """One generation task, as its own wallet (and the assistant acting for it) sees it."""

    provider: str | None = None
    model_requested: str | None = Field(default=None, description="The model the request asked for, if any.")
    local_renderer: bool = Field(default=False, description="True when the offline local renderer made it.")
    notice: str | None = None
    notes: list[str] = Field(default=[], description="What the caller should know: a model that was unavailable, "
                             "settings of a replayed payment that were not applied, ...")
    request_id: str | None = Field(default=None, description="The caller's idempotency key that started this task.")
    attempts: list[Attempt] = []
    payment: PaymentView
    resource_uri: str
    mime_type: str | None = None
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    elapsed_ms: int | None = None

    @classmethod
    def from_row(cls, row: GenerationRow, *, replay: bool = False, notes: Sequence[str] = ()) -> GenerationResult:
        local = row.provider == LOCAL_RENDERER
        requested = row.params.get("model")
        elapsed = None
        if row.finished_at is not None:
            elapsed = int((row.finished_at - row.created_at) * 1000)
        return cls(
            **_public_fields(row),
            provider=row.provider,
            local_renderer=local,
            model_requested=requested,
            notice=LOCAL_NOTICE if local else _fitted_notice(row.attempts),
            notes=[n for n in (_model_note(row, requested), *notes) if n],
            request_id=row.client_request_id,
            attempts=[Attempt(**a) for a in row.attempts],
            payment=PaymentView(
                method=row.payment_method,
                replay=replay,
                refunded=row.status is JobStatus.REFUNDED,
                details=row.payment,
                refund=row.refund,
            ),
            resource_uri=f"generation://{row.task_id}",
            mime_type=row.mime_type,
            error=row.error,
            started_at=_dt(row.started_at),
            finished_at=_dt(row.finished_at),
            elapsed_ms=elapsed,
        )


def _fitted_notice(attempts: list[dict[str, Any]]) -> str | None:
    """What the serving model changed in the request (its successful attempt's message), if anything."""
    return next((a.get("message") for a in reversed(attempts) if a.get("outcome") == "ok"), None)


def _public_fields(row: GenerationRow) -> dict[str, Any]:
    return {
        "task_id": row.task_id,
        "status": row.status,
        "kind": row.kind,
        "prompt": row.prompt,
        "wallet": row.wallet,
        "model": row.model,
        "content_uri": f"content://{row.content_sha256}" if row.content_sha256 else None,
        "public_url": row.public_url,
        "created_at": _dt(row.created_at),
    }


def _model_note(row: GenerationRow, requested: str | None) -> str | None:
    """Say so when the model asked for did not make the result (unknown to every provider, or failed)."""
    if not requested or row.status is not JobStatus.SUCCEEDED or row.model == requested:
        return None
    tried = any(a.get("model") == requested for a in row.attempts)
    why = "failed" if tried else "is not available on this server (no configured provider serves it)"
    return f"model {requested} was asked for but {why}; {row.model} made this {row.kind} instead"


def iso_utc(ts: float | None) -> str | None:
    """Unix seconds as an ISO 8601 UTC time (``2026-11-30T00:00:00Z``), for fields beside the unix ones."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=UTC) if ts is not None else None
