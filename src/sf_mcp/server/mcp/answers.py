"""The one answer shape for a generation task, finished or not.

generate_image, generate_video and get_generation all answer with it: an inline preview
when the task made an image, a link to ``generation://{task_id}``, a sentence saying what
happened (and what to do while it runs), and the ``GenerationResult`` as structured output.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from mcp_types import CallToolResult, ImageContent, ResourceLink, TextContent

from sf_mcp.domain.generations import GenerationResult
from sf_mcp.server.services import Services
from sf_mcp.store import GenerationRow, JobStatus

# get_generation waits at most this long per call: under the 60 s after which most clients give up on a tool call.
MAX_WAIT_S = 50


async def generation_answer(
    services: Services, row: GenerationRow, *, replay: bool = False, notes: Sequence[str] = ()
) -> CallToolResult:
    """The tool result for ``row``; an error only when the task failed (a running task is an answer too)."""
    result = GenerationResult.from_row(row, replay=replay, notes=notes)
    content: list[ImageContent | ResourceLink | TextContent] = []
    if row.status is JobStatus.SUCCEEDED and row.content_sha256 and row.mime_type and row.mime_type.startswith("image/"):
        preview = await services.content.preview(row.content_sha256, services.settings.providers.preview_max_px)
        content.append(ImageContent(type="image", data=base64.b64encode(preview.data).decode(),
                                    mime_type=preview.mime_type))
    content.append(_link(result))
    content.append(TextContent(type="text", text=summary(result)))
    return CallToolResult(
        content=content,
        structured_content=result.model_dump(mode="json"),
        is_error=row.status in (JobStatus.FAILED, JobStatus.REFUNDED),
    )


def _link(result: GenerationResult) -> ResourceLink:
    return ResourceLink(
        type="resource_link",
        uri=result.resource_uri,
        name=f"generation {result.task_id}",
        mime_type="application/json",
        description=f"{result.kind} task, {result.status}",
    )


def summary(result: GenerationResult) -> str:
    """One paragraph an assistant can relay: the outcome, or how to get it, and every note."""
    status = JobStatus(result.status)
    if status is JobStatus.SUCCEEDED:
        text = f"{result.kind.capitalize()} ready: {result.content_uri} (model {result.model})."
        if result.notice:
            text += " " + result.notice
    elif status in (JobStatus.QUEUED, JobStatus.RUNNING):
        text = (
            f"Task {result.task_id} is {result.status}. Call get_generation with task_id {result.task_id!r} "
            f"(it waits up to {MAX_WAIT_S} s and returns the {result.kind}), or read {result.resource_uri} "
            "(subscribe to it for an update when it is done)."
        )
    else:
        if result.payment.refunded:
            refund = " The payment was returned."
        elif result.payment.method == "crypto":
            refund = " The on-chain refund is pending; the operator reviews it, nothing is lost."
        else:
            refund = ""
        text = f"Generation failed: {result.error}.{refund}"
    if result.payment.replay:
        text += " (This request had already started this task; nothing was charged again.)"
    for note in result.notes:
        text += f" Note: {note}."
    return text
