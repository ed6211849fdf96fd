"""Sign-In with Ethereum over HTTP, and the bearer tokens it issues.

The flow (docs/http.md shows it with curl):

1. ``GET /auth/nonce?address=0x...`` stores a single-use nonce bound to that
   address and answers the ready-to-sign EIP-4361 message.
2. The wallet signs the message (personal_sign); ``POST /auth/verify`` with
   ``{message, signature}`` checks every field of the message against this
   server (domain, URI, chain id, version, times), the signature (an EOA, or an
   EIP-1271 contract wallet through the chain client), and consumes the nonce
   exactly once. It answers ``{token, wallet, expires_at}``: an HS256 JWT whose
   ``sub`` is the wallet and whose ``jti`` is a row in ``user_sessions``.
3. ``/mcp`` requires ``Authorization: Bearer <token>``; :meth:`SiweAuth.verify_token`
   is the SDK's token verifier, so tools see the wallet through
   ``get_access_token()`` (``identity.caller_wallet``).
4. ``POST /auth/logout`` revokes the token's session (``?all=1``: every session of the wallet).

The JWT secret never leaves this module: it is read from ``SF_JWT_SECRET`` or
from a file created once (mode 0600) in the data dir.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse

from sf_mcp.config import Settings, normalize_address
from sf_mcp.errors import ChainUnavailable, SfMcpError
from sf_mcp.server.http.limits import Limits
from sf_mcp.server.http.observability import Metrics
from sf_mcp.server.http.routes import route
from sf_mcp.server.http.scopes import ALL_SCOPES
from sf_mcp.server.services import Services
from sf_mcp.signatures import (
    SiweError,
    SiweMessage,
    build_message,
    is_valid_signature,
    message_hash,
    parse_message,
    recover_signer,
)

logger = logging.getLogger(__name__)

SECRET_FILE = "jwt-secret"
STATEMENT = "Sign in to sf-mcp to generate and pay with this wallet."
ALGORITHM = "HS256"
SESSION_CACHE_S = 30.0  # how long a checked session is trusted without asking the database again
SESSION_CACHE_MAX = 50_000
TOKEN_CACHE_MAX = 50_000  # verified tokens kept, so a request's second look at its token costs a dict lookup


class AuthFailed(SfMcpError):
    """A sign-in or token was refused; the message says which check failed."""


def public_url(settings: Settings) -> str:
    """The base URL clients reach this server at, without a trailing slash."""
    if settings.http.public_url:
        return settings.http.public_url.rstrip("/")
    host = settings.http.host if settings.http.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.http.port}"


def load_jwt_secret(settings: Settings) -> bytes:
    """``SF_JWT_SECRET``, or a random key generated once into the data dir (mode 0600)."""
    if settings.http.jwt_secret is not None:
        value = settings.http.jwt_secret.get_secret_value().encode()
        if len(value) < 32:
            raise AuthFailed("SF_JWT_SECRET must be at least 32 characters")
        return value
    path: Path = settings.storage.data_dir / SECRET_FILE
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_bytes().strip()
        if len(value) < 32:
            raise AuthFailed(f"{path} holds fewer than 32 characters; delete it to generate a new key") from None
        return value
    value = secrets.token_urlsafe(48).encode()
    with os.fdopen(fd, "wb") as handle:
        handle.write(value + b"\n")
    return value


class SiweAuth:
    """Nonces, sign-in checks, tokens and sessions; also the SDK's ``TokenVerifier``."""

    def __init__(
        self,
        settings: Settings,
        services: Services,
        *,
        limits: Limits,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._services = services
        self._limits = limits
        self._metrics = metrics
        self._clock = clock
        self._secret = load_jwt_secret(settings)
        self.issuer = public_url(settings)
        self.resource = f"{self.issuer}/mcp"
        split = urlsplit(self.issuer)
        self.domain = settings.http.siwe_domain or split.netloc
        self.uri = settings.http.siwe_uri or self.issuer
        self._checked: dict[str, float] = {}  # jti -> until when it is known to be active
        self._verified: dict[str, dict[str, Any]] = {}  # token -> its claims, once its signature held

    def auth_settings(self) -> AuthSettings:
        """What the SDK needs to protect /mcp and serve the protected-resource metadata."""
        return AuthSettings(
            issuer_url=self.issuer,  # strings: the model keeps them exactly (no trailing slash added)
            resource_server_url=self.resource,
            validate_token_resource=True,
        )

    def chain_id(self) -> int:
        """The chain sign-in messages name: configured, else the connected chain's."""
        if self._settings.http.siwe_chain_id is not None:
            return self._settings.http.siwe_chain_id
        return self._services.chain.chain_id

    # -- step 1: nonce ----------------------------------------------------------
    async def issue_nonce(
        self, address: str, *, request_id: str | None = None, statement: str = STATEMENT
    ) -> dict[str, Any]:
        """A fresh nonce and the message to sign; ``request_id`` binds it to an OAuth authorization request."""
        try:
            wallet = normalize_address(address)
        except ValueError as exc:
            raise AuthFailed(f"address: {exc}") from None
        now = self._clock()
        nonce = secrets.token_hex(16)
        issued = datetime.fromtimestamp(now, tz=UTC).replace(microsecond=0)
        expires = issued + timedelta(seconds=self._settings.http.nonce_ttl_s)
        message = build_message(
            domain=self.domain, address=wallet, uri=self.uri, chain_id=self.chain_id(), nonce=nonce,
            issued_at=issued, expiration_time=expires, statement=statement, request_id=request_id,
            resources=(self.resource,) if request_id is not None else (),
        )
        await self._services.store.sessions.add_nonce(
            nonce=nonce, wallet=wallet, created_at=now, expires_at=expires.timestamp()
        )
        return {
            "nonce": nonce,
            "message": message.to_text(),
            "address": message.address,
            "domain": self.domain,
            "uri": self.uri,
            "chain_id": message.chain_id,
            "statement": statement,
            "issued_at": issued.isoformat().replace("+00:00", "Z"),
            "expiration_time": expires.isoformat().replace("+00:00", "Z"),
        }

    # -- step 2: verify and issue a token --------------------------------------
    async def sign_in(self, message_text: str, signature: str) -> dict[str, Any]:
        """Check the signed message and return ``{token, wallet, expires_at}``; raise AuthFailed or SiweError."""
        message = await self.check_sign_in(message_text, signature)
        return await self.issue_token(message.wallet, self._clock())

    async def check_sign_in(self, message_text: str, signature: str, *, request_id: str | None = None) -> SiweMessage:
        """Every check of /auth/verify, then consume the nonce; the message, or AuthFailed/SiweError.

        ``request_id`` is the OAuth authorization request the message must name (the login page);
        without one, a message naming any Request ID is refused, so a signature given for one
        client's consent never becomes a full-access token elsewhere.
        """
        message = parse_message(message_text)
        if message.request_id != request_id:
            raise AuthFailed(
                "sign-in message: Request ID does not match this authorization request"
                if request_id is not None else
                "sign-in message: issued for an OAuth authorization; finish it on the login page"
            )
        now = self._clock()
        skew = self._settings.http.clock_skew_s
        if message.domain != self.domain:
            raise AuthFailed(f"sign-in message: domain {message.domain!r} is not this server's ({self.domain!r})")
        if message.scheme is not None and message.scheme != urlsplit(self.issuer).scheme:
            raise AuthFailed(f"sign-in message: scheme {message.scheme!r} does not match this server")
        if message.uri != self.uri:
            raise AuthFailed(f"sign-in message: URI {message.uri!r} is not this server's ({self.uri!r})")
        if message.chain_id != self.chain_id():
            raise AuthFailed(f"sign-in message: chain id {message.chain_id} is not this server's ({self.chain_id()})")
        issued = message.issued_at.timestamp()
        if issued > now + skew:
            raise AuthFailed("sign-in message: Issued At is in the future")
        if issued < now - self._settings.http.nonce_ttl_s - skew:
            raise AuthFailed("sign-in message: Issued At is too old; ask for a new nonce")
        if message.expiration_time is not None and message.expiration_time.timestamp() <= now:
            raise AuthFailed("sign-in message: expired (Expiration Time has passed); ask for a new nonce")
        if message.not_before is not None and message.not_before.timestamp() > now + skew:
            raise AuthFailed("sign-in message: not valid yet (Not Before is in the future)")
        await self._check_signature(message_text, message.address, signature)
        sessions = self._services.store.sessions
        if not await sessions.consume_nonce(nonce=message.nonce, wallet=message.wallet, now=now):
            raise AuthFailed("sign-in message: nonce unknown, expired, already used or issued for another address")
        return message

    async def _check_signature(self, text: str, address: str, signature: str) -> None:
        signer = recover_signer(text, signature)
        if signer == address.lower():
            return
        try:
            sig = bytes.fromhex(signature.removeprefix("0x"))
        except (ValueError, AttributeError):
            raise AuthFailed("signature: not hex") from None
        try:
            ok = await is_valid_signature(self._services.chain, address, message_hash(text), sig)
        except ChainUnavailable:
            raise
        except SfMcpError as exc:
            raise AuthFailed(f"signature: the contract wallet check failed: {exc}") from None
        if not ok:
            raise AuthFailed("signature: not made by the address in the message (nor accepted by it under EIP-1271)")

    async def issue_token(
        self, wallet: str, now: float, *, ttl_s: int | None = None, client_id: str | None = None,
        scopes: list[str] | None = None, grant_id: str | None = None,
    ) -> dict[str, Any]:
        """A bearer JWT for ``wallet`` and its session row; OAuth tokens name their client, scopes and grant."""
        jti = uuid.uuid4().hex
        expires_at = int(now) + (ttl_s or self._settings.http.token_ttl_s)
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.resource, "sub": wallet, "jti": jti,
            "iat": int(now), "nbf": int(now) - 1, "exp": expires_at, "chain_id": self.chain_id(),
        }
        if scopes is not None:
            claims.update(scope=" ".join(scopes), client_id=client_id, gid=grant_id)
        token = jwt.encode(claims, self._secret, algorithm=ALGORITHM)
        await self._services.store.sessions.create(
            session_id=jti, wallet=wallet, created_at=now, expires_at=float(expires_at),
            client_id=client_id, scopes=claims.get("scope"), grant_id=grant_id,
        )
        self._trust(jti, now)  # just created: its first request need not ask the database
        return {
            "token": token,
            "token_type": "Bearer",
            "wallet": wallet,
            "expires_at": datetime.fromtimestamp(expires_at, tz=UTC).isoformat().replace("+00:00", "Z"),
        }

    # -- step 3: every request --------------------------------------------------
    def decode(self, token: str) -> dict[str, Any]:
        """The token's claims if its signature, issuer, audience and times hold; raise jwt errors otherwise.

        A token is checked cryptographically once: every request looks at its token twice (the scope
        guard, then the SDK's verifier) and a client sends the same token for an hour, so the claims of
        a token whose signature held are kept (keyed by the whole token, signature included). Its times
        are checked on every call against this server's clock, the one sessions are checked against.
        """
        claims = self._verified.get(token)
        if claims is None:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self.resource,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "nbf", "sub", "jti", "iss", "aud"],
                         "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
            self._remember(token, claims)
        now = self._clock()
        if now >= claims["exp"]:
            raise jwt.ExpiredSignatureError("Signature has expired")
        if now < claims["nbf"]:
            raise jwt.ImmatureSignatureError("The token is not yet valid (nbf)")
        return claims

    def _remember(self, token: str, claims: dict[str, Any]) -> None:
        if len(self._verified) >= TOKEN_CACHE_MAX:
            now = self._clock()
            self._verified = {k: v for k, v in self._verified.items() if v["exp"] > now}
            if len(self._verified) >= TOKEN_CACHE_MAX:
                self._verified.clear()
        self._verified[token] = claims

    async def verify_token(self, token: str) -> AccessToken | None:
        """The SDK's TokenVerifier: an AccessToken naming the wallet, or None (-> 401)."""
        started = time.perf_counter()
        try:
            claims = self.decode(token)
            wallet = normalize_address(claims["sub"])
        except (jwt.PyJWTError, ValueError, KeyError):
            self._metrics.token_checks.labels(outcome="invalid").inc()
            return None
        finally:
            self._metrics.token_verify_seconds.observe(time.perf_counter() - started)
        if not await self._session_active(claims["jti"]):
            self._metrics.token_checks.labels(outcome="revoked").inc()
            return None
        self._metrics.token_checks.labels(outcome="ok").inc()
        scope = claims.get("scope")
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id") or wallet),
            subject=wallet,
            # A token from /auth/verify was signed for by the wallet itself: every scope.
            scopes=scope.split() if isinstance(scope, str) else list(ALL_SCOPES),
            expires_at=int(claims["exp"]),
            resource=self.resource,
            claims={"iss": claims["iss"], "jti": claims["jti"], "gid": claims.get("gid")},
        )

    def now(self) -> float:
        """The current time by this server's clock (injectable, so tests move it instead of sleeping)."""
        return self._clock()

    def forget_sessions(self) -> None:
        """Drop the cache of checked sessions (after revoking a token family)."""
        self._checked.clear()

    async def _session_active(self, jti: str) -> bool:
        now = self._clock()
        until = self._checked.get(jti)
        if until is not None and until > now:
            return True
        if not await self._services.store.sessions.is_active(jti, now=now):
            self._checked.pop(jti, None)
            return False
        self._trust(jti, now)
        return True

    def _trust(self, jti: str, now: float) -> None:
        """Take session ``jti`` as active for ``SESSION_CACHE_S`` without asking the database."""
        if len(self._checked) >= SESSION_CACHE_MAX:
            self._checked = {k: v for k, v in self._checked.items() if v > now}
            if len(self._checked) >= SESSION_CACHE_MAX:
                self._checked.clear()
        self._checked[jti] = now + SESSION_CACHE_S

    # -- step 4: logout -----------------------------------------------------------
    async def logout(self, token: str, *, everywhere: bool) -> dict[str, Any]:
        try:
            claims = self.decode(token)
        except jwt.PyJWTError:
            raise AuthFailed("token: invalid or expired") from None
        sessions = self._services.store.sessions
        if everywhere:
            count = await sessions.revoke_wallet(claims["sub"], now=self._clock())
            self._checked.clear()
        else:
            count = int(await sessions.revoke(claims["jti"], now=self._clock()))
            self._checked.clear()  # an OAuth token's grant ended with it: its other tokens too
        return {"revoked": count, "wallet": claims["sub"]}

    # -- HTTP routes ----------------------------------------------------------------
    def install(self, server: MCPServer) -> None:
        """Add /auth/nonce, /auth/verify and /auth/logout to the server's HTTP app."""
        route(server, "/auth/nonce", methods=["GET"])(self.nonce_route)
        route(server, "/auth/verify", methods=["POST"])(self.verify_route)
        route(server, "/auth/logout", methods=["POST"])(self.logout_route)

    async def nonce_route(self, request: Request) -> JSONResponse:
        if refused := await self.limited(request):
            return refused
        address = request.query_params.get("address")
        if not address:
            return _error(400, "invalid_request", "address: missing (GET /auth/nonce?address=0x...)")
        try:
            return JSONResponse(await self.issue_nonce(address), headers={"Cache-Control": "no-store"})
        except AuthFailed as exc:
            return _error(400, "invalid_request", str(exc))

    async def verify_route(self, request: Request) -> JSONResponse:
        if refused := await self.limited(request):
            return refused
        try:
            body = await request.json()
        except Exception:
            return _error(400, "invalid_request", 'body: expected JSON {"message": ..., "signature": "0x..."}')
        if not isinstance(body, dict) or not isinstance(body.get("message"), str) \
                or not isinstance(body.get("signature"), str):
            return _error(400, "invalid_request", 'body: expected JSON {"message": ..., "signature": "0x..."}')
        try:
            result = await self.sign_in(body["message"], body["signature"])
        except ChainUnavailable as exc:
            self._metrics.sign_ins.labels(outcome="unavailable").inc()
            return _error(503, "temporarily_unavailable", str(exc))
        except (AuthFailed, SiweError) as exc:
            self._metrics.sign_ins.labels(outcome="refused").inc()
            logger.info("sign-in refused: %s", exc)
            return _error(401, "invalid_grant", str(exc))
        self._metrics.sign_ins.labels(outcome="ok").inc()
        logger.info("signed in", extra={"wallet": result["wallet"]})
        return JSONResponse(result, headers={"Cache-Control": "no-store"})

    async def logout_route(self, request: Request) -> JSONResponse:
        if refused := await self.limited(request):
            return refused
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return _error(401, "invalid_token", "Authorization: Bearer <token> required")
        everywhere = request.query_params.get("all", "").lower() in ("1", "true", "yes")
        try:
            return JSONResponse(await self.logout(header[7:].strip(), everywhere=everywhere))
        except AuthFailed as exc:
            return _error(401, "invalid_token", str(exc))

    async def limited(self, request: Request) -> JSONResponse | None:
        ip = request.client.host if request.client else "unknown"
        retry_after = await self._limits.auth_ip.take(ip)
        if retry_after is None:
            return None
        self._metrics.rate_limited.labels(limit="auth_ip").inc()
        return _error(
            429, "rate_limited",
            f"rate limit: {self._limits.auth_ip.describe('sign-in requests', 'IP address')}; "
            f"try again in {int(retry_after) + 1} s",
            headers={"Retry-After": str(int(retry_after) + 1)},
        )


def _error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)
