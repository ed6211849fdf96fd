"""Rate limits for HTTP mode: tool calls per IP and per wallet, sign-in requests per IP.

Each limit is a token bucket per key: a key may spend ``capacity`` at once and
earns them back at ``capacity`` per ``window_s`` (the default, 100 per 15
minutes, allows a burst of 100 and then one call every 9 s). A refused tool call
answers an ``is_error`` result naming the limit and when to retry; a refused
sign-in request answers HTTP 429 with ``Retry-After``.

With SQLite (one server process) buckets live in this process and idle full
buckets are dropped so memory stays bounded by the number of active callers.
With PostgreSQL the buckets are rows shared by every replica (``store.rate_buckets``),
so a limit holds in total, not per replica. A round trip per call would cost more than
the rest of a light call, so a caller that calls again within a lease time
(``max(window_s / capacity, 5 s)``: the time a bucket takes to earn one token, and at
least 5 s, or a raised limit would cost each fast caller a round trip every second) gets a
lease: a replica takes up to ``capacity / 20`` (at most 100) tokens at once from the
shared bucket and spends them locally until the lease time ends. Every call still
spends a token taken from the shared bucket, so the limit is never exceeded by more than
the tokens earned within one lease time (one token at the defaults, at most 5 s of the
window's worth otherwise: 0.6 % of a 15-minute limit); tokens of a lease
left unspent when it ends are lost, which refuses a fast caller that stops and restarts
at most ``capacity / 20 - 1`` calls early per replica. Callers slower than one call per
lease time take one token per call, exactly as without leases.
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
LEASE_SHARE = 20  # a lease is 1/20 of the capacity (5 of the default 100) ...
LEASE_MAX = 100  # ... and never more than 100 tokens
LEASE_MIN_S = 5.0


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class _Lease:
    """Tokens this replica took from the shared bucket of one key and may spend until ``until``."""

    tokens: int
    until: float


class RateLimiter:
    """A token bucket per key, in this process or (``shared``) in the database the replicas share."""

    def __init__(self, name: str, capacity: int, window_s: float, *, shared: RateBuckets | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.capacity = capacity
        self.window_s = window_s
        self._rate = capacity / window_s
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._shared = shared
        self._leases: dict[str, _Lease] = {}
        self._refilling: set[str] = set()  # keys whose lease is being taken from the shared bucket right now
        self._lease_size = max(1, min(LEASE_MAX, capacity // LEASE_SHARE))
        self._lease_s = max(window_s / capacity, LEASE_MIN_S)

    async def take(self, key: str) -> float | None:
        """Spend one token for ``key``: None when allowed, else the seconds until one is available."""
        if self._shared is None:
            return self._take_here(key)
        now = self._clock()
        lease = self._leases.get(key)
        if lease is not None and lease.until > now and lease.tokens > 0:
            lease.tokens -= 1
            return None
        shared, name = self._shared, f"{self.name}:{key}"
        fast = lease is not None and lease.until > now  # called again within a lease time
        # One lease in flight per key: calls arriving meanwhile take one token each, so a burst of concurrent
        # calls never takes a lease apiece (which would spend the bucket many times faster than the calls).
        if fast and self._lease_size > 1 and key not in self._refilling:
            self._refilling.add(key)
            try:
                leased = await shared.take(name, capacity=self.capacity, window_s=self.window_s,
                                           want=self._lease_size) is None
            finally:
                self._refilling.discard(key)
            if leased:
                self._lease(key, self._lease_size - 1, now)
                return None
        retry_after = await shared.take(name, capacity=self.capacity, window_s=self.window_s)
        if retry_after is None:
            self._lease(key, 0, now)  # nothing to spend yet: the next call within the lease time leases
        else:
            self._leases.pop(key, None)  # refused: the next call asks for one token, one round trip
        return retry_after

    def _lease(self, key: str, tokens: int, now: float) -> None:
        """Add ``tokens`` to the key's lease (a concurrent call may have leased meanwhile: nothing is dropped)."""
        current = self._leases.get(key)
        if current is not None and current.until > now:
            current.tokens += tokens
            if tokens:
                current.until = now + self._lease_s
            return
        if len(self._leases) >= MAX_KEYS:
            self._leases = {k: v for k, v in self._leases.items() if v.until > now}
            if len(self._leases) >= MAX_KEYS:
                self._leases.clear()  # only ever refuses early, never lets more through
        self._leases[key] = _Lease(tokens, now + self._lease_s)

    async def give_back(self, key: str) -> None:
        """Return a token taken by a call that another limit then refused."""
        if self._shared is not None:
            lease = self._leases.get(key)
            if lease is not None and lease.until > self._clock():
                lease.tokens += 1  # spent by this replica's next call of the key, without a round trip
            else:
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

    def __init__(self, settings: Settings, *, shared: RateBuckets | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``shared``: count every limit in the database the replicas share (None: in this process)."""
        window = settings.limits.rate_limit_window_s
        limits = settings.limits
        self.tool_ip = RateLimiter("tool_ip", limits.rate_limit_ip, window, shared=shared, clock=clock)
        self.tool_wallet = RateLimiter("tool_wallet", limits.rate_limit_wallet, window, shared=shared, clock=clock)
        self.auth_ip = RateLimiter("auth_ip", limits.rate_limit_auth_ip, window, shared=shared, clock=clock)


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
