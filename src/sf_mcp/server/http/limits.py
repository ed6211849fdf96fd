"""Rate limits for HTTP mode: tool calls per IP and per wallet, sign-in requests per IP.

Each limit is a token bucket per key: a key may spend ``capacity`` at once and
earns them back at ``capacity`` per ``window_s`` (the default, 100 per 15
minutes, allows a burst of 100 and then one call every 9 s). A refused tool call
answers an ``is_error`` result naming the limit and when to retry; a refused
sign-in request answers HTTP 429 with ``Retry-After``.

With SQLite (one server process) buckets live in this process and idle full
buckets are dropped so memory stays bounded by the number of active callers.
With PostgreSQL the buckets are rows shared by every replica (``store.rate_buckets``),
so a limit holds in total, not per replica.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types import CallToolResult, TextContent

from sf_mcp.config import Settings
from sf_mcp.server.http.observability import Metrics, current_request
from sf_mcp.store import RateBuckets

MAX_KEYS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key, in this process or (once :meth:`share` d) in the database."""

    def __init__(self, name: str, capacity: int, window_s: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.capacity = capacity
        self.window_s = window_s
        self._rate = capacity / window_s
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._shared: RateBuckets | None = None

    def share(self, buckets: RateBuckets | None) -> None:
        """Keep the buckets in the database from now on (None: back to this process)."""
        self._shared = buckets

    async def take(self, key: str) -> float | None:
        """Spend one token for ``key``: None when allowed, else the seconds until one is available."""
        if self._shared is not None:
            return await self._shared.take(f"{self.name}:{key}", capacity=self.capacity, window_s=self.window_s)
        return self._take_here(key)

    async def give_back(self, key: str) -> None:
        """Return a token taken by a call that another limit then refused."""
        if self._shared is not None:
            await self._shared.give_back(f"{self.name}:{key}", capacity=self.capacity)
            return
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(self.capacity, bucket.tokens + 1.0)

    def _take_here(self, key: str) -> float | None:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_KEYS:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(float(self.capacity), now)
        else:
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self._rate

    def describe(self, what: str, per: str) -> str:
        minutes = self.window_s / 60
        window = f"{minutes:g} minutes" if self.window_s >= 60 else f"{self.window_s:g} s"
        return f"{self.capacity} {what} per {window} per {per}"

    def _prune(self, now: float) -> None:
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * self._rate >= self.capacity]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= MAX_KEYS:  # everyone is active: forget the oldest half
            for key in sorted(self._buckets, key=lambda k: self._buckets[k].updated)[: MAX_KEYS // 2]:
                del self._buckets[key]


class Limits:
    """The configured limits of one server."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        window = settings.limits.rate_limit_window_s
        self.tool_ip = RateLimiter("tool_ip", settings.limits.rate_limit_ip, window, clock=clock)
        self.tool_wallet = RateLimiter("tool_wallet", settings.limits.rate_limit_wallet, window, clock=clock)
        self.auth_ip = RateLimiter("auth_ip", settings.limits.rate_limit_auth_ip, window, clock=clock)

    def share(self, buckets: RateBuckets | None) -> None:
        """Count every limit in the database shared by the replicas (None: in this process)."""
        for limiter in (self.tool_ip, self.tool_wallet, self.auth_ip):
            limiter.share(buckets)


class RateLimitMiddleware:
    """ServerMiddleware: refuse ``tools/call`` over the per-IP or per-wallet limit with a tool error."""

    def __init__(self, limits: Limits, metrics: Metrics) -> None:
        self._limits = limits
        self._metrics = metrics

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        request = current_request()
        ip = request.client_ip if request else None
        token = get_access_token()
        wallet = (token.subject or token.client_id) if token else None
        if ip is not None:
            retry_after = await self._limits.tool_ip.take(ip)
            if retry_after is not None:
                return self._refuse("ip", self._limits.tool_ip.describe("tool calls", "IP address"), retry_after)
        if wallet is not None:
            retry_after = await self._limits.tool_wallet.take(wallet)
            if retry_after is not None:
                if ip is not None:
                    await self._limits.tool_ip.give_back(ip)
                return self._refuse("wallet", self._limits.tool_wallet.describe("tool calls", "wallet"), retry_after)
        return await call_next(ctx)

    def _refuse(self, limit: str, rule: str, retry_after: float) -> CallToolResult:
        self._metrics.rate_limited.labels(limit=f"tool_{limit}").inc()
        seconds = int(retry_after) + 1
        text = f"rate limit: {rule} reached; try again in {seconds} s"
        return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
