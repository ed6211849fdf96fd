"""generate_image, generate_video and get_generation: pay, generate, and hand back the media."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent
from pydantic import Field
from x402.schemas import ResourceInfo

from sf_mcp.domain.generations import GenerationResult
from sf_mcp.errors import InvalidRequest, NotFound, Unauthorized
from sf_mcp.generation.base import DEFAULT_IMAGE_SIDE_PX, GenerationKind
from sf_mcp.jobs import Payment, Progress, Reservation, X402Payment
from sf_mcp.jobs.x402 import META_PAYMENT, META_RESPONSE, X402Required
from sf_mcp.prompt import clean_prompt
from sf_mcp.server.apps.views import tool_meta
from sf_mcp.server.mcp.answers import MAX_WAIT_S, generation_answer
from sf_mcp.server.mcp.context import services_of
from sf_mcp.server.mcp.identity import caller_wallet
from sf_mcp.server.mcp.results import tool_errors
from sf_mcp.server.services import Services
from sf_mcp.store import GenerationRow

PaymentArg = Annotated[
    Payment | None,
    Field(
        discriminator="method",
        description='How to pay: {"method": "free"} (daily free quota), {"method": "credits"}, '
        '{"method": "crypto", "tx_hash": "0x..."} for a payWithS/payWithUSDC/useCredits transaction, or '
        '{"method": "x402"}: USDC per call, signed (no gas); the answer gives the terms to sign, then call again '
        'with the payment in _meta["x402/payment"]. May be left out when _meta carries an x402 payment.',
    ),
]
PromptArg = Annotated[str, Field(description="What to draw; up to 1000 bytes, markup is stripped.")]
SeedArg = Annotated[int | None, Field(ge=0, le=2**32 - 1, description="Fixed seed for a repeatable result.")]
ModelArg = Annotated[str | None, Field(max_length=200, description="Preferred model, tried first if available.")]
RequestIdArg = Annotated[
    str | None,
    Field(
        min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$",
        description="Your idempotency key for this request (e.g. a UUID): calling again with the same request_id "
        "returns the same task and never charges twice; a different request under it is refused.",
    ),
]
MaxPriceArg = Annotated[Decimal | None, Field(
    ge=0, description="The most you agree to pay for this generation, in the payment's own unit (credits for "
    "credits, USDC for x402; free costs 0); above the current price (see the quote tool) the call is refused and "
    "nothing is charged. Not for crypto payments, which your own transaction already made.")]

# How long generate_video waits before answering "running": short, so an assistant is never blocked.
VIDEO_ANSWER_WITHIN_S = 1.0


@dataclass(frozen=True)
class Order:
    """One generate call's request, as the tool parsed it."""

    kind: GenerationKind
    prompt: str
    payment: Payment | None
    params: dict[str, Any]
    request_id: str | None
    max_price: Decimal | None


async def generate_image(
    prompt: PromptArg,
    ctx: Context[Services],
    payment: PaymentArg = None,
    width: Annotated[int, Field(ge=64, le=2048, description="Pixels, 64..2048.")] = DEFAULT_IMAGE_SIDE_PX,
    height: Annotated[int, Field(ge=64, le=2048, description="Pixels, 64..2048.")] = DEFAULT_IMAGE_SIDE_PX,
    steps: Annotated[int | None, Field(ge=1, le=100, description="Diffusion steps, 1..100.")] = None,
    seed: SeedArg = None,
    negative_prompt: Annotated[str | None, Field(max_length=1000, description="What to avoid.")] = None,
    model: ModelArg = None,
    request_id: RequestIdArg = None,
    max_price: MaxPriceArg = None,
) -> Annotated[CallToolResult, GenerationResult]:
    """Generate an image from a text prompt and pay for it (free daily quota, credits or a Sonic payment).

    Returns a small preview, a link to the full result (generation://{task_id}) and the task's
    details. If the image takes longer than about 45 s, answers with the running task instead:
    call get_generation with its task_id for the image. Retrying with the same crypto payment
    or the same request_id returns the same task instead of paying twice.
    """
    order = Order(kind=GenerationKind.IMAGE, prompt=prompt, payment=payment, request_id=request_id,
                  max_price=max_price, params={"width": width, "height": height, "steps": steps, "seed": seed,
                                               "negative_prompt": negative_prompt, "model": model})
    return await _generate(ctx, order, within_s=services_of(ctx).settings.providers.image_answer_within_s)


