"""Who is calling: the configured wallet over stdio, only a bearer token over HTTP."""

from __future__ import annotations

import pytest

from sf_mcp.config import load_settings
from sf_mcp.errors import Unauthorized
from sf_mcp.server.mcp.identity import DEV_WALLET, caller_wallet

AGENT_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # dev account #1 (public)


def test_stdio_caller_is_the_configured_wallet(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("SF_WALLET", raising=False)
    monkeypatch.delenv("SF_AGENT_KEY", raising=False)
    assert caller_wallet(load_settings(data_dir=tmp_path)) == DEV_WALLET
    monkeypatch.setenv("SF_AGENT_KEY", AGENT_KEY)
    assert caller_wallet(load_settings(data_dir=tmp_path)) == "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"


def test_over_http_no_token_never_falls_back_to_the_server_wallet(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SF_AGENT_KEY", AGENT_KEY)
    with pytest.raises(Unauthorized, match="sign in"):
        caller_wallet(load_settings(data_dir=tmp_path), over_http=True)


def test_non_embedded_without_wallet_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("SF_WALLET", raising=False)
    monkeypatch.delenv("SF_AGENT_KEY", raising=False)
    with pytest.raises(Unauthorized, match="SF_WALLET"):
        caller_wallet(load_settings(data_dir=tmp_path, rpc_url="http://127.0.0.1:1"))
