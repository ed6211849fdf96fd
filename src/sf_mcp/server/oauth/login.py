"""The login page of the OAuth flow: who asks, for what, and a wallet signature to say yes.

``GET /oauth/login?request=...`` shows the client's name, where the browser returns to
and the scopes asked, each of which the user may untick. The page's script (``static/login.js``) asks
``/oauth/login/message`` for the EIP-4361 message (bound to the wallet, the request and
this ``/mcp``), has an EIP-1193 wallet sign it (or takes a pasted signature), and posts it
to ``/oauth/login/approve``, which checks it exactly like ``/auth/verify`` (EIP-1271
contract wallets included) and answers the client's redirect with a code.

The page is self-contained: no third-party script, style or font; a strict
Content-Security-Policy; it refuses to be framed (``frame-ancestors 'none'`` and
``X-Frame-Options: DENY``), so no other site can overlay it to trick a signature.
"""

from __future__ import annotations

import html
import importlib.resources
import logging
from string import Template
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from sf_mcp.errors import ChainUnavailable, SfMcpError
from sf_mcp.server.http.auth import SiweAuth
from sf_mcp.server.http.observability import Metrics
from sf_mcp.server.http.scopes import SCOPE_DESCRIPTIONS
from sf_mcp.server.oauth.provider import LOGIN_PATH, OAuthFailed, SfOAuthProvider, redirect_host

logger = logging.getLogger(__name__)

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
STATIC_TYPES = {"login.js": "text/javascript; charset=utf-8", "login.css": "text/css; charset=utf-8"}


def _static(name: str) -> str:
    return (importlib.resources.files("sf_mcp.server.oauth") / "static" / name).read_text(encoding="utf-8")


class LoginPage:
    """The login page and its three JSON calls (message, approve, deny)."""

    def __init__(self, provider: SfOAuthProvider, auth: SiweAuth, metrics: Metrics | None = None) -> None:
        self._provider = provider
        self._auth = auth
        self._metrics = metrics
        self._page = Template(_static("login.html"))
        self._error = Template(_static("error.html"))
        self._assets = {name: _static(name) for name in STATIC_TYPES}

    def routes(self) -> list[Route]:
        return [
            Route(LOGIN_PATH, self.page, methods=["GET"]),
            Route("/oauth/static/{name}", self.asset, methods=["GET"]),
            Route(f"{LOGIN_PATH}/message", self.message, methods=["GET"]),
            Route(f"{LOGIN_PATH}/approve", self.approve, methods=["POST"]),
            Route(f"{LOGIN_PATH}/deny", self.deny, methods=["POST"]),
        ]

    async def page(self, request: Request) -> Response:
        request_id = request.query_params.get("request", "")
        try:
            client, params = await self._provider.pending(request_id)
        except OAuthFailed as exc:
            return self._html(self._error.substitute(message=html.escape(str(exc))), exc.status)
        name = client.client_name or "An unnamed app"
        if client.is_metadata_document:
            note = f"identified by its metadata document at {redirect_host(client.client_id)}"
        else:
            note = "not verified (it registered itself here): continue only if you started this sign-in from it"
        items = "\n".join(
            f'    <li><label><input type="checkbox" name="scope" value="{html.escape(s)}" checked>'
            f"<b>{html.escape(s)}</b><span>{html.escape(SCOPE_DESCRIPTIONS[s])}</span></label></li>"
            for s in params["scopes"]
        )
        body = self._page.substitute(
            request_id=html.escape(request_id), client_name=html.escape(name),
            redirect_host=html.escape(redirect_host(params["redirect_uri"])), client_note=html.escape(note),
            scope_items=items,
        )
        return self._html(body, 200)

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self._assets:
            return Response("not found", 404, headers=SECURITY_HEADERS)
        headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=300"}
        return Response(self._assets[name], media_type=STATIC_TYPES[name], headers=headers)

    async def message(self, request: Request) -> Response:
        if refused := await self._auth.limited(request):
            return refused
        address = request.query_params.get("address", "")
        try:
            issued = await self._provider.login_message(
                request.query_params.get("request", ""), address, request.query_params.get("scope"))
        except OAuthFailed as exc:
            return _error(exc.status, "invalid_request", str(exc))
        except SfMcpError as exc:  # AuthFailed: a malformed address
            return _error(400, "invalid_request", str(exc))
        return JSONResponse({"message": issued["message"], "address": issued["address"]}, headers=SECURITY_HEADERS)

    async def approve(self, request: Request) -> Response:
        if refused := await self._auth.limited(request):
            return refused
        body = await _json(request)
        if body is None or not all(isinstance(body.get(k), str) for k in ("request", "message", "signature")) \
                or not isinstance(body.get("scope", ""), str):
            return _error(400, "invalid_request", 'body: expected JSON {"request", "message", "signature", "scope"?}')
        try:
            redirect = await self._provider.approve(body["request"], body["message"], body["signature"],
                                                    body.get("scope"))
        except OAuthFailed as exc:
            self._count("refused")
            return _error(exc.status, "invalid_request", str(exc))
        except ChainUnavailable as exc:
            self._count("unavailable")
            return _error(503, "temporarily_unavailable", str(exc))
        except SfMcpError as exc:  # AuthFailed or SiweError: the check that failed, by name
            self._count("refused")
            logger.info("OAuth sign-in refused: %s", exc)
            return _error(401, "access_denied", str(exc))
        self._count("ok")
        return JSONResponse({"redirect": redirect}, headers=SECURITY_HEADERS)

    def _count(self, outcome: str) -> None:
        """OAuth logins are sign-ins too: the same counter as /auth/verify (sf_mcp_sign_ins_total)."""
        if self._metrics is not None:
            self._metrics.sign_ins.labels(outcome=outcome).inc()

    async def deny(self, request: Request) -> Response:
        body = await _json(request)
        if body is None or not isinstance(body.get("request"), str):
            return _error(400, "invalid_request", 'body: expected JSON {"request"}')
        try:
            return JSONResponse({"redirect": await self._provider.deny(body["request"])}, headers=SECURITY_HEADERS)
        except OAuthFailed as exc:
            return _error(exc.status, "invalid_request", str(exc))

    @staticmethod
    def _html(body: str, status: int) -> HTMLResponse:
        return HTMLResponse(body, status, headers=SECURITY_HEADERS)


async def _json(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except Exception:
        return None
    return body if isinstance(body, dict) else None


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status, headers=SECURITY_HEADERS)