async def generate_video(
    prompt: PromptArg,
    ctx: Context[Services],
    payment: PaymentArg = None,
    duration_s: Annotated[float | None, Field(gt=0, le=30, description="Seconds of video, up to 30.")] = None,
    seed: SeedArg = None,
    model: ModelArg = None,
    request_id: RequestIdArg = None,
    max_price: MaxPriceArg = None,
) -> Annotated[CallToolResult, GenerationResult]:
    """Generate a short video from a text prompt and pay for it; videos take minutes.

    Answers within about a second with the task (usually "queued" or "running") and a link
    to generation://{task_id}. Call get_generation with the task_id to wait for the video, or
    subscribe to that resource (or read it later): it is updated when the video is stored,
    and its content_uri then serves the mp4.
    """
    order = Order(kind=GenerationKind.VIDEO, prompt=prompt, payment=payment, request_id=request_id,
                  max_price=max_price, params={"duration_s": duration_s, "seed": seed, "model": model})
    return await _generate(ctx, order, within_s=VIDEO_ANSWER_WITHIN_S)


async def get_generation(
    task_id: Annotated[str, Field(min_length=1, max_length=64, description="The task_id a generate tool gave.")],
    ctx: Context[Services],
    wait_s: Annotated[
        float, Field(ge=0, le=MAX_WAIT_S, description=f"Wait up to this long for it to finish (0..{MAX_WAIT_S}).")
    ] = 30,
) -> Annotated[CallToolResult, GenerationResult]:
    """Get one of your generations, waiting up to wait_s seconds for it to finish.

    Answers like generate_image: a preview of a finished image, a link to generation://{task_id}
    and the task's details. Use it when a generate tool answered "queued" or "running"; call it
    again while the task still runs.
    """
    services = services_of(ctx)
    row = await services.store.generations.get(task_id)
    if row is None:
        raise NotFound(f"task_id: no generation task {task_id!r}")
    if row.wallet != caller_wallet(services.settings, over_http=services.over_http):
        raise Unauthorized(f"task_id: task {task_id} belongs to another wallet; its public fields are at "
                           f"generation://{task_id}")
    return await generation_answer(services, await _wait(ctx, task_id, wait_s))


TOOLS = (generate_image, generate_video, get_generation)


def register(server: MCPServer) -> None:
    for tool in TOOLS:
        server.add_tool(tool_errors(tool), structured_output=True, meta=tool_meta(tool.__name__))


async def _generate(ctx: Context[Services], order: Order, *, within_s: float) -> CallToolResult:
    """Reserve the payment, then answer with the task as it is after ``within_s`` (or x402's terms to sign)."""
    try:
        reservation = await _reserve(ctx, order)
    except X402Required as required:
        return _payment_required(required)
    row = await _wait(ctx, reservation.job.task_id, within_s)
    return await _answer(ctx, row, reservation)


async def _reserve(ctx: Context[Services], order: Order) -> Reservation:
    services = services_of(ctx)
    wallet = caller_wallet(services.settings, over_http=services.over_http)
    payload = (ctx.request_context.meta or {}).get(META_PAYMENT)  # the x402 MCP transport's payment
    payment = order.payment
    if payment is None:
        if payload is None:
            raise InvalidRequest("payment: is required")
        payment = X402Payment(method="x402")
    kind = order.kind.value
    resource = ResourceInfo(url=f"mcp://tool/generate_{kind}", description=f"one {kind} made by sf-mcp",
                            mime_type="application/json")
    reservation = await services.gate.reserve(
        wallet=wallet, kind=kind, prompt=clean_prompt(order.prompt), params=order.params, payment=payment,
        request_id=order.request_id, max_price=order.max_price,
        x402={"payload": payload, "resource": resource, "over_http": services.over_http},
    )
    services.runner.wake()
    await ctx.report_progress(0, 3, f"task {reservation.job.task_id} queued")
    return reservation


async def _wait(ctx: Context[Services], task_id: str, within_s: float) -> GenerationRow:
    """The task's row once it finished, or as it is after ``within_s`` (progress is reported meanwhile)."""
    services = services_of(ctx)

    async def on_progress(p: Progress) -> None:
        await ctx.report_progress(p.step, p.total, p.message)

    with anyio.move_on_after(within_s):
        return await services.runner.wait_finished(task_id, on_progress=on_progress)
    row = await services.store.generations.get(task_id)
    assert row is not None  # jobs are never deleted
    return row


async def _answer(ctx: Context[Services], row: GenerationRow, reservation: Reservation) -> CallToolResult:
    notes = [reservation.note] if reservation.note else []
    answer = await generation_answer(services_of(ctx), row, replay=reservation.replay, notes=notes)
    if reservation.settlement is not None:  # x402: the settlement, where the transport spec puts it
        answer.meta = {**(answer.meta or {}), META_RESPONSE: reservation.settlement}
    return answer


def _payment_required(required: X402Required) -> CallToolResult:
    """The x402 MCP transport's payment-required (or settlement-failed) result."""
    return CallToolResult(content=[TextContent(type="text", text=required.wrapped())],
                          structured_content=required.required, is_error=True)
