"""OAuth scopes: what a token lets a client do for its wallet, and the check on every tool call.

    read      read the wallet's account, generations, gallery, contests, leaderboards, quotes
    generate  create images and videos paid by the free quota or credits
    pay       spend crypto: generations paid on chain or by x402, payment plans, agent transactions
    vote      vote in the weekly contest
    stake     stake, unstake and claim BanditKidz rewards

A token from ``/auth/verify`` (the wallet signed for itself) has every scope. An OAuth
token has those the user consented to. A call outside them is refused before it reaches
the MCP session with the spec's challenge (HTTP 403, ``WWW-Authenticate: Bearer
error="insufficient_scope", scope=...``), so a client can ask the user for more
(step-up); the JSON-RPC answer names the missing scope for clients that do not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SCOPE_DESCRIPTIONS: dict[str, str] = {
    "read": "See your account, generations, gallery, contests and leaderboards",
    "generate": "Create images and videos with your free quota or credits",
    "pay": "Spend crypto: pay for generations on chain or by x402",
    "vote": "Vote in the weekly contest",
    "stake": "Stake and unstake your BanditKidz NFTs and claim rewards",
}
ALL_SCOPES: tuple[str, ...] = tuple(SCOPE_DESCRIPTIONS)

# Every tool the server registers is listed (a test checks it), so a new tool is classified
# on purpose rather than by a default.
TOOL_SCOPES: dict[str, str] = {
    "account": "read",
    "contest": "read",
    "contest_status": "read",  # app-only (the contest view)
    "gallery": "read",
    "get_generation": "read",
    "leaderboard": "read",
    "quote": "read",
    "verify_payment": "read",
    "dev_advance_time": "read",
    "generate_image": "generate",  # "pay" for crypto or x402 payments, see required_scope
    "generate_video": "generate",
    "prepare_payment": "pay",
    "send_transaction": "pay",
    "vote": "vote",
    "stake": "stake",
}
_PAID_METHODS = {"crypto", "x402"}


def required_scope(method: str, params: Any) -> tuple[str, str] | None:
    """(scope, what needs it) for one JSON-RPC request, or None when any token may make it."""
    if not isinstance(params, dict):
        params = {}
    if method == "resources/read":
        return "read", "reading resources"
    if method != "tools/call":
        return None
    name = params.get("name")
    if not isinstance(name, str):
        return None
    arguments = params.get("arguments")
    payment = arguments.get("payment") if isinstance(arguments, dict) else None
    if name in ("generate_image", "generate_video") and isinstance(payment, dict) \
            and payment.get("method") in _PAID_METHODS:
        return "pay", f"{name} with a {payment['method']} payment"
    meta = params.get("_meta")
    if name in ("generate_image", "generate_video") and isinstance(meta, dict) and "x402/payment" in meta:
        return "pay", f"{name} with an x402 payment"
    return TOOL_SCOPES.get(name, "read"), name


def parse_scopes(value: str | None, *, default: Iterable[str] = ALL_SCOPES) -> list[str]:
    """Scopes of a space-separated string, in the canonical order; unknown names raise ValueError."""
    names = value.split() if value else list(default)
    unknown = [n for n in names if n not in SCOPE_DESCRIPTIONS]
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r} (this server has: {' '.join(ALL_SCOPES)})")
    return [s for s in ALL_SCOPES if s in names]


class ScopeMiddleware:
    """ASGI middleware on ``/mcp``: refuse a JSON-RPC request the bearer token's scopes do not allow.

    ``token_scopes`` reads the scopes of a bearer token (None: not a token of ours; the SDK's
    own check then answers 401). Only POST bodies are read; they are replayed unchanged.
    """

    def __init__(
        self, app: ASGIApp, *, path: str, token_scopes: Callable[[str], list[str] | None], resource_metadata: str
    ) -> None:
        self.app = app
        self._path = path
        self._token_scopes = token_scopes
        self._resource_metadata = resource_metadata

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != self._path:
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        granted = self._token_scopes(token) if token else None
        if granted is None:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        refusal = _refusal(body, granted)
        if refusal is None:
            replay = iter(messages)

            async def receive_again() -> Message:
                return next(replay, None) or await receive()

            await self.app(scope, receive_again, send)
            return
        request_id, needed, what = refusal
        await self._challenge(send, request_id, needed, what, granted)

    async def _challenge(
        self, send: Send, request_id: Any, needed: str, what: str, granted: list[str]
    ) -> None:
        text = (f"insufficient_scope: {what} needs the '{needed}' scope, which this token does not have "
                f"(it has: {' '.join(granted) or 'none'}); sign in again and allow '{needed}'")
        body = json.dumps({"jsonrpc": "2.0", "id": request_id,
                           "error": {"code": -32003, "message": text, "data": {"required_scope": needed}}}).encode()
        wanted = " ".join(s for s in ALL_SCOPES if s in granted or s == needed)
        challenge = (f'Bearer error="insufficient_scope", scope="{wanted}", '
                     f'resource_metadata="{self._resource_metadata}", '
                     f'error_description="{what} needs the \'{needed}\' scope"')
        await send({"type": "http.response.start", "status": 403, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", challenge.encode()),
        ]})
        await send({"type": "http.response.body", "body": body})


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text = bytes(value).decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip()
    return None


def _refusal(body: bytes, granted: list[str]) -> tuple[Any, str, str] | None:
    """(request id, missing scope, what needs it) for the first request in ``body`` outside ``granted``."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None  # the SDK answers malformed JSON itself
    for request in payload if isinstance(payload, list) else [payload]:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            continue
        needed = required_scope(request["method"], request.get("params"))
        if needed is not None and needed[0] not in granted:
            return request.get("id"), needed[0], needed[1]
    return None
