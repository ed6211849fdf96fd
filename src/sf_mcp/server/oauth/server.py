"""``OAuthServer``: the provider, its routes, the login page and the scope guard, mounted on the HTTP app."""

from __future__ import annotations

import jwt
from mcp.server.auth.routes import build_resource_metadata_url
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from sf_mcp.config import Settings
from sf_mcp.server.http.auth import SiweAuth
from sf_mcp.server.http.observability import Metrics
from sf_mcp.server.http.scopes import ALL_SCOPES, ScopeMiddleware
from sf_mcp.server.oauth.login import LoginPage
from sf_mcp.server.oauth.provider import SfOAuthProvider
from sf_mcp.server.oauth.routes import oauth_routes
from sf_mcp.store import Store


class OAuthServer:
    """Everything OAuth adds to the HTTP surface; built once, beside ``SiweAuth``."""

    def __init__(
        self, settings: Settings, auth: SiweAuth, store: Store, *, metrics: Metrics | None = None
    ) -> None:
        self._auth = auth
        self.provider = SfOAuthProvider(settings, auth, store)
        self.login = LoginPage(self.provider, auth, metrics)

    def routes(self) -> list[BaseRoute]:
        return [*oauth_routes(self.provider), *self.login.routes()]

    def mount(self, app: Starlette) -> None:
        """Put the OAuth routes in front of the SDK's (ours extend its metadata and handlers)."""
        app.router.routes[0:0] = self.routes()

    def guard(self, app: ASGIApp, *, path: str = "/mcp") -> ASGIApp:
        """Refuse tool calls outside the token's scopes with the spec's insufficient_scope challenge."""
        metadata = str(build_resource_metadata_url(AnyHttpUrl(self._auth.resource)))
        return ScopeMiddleware(app, path=path, token_scopes=self.token_scopes, resource_metadata=metadata)

    def token_scopes(self, token: str) -> list[str] | None:
        """The scopes of one of our bearer tokens (every scope for /auth/verify tokens); None if not ours."""
        try:
            claims = self._auth.decode(token)
        except jwt.PyJWTError:
            return None
        scope = claims.get("scope")
        return scope.split() if isinstance(scope, str) else list(ALL_SCOPES)
