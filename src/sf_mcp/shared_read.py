"""One read for the callers that ask at the same time, never older than they accept.

Under load, many requests ask the same question of a slower party at once (the
chain head, the indexer's cursor). Each needs an answer at least as fresh as it
asks for (by default: begun after its own call); none needs a read of its own.
Callers queue on a lock: the first one reads, and a caller that finds a fresh
enough read takes that one. So a burst of any size costs one or two reads, and
nobody gets an answer older than it accepts.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anyio

T = TypeVar("T")


class SharedRead(Generic[T]):
    """``read()`` shared by concurrent callers; each gets a read that began at or after its ``since``.

    ``version`` counts this process's own changes to what is read (``Database.changes`` of a table): a
    value read before it changed is never reused, however recent.
    """

    def __init__(self, read: Callable[[], Awaitable[T]], *, version: Callable[[], int] = lambda: 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._version = version
        self._clock = clock
        self._lock = anyio.Lock()
        self._last: tuple[T, float, int] | None = None  # (value, clock when its read began, version then)

    async def get(self, *, since: float | None = None) -> T:
        """A value read at or after ``since`` (this reader's clock; default: now, when this call began)."""
        if since is None:
            since = self._clock()
        if self._last is not None and self._fresh(self._last, since):
            return self._last[0]
        async with self._lock:
            if self._last is not None and self._fresh(self._last, since):
                return self._last[0]
            started, version = self._clock(), self._version()
            value = await self._read()
            self._last = (value, started, version)
            return value

    def _fresh(self, last: tuple[T, float, int], since: float) -> bool:
        return last[1] >= since and last[2] == self._version()
