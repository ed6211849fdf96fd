"""The committed ext-apps bundle is what ``make ui`` builds from the pinned npm packages (like the contracts' artifacts).

``make demo`` serves the views without npm, so ``src/sf_mcp/server/apps/static/ext-apps.js`` is
committed; this rebuilds it from ``ui/`` (``npm ci`` of ``ui/package-lock.json``, done by
``make test``) and fails when the two differ: run ``make ui`` and commit the result.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "ui"
BUNDLE = ROOT / "src" / "sf_mcp" / "server" / "apps" / "static" / "ext-apps.js"


def test_the_committed_bundle_is_fresh(tmp_path: Path) -> None:
    rebuilt = tmp_path / "ext-apps.js"
    subprocess.run(["node", "build.mjs", "--out", str(rebuilt)], cwd=UI, check=True, timeout=120)
    assert rebuilt.read_bytes() == BUNDLE.read_bytes(), "stale views bundle: run `make ui` and commit it"


def test_the_bundle_names_the_pinned_package_version() -> None:
    lock = json.loads((UI / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/@modelcontextprotocol/ext-apps"]["version"]
    assert BUNDLE.read_text(encoding="utf-8").startswith(f"/* @modelcontextprotocol/ext-apps {pinned} (MIT)")
