"""The SDK's ``OAuthAuthorizationServerProvider`` for sf-mcp: Sign-In with Ethereum as the login.

The SDK's routes (``mcp.server.auth``) parse and validate the requests; this class keeps
the state and makes the decisions:

* ``authorize`` stores the request and sends the browser to the login page
  (``/oauth/login``), where the wallet signs an EIP-4361 message naming the request;
  :meth:`approve` checks it exactly as ``/auth/verify`` does and redirects back to the
  client with a code and ``iss`` (RFC 9207).
* Codes live :data:`CODE_TTL_S`, are single-use, and a second use revokes what the first
  issued (OAuth 2.1 section 4.1.3).
* Every token exchange opens or continues a *grant* (store.oauth): access tokens are
  sf-mcp's bearer JWTs with the grant's scopes, refresh tokens rotate on every use, and a
  rotated refresh token presented again revokes the whole grant (reuse detection).
* Tokens are bound to this server's ``/mcp`` (RFC 8707): another ``resource`` is refused.

Time comes from SiweAuth's injectable clock (tests move it instead of sleeping); where the
SDK compares with the wall clock itself, the values it sees are translated.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    OAuthAuthorizationServerProvider,
    RefreshToken,
    RegistrationError,
    TokenError,
    construct_redirect_uri,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl

from sf_mcp.config import Settings
from sf_mcp.server.http.auth import SiweAuth
from sf_mcp.server.http.scopes import ALL_SCOPES, parse_scopes
from sf_mcp.server.oauth.clients import ClientMetadataError, MetadataDocuments, OAuthClient, check_redirect_uris
from sf_mcp.store import Store
from sf_mcp.store.oauth import CodeRow, OAuthStore

CODE_TTL_S = 60  # the browser hands the code over at once; RFC 6749 says at most 10 minutes
REQUEST_TTL_S = 600  # time to connect a wallet and sign on the login page
LOGIN_PATH = "/oauth/login"


class OAuthFailed(Exception):
    """A login-page request was refused; ``status`` and the message go back to the page."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class SfAuthorizationCode(AuthorizationCode):
    grant_id: str


