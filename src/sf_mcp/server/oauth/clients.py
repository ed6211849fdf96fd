"""OAuth clients: redirect-URI matching, and Client ID Metadata Documents fetched safely.

Two ways to become a client:

* Dynamic Client Registration (RFC 7591, older MCP clients): ``POST /register``; the
  record is stored (``store.oauth``).
* A Client ID Metadata Document (the MCP 2025-11-25 / 2026-07-28 preference): the
  ``client_id`` is an https URL whose JSON document describes the client. It is fetched
  here with a size limit (:data:`MAX_DOCUMENT_BYTES`), a time limit
  (:data:`FETCH_TIMEOUT_S`), no redirects, and never from a private, loopback or
  link-local address unless ``SF_OAUTH_ALLOW_PRIVATE_CLIENT_METADATA`` says so (then
  plain http is accepted too, for development). Documents are cached for
  :data:`CACHE_S`.

Redirect URIs match exactly (RFC 9700), except loopback redirects of native apps, which
may use any port (RFC 8252 section 7.3).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import anyio
import httpx2
from mcp.shared.auth import InvalidRedirectUriError, InvalidScopeError, OAuthClientInformationFull
from pydantic import AnyUrl, ValidationError

from sf_mcp.errors import SfMcpError
from sf_mcp.server.http.scopes import ALL_SCOPES, parse_scopes

MAX_DOCUMENT_BYTES = 16_384  # a metadata document is a few hundred bytes; anything near this is not one
FETCH_TIMEOUT_S = 5.0
CACHE_S = 300.0
CACHE_MAX = 1_000
LOOPBACK_HOSTS = ("127.0.0.1", "[::1]", "::1", "localhost")


class ClientMetadataError(SfMcpError):
    """A client metadata document could not be used; the message says why."""


class OAuthClient(OAuthClientInformationFull):
    """A registered client with this server's rules for redirect URIs and scopes."""

    def validate_redirect_uri(self, redirect_uri: AnyUrl | None) -> AnyUrl:
        registered = self.redirect_uris or []
        if redirect_uri is None:
            if len(registered) == 1:
                return registered[0]
            raise InvalidRedirectUriError("redirect_uri: required (the client registered more than one)")
        if any(redirect_matches(str(r), str(redirect_uri)) for r in registered):
            return redirect_uri
        raise InvalidRedirectUriError(f"redirect_uri: {redirect_uri} is not registered for this client")

    def validate_scope(self, requested_scope: str | None) -> list[str] | None:
        if requested_scope is None:
            return None
        try:
            asked = parse_scopes(requested_scope)
        except ValueError as exc:
            raise InvalidScopeError(f"scope: {exc}") from None
        allowed = parse_scopes(self.scope) if self.scope else list(ALL_SCOPES)
        for name in asked:
            if name not in allowed:
                raise InvalidScopeError(f"scope: the client did not register the scope {name!r}")
        return asked

    @property
    def is_metadata_document(self) -> bool:
        return self.client_id.startswith(("https://", "http://"))


