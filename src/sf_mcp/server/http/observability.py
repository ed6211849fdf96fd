"""Logs, metrics and request identity for HTTP mode.

- :class:`RequestMiddleware` (ASGI, outermost) gives every HTTP request an id
  (``X-Request-ID``, echoed back), records the client IP in a context variable
  that tool calls see, checks Host/Origin on every route (the SDK checks /mcp
  only), counts requests and writes one access-log line.
- :class:`ToolCallMiddleware` (the SDK's ServerMiddleware) times every MCP
  request and logs tool calls with the wallet and tool name, never arguments.
- :class:`Metrics` owns a private Prometheus registry served at ``/metrics``.
- :class:`JsonFormatter` writes one JSON object per log line, with the request
  id, wallet and tool when there is one.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp_types import CallToolResult
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sf_mcp.chain import Indexer
from sf_mcp.server.services import Services
from sf_mcp.store import GenerationRow, JobStatus

logger = logging.getLogger("sf_mcp.http")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


@dataclass(frozen=True)
class RequestInfo:
    request_id: str
    client_ip: str | None


_current: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar("sf_mcp_request", default=None)
_tool: contextvars.ContextVar[str | None] = contextvars.ContextVar("sf_mcp_tool", default=None)


def current_request() -> RequestInfo | None:
    """The HTTP request being served (its id and client IP), also inside tool calls."""
    return _current.get()


# -- logs -----------------------------------------------------------------------
class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, wallet, tool, extras."""

    _STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request = _current.get()
        if request is not None:
            entry["request_id"] = request.request_id
        try:
            token = get_access_token()
        except Exception:  # pragma: no cover - outside any request
            token = None
        if token is not None:
            entry["wallet"] = token.subject or token.client_id
        tool = _tool.get()
        if tool is not None:
            entry["tool"] = tool
        for key, value in record.__dict__.items():
            if key not in self._STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_json_logging(level: int = logging.INFO) -> None:
    """Send every log record to stderr as JSON (``sf-mcp serve --transport http --log-json``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


# -- metrics --------------------------------------------------------------------
class Metrics:
    """The server's Prometheus metrics, in a registry of its own (several servers may share a process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "sf_mcp_http_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.mcp_requests = Counter("sf_mcp_mcp_requests", "MCP requests by method and outcome",
                                    ["method", "outcome"], registry=r)
        self.tool_calls = Counter("sf_mcp_tool_calls", "Tool calls by tool and outcome", ["tool", "outcome"], registry=r)
        self.tool_latency = Histogram(
            "sf_mcp_tool_call_seconds", "Tool call latency", ["tool"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.generations = Counter(
            "sf_mcp_generations", "Finished generations by kind, model and outcome", ["kind", "model", "outcome"],
            registry=r,
        )
        self.generation_latency = Histogram(
            "sf_mcp_generation_seconds", "Time from payment to finished generation", ["kind"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.payments = Counter(
            "sf_mcp_payments", "Payments of finished generations by method and outcome (settled/refunded)",
            ["method", "outcome"], registry=r,
        )
        self.rate_limited = Counter("sf_mcp_rate_limited", "Refusals by limit", ["limit"], registry=r)
        self.sign_ins = Counter("sf_mcp_sign_ins", "Sign-in attempts by outcome", ["outcome"], registry=r)
        self.token_checks = Counter("sf_mcp_token_checks", "Bearer token checks by outcome", ["outcome"], registry=r)
        self.token_verify_seconds = Histogram(
            "sf_mcp_token_verify_seconds", "JWT verification time (signature and claims, no DB)",
            buckets=(0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005), registry=r,
        )
        self.ready = Gauge("sf_mcp_ready", "1 when /readyz last answered ready", registry=r)
        self.queue_depth = Gauge("sf_mcp_job_queue_depth", "Queued jobs waiting for a worker (every replica)",
                                 registry=r)

    async def on_finished(self, row: GenerationRow) -> None:
        """runner.on_finished hook: count the generation and its payment."""
        self.generations.labels(kind=row.kind, model=row.model or "none", outcome=row.status).inc()
        if row.finished_at is not None:
            self.generation_latency.labels(kind=row.kind).observe(max(0.0, row.finished_at - row.created_at))
        outcome = {JobStatus.SUCCEEDED: "settled", JobStatus.REFUNDED: "refunded"}.get(row.status, str(row.status))
        self.payments.labels(method=row.payment_method, outcome=outcome).inc()


def indexer_lag(indexer: Indexer) -> float | None:
    """Blocks the indexer is behind the chain head, once it has polled."""
    checkpoint = indexer.checkpoint
    if checkpoint.last_block_seen < 0 or checkpoint.last_block_processed < 0:
        return None
    return float(max(0, checkpoint.last_block_seen - checkpoint.last_block_processed))


class ServicesCollector(Collector):
    """Figures read from the running services at each scrape: the indexer's lag and outages, this replica's
    job lease takeovers and its indexer leadership."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        services = self._services
        lag = indexer_lag(services.indexer)
        if lag is not None:
            family = GaugeMetricFamily("sf_mcp_indexer_lag_blocks", "Blocks between the chain head and the indexer")
            family.add_metric([], lag)
            yield family
        outages = CounterMetricFamily("sf_mcp_indexer_outages", "Outages of the indexer (runs of failed polls)")
        outages.add_metric([], services.indexer.checkpoint.outages)
        yield outages
        takeovers = CounterMetricFamily("sf_mcp_job_lease_takeovers",
                                        "Jobs this replica resumed after another worker's lease ran out")
        takeovers.add_metric([], services.store.generations.lease_takeovers)
        yield takeovers
        leadership = services.leadership
        if leadership is not None:
            leader = GaugeMetricFamily("sf_mcp_indexer_leader", "1 while this replica runs the chain indexer")
            leader.add_metric([], 1 if leadership.is_leader else 0)
            yield leader
            terms = CounterMetricFamily("sf_mcp_indexer_leader_changes",
                                        "Times this replica became the indexer's leader")
            terms.add_metric([], leadership.terms)
            yield terms


# -- MCP middleware ---------------------------------------------------------------
class ToolCallMiddleware:
    """ServerMiddleware: time and count MCP requests; log tool calls (never their arguments)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.request_id is None:  # a notification
            return await call_next(ctx)
        tool = None
        if ctx.method == "tools/call" and ctx.params and isinstance(ctx.params.get("name"), str):
            tool = ctx.params["name"][:64]
        reset = _tool.set(tool)
        started = time.perf_counter()
        outcome = "ok"
        try:
            result = await call_next(ctx)
            if _is_tool_error(result):
                outcome = "rate_limited" if _is_rate_limit(result) else "tool_error"
            return result
        except BaseException:
            outcome = "error"
            raise
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.mcp_requests.labels(method=ctx.method[:40], outcome=outcome).inc()
            if tool is not None:
                self._metrics.tool_calls.labels(tool=tool, outcome=outcome).inc()
                self._metrics.tool_latency.labels(tool=tool).observe(elapsed)
                request = _current.get()
                token = get_access_token()
                logger.info("tool call", extra={
                    "tool": tool, "outcome": outcome, "ms": round(elapsed * 1000, 1),
                    "request_id": request.request_id if request else None,
                    "wallet": (token.subject or token.client_id) if token else None,
                })
            _tool.reset(reset)


def _is_tool_error(result: HandlerResult) -> bool:
    if isinstance(result, CallToolResult):
        return bool(result.is_error)
    return isinstance(result, dict) and result.get("isError") is True


def _is_rate_limit(result: HandlerResult) -> bool:
    if isinstance(result, CallToolResult) and result.content:
        text = getattr(result.content[0], "text", "")
        return isinstance(text, str) and text.startswith("rate limit:")
    return False


# -- ASGI middleware ----------------------------------------------------------------
class RequestMiddleware:
    """Outermost ASGI layer: request id, client IP, Host/Origin check, HTTP metrics, access log."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, security: TransportSecuritySettings) -> None:
        self.app = app
        self._metrics = metrics
        self._security = TransportSecurityMiddleware(security)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        supplied = request.headers.get("x-request-id", "")
        request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        client_ip = request.client.host if request.client else None
        token = _current.set(RequestInfo(request_id=request_id, client_ip=client_ip))
        route = _route_label(scope.get("path", ""))
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            refused = await self._security.validate_request(request, is_post=False)
            if refused is not None:
                logger.warning("refused %s %s: %s", request.method, route, bytes(refused.body).decode(errors="replace"))
                await refused(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.http_requests.labels(route=route, status=str(status)).inc()
            user = scope.get("user")
            wallet = getattr(getattr(user, "access_token", None), "subject", None)
            extra = {"method": request.method, "path": route, "status": status, "ms": round(elapsed * 1000, 1),
                     "client_ip": client_ip}
            if wallet:
                extra["wallet"] = wallet
            logger.info("http request", extra=extra)
            _current.reset(token)


_ROUTES = ("/mcp", "/auth/nonce", "/auth/verify", "/auth/logout", "/metrics", "/healthz", "/readyz")


def _route_label(path: str) -> str:
    """A bounded label for metrics: known routes by name, everything else as 'other'."""
    if path in _ROUTES:
        return path
    if path.startswith("/.well-known/"):
        return "/.well-known"
    return "other"
