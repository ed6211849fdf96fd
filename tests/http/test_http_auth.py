"""Sign-In with Ethereum and bearer tokens over real HTTP: what is accepted and everything that is refused."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from http_support import LiveServer, new_account, sign

from sf_mcp.signatures.siwe import SiweError, format_time, parse_message

pytestmark = pytest.mark.anyio

JWT_SECRET = "a jwt secret only these tests know, 32+ characters"
SERVER_SETTINGS = {"rate_limit_auth_ip": 1000, "jwt_secret": JWT_SECRET}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


async def test_mcp_without_token_is_401_with_resource_metadata(server: LiveServer) -> None:
    async with server.http() as http:
        response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                                   headers={"Accept": "application/json, text/event-stream"})
        assert response.status_code == 401
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer ")
        metadata_url = f"{server.base_url}/.well-known/oauth-protected-resource/mcp"
        assert f'resource_metadata="{metadata_url}"' in challenge
        metadata = (await http.get("/.well-known/oauth-protected-resource/mcp")).json()
        assert metadata["resource"] == server.mcp_url

        garbage = await http.post("/mcp", json={}, headers={"Authorization": "Bearer not-a-jwt"})
        assert garbage.status_code == 401 and "www-authenticate" in garbage.headers


async def test_nonce_returns_a_ready_to_sign_message(server: LiveServer) -> None:
    account = new_account()
    async with server.http() as http:
        issued = await server.nonce(http, account)
        bad = await http.get("/auth/nonce", params={"address": "0x123"})
    message = parse_message(issued["message"])
    assert message.address == account.address and message.nonce == issued["nonce"]
    assert re.fullmatch(r"[0-9a-f]{32}", issued["nonce"])  # 128 random bits
    assert message.domain == issued["domain"] == f"127.0.0.1:{server.settings.http.port}"
    assert message.uri == issued["uri"] == server.base_url
    assert message.chain_id == issued["chain_id"]
    assert format_time(message.issued_at) == issued["issued_at"]
    assert message.expiration_time is not None and format_time(message.expiration_time) == issued["expiration_time"]
    assert bad.status_code == 400 and "address" in bad.json()["error_description"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_signed_in_client_acts_for_its_wallet(server: LiveServer, mode: str) -> None:
    account = new_account()
    token = await server.sign_in(account)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == account.address.lower() and claims["aud"] == server.mcp_url
    checked = server.run(lambda _: server.surface.auth.verify_token(token))  # what the SDK sees of the token
    assert checked is not None and checked.subject == checked.client_id == account.address.lower()
    async with server.mcp(token, mode=mode) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert "generate_image" in tools
        result = await client.call_tool(
            "generate_image", {"prompt": "a lighthouse", "payment": {"method": "free"}, "width": 64, "height": 64}
        )
        assert not result.is_error, result.content
        assert result.structured_content["wallet"] == account.address.lower()


async def test_logout_revokes_the_token(server: LiveServer) -> None:
    token = await server.sign_in(new_account())
    async with server.http() as http:
        auth = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
        ping = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        assert (await http.post("/mcp", json=ping, headers=auth)).status_code == 200
        out = await http.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
        assert out.status_code == 200 and out.json()["revoked"] == 1
        after = await http.post("/mcp", json=ping, headers=auth)
        assert after.status_code == 401


async def _refused(server: LiveServer, message: str, account, signature: str | None = None) -> str:
    async with server.http() as http:
        response = await http.post(
            "/auth/verify", json={"message": message, "signature": signature or sign(account, message)}
        )
    assert response.status_code == 401 and response.json()["error"] == "invalid_grant", response.text
    assert "token" not in response.json()
    return response.json()["error_description"]


async def test_replayed_nonce_is_refused(server: LiveServer) -> None:
    account = new_account()
    async with server.http() as http:
        issued = await server.nonce(http, account)
        first = await server.verify(http, issued["message"], account)
        assert first.status_code == 200
    assert "nonce" in await _refused(server, issued["message"], account)


async def test_nonce_issued_for_another_address_is_refused(server: LiveServer) -> None:
    victim, attacker = new_account(), new_account()
    async with server.http() as http:
        issued = await server.nonce(http, victim)
    # The attacker rewrites the message to its own address and signs it: the nonce is bound to the victim.
    forged = replace(parse_message(issued["message"]), address=attacker.address).to_text()
    assert "nonce" in await _refused(server, forged, attacker)


async def test_signature_by_someone_else_is_refused(server: LiveServer) -> None:
    victim, attacker = new_account(), new_account()
    async with server.http() as http:
        issued = await server.nonce(http, victim)
    detail = await _refused(server, issued["message"], victim, signature=sign(attacker, issued["message"]))
    assert "signature" in detail


async def test_tampered_message_is_refused(server: LiveServer) -> None:
    account = new_account()
    async with server.http() as http:
        issued = await server.nonce(http, account)
    signature = sign(account, issued["message"])
    tampered = issued["message"].replace("Sign in to sf-mcp", "Sign in to sf-MCP")
    assert "signature" in await _refused(server, tampered, account, signature=signature)


@pytest.mark.parametrize(("field", "seconds"), [
    ("issued_at", -(300 + 60 - 30)),  # older than the 300 s nonce TTL, within the 60 s skew
    ("issued_at", 60 - 30),  # a wallet clock ahead, within the skew
    ("not_before", 60 - 30),
], ids=["issued-ttl-ago", "issued-ahead", "not-before-ahead"])
async def test_sign_in_times_within_the_clock_skew_are_accepted(server: LiveServer, field: str, seconds: int) -> None:
    account = new_account()
    async with server.http() as http:
        issued = await server.nonce(http, account)
        change = {field: datetime.now(UTC) + timedelta(seconds=seconds)}
        changed = replace(parse_message(issued["message"]), **change).to_text()
        response = await server.verify(http, changed, account)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"domain": "evil.example"}, "domain"),
        ({"uri": "https://evil.example"}, "URI"),
        ({"chain_id": 1}, "chain id"),
        ({"expiration_time": datetime.now(UTC) - timedelta(seconds=5)}, "expired"),
        ({"issued_at": datetime.now(UTC) + timedelta(hours=1)}, "future"),
        ({"issued_at": datetime.now(UTC) - timedelta(seconds=300 + 60 + 30)}, "too old"),  # past the TTL and skew
        ({"not_before": datetime.now(UTC) + timedelta(hours=1)}, "Not Before"),
    ],
    ids=["other-domain", "other-uri", "wrong-chain", "expired", "issued-in-future", "issued-too-long-ago",
         "not-yet-valid"],
)
async def test_message_fields_are_checked(server: LiveServer, change: dict, expected: str) -> None:
    account = new_account()
    async with server.http() as http:
        issued = await server.nonce(http, account)
    changed = replace(parse_message(issued["message"]), **change).to_text()
    assert expected in await _refused(server, changed, account)
    # The nonce was not burnt by the refused attempt: the genuine message still signs in.
    async with server.http() as http:
        assert (await server.verify(http, issued["message"], account)).status_code == 200


async def test_malformed_messages_are_refused(server: LiveServer) -> None:
    account = new_account()
    async with server.http() as http:
        issued = await server.nonce(http, account)
        lower = issued["message"].replace(account.address, account.address.lower())
        assert "checksum" in await _refused(server, lower, account)
        extra = issued["message"] + "\nInjected: yes"
        assert "unexpected line" in await _refused(server, extra, account)
        body = await http.post("/auth/verify", content=b"not json", headers={"content-type": "application/json"})
        assert body.status_code == 400
        for wrong in ([], {"signature": "0x00"}, {"message": 1, "signature": "0x00"}, {"message": "m"}):
            answer = await http.post("/auth/verify", json=wrong)
            assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", wrong
            assert answer.json()["error_description"].startswith("body: expected JSON")


def test_parser_round_trips_and_is_strict() -> None:
    text = (
        "example.com wants you to sign in with your Ethereum account:\n"
        "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n\n\n"
        "URI: https://example.com/login\nVersion: 1\nChain ID: 146\nNonce: abcdefgh12\n"
        "Issued At: 2026-11-01T10:00:00Z\nResources:\n- https://example.com/a"
    )
    message = parse_message(text)
    assert message.statement is None and message.resources == ("https://example.com/a",)
    assert message.to_text() == text
    for broken in (text.replace("Version: 1", "Version: 2"), text.replace("Chain ID: 146", "Chain ID: x"),
                   text.replace("Nonce: abcdefgh12", "Nonce: short"), text.replace("\n\n\n", "\n\n")):
        with pytest.raises(SiweError):
            parse_message(broken)


async def test_expired_and_foreign_tokens_are_refused(server: LiveServer) -> None:
    account = new_account()
    token = await server.sign_in(account)
    claims = jwt.decode(token, options={"verify_signature": False})
    secret = JWT_SECRET  # SF_JWT_SECRET, as an operator sets it
    expired = jwt.encode({**claims, "exp": int(time.time()) - 10}, secret, algorithm="HS256")
    other_key = jwt.encode(claims, "x" * 48, algorithm="HS256")
    other_audience = jwt.encode({**claims, "aud": "http://elsewhere/mcp"}, secret, algorithm="HS256")
    other_wallet = jwt.encode({**claims, "sub": new_account().address.lower()}, "y" * 48, algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    header, payload, sig = token.split(".")
    tampered_payload = jwt.encode({**claims, "sub": "0x" + "11" * 20}, secret, algorithm="HS256").split(".")[1]
    tampered = ".".join([header, tampered_payload, sig])
    async with server.http() as http:
        for bad in (expired, other_key, other_audience, other_wallet, unsigned, tampered):
            response = await http.post("/mcp", json={}, headers={"Authorization": f"Bearer {bad}"})
            assert response.status_code == 401, bad


async def test_a_verified_token_still_expires_and_matures_by_the_server_clock(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token's claims are kept once its signature held; its own exp and nbf are still checked on every request."""
    claims = jwt.decode(await server.sign_in(new_account()), options={"verify_signature": False})
    # Same session (jti), which stays active for an hour; the token itself lives a minute.
    short = jwt.encode({**claims, "exp": int(time.time()) + 60}, JWT_SECRET, algorithm="HS256")
    later = jwt.encode({**claims, "nbf": int(time.time()) + 600, "exp": int(time.time()) + 1200}, JWT_SECRET,
                       algorithm="HS256")
    headers = {**MCP_HEADERS}
    async with server.http() as http:
        async def status(token: str) -> int:
            response = await http.post("/mcp", json=INITIALIZE, headers={**headers, "Authorization": f"Bearer {token}"})
            return response.status_code

        assert await status(short) == 200
        assert await status(later) == 401  # not valid yet
        monkeypatch.setattr(server.clock, "offset", 120.0)
        assert await status(short) == 401  # verified a minute ago, expired now
        monkeypatch.setattr(server.clock, "offset", 700.0)
        assert await status(later) == 200


