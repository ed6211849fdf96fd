"""One read for the callers that ask at the same time, never older than their asking.

Under load, many requests ask the same question of a slower party at once (the
chain head, the indexer's cursor). Each needs an answer at least as fresh as its
own call; none needs a read of its own. Callers queue on a lock: the first one
reads, and a caller that finds a read begun after it asked takes that one. So a
burst of any size costs one or two reads, and nobody gets a stale answer.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anyio

T = TypeVar("T")


class SharedRead(Generic[T]):
    """``read()`` shared by concurrent callers; each gets a read that began at or after its ``since``."""

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._lock = anyio.Lock()
        self._last: tuple[T, float] | None = None  # (value, time.monotonic() when its read began)

    async def get(self, *, since: float | None = None) -> T:
        """A value read at or after ``since`` (``time.monotonic()``; default: now, when this call began)."""
        if since is None:
            since = time.monotonic()
        async with self._lock:
            if self._last is None or self._last[1] < since:
                started = time.monotonic()
                self._last = (await self._read(), started)
            return self._last[0]
