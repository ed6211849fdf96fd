"""`sf-mcp devnet`: anvil with the contracts deployed, and no anvil left behind when it is stopped."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys

import pytest

from sf_mcp.chain.devnet import find_anvil, free_port

pytestmark = [
    pytest.mark.anvil,
    pytest.mark.skipif(find_anvil() is None, reason="anvil binary absent: run `npm ci` in contracts/"),
]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_devnet_deploys_prints_and_stops_anvil_on_sigterm(tmp_path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sf_mcp.cli", "--data-dir", str(tmp_path), "devnet", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        lines = []
        for line in proc.stdout:  # the command prints its summary once everything is deployed
            lines.append(line)
            if "anvil is listening" in line:
                break
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}" in output and "SonicAIGenerationPayment" in output
        deployment = json.loads((tmp_path / "deployment.json").read_text())
        assert deployment["chain_id"] == 31337
        assert _port_open(port)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert not _port_open(port)
