"""`sf-mcp login` and examples/http_client.py against the live server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from http_support import LiveServer, new_account

from sf_mcp.cli import main

SERVER_SETTINGS = {"rate_limit_auth_ip": 1000}
ROOT = Path(__file__).resolve().parents[2]


def test_login_prints_a_token_the_example_client_uses(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    account = new_account()
    monkeypatch.setenv("SF_TEST_WALLET_KEY", "0x" + bytes(account.key).hex())
    monkeypatch.setenv("SF_DATA_DIR", str(tmp_path))
    assert main(["login", "--key-env", "SF_TEST_WALLET_KEY", "--url", server.mcp_url]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert token.count(".") == 2 and account.address.lower() in err
    assert "0x" + bytes(account.key).hex() not in out + err

    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "http_client.py"), "--url", server.base_url,
         "--generate", "a lighthouse at dusk"],
        env={**env, "SF_TOKEN": token}, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "generate_image" in done.stdout and "1 generation(s)" in done.stdout


def test_login_explains_failures(server: LiveServer, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setenv("SF_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SF_TEST_MISSING", raising=False)
    assert main(["login", "--key-env", "SF_TEST_MISSING", "--url", server.base_url]) == 2
    assert "SF_TEST_MISSING is not set" in capsys.readouterr().err
    monkeypatch.setenv("SF_TEST_BAD", "not-a-key")
    assert main(["login", "--key-env", "SF_TEST_BAD", "--url", server.base_url]) == 2
    err = capsys.readouterr().err
    assert "not hold a valid private key" in err and "not-a-key" not in err