async def test_a_fresh_token_is_served_without_asking_the_database_and_still_dies_with_logout(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server just created the session: fifty wallets signing in at once make no fifty session reads."""
    sessions = server.surface.services.store.sessions
    asked: list[str] = []
    original = sessions.is_active

    async def counted(jti: str, *, now: float) -> bool:
        asked.append(jti)
        return await original(jti, now=now)

    monkeypatch.setattr(sessions, "is_active", counted)
    token = await server.sign_in(new_account())
    async with server.http() as http:
        headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
        assert (await http.post("/mcp", json=INITIALIZE, headers=headers)).status_code == 200
        assert asked == []
        assert (await http.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})).status_code == 200
        assert (await http.post("/mcp", json=INITIALIZE, headers=headers)).status_code == 401


async def test_logout_everywhere_revokes_every_token_of_the_wallet_and_only_those(server: LiveServer) -> None:
    account, other = new_account(), new_account()
    first, second = await server.sign_in(account), await server.sign_in(account)
    bystander = await server.sign_in(other)
    async with server.http() as http:
        answer = await http.post("/auth/logout", params={"all": "1"}, headers={"Authorization": f"Bearer {first}"})
        assert answer.status_code == 200 and answer.json() == {"revoked": 2, "wallet": account.address.lower()}
        for token, status in ((first, 401), (second, 401), (bystander, 200)):
            response = await http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"})
            assert response.status_code == status, (token, response.text)
        again = await http.post("/auth/logout", headers={"Authorization": "Bearer not-a-token"})
        assert again.status_code == 401 and again.json()["error_description"] == "token: invalid or expired"
        bare = await http.post("/auth/logout")
        assert bare.status_code == 401 and "Bearer" in bare.json()["error_description"]


async def test_a_body_over_the_limit_is_413_for_a_signed_in_caller(server: LiveServer) -> None:
    token = await server.sign_in(new_account())
    limit = server.settings.http.max_request_body_bytes
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    big = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "pad": "' + b"x" * limit + b'"}'
    async with server.http() as http:
        assert (await http.post("/mcp", content=big, headers=headers)).status_code == 413
        assert (await http.post("/mcp", json=INITIALIZE, headers=headers)).status_code == 200


async def test_malformed_signatures_and_oversized_messages_are_refused_by_name(server: LiveServer) -> None:
    account = new_account()
    async with server.http() as http:
        issued = await server.nonce(http, account)
    message = issued["message"]
    assert await _refused(server, message, account, signature="0xzz") == "signature: not hex"
    short = await _refused(server, message, account, signature="0x" + "12" * 20)
    assert short.startswith("signature: not made by the address in the message")
    assert "8192" in await _refused(server, "x" * 9000, account, signature="0x00")
    first_line = await _refused(server, message.replace("wants you to sign in", "asks you to sign in"), account)
    assert "the first line must be" in first_line
    cut = await _refused(server, message.split("\nURI:")[0], account)
    assert cut.startswith("sign-in message:")
    async with server.http() as http:  # none of them used up the nonce
        assert (await server.verify(http, message, account)).status_code == 200
