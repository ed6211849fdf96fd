"""Serving the MCP server over streamable HTTP: many wallets, one server.

``/mcp`` needs a bearer token from Sign-In with Ethereum (``server.http.auth``);
without one the SDK answers 401 with ``WWW-Authenticate: Bearer ...,
resource_metadata=...`` and serves the protected-resource metadata at
``/.well-known/oauth-protected-resource/mcp``. Around it:

    /auth/nonce, /auth/verify, /auth/logout   sign-in (server.http.auth)
    /authorize, /token, /register, /revoke,   OAuth 2.1 for hosted assistants (server.oauth),
    /oauth/login, /.well-known/...            with Sign-In with Ethereum as the login page
    /healthz                                  liveness: the process answers
    /readyz                                   readiness: database, chain, providers
    /metrics                                  Prometheus text format

Tool calls are rate limited per IP and per wallet (``server.http.limits``); Host and
Origin are checked on every route; bodies over ``SF_MAX_REQUEST_BODY_BYTES``
get 413; the server binds 127.0.0.1 unless ``SF_HOST`` says otherwise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import RequestBodyLimitMiddleware, TransportSecuritySettings
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from sf_mcp.chain import IndexerState
from sf_mcp.config import Settings
from sf_mcp.generation import BreakerState
from sf_mcp.server.http.auth import SiweAuth, public_url
from sf_mcp.server.http.limits import Limits, RateLimitMiddleware
from sf_mcp.server.http.observability import (
    Metrics,
    RequestMiddleware,
    ServicesCollector,
    ToolCallMiddleware,
    indexer_lag,
)
from sf_mcp.server.http.routes import route
from sf_mcp.server.oauth import OAuthServer
from sf_mcp.server.services import Services

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"  # where the SDK serves the MCP endpoint
READY_TIMEOUT_S = 5.0
_LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"]
_LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*",
                     "http://127.0.0.1", "http://localhost", "http://[::1]"]


def add_health_routes(server: MCPServer) -> None:
    @route(server, "/healthz", methods=["GET"])
    async def healthz(_: Request) -> JSONResponse:
        """Liveness: the process answers HTTP."""
        return JSONResponse({"status": "ok"})


class Readiness(StrEnum):
    """What /readyz answers."""

    READY = "ready"  # every check passes
    DEGRADED = "degraded"  # only the chain or the indexer fails: free and credit generations work, crypto waits
    NOT_READY = "not ready"  # the database or every provider fails (503)


class HttpSurface:
    """What HTTP mode adds around the MCP server: sign-in, limits, metrics, logs and readiness.

    Built once the services are open (``server.app.open_http_app``) and before the MCP server,
    whose constructor takes the token verifier and middleware. The sign-in, OAuth and readiness
    routes are Starlette routes outside any MCP request: they use the services given here.
    """

    def __init__(
        self, settings: Settings, services: Services, *, metrics: Metrics, clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock``: what sign-in, tokens and OAuth codes are timed by (a test moves it to expire them)."""
        self.settings = settings
        self.services = services
        self.metrics = metrics
        metrics.registry.register(ServicesCollector(services))
        # Replicas share one database: their rate limits hold in total, not per replica.
        self.limits = Limits(settings, shared=services.store.rate_buckets if services.store.postgres else None)
        self.auth = SiweAuth(settings, services, limits=self.limits, metrics=metrics, clock=clock)
        self.oauth = OAuthServer(settings, self.auth, services.store, metrics=metrics)

    # -- wiring into build_server ------------------------------------------------
    def server_options(self) -> dict[str, Any]:
        """Keyword arguments for MCPServer: the token verifier, auth settings and middleware."""
        return {
            "token_verifier": self.auth,
            "auth": self.auth.auth_settings(),
            "middleware": [ToolCallMiddleware(self.metrics), RateLimitMiddleware(self.limits, self.metrics)],
        }

    def install(self, server: MCPServer) -> None:
        """Add the HTTP routes besides /mcp."""
        add_health_routes(server)
        self.auth.install(server)

        route(server, "/readyz", methods=["GET"])(self.readyz_route)
        route(server, "/metrics", methods=["GET"])(self.metrics_route)

    async def readyz_route(self, _: Request) -> JSONResponse:
        """Readiness: the database answers, the chain answers, a provider is available."""
        status, checks = await self.status()
        return JSONResponse({"status": status, "checks": checks},
                            status_code=503 if status is Readiness.NOT_READY else 200)

    async def metrics_route(self, _: Request) -> Response:
        self.metrics.queue_depth.set(await self.services.store.generations.queue_depth())
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # -- readiness ---------------------------------------------------------------------
    async def status(self) -> tuple[Readiness, dict[str, dict[str, Any]]]:
        """How ready this server is, with the checks behind it."""
        checks = await self.readiness()
        ready = all(c["ok"] for c in checks.values())
        serving = all(c["ok"] for name, c in checks.items() if name not in ("chain", "indexer"))
        self.metrics.ready.set(1 if ready else 0)
        return (Readiness.READY if ready else Readiness.DEGRADED if serving else Readiness.NOT_READY), checks

    async def readiness(self) -> dict[str, dict[str, Any]]:
        checks: dict[str, dict[str, Any]] = {}
        services = self.services
        checks["database"] = await _check(services.store.migration_state(), detail=_migration_detail)
        if checks["database"]["ok"] and "behind" in checks["database"]["detail"]:
            checks["database"]["ok"] = False
        checks["chain"] = await _check(services.chain.block_number(), detail=lambda n: f"block {n}")
        circuits = [p for p in services.providers.describe() if "circuit" in p]
        usable = [p["provider"] for p in circuits if p["circuit"] != BreakerState.OPEN]
        checks["providers"] = {
            "ok": bool(usable),
            "detail": f"available: {', '.join(usable)}" if usable else "every provider's circuit is open",
        }
        indexer = services.indexer
        state = indexer.state
        lag = indexer_lag(indexer)
        detail = str(state) + (f", {lag:g} blocks behind" if lag is not None else "")
        if state is IndexerState.DEGRADED:
            checkpoint = indexer.checkpoint
            detail += f" ({checkpoint.failures_in_a_row} failed polls in a row: {checkpoint.last_error})"[:300]
        leadership = services.leadership
        if leadership is not None and not leadership.is_leader:  # another replica indexes: nothing to check
            checks["indexer"] = {"ok": True, "detail": "another replica leads the indexer", "leader": False}
        else:
            checks["indexer"] = {"ok": state not in (IndexerState.DEGRADED, IndexerState.STOPPED), "detail": detail,
                                 "leader": leadership is not None}
        return checks

    # -- the ASGI app ---------------------------------------------------------------------
    def transport_security(self) -> TransportSecuritySettings:
        """Allowed Host and Origin headers: loopback, the public URL's, and the configured extras."""
        public = urlsplit(public_url(self.settings))
        hosts = [*_LOOPBACK_HOSTS, public.netloc, *self.settings.http.allowed_hosts]
        origins = [*_LOOPBACK_ORIGINS, f"{public.scheme}://{public.netloc}", *self.settings.http.allowed_origins]
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=list(dict.fromkeys(hosts)),
            allowed_origins=list(dict.fromkeys(o.rstrip("/") for o in origins)),
        )

    def asgi_app(self, server: MCPServer) -> ASGIApp:
        security = self.transport_security()
        app = server.streamable_http_app(
            host=self.settings.http.host,
            transport_security=security,
            max_request_body_size=self.settings.http.max_request_body_bytes,
        )
        self.oauth.mount(app)
        # Nearly every request is to /mcp, and Starlette tries the routes in order: it goes first.
        app.router.routes.sort(key=lambda r: getattr(r, "path", None) != MCP_PATH)
        # The SDK limits /mcp bodies itself; this limits every other route (/auth/verify reads JSON) too.
        limited = RequestBodyLimitMiddleware(self.oauth.guard(app), self.settings.http.max_request_body_bytes)
        return RequestMiddleware(limited, metrics=self.metrics, security=security)


def _migration_detail(state: tuple[str | None, str]) -> str:
    found, head = state
    return f"migration {found}" if found == head else f"migration {found or 'none'}, behind {head}"


async def _check(awaitable: Any, *, detail: Any = None) -> dict[str, Any]:
    try:
        with anyio.fail_after(READY_TIMEOUT_S):
            value = await awaitable
    except TimeoutError:
        return {"ok": False, "detail": f"no answer within {READY_TIMEOUT_S:g} s"}
    except Exception as exc:
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:200]}
    return {"ok": True, "detail": detail(value) if detail else "ok"}
