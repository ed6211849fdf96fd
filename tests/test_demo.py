"""`sf-mcp demo` (the README's first command) runs offline with no keys and leaves the images it names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_") and k != "HF_TOKEN"}
    out = tmp_path / "images"
    completed = subprocess.run(
        [sys.executable, "-m", "sf_mcp.cli", "--data-dir", str(tmp_path / "data"), "demo", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    transcript = completed.stdout
    for step in ("> tools/list", "generate_image", "prepare_payment", "valid=True", "replay=True",
                 "leaderboard", "generations://wallet/"):
        assert step in transcript
    images = sorted(out.glob("*.png"))
    assert len(images) == 2 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in images)