def is_loopback_redirect(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS


def redirect_matches(registered: str, requested: str) -> bool:
    """Exact match; for an http loopback URI, everything but the port (RFC 8252 section 7.3)."""
    if registered == requested:
        return True
    if not (is_loopback_redirect(registered) and is_loopback_redirect(requested)):
        return False
    a, b = urlsplit(registered), urlsplit(requested)
    return (a.hostname, a.path or "/", a.query) == (b.hostname, b.path or "/", b.query)


def check_redirect_uris(uris: list[str]) -> None:
    """Refuse redirect URIs OAuth 2.1 forbids: fragments, and plain http other than loopback."""
    if not uris:
        raise ClientMetadataError("redirect_uris: at least one is required")
    for uri in uris:
        parts = urlsplit(uri)
        if parts.fragment:
            raise ClientMetadataError(f"redirect_uris: {uri} has a fragment")
        if parts.scheme == "http" and not is_loopback_redirect(uri):
            raise ClientMetadataError(f"redirect_uris: {uri} is plain http and not a loopback address")
        if not parts.scheme:
            raise ClientMetadataError(f"redirect_uris: {uri} is not an absolute URI")


class MetadataDocuments:
    """Fetches, checks and caches Client ID Metadata Documents."""

    def __init__(
        self, *, allow_private: bool, clock: Callable[[], float] = time.monotonic,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._clock = clock
        self._transport = transport
        self._cache: dict[str, tuple[float, OAuthClient]] = {}

    async def get(self, client_id: str) -> OAuthClient:
        """The client the document at ``client_id`` describes; ClientMetadataError naming the problem."""
        now = self._clock()
        cached = self._cache.get(client_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        client = await self._fetch(client_id)
        if len(self._cache) >= CACHE_MAX:
            self._cache.clear()
        self._cache[client_id] = (now + CACHE_S, client)
        return client

    async def _fetch(self, client_id: str) -> OAuthClient:
        parts = urlsplit(client_id)
        if parts.scheme != "https" and not (self._allow_private and parts.scheme == "http"):
            raise ClientMetadataError(f"client_id: a metadata document URL must be https ({client_id})")
        if parts.path in ("", "/") or parts.fragment or parts.username or parts.password:
            raise ClientMetadataError("client_id: a metadata document URL needs a path and no fragment or credentials")
        host = parts.hostname or ""
        await self._check_host(host, parts.port or (443 if parts.scheme == "https" else 80))
        try:
            with anyio.fail_after(FETCH_TIMEOUT_S):
                body = await self._download(client_id)
        except TimeoutError:
            raise ClientMetadataError(
                f"client_id: the metadata document did not arrive within {FETCH_TIMEOUT_S:g} s"
            ) from None
        except httpx2.HTTPError as exc:
            raise ClientMetadataError(f"client_id: the metadata document could not be fetched ({exc})") from None
        try:
            document = json.loads(body)
        except ValueError:
            raise ClientMetadataError("client_id: the metadata document is not JSON") from None
        if not isinstance(document, dict):
            raise ClientMetadataError("client_id: the metadata document is not a JSON object")
        if document.get("client_id") != client_id:
            raise ClientMetadataError("client_id: the metadata document names another client_id")
        method = document.get("token_endpoint_auth_method", "none")
        if method != "none":
            raise ClientMetadataError(
                f"token_endpoint_auth_method: {method!r} is not supported for metadata documents (use 'none')"
            )
        for secret_field in ("client_secret", "client_secret_expires_at"):
            if secret_field in document:
                raise ClientMetadataError(f"{secret_field}: not allowed in a metadata document")
        check_redirect_uris([str(u) for u in document.get("redirect_uris") or []])
        if document.get("scope"):
            try:
                parse_scopes(str(document["scope"]))
            except ValueError as exc:
                raise ClientMetadataError(f"scope: {exc}") from None
        try:
            return OAuthClient.model_validate({**document, "token_endpoint_auth_method": "none"})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "document"
            raise ClientMetadataError(f"{where}: {first['msg']}") from None

    async def _check_host(self, host: str, port: int) -> None:
        if self._allow_private:
            return
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            raise ClientMetadataError(f"client_id: the host {host!r} does not resolve") from None
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if not address.is_global:
                raise ClientMetadataError(
                    f"client_id: {host} resolves to {address}, a private, loopback or reserved address; "
                    "metadata documents are not fetched from such addresses"
                )

    async def _download(self, url: str) -> bytes:
        async with httpx2.AsyncClient(
            timeout=FETCH_TIMEOUT_S, follow_redirects=False, transport=self._transport,
            headers={"Accept": "application/json"},
        ) as http:
            async with http.stream("GET", url) as response:
                if response.status_code != 200:
                    raise ClientMetadataError(f"client_id: fetching the metadata document answered {response.status_code}")
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > MAX_DOCUMENT_BYTES:
                    raise ClientMetadataError(
                        f"client_id: the metadata document is larger than {MAX_DOCUMENT_BYTES} bytes"
                    )
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise ClientMetadataError(
                            f"client_id: the metadata document is larger than {MAX_DOCUMENT_BYTES} bytes"
                        )
                return body
