"""Resource-updated notifications for both protocol eras, across replicas.

Clients on protocol 2026-07-28 listen with ``subscriptions/listen`` and get
events from the SDK's subscription bus. Clients on 2025-06-18 / 2025-11-25 call
``resources/subscribe`` and expect ``notifications/resources/updated`` on their
session: the SDK leaves that registry to the server, so it lives here.

Both are fed by one :class:`ReplicaBus`: once the store is open, a published update
travels through the database (LISTEN/NOTIFY on PostgreSQL) and reaches the listeners
of every replica, so a job finished on replica B reaches a client subscribed on A.
"""

from __future__ import annotations

import logging
import weakref
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
from anyio.abc import TaskStatus
from mcp.server.mcpserver import MCPServer
from mcp.server.subscriptions import ResourceUpdated, ServerEvent, SubscriptionBus
from mcp_types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from sf_mcp.store import Store

logger = logging.getLogger(__name__)


UPDATES_CHANNEL = "sf_resource_updated"


class ReplicaBus:
    """A ``SubscriptionBus`` whose resource updates reach the listeners of every replica.

    Before :meth:`attach` (no store yet) and on SQLite, events fan out in this process only.
    """

    def __init__(self) -> None:
        self._listeners: dict[object, Callable[[ServerEvent], None]] = {}
        self._store: Store | None = None

    async def attach(self, store: Store) -> Callable[[], None]:
        """Route updates through ``store``'s notifications; returns the detach callable."""
        self._store = store
        unlisten = await store.notifications.listen(UPDATES_CHANNEL, lambda uri: self._fan_out(ResourceUpdated(uri=uri)))

        def detach() -> None:
            unlisten()
            if self._store is store:
                self._store = None

        return detach

    async def publish(self, event: ServerEvent) -> None:
        store = self._store
        if store is not None and store.postgres and isinstance(event, ResourceUpdated):
            await store.publish(UPDATES_CHANNEL, str(event.uri))  # comes back to this replica's listeners too
            return
        self._fan_out(event)
        await anyio.lowlevel.checkpoint()

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        token = object()
        self._listeners[token] = listener

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe

    def _fan_out(self, event: ServerEvent) -> None:
        for listener in list(self._listeners.values()):
            try:
                listener(event)
            except Exception:  # one bad listener must not starve the others
                logger.exception("subscription listener raised; continuing")


class ResourceNotifier:
    """Publishes that a resource changed to every client that asked to hear it, on any replica."""

    def __init__(self, bus: SubscriptionBus | None = None) -> None:
        self.bus: SubscriptionBus = bus if bus is not None else ReplicaBus()
        self._legacy: dict[str, weakref.WeakSet[Any]] = defaultdict(weakref.WeakSet)
        self._pending: deque[str] = deque(maxlen=10_000)  # updates for legacy sessions, oldest dropped first
        self._arrived = anyio.Event()
        self.bus.subscribe(self._on_event)

    def _on_event(self, event: ServerEvent) -> None:
        if isinstance(event, ResourceUpdated) and self._legacy.get(str(event.uri)):
            self._pending.append(str(event.uri))
            self._arrived.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Deliver updates to legacy (``resources/subscribe``) sessions until cancelled."""
        task_status.started()
        while True:
            await self._arrived.wait()
            self._arrived = anyio.Event()
            while self._pending:
                await self._send_legacy(self._pending.popleft())

    async def _send_legacy(self, uri: str) -> None:
        for connection in list(self._legacy.get(uri, ())):
            try:
                await connection.send_resource_updated(uri)
            except Exception:  # a gone client must not stop the others
                logger.debug("dropping resource update for %s", uri, exc_info=True)

    async def attach(self, store: Store) -> Callable[[], None]:
        """Carry updates across the replicas sharing ``store`` (when the bus is a :class:`ReplicaBus`)."""
        return await self.bus.attach(store) if isinstance(self.bus, ReplicaBus) else (lambda: None)

    def install(self, server: MCPServer[Any]) -> None:
        """Serve the legacy ``resources/subscribe`` and ``resources/unsubscribe`` requests.

        The one place sf-mcp touches SDK private fields, for want of public ones in mcp 2.3:
        MCPServer has no public way to add a request handler, and the low-level server advertises
        ``resources.subscribe`` only when that handler is registered on it; and a request's
        ServerSession lives only for that request, while the client connection that outlives it
        (where later updates go) is reachable only as ``session._connection`` (``_connection_of``).
        """
        low = server._lowlevel_server

        async def subscribe(ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
            self._legacy[str(params.uri)].add(_connection_of(ctx))
            return EmptyResult()

        async def unsubscribe(ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
            self._legacy[str(params.uri)].discard(_connection_of(ctx))
            return EmptyResult()

        low.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
        low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)

    async def updated(self, *uris: str) -> None:
        for uri in uris:
            await self.bus.publish(ResourceUpdated(uri=uri))


def _connection_of(ctx: Any) -> Any:
    """The client connection behind a request (its ServerSession lives only for that request).

    Held weakly, so a client that disconnects drops out of every subscription by itself.
    """
    return ctx.session._connection
