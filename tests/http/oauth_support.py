"""The OAuth flow driven by hand over HTTP (register, authorize, login page, token), for refusal tests.

The browser test (test_oauth_browser.py) drives the same flow with a real client and chromium;
these helpers take the login page's two JSON calls directly so each refusal is one short test.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from eth_account.signers.local import LocalAccount
from http_support import LiveServer, sign

CALLBACK = "http://127.0.0.1:33418/callback"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class Grant:
    client_id: str
    code: str
    verifier: str
    redirect: str  # where the login page sent the browser back to


class OAuthFlow:
    """One registered client going through the flow against the live server."""

    def __init__(self, server: LiveServer, http: httpx2.AsyncClient) -> None:
        self.server = server
        self.http = http

    async def register(self, *, redirect_uris: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        body = {"client_name": "Test Assistant", "redirect_uris": redirect_uris or [CALLBACK],
                "token_endpoint_auth_method": "none", **extra}
        response = await self.http.post("/register", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def authorize(self, client_id: str, challenge: str, *, redirect_uri: str = CALLBACK,
                        scope: str | None = None, resource: str | None = "default", state: str = "st4te") -> httpx2.Response:
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": state,
                  "code_challenge": challenge, "code_challenge_method": "S256"}
        if scope is not None:
            params["scope"] = scope
        if resource is not None:
            params["resource"] = self.server.mcp_url if resource == "default" else resource
        return await self.http.get("/authorize", params=params)

    async def approve(self, login_url: str, account: LocalAccount, *, address: str | None = None,
                      scope: str | None = None, approve_scope: str | None = None) -> httpx2.Response:
        """Sign the login page's message with ``account`` for ``address`` (default: its own; else a contract wallet).

        ``scope``: what the user leaves ticked (default: all asked); ``approve_scope``: what the page then posts.
        """
        request_id = query(login_url)["request"]
        params = {"request": request_id, "address": address or account.address}
        if scope is not None:
            params["scope"] = scope
        issued = await self.http.get("/oauth/login/message", params=params)
        assert issued.status_code == 200, issued.text
        message = issued.json()["message"]
        body = {"request": request_id, "message": message, "signature": sign(account, message)}
        if (approve_scope or scope) is not None:
            body["scope"] = approve_scope or scope
        return await self.http.post("/oauth/login/approve", json=body)

    async def grant(self, account: LocalAccount, *, client: dict[str, Any] | None = None,
                    scope: str | None = None, redirect_uri: str = CALLBACK, address: str | None = None) -> Grant:
        client = client or await self.register()
        verifier, challenge = pkce()
        started = await self.authorize(client["client_id"], challenge, scope=scope, redirect_uri=redirect_uri)
        assert started.status_code == 302, started.text
        approved = await self.approve(started.headers["location"], account, address=address)
        assert approved.status_code == 200, approved.text
        redirect = approved.json()["redirect"]
        return Grant(client["client_id"], query(redirect)["code"], verifier, redirect)

    async def token(self, **form: str) -> httpx2.Response:
        return await self.http.post("/token", data=form)

    async def exchange(self, grant: Grant, *, redirect_uri: str = CALLBACK, **extra: str) -> httpx2.Response:
        return await self.token(grant_type="authorization_code", code=grant.code, client_id=grant.client_id,
                                code_verifier=grant.verifier, redirect_uri=redirect_uri,
                                **{"resource": self.server.mcp_url, **extra})

    async def refresh(self, client_id: str, refresh_token: str, **extra: str) -> httpx2.Response:
        return await self.token(grant_type="refresh_token", refresh_token=refresh_token, client_id=client_id,
                                **{"resource": self.server.mcp_url, **extra})

    async def tokens(self, account: LocalAccount, **kwargs: Any) -> tuple[Grant, dict[str, Any]]:
        grant = await self.grant(account, **kwargs)
        response = await self.exchange(grant)
        assert response.status_code == 200, response.text
        return grant, response.json()

    async def mcp_status(self, access_token: str) -> int:
        """The HTTP status /mcp answers an initialize with this token (200: accepted, 401: not)."""
        response = await self.http.post("/mcp", headers={
            "Authorization": f"Bearer {access_token}", "Accept": "application/json, text/event-stream",
        }, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
        return response.status_code