class SfRefreshToken(RefreshToken):
    grant_id: str


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def same_resource(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


class SfOAuthProvider(OAuthAuthorizationServerProvider[SfAuthorizationCode, SfRefreshToken, AccessToken]):
    """Clients, authorization requests, codes, grants and tokens (see the module docstring)."""

    def __init__(
        self, settings: Settings, auth: SiweAuth, store: Store, *,
        documents: MetadataDocuments | None = None,
    ) -> None:
        self._settings = settings
        self._auth = auth
        self._store = store
        self.clock = auth.now  # one clock for sign-in checks and OAuth lifetimes (tests move it)
        self.issuer = auth.issuer
        self.resource = auth.resource
        self.documents = documents or MetadataDocuments(allow_private=settings.http.oauth_allow_private_client_metadata)

    @property
    def _db(self) -> OAuthStore:
        return self._store.oauth

    # -- clients ---------------------------------------------------------------------
    async def get_client(self, client_id: str) -> OAuthClient | None:
        if client_id.startswith(("https://", "http://")):
            try:
                return await self.documents.get(client_id)
            except ClientMetadataError:
                return None
        raw = await self._db.client(client_id)
        return OAuthClient.model_validate_json(raw) if raw else None

    async def resolve_client(self, client_id: str) -> OAuthClient | None:
        """Like get_client, but a metadata document's problem raises ClientMetadataError (to show it)."""
        if client_id.startswith(("https://", "http://")):
            return await self.documents.get(client_id)
        return await self.get_client(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        try:
            check_redirect_uris([str(u) for u in client_info.redirect_uris or []])
        except ClientMetadataError as exc:
            raise RegistrationError("invalid_redirect_uri", str(exc)) from None
        if client_info.client_name is not None and len(client_info.client_name) > 100:
            raise RegistrationError("invalid_client_metadata", "client_name: at most 100 characters")
        await self._db.save_client(client_info.client_id, client_info.model_dump_json(), now=self.clock())

    # -- authorization ---------------------------------------------------------------
    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        if params.resource is not None and not same_resource(params.resource, self.resource):
            raise AuthorizeError("invalid_target", f"resource: this server issues tokens only for {self.resource}")
        scopes = params.scopes or (parse_scopes(client.scope) if client.scope else list(ALL_SCOPES))
        request_id = secrets.token_urlsafe(24)
        now = self.clock()
        await self._db.add_request(request_id, client_id=client.client_id, now=now, expires_at=now + REQUEST_TTL_S,
                                   params={
                                       "redirect_uri": str(params.redirect_uri),
                                       "redirect_explicit": params.redirect_uri_provided_explicitly,
                                       "state": params.state,
                                       "scopes": scopes,
                                       "code_challenge": params.code_challenge,
                                   })
        return f"{self.issuer}{LOGIN_PATH}?request={request_id}"

    async def pending(self, request_id: str) -> tuple[OAuthClient, dict[str, Any]]:
        """The client and parameters of an open authorization request (for the login page)."""
        found = await self._db.request(request_id, now=self.clock()) if request_id else None
        if found is None:
            raise OAuthFailed("this sign-in request is unknown, finished or expired; start again from your app", 404)
        client_id, params = found
        try:
            client = await self.resolve_client(client_id)
        except ClientMetadataError as exc:
            raise OAuthFailed(str(exc)) from None
        if client is None:
            raise OAuthFailed("the app of this sign-in request is no longer registered", 404)
        return client, params

    async def login_message(self, request_id: str, address: str, scopes: str | None = None) -> dict[str, Any]:
        """The EIP-4361 message the wallet signs to approve ``request_id`` for ``scopes`` (default: all asked)."""
        _, params = await self.pending(request_id)
        chosen = _chosen(params, scopes)
        return await self._auth.issue_nonce(address, request_id=request_id, statement=statement_for(chosen))

    async def approve(self, request_id: str, message: str, signature: str, scopes: str | None = None) -> str:
        """Check the signed message like /auth/verify and return the client's redirect with a code.

        The user may grant fewer scopes than the client asked (``scopes``); the signed statement
        must name exactly those, so the signature is the consent to them.
        """
        client, params = await self.pending(request_id)
        chosen = _chosen(params, scopes)
        signed = await self._auth.check_sign_in(message, signature, request_id=request_id)
        if self.resource not in signed.resources:
            raise OAuthFailed(f"sign-in message: Resources must name {self.resource}")
        if signed.statement != statement_for(chosen):
            raise OAuthFailed("sign-in message: it names other scopes than the ones chosen; get the message again")
        if not await self._db.close_request(request_id, now=self.clock()):
            raise OAuthFailed("this sign-in request was already answered", 409)
        code = secrets.token_urlsafe(32)
        await self._db.add_code(token_hash(code), CodeRow(
            grant_id=uuid.uuid4().hex, client_id=client.client_id, wallet=signed.wallet,
            scopes=" ".join(chosen), resource=self.resource, redirect_uri=params["redirect_uri"],
            redirect_explicit=params["redirect_explicit"], code_challenge=params["code_challenge"],
            expires_at=self.clock() + CODE_TTL_S, used_at=None,
        ), now=self.clock())
        return construct_redirect_uri(params["redirect_uri"], code=code, state=params["state"], iss=self.issuer)

    async def deny(self, request_id: str) -> str:
        """The user said no: back to the client with access_denied."""
        _, params = await self.pending(request_id)
        await self._db.close_request(request_id, now=self.clock())
        return construct_redirect_uri(
            params["redirect_uri"], error="access_denied", error_description="the user declined the sign-in",
            state=params["state"], iss=self.issuer,
        )

    # -- codes -------------------------------------------------------------------------
    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> SfAuthorizationCode | None:
        row = await self._db.code(token_hash(authorization_code))
        if row is None or row.client_id != client.client_id:
            return None
        return SfAuthorizationCode(
            code=authorization_code,
            scopes=row.scopes.split(),
            # The SDK checks expiry against the wall clock; give it our clock's verdict.
            expires_at=time.time() + (row.expires_at - self.clock()),
            client_id=row.client_id,
            code_challenge=row.code_challenge,
            redirect_uri=AnyUrl(row.redirect_uri),
            redirect_uri_provided_explicitly=row.redirect_explicit,
            resource=row.resource,
            subject=row.wallet,
            grant_id=row.grant_id,
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: SfAuthorizationCode
    ) -> OAuthToken:
        now = self.clock()
        if not await self._db.use_code(token_hash(authorization_code.code), now=now):
            await self._revoke_grant(authorization_code.grant_id)
            raise TokenError("invalid_grant", "authorization code: already used; the tokens issued for it are revoked")
        wallet = str(authorization_code.subject)
        await self._db.create_grant(authorization_code.grant_id, client_id=client.client_id, wallet=wallet,
                                    scopes=" ".join(authorization_code.scopes), resource=self.resource, now=now)
        return await self._tokens(authorization_code.grant_id, client.client_id, wallet, authorization_code.scopes)

    # -- refresh tokens ------------------------------------------------------------------
    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> SfRefreshToken | None:
        row = await self._db.refresh_token(token_hash(refresh_token))
        if row is None or row.client_id != client.client_id:
            return None
        return SfRefreshToken(token=refresh_token, client_id=row.client_id, scopes=row.scopes.split(),
                              resource=row.resource, subject=row.wallet, grant_id=row.grant_id)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: SfRefreshToken, scopes: list[str]
    ) -> OAuthToken:
        now = self.clock()
        row = await self._db.refresh_token(token_hash(refresh_token.token))
        if row is None or row.grant_revoked:
            raise TokenError("invalid_grant", "refresh token: revoked")
        if row.expires_at <= now:
            raise TokenError("invalid_grant", "refresh token: expired; sign in again")
        if not await self._db.use_refresh_token(token_hash(refresh_token.token), now=now):
            await self._revoke_grant(row.grant_id)
            raise TokenError("invalid_grant",
                             "refresh token: already used; every token of this sign-in is revoked (reuse detected)")
        return await self._tokens(row.grant_id, client.client_id, row.wallet, parse_scopes(" ".join(scopes)))

    async def _tokens(self, grant_id: str, client_id: str, wallet: str, scopes: list[str]) -> OAuthToken:
        now = self.clock()
        ttl = self._settings.http.oauth_access_token_ttl_s
        access = await self._auth.issue_token(wallet, now, ttl_s=ttl, client_id=client_id, scopes=scopes,
                                              grant_id=grant_id)
        refresh = secrets.token_urlsafe(32)
        await self._db.add_refresh_token(token_hash(refresh), grant_id=grant_id, scopes=" ".join(scopes), now=now,
                                         expires_at=now + self._settings.http.oauth_refresh_token_ttl_s)
        return OAuthToken(access_token=access["token"], expires_in=ttl, scope=" ".join(scopes), refresh_token=refresh)

    # -- access tokens and revocation --------------------------------------------------------
    async def load_access_token(self, token: str) -> AccessToken | None:
        return await self._auth.verify_token(token)

    async def revoke_token(self, token: AccessToken | SfRefreshToken) -> None:
        """RFC 7009: end the token's whole grant (its access and refresh tokens)."""
        if isinstance(token, SfRefreshToken):
            await self._revoke_grant(token.grant_id)
            return
        claims = token.claims or {}
        if claims.get("gid"):
            await self._revoke_grant(str(claims["gid"]))
        elif claims.get("jti"):
            await self._store.sessions.revoke(str(claims["jti"]), now=self.clock())
            self._auth.forget_sessions()

    async def _revoke_grant(self, grant_id: str) -> None:
        await self._db.revoke_grant(grant_id, now=self.clock())
        self._auth.forget_sessions()


def statement_for(scopes: list[str]) -> str:
    """The sign-in message's statement for a consent to ``scopes`` (what the wallet shows the user)."""
    return f"Allow an app to use sf-mcp for this wallet with the scopes: {', '.join(scopes)}."


def _chosen(params: dict[str, Any], scopes: str | None) -> list[str]:
    """The scopes the user grants: a non-empty subset of those the client asked (default: all of them)."""
    asked = list(params["scopes"])
    if scopes is None:
        return asked
    try:
        chosen = parse_scopes(scopes, default=())
    except ValueError as exc:
        raise OAuthFailed(f"scope: {exc}") from None
    if not chosen:
        raise OAuthFailed("scope: choose at least one")
    extra = [s for s in chosen if s not in asked]
    if extra:
        raise OAuthFailed(f"scope: the app did not ask for {extra[0]!r}")
    return chosen


def redirect_host(uri: str) -> str:
    """What the login page shows as where the user returns to: host[:port], or the app scheme."""
    parts = urlsplit(uri)
    return parts.netloc or f"{parts.scheme}:"
