"""generate_image and generate_video: pay, generate, and hand back the media."""

from __future__ import annotations

import base64
from typing import Annotated

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ImageContent, ResourceLink, TextContent
from pydantic import Field

from sf_mcp.generation.base import GenerationKind
from sf_mcp.generation.media import clean_prompt, make_preview
from sf_mcp.jobs import Payment, Progress, Reservation
from sf_mcp.server.identity import caller_wallet
from sf_mcp.server.models import GenerationResult
from sf_mcp.server.results import services_of, tool_errors

PaymentArg = Annotated[
    Payment,
    Field(
        discriminator="method",
        description='How to pay: {"method": "free"} (daily free quota), {"method": "credits"}, '
        'or {"method": "crypto", "tx_hash": "0x..."} for a payWithS/payWithUSDC/useCredits transaction.',
    ),
]
PromptArg = Annotated[str, Field(description="What to draw; up to 1000 bytes, markup is stripped.")]
SeedArg = Annotated[int | None, Field(ge=0, le=2**32 - 1, description="Fixed seed for a repeatable result.")]
ModelArg = Annotated[str | None, Field(max_length=200, description="Preferred model, tried first if available.")]

# How long generate_video waits before answering "running": short, so an assistant is never blocked.
VIDEO_ANSWER_WITHIN_S = 1.0


def register(server: MCPServer) -> None:
    @server.tool(structured_output=True)
    @tool_errors
    async def generate_image(
        prompt: PromptArg,
        payment: PaymentArg,
        ctx: Context,
        width: Annotated[int, Field(ge=64, le=2048, description="Pixels, 64..2048.")] = 1024,
        height: Annotated[int, Field(ge=64, le=2048, description="Pixels, 64..2048.")] = 1024,
        steps: Annotated[int | None, Field(ge=1, le=100, description="Diffusion steps, 1..100.")] = None,
        seed: SeedArg = None,
        negative_prompt: Annotated[str | None, Field(max_length=1000, description="What to avoid.")] = None,
        model: ModelArg = None,
    ) -> Annotated[CallToolResult, GenerationResult]:
        """Generate an image from a text prompt and pay for it (free daily quota, credits or a Sonic payment).

        Returns a small preview, a link to the full result (generation://{task_id}) and the task's
        details. Retrying with the same crypto payment returns the same task instead of paying twice.
        """
        services = services_of(ctx)
        params = {"width": width, "height": height, "steps": steps, "seed": seed,
                  "negative_prompt": negative_prompt, "model": model}
        reservation = await _reserve(ctx, GenerationKind.IMAGE, prompt, payment, params)
        row = await _await_job(ctx, reservation)
        result = GenerationResult.from_row(row, replay=reservation.replay)
        content: list = []
        if row.content_sha256 and row.mime_type and row.mime_type.startswith("image/"):
            data, _ = await services.content.get(row.content_sha256)
            preview, mime = await anyio.to_thread.run_sync(make_preview, data, services.settings.preview_max_px)
            content.append(ImageContent(type="image", data=base64.b64encode(preview).decode(), mime_type=mime))
        content.append(_link(result))
        content.append(TextContent(type="text", text=_summary(result, reservation.note)))
        return CallToolResult(
            content=content, structured_content=result.model_dump(mode="json"), is_error=result.status != "succeeded"
        )

    @server.tool(structured_output=True)
    @tool_errors
    async def generate_video(
        prompt: PromptArg,
        payment: PaymentArg,
        ctx: Context,
        duration_s: Annotated[float | None, Field(gt=0, le=30, description="Seconds of video, up to 30.")] = None,
        seed: SeedArg = None,
        model: ModelArg = None,
    ) -> Annotated[CallToolResult, GenerationResult]:
        """Generate a short video from a text prompt and pay for it; videos take minutes.

        Answers within about a second with the task (usually "queued" or "running") and a link
        to generation://{task_id}. Subscribe to that resource (or read it later): it is updated
        when the video is stored, and its content_uri then serves the mp4.
        """
        params = {"duration_s": duration_s, "seed": seed, "model": model}
        reservation = await _reserve(ctx, GenerationKind.VIDEO, prompt, payment, params)
        with anyio.move_on_after(VIDEO_ANSWER_WITHIN_S):
            await _await_job(ctx, reservation)
        row = await services_of(ctx).store.generations.get(reservation.job.task_id)
        assert row is not None
        result = GenerationResult.from_row(row, replay=reservation.replay)
        return CallToolResult(
            content=[_link(result), TextContent(type="text", text=_summary(result, reservation.note))],
            structured_content=result.model_dump(mode="json"),
            is_error=result.status in ("failed", "refunded"),
        )


async def _reserve(ctx: Context, kind: GenerationKind, prompt: str, payment: Payment, params: dict) -> Reservation:
    services = services_of(ctx)
    wallet = caller_wallet(services.settings, over_http=services.over_http)
    cleaned = clean_prompt(prompt)
    reservation = await services.gate.reserve(
        wallet=wallet, kind=kind.value, prompt=cleaned, params=params, payment=payment
    )
    services.runner.wake()
    await ctx.report_progress(0, 3, f"task {reservation.job.task_id} queued")
    return reservation


async def _await_job(ctx: Context, reservation: Reservation):
    async def on_progress(p: Progress) -> None:
        await ctx.report_progress(p.step, p.total, p.message)

    return await services_of(ctx).runner.wait_finished(reservation.job.task_id, on_progress=on_progress)


def _link(result: GenerationResult) -> ResourceLink:
    return ResourceLink(
        type="resource_link",
        uri=result.resource_uri,
        name=f"generation {result.task_id}",
        mime_type="application/json",
        description=f"{result.kind} task, {result.status}",
    )


def _summary(result: GenerationResult, note: str | None = None) -> str:
    if result.status == "succeeded":
        text = f"{result.kind.capitalize()} ready: {result.content_uri} (model {result.model})."
        if result.notice:
            text += " " + result.notice
    elif result.status in ("queued", "running"):
        text = f"Task {result.task_id} is {result.status}; subscribe to {result.resource_uri} for the result."
    else:
        if result.payment.refunded:
            refund = " The payment was returned."
        elif result.payment.method == "crypto":
            refund = " The on-chain refund is pending; the operator reviews it, nothing is lost."
        else:
            refund = ""
        text = f"Generation failed: {result.error}.{refund}"
    if result.payment.replay:
        text += " (This payment had already started this task; nothing was charged again.)"
    if note:
        text += f" Note: {note}."
    return text
