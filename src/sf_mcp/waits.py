"""Timed waits that an event may cut short, through a sleep the caller can replace.

The indexer's poll interval and backoff and the job runner's idle waits, lease renewals and re-reads
are all "sleep this long unless woken". Each takes its sleep as a constructor argument (``anyio.sleep``
by default), so a test watches the waits, or makes them instant or endless, instead of patching private
methods; this module is the one place where the sleep and the wake-up race.

A leaf module (anyio only), like ``bulk`` and ``errors``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

Sleep = Callable[[float], Awaitable[None]]


async def sleep_unless_set(event: anyio.Event, seconds: float, *, sleep: Sleep = anyio.sleep) -> None:
    """Return after ``sleep(seconds)``, or as soon as ``event`` is set (at once, without sleeping, if it is).

    With the real sleep this is a plain timeout on the event: waiters re-read jobs on the tool-call path, so
    the helper task a replaced sleep needs is only started for one.
    """
    if event.is_set():
        return
    if sleep is anyio.sleep:
        with anyio.move_on_after(seconds):
            await event.wait()
        return
    async with anyio.create_task_group() as tg:

        async def until_set() -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        tg.start_soon(until_set)
        await sleep(seconds)
        tg.cancel_scope.cancel()
