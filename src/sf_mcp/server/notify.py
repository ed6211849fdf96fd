"""Resource-updated notifications for both protocol eras.

Clients on protocol 2026-07-28 listen with ``subscriptions/listen`` and get
events from the SDK's subscription bus. Clients on 2025-06-18 / 2025-11-25 call
``resources/subscribe`` and expect ``notifications/resources/updated`` on their
session: the SDK leaves that registry to the server, so it lives here.
"""

from __future__ import annotations

import logging
import weakref
from collections import defaultdict
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus
from mcp_types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

logger = logging.getLogger(__name__)


class ResourceNotifier:
    """Publishes that a resource changed to every client that asked to hear it."""

    def __init__(self, bus: SubscriptionBus) -> None:
        self._bus = bus
        self._legacy: dict[str, weakref.WeakSet[Any]] = defaultdict(weakref.WeakSet)

    def install(self, server: MCPServer) -> None:
        """Serve the legacy ``resources/subscribe`` and ``resources/unsubscribe`` requests."""
        low = server._lowlevel_server  # the SDK documents registering legacy subscribe here

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
            await self._bus.publish(ResourceUpdated(uri=uri))
            for connection in list(self._legacy.get(uri, ())):
                try:
                    await connection.send_resource_updated(uri)
                except Exception:  # a gone client must not stop the others
                    logger.debug("dropping resource update for %s", uri, exc_info=True)


def _connection_of(ctx: Any) -> Any:
    """The client connection behind a request (its ServerSession lives only for that request).

    Held weakly, so a client that disconnects drops out of every subscription by itself.
    """
    return ctx.session._connection
