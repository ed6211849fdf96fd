"""OAuth 2.1 against the live HTTP server: metadata, the code flow, tokens, refusals, revocation."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import jwt
import pytest
from http_support import LiveServer, new_account, sign
from mcp.shared.exceptions import MCPError
from oauth_support import CALLBACK, OAuthFlow, pkce, query

from sf_mcp.server.http.auth import load_jwt_secret

pytestmark = pytest.mark.anyio

SERVER_SETTINGS = {"rate_limit_auth_ip": 10_000}


@pytest.fixture
async def flow(server: LiveServer) -> AsyncIterator[OAuthFlow]:
    async with server.http() as http:
        yield OAuthFlow(server, http)


async def test_metadata_names_the_endpoints_scopes_and_what_is_supported(flow: OAuthFlow) -> None:
    base = flow.server.base_url
    meta = (await flow.http.get("/.well-known/oauth-authorization-server")).json()
    assert meta["issuer"] == base
    assert meta["authorization_endpoint"] == f"{base}/authorize"
    assert meta["token_endpoint"] == f"{base}/token"
    assert meta["registration_endpoint"] == f"{base}/register"
    assert meta["revocation_endpoint"] == f"{base}/revoke"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert meta["client_id_metadata_document_supported"] is True
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert "none" in meta["token_endpoint_auth_methods_supported"]
    assert meta["scopes_supported"] == ["read", "generate", "pay", "vote", "stake"]
    resource = (await flow.http.get("/.well-known/oauth-protected-resource/mcp")).json()
    assert resource["resource"] == flow.server.mcp_url
    assert resource["authorization_servers"] == [base]
    assert resource["scopes_supported"] == ["read", "generate", "pay", "vote", "stake"]


async def test_login_page_shows_client_redirect_host_and_scopes_and_refuses_framing(flow: OAuthFlow) -> None:
    client = await flow.register(client_name="Claude <script>")
    _, challenge = pkce()
    started = await flow.authorize(client["client_id"], challenge, scope="read generate")
    assert started.status_code == 302
    login = started.headers["location"]
    assert login.startswith(f"{flow.server.base_url}/oauth/login?request=")
    page = await flow.http.get(login)
    assert page.status_code == 200
    assert "Claude &lt;script&gt;" in page.text and "<script>" not in page.text.replace('<script src="/oauth', "")
    assert "127.0.0.1:33418" in page.text
    assert "<b>read</b>" in page.text and "<b>generate</b>" in page.text and "<b>pay</b>" not in page.text
    assert page.text.count('type="checkbox" name="scope"') == 2
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "default-src 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert "http" not in page.text.replace(flow.server.base_url, "").split("<body>")[0].replace("http-equiv", "")
    script = await flow.http.get("/oauth/static/login.js")
    assert script.status_code == 200 and "personal_sign" in script.text


async def test_code_flow_issues_scoped_tokens_that_call_tools_and_refresh_rotates(flow: OAuthFlow) -> None:
    account = new_account()
    grant, tokens = await flow.tokens(account, scope="read generate")
    assert query(grant.redirect)["state"] == "st4te"
    assert query(grant.redirect)["iss"] == flow.server.base_url  # RFC 9207
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == "read generate"
    assert tokens["expires_in"] == flow.server.settings.http.oauth_access_token_ttl_s
    async with flow.server.mcp(tokens["access_token"]) as client:
        account_view = await client.call_tool("account", {})
        assert not account_view.is_error
        assert account_view.structured_content["wallet"] == account.address.lower()
    rotated = await flow.refresh(grant.client_id, tokens["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    fresh = rotated.json()
    assert fresh["refresh_token"] != tokens["refresh_token"] and fresh["access_token"] != tokens["access_token"]
    assert await flow.mcp_status(fresh["access_token"]) == 200


async def test_the_user_may_grant_fewer_scopes_than_asked_and_signs_exactly_those(flow: OAuthFlow) -> None:
    account = new_account()
    client = await flow.register()
    verifier, challenge = pkce()

    async def login(**kwargs: str):
        started = await flow.authorize(client["client_id"], challenge, scope="read generate pay")
        return await flow.approve(started.headers["location"], account, **kwargs)

    narrowed = await login(scope="read")
    assert narrowed.status_code == 200, narrowed.text
    code = query(narrowed.json()["redirect"])["code"]
    tokens = await flow.token(grant_type="authorization_code", code=code, client_id=client["client_id"],
                              code_verifier=verifier, redirect_uri=CALLBACK)
    assert tokens.json()["scope"] == "read"
    not_asked = await flow.http.get("/oauth/login/message", params={
        "request": query((await flow.authorize(client["client_id"], challenge, scope="read")).headers["location"])[
            "request"], "address": account.address, "scope": "read stake"})
    assert not_asked.status_code == 400 and "did not ask for 'stake'" in not_asked.json()["error_description"]
    swapped = await login(scope="read", approve_scope="read generate pay")  # signed for read, posted for more
    assert swapped.status_code == 400 and "other scopes" in swapped.json()["error_description"]


async def test_wrong_pkce_verifier_is_refused(flow: OAuthFlow) -> None:
    grant = await flow.grant(new_account())
    grant.verifier = pkce()[0]
    response = await flow.exchange(grant)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "incorrect code_verifier"}


async def test_reused_code_is_refused_and_revokes_what_it_issued(flow: OAuthFlow) -> None:
    grant = await flow.grant(new_account())
    first = await flow.exchange(grant)
    assert first.status_code == 200
    again = await flow.exchange(grant)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant" and "already used" in again.json()["error_description"]
    assert await flow.mcp_status(first.json()["access_token"]) == 401
    assert (await flow.refresh(grant.client_id, first.json()["refresh_token"])).status_code == 400


async def test_only_s256_pkce_is_accepted(flow: OAuthFlow) -> None:
    client = await flow.register()
    verifier, _ = pkce()
    for method in ("plain", "S512"):
        response = await flow.http.get("/authorize", params={
            "response_type": "code", "client_id": client["client_id"], "redirect_uri": CALLBACK, "state": "s",
            "code_challenge": verifier, "code_challenge_method": method})
        answer = query(response.headers["location"])
        assert answer["error"] == "invalid_request" and "code_challenge_method" in answer["error_description"]
        assert answer["iss"] == flow.server.base_url
    missing = await flow.http.get("/authorize", params={
        "response_type": "code", "client_id": client["client_id"], "redirect_uri": CALLBACK, "state": "s"})
    assert query(missing.headers["location"])["error"] == "invalid_request"


async def test_expired_code_is_refused(flow: OAuthFlow, monkeypatch: pytest.MonkeyPatch) -> None:
    grant = await flow.grant(new_account())
    monkeypatch.setattr(flow.server.clock, "offset", 61)  # codes live 60 s
    response = await flow.exchange(grant)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "authorization code has expired"}


async def test_redirect_uri_must_match_exactly(flow: OAuthFlow) -> None:
    client = await flow.register(redirect_uris=["https://app.example/callback"])
    _, challenge = pkce()
    other = await flow.authorize(client["client_id"], challenge, redirect_uri="https://app.example/callback/x")
    assert other.status_code == 400 and "location" not in other.headers  # never redirected to an unknown URI
    assert "not registered" in other.json()["error_description"]
    grant = await flow.grant(new_account())
    swapped = await flow.exchange(grant, redirect_uri="http://127.0.0.1:33418/other")
    assert swapped.status_code == 400
    assert "redirect_uri did not match" in swapped.json()["error_description"]


async def test_loopback_redirect_of_a_native_client_may_use_any_port(flow: OAuthFlow) -> None:
    client = await flow.register(redirect_uris=["http://127.0.0.1/callback"])
    grant = await flow.grant(new_account(), client=client, redirect_uri="http://127.0.0.1:50123/callback")
    assert grant.redirect.startswith("http://127.0.0.1:50123/callback?code=")
    assert (await flow.exchange(grant, redirect_uri="http://127.0.0.1:50123/callback")).status_code == 200
    _, challenge = pkce()
    for wrong in ("http://127.0.0.1:50123/elsewhere", "http://localhost:50123/callback"):
        refused = await flow.authorize(client["client_id"], challenge, redirect_uri=wrong)
        assert refused.status_code == 400, wrong


async def test_registration_refuses_plain_http_redirects_off_loopback(flow: OAuthFlow) -> None:
    response = await flow.http.post("/register", json={"redirect_uris": ["http://app.example/cb"],
                                                       "token_endpoint_auth_method": "none"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri" and "plain http" in response.json()["error_description"]


async def test_tokens_are_only_for_this_mcp_endpoint(flow: OAuthFlow) -> None:
    client = await flow.register()
    _, challenge = pkce()
    other = await flow.authorize(client["client_id"], challenge, resource="https://other.example/mcp")
    assert other.status_code == 302
    answer = query(other.headers["location"])
    assert answer["error"] == "invalid_target" and answer["iss"] == flow.server.base_url and answer["state"] == "st4te"
    grant = await flow.grant(new_account(), client=client)
    refused = await flow.exchange(grant, resource="https://other.example/mcp")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"
    # A token of ours minted for another resource is refused by /mcp.
    secret = load_jwt_secret(flow.server.settings)
    now = int(time.time())
    foreign = jwt.encode({"iss": flow.server.base_url, "aud": "https://other.example/mcp", "sub": "0x" + "1" * 40,
                          "jti": "x", "iat": now, "exp": now + 600, "scope": "read"}, secret, algorithm="HS256")
    assert await flow.mcp_status(foreign) == 401


async def test_reused_refresh_token_revokes_the_whole_family(flow: OAuthFlow) -> None:
    grant, tokens = await flow.tokens(new_account())
    rotated = (await flow.refresh(grant.client_id, tokens["refresh_token"])).json()
    replay = await flow.refresh(grant.client_id, tokens["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant" and "reuse detected" in replay.json()["error_description"]
    assert await flow.mcp_status(rotated["access_token"]) == 401
    assert await flow.mcp_status(tokens["access_token"]) == 401
    assert (await flow.refresh(grant.client_id, rotated["refresh_token"])).status_code == 400


async def test_refresh_cannot_widen_the_scopes(flow: OAuthFlow) -> None:
    grant, tokens = await flow.tokens(new_account(), scope="read")
    wider = await flow.refresh(grant.client_id, tokens["refresh_token"], scope="read pay")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    narrower = await flow.refresh(grant.client_id, tokens["refresh_token"], scope="read")
    assert narrower.status_code == 200 and narrower.json()["scope"] == "read"


async def test_revocation_ends_access_and_refresh_tokens(flow: OAuthFlow) -> None:
    grant, tokens = await flow.tokens(new_account())
    assert await flow.mcp_status(tokens["access_token"]) == 200
    revoked = await flow.http.post("/revoke", data={"token": tokens["refresh_token"], "client_id": grant.client_id,
                                                    "token_type_hint": "refresh_token"})
    assert revoked.status_code == 200
    assert await flow.mcp_status(tokens["access_token"]) == 401
    assert (await flow.refresh(grant.client_id, tokens["refresh_token"])).status_code == 400


async def test_logout_ends_oauth_tokens_and_siwe_tokens_alike(flow: OAuthFlow) -> None:
    account = new_account()
    grant, tokens = await flow.tokens(account)
    logout = await flow.http.post("/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert logout.status_code == 200 and logout.json()["revoked"] == 1
    assert (await flow.refresh(grant.client_id, tokens["refresh_token"])).status_code == 400
    _, second = await flow.tokens(account)
    siwe = await flow.server.sign_in(account)
    everywhere = await flow.http.post("/auth/logout?all=1", headers={"Authorization": f"Bearer {siwe}"})
    assert everywhere.json()["revoked"] == 2
    assert await flow.mcp_status(second["access_token"]) == 401
    assert (await flow.refresh(grant.client_id, second["refresh_token"])).status_code == 400


async def test_declining_returns_access_denied_with_iss(flow: OAuthFlow) -> None:
    client = await flow.register()
    _, challenge = pkce()
    login = (await flow.authorize(client["client_id"], challenge)).headers["location"]
    denied = await flow.http.post("/oauth/login/deny", json={"request": query(login)["request"]})
    answer = query(denied.json()["redirect"])
    assert answer == {"error": "access_denied", "error_description": "the user declined the sign-in",
                      "state": "st4te", "iss": flow.server.base_url}
    assert (await flow.http.get(login)).status_code == 404  # answered: the page is gone


async def test_login_signature_checks_match_auth_verify(flow: OAuthFlow) -> None:
    account, other = new_account(), new_account()
    client = await flow.register()
    _, challenge = pkce()
    login = (await flow.authorize(client["client_id"], challenge)).headers["location"]
    request_id = query(login)["request"]
    message = (await flow.http.get("/oauth/login/message",
                                   params={"request": request_id, "address": account.address})).json()["message"]
    assert f"Request ID: {request_id}" in message and f"- {flow.server.mcp_url}" in message
    registry = flow.server.surface.metrics.registry

    def refused() -> float:
        return registry.get_sample_value("sf_mcp_sign_ins_total", {"outcome": "refused"}) or 0.0

    refused_before = refused()
    forged = await flow.http.post("/oauth/login/approve", json={
        "request": request_id, "message": message, "signature": sign(other, message)})
    assert forged.status_code == 401 and "signature" in forged.json()["error_description"]
    assert refused() == refused_before + 1  # counted with the /auth/verify sign-ins
    # The same signed message cannot become a full-access token at /auth/verify.
    elsewhere = await flow.http.post("/auth/verify", json={"message": message, "signature": sign(account, message)})
    assert elsewhere.status_code == 401 and "login page" in elsewhere.json()["error_description"]


async def test_a_call_outside_the_scopes_gets_the_insufficient_scope_challenge(flow: OAuthFlow) -> None:
    _, tokens = await flow.tokens(new_account(), scope="read generate")
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "generate_image", "arguments": {"prompt": "a fox", "payment": {"method": "crypto", "tx_hash": "0x1"}}}}
    raw = await flow.http.post("/mcp", json=call, headers={
        "Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json, text/event-stream"})
    assert raw.status_code == 403
    challenge = raw.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="read generate pay"' in challenge
    assert "resource_metadata=" in challenge
    assert raw.json()["id"] == 7 and raw.json()["error"]["data"] == {"required_scope": "pay"}
    async with flow.server.mcp(tokens["access_token"]) as client:
        with pytest.raises(MCPError, match="needs the 'pay' scope"):
            await client.call_tool("generate_image", {"prompt": "a fox",
                                                      "payment": {"method": "crypto", "tx_hash": "0x" + "1" * 64}})
        # x402 pays too: asked for by the payment argument, or by a payment in _meta alone.
        with pytest.raises(MCPError, match="x402 payment needs the 'pay' scope"):
            await client.call_tool("generate_image", {"prompt": "a fox", "payment": {"method": "x402"}})
        with pytest.raises(MCPError, match="x402 payment needs the 'pay' scope"):
            await client.call_tool("generate_image", {"prompt": "a fox"}, meta={"x402/payment": {"x402Version": 2}})
        with pytest.raises(MCPError, match="vote needs the 'vote' scope"):
            await client.call_tool("vote", {"generation_id": 1})
        free = await client.call_tool("account", {})
        assert not free.is_error


async def test_unknown_client_and_callback_state(flow: OAuthFlow) -> None:
    _, challenge = pkce()
    response = await flow.authorize("no-such-client", challenge)
    assert response.status_code == 400 and "not found" in response.json()["error_description"]
    assert CALLBACK not in response.text
