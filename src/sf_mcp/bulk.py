"""Building and writing many rows at once without the cyclic garbage collector rescanning the whole heap.

A block range of a busy chain turns into hundreds of thousands of small objects (raw logs,
decoded events, their rows, jobs) that all stay alive until the range is written. CPython's
cyclic collector runs on allocation counts, and each full collection walks every tracked
object of the process (web3, SQLAlchemy, pydantic, and the range itself, again and again as
it grows): during the indexer's bulk ingest of 50,000 events that was about a quarter of its
time. Reference counting frees all of these as ever (they form no cycles); only the cyclic
collector waits until the range is written, then runs as usual. The pause spans the range's
database writes, so other tasks of the process run meanwhile with it paused too: seconds at
most, and nothing but the collection of reference cycles is deferred.

A leaf module (standard library only), like ``prompt`` and ``errors``.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["building_rows"]

_lock = threading.Lock()
_depth = 0  # batches open now (nested, or concurrent in tasks and threads): the last to end restores the collector
_was_enabled = False


@contextmanager
def building_rows() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is built and written; the state before is restored
    (also after an error). Nested and concurrent batches (tasks, threads) are fine: the last to end restores it."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
