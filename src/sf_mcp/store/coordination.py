"""What replicas sharing one PostgreSQL database need beyond rows: wake-ups, a leader, one sender at a time.

- :class:`Notifications`: ``LISTEN/NOTIFY`` on a dedicated connection (reconnected when it drops);
  a notification sent inside a transaction is delivered to every replica when it commits. On
  SQLite (one process) the same calls are delivered in-process after the commit.
- :class:`Leadership`: one holder per name across replicas (the indexer of a chain), a session
  advisory lock on a dedicated connection. The holder checks its connection every ``lease_s / 2``
  and steps down when it cannot; the server drops a dead holder's session (TCP keepalives set to
  the lease) and a waiting replica, retrying every ``lease_s / 2``, takes over within twice the lease.
- :meth:`Coordination.exclusive`: a critical section across replicas (one sender per operator key).

Plain asyncpg connections are used here because LISTEN and session locks belong to one
long-lived session, which a pooled SQLAlchemy connection is not.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import asyncpg
from anyio.abc import TaskStatus
from sqlalchemy import text
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

Listener = Callable[[str], None]
RECONNECT_S = 1.0


def _dsn(engine_url: str) -> str:
    return make_url(engine_url).set(drivername="postgresql").render_as_string(hide_password=False)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for ``name`` (the same in every process)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


class Notifications:
    """Channels with listeners; ``run`` keeps the LISTEN connection alive on PostgreSQL."""

    def __init__(self, engine_url: str, postgres: bool) -> None:
        self._dsn = _dsn(engine_url) if postgres else ""
        self.postgres = postgres
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._conn: asyncpg.Connection | None = None
        self._listening: set[str] = set()

    async def listen(self, channel: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener(payload)`` for every notification on ``channel`` (sync, must not block).

        Once this returns on a connected replica, the channel is LISTENed to: nothing committed
        afterwards is missed.
        """
        self._listeners[channel].append(listener)
        conn = self._conn
        if conn is not None and channel not in self._listening:
            self._listening.add(channel)
            try:
                await conn.add_listener(channel, self._on_notify)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                self._listening.discard(channel)  # run() re-listens to every channel when it reconnects

        def unlisten() -> None:
            if listener in self._listeners[channel]:
                self._listeners[channel].remove(listener)

        return unlisten

    def deliver(self, channel: str, payload: str) -> None:
        for listener in list(self._listeners.get(channel, ())):
            try:
                listener(payload)
            except Exception:  # one bad listener must not starve the others
                logger.exception("listener of %s raised", channel)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Hold the LISTEN connection until cancelled (nothing to do on SQLite)."""
        if not self.postgres:
            task_status.started()
            await anyio.sleep_forever()
        started = False
        while True:
            lost = anyio.Event()
            try:
                conn = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                logger.warning("notifications: cannot connect (%s); retrying", exc)
                if not started:
                    started = True
                    task_status.started()
                await anyio.sleep(RECONNECT_S)
                continue
            try:
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                self._listening = set(self._listeners)
                for channel in self._listening:
                    await conn.add_listener(channel, self._on_notify)
                self._conn = conn
                if not started:
                    started = True
                    task_status.started()
                while not lost.is_set():  # liveness: a connection that stops answering is replaced
                    with anyio.move_on_after(5.0):
                        await lost.wait()
                    with anyio.fail_after(5):
                        await conn.fetchval("SELECT 1")
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                logger.warning("notifications: connection lost (%s); reconnecting", exc)
            finally:
                self._conn = None
                self._listening = set()
                with anyio.CancelScope(shield=True):
                    conn.terminate()
            await anyio.sleep(RECONNECT_S)

    def _on_notify(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        self.deliver(channel, payload)


class Leadership:
    """Run ``work`` only while this process holds the named lock; wait and take over otherwise."""

    def __init__(self, engine_url: str, postgres: bool, name: str, *, lease_s: float) -> None:
        self._dsn = _dsn(engine_url) if postgres else ""
        self.postgres = postgres
        self.name = name
        self.key = lock_key(name)
        self.lease_s = lease_s
        self.is_leader = False
        self.terms = 0  # how often this process became leader
        self.attempted = anyio.Event()  # set once this process tried the lock (for readiness and tests)
        self.session_pid: int | None = None  # the server process of this replica's lock session
        self.on_change: list[Callable[[bool], None]] = []

    def _set(self, leader: bool) -> None:
        if leader != self.is_leader:
            self.is_leader = leader
            self.terms += leader
            logger.info("%s: %s", self.name, "leading" if leader else "not leading")
            for hook in self.on_change:
                hook(leader)

    async def run(self, work: Callable[..., Awaitable[None]], *,
                  task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Until cancelled: wait for the lock, run ``work`` while it is held (``work`` returning ends it).

        On SQLite (one process owns the file's indexer) ``work`` runs at once and reports its own start
        (``work(task_status=...)``); on PostgreSQL this returns to the caller before the lock is won.
        """
        if not self.postgres:
            self._set(True)
            try:
                await work(task_status=task_status)
            finally:
                self._set(False)
            return
        task_status.started()
        step = self.lease_s / 2
        while True:
            try:
                conn = await asyncpg.connect(self._dsn, server_settings={
                    # the server drops a silent holder within the lease, which frees its lock
                    "tcp_keepalives_idle": str(max(1, int(step))),
                    "tcp_keepalives_interval": str(max(1, int(step / 2))),
                    "tcp_keepalives_count": "2",
                    "application_name": f"sf-mcp leader {self.name}"[:63],
                })
            except (OSError, asyncpg.PostgresError) as exc:
                logger.warning("%s: cannot connect (%s); retrying", self.name, exc)
                await anyio.sleep(step)
                continue
            try:
                self.session_pid = conn.get_server_pid()
                while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key):
                    self.attempted.set()
                    await anyio.sleep(step)
                self.attempted.set()
                finished = await self._lead(conn, work, step)
                if finished:
                    return
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                logger.warning("%s: lost the database connection (%s)", self.name, exc)
            finally:
                self._set(False)
                with anyio.CancelScope(shield=True):
                    conn.terminate()  # ends the session: the lock is free for the next replica at once
            await anyio.sleep(step)

    async def _lead(self, conn: asyncpg.Connection, work: Callable[[], Awaitable[None]], step: float) -> bool:
        """Run ``work`` while the lock's connection answers; True when ``work`` returned by itself."""
        self._set(True)
        done = False
        async with anyio.create_task_group() as tg:

            async def do_work() -> None:
                nonlocal done
                await work()
                done = True
                tg.cancel_scope.cancel()

            async def watch() -> None:
                while True:
                    await anyio.sleep(step)
                    try:
                        with anyio.fail_after(step):
                            await conn.fetchval("SELECT 1")
                    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                        logger.warning("%s: stepping down, the lock's connection failed (%s)", self.name, exc)
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(do_work)
            tg.start_soon(watch)
        return done


class Coordination:
    """The store's coordination parts, for one database."""

    def __init__(self, engine_url: str, postgres: bool, engine: Any) -> None:
        self._url, self.postgres, self._engine = engine_url, postgres, engine
        self.notifications = Notifications(engine_url, postgres)
        self._local_locks: dict[str, anyio.Lock] = defaultdict(anyio.Lock)

    def leadership(self, name: str, *, lease_s: float) -> Leadership:
        return Leadership(self._url, self.postgres, name, lease_s=lease_s)

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """One holder of ``name`` at a time in this process, and across replicas on PostgreSQL."""
        async with self._local_locks[name]:
            if not self.postgres:
                yield
                return
            async with self._engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(name)})
                try:
                    yield
                finally:
                    with anyio.CancelScope(shield=True):
                        await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
