"""`sf-mcp serve --transport http` stops on SIGTERM only after its services are closed.

The services open before the HTTP app is built (``server.open_http_app``), so they close after
uvicorn stops; uvicorn raises the signal again when it stops, and that must not end the process
before the store, the chain and the workers are closed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_sigterm_closes_the_services_then_ends_by_the_signal(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_") and k != "HF_TOKEN"}
    env["SF_DATA_DIR"] = str(data_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sf_mcp.cli", "-v", "serve", "--transport", "http", "--port", str(_free_port())],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = threading.Timer(120, proc.kill)  # a hung server fails the test instead of hanging it
    deadline.start()
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if "serving MCP at" in line:
                break
        assert any("serving MCP at" in line for line in seen), "".join(seen)[-3000:]
        proc.send_signal(signal.SIGTERM)
        rest = proc.stderr.read()
        proc.wait()
    finally:
        deadline.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "services closed" in rest, rest[-3000:]
    assert proc.returncode == -signal.SIGTERM  # and then it ended by the signal, as a plain uvicorn would
