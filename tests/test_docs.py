"""The README and docs/ work as written from a fresh clone after `make demo`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A command at the start of a line, after `$(`, after `& `, or after environment assignments.
COMMAND = r"(?:^|\$\(|& |^(?:[A-Z_]+=\S+ )+)"


def _shell_blocks(text: str) -> list[str]:
    """Fenced blocks that hold commands (not JSON, Solidity, ... nor an HTTP header example)."""
    blocks = re.findall(r"```(\w*)\n(.*?)```", text, re.S)
    return [body for lang, body in blocks if lang in ("", "sh", "bash", "shell") and not body.startswith("WWW-")]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_commands_run_as_written_after_make_demo(doc: Path) -> None:
    text = doc.read_text()
    for block in _shell_blocks(text):
        on_path = "cast" if "cast-linux-amd64/bin:$PATH" in block else None  # the block puts it on PATH first
        for tool in ("sf-mcp", "python", "cast"):
            if tool == on_path:
                continue
            bare = re.findall(COMMAND + re.escape(tool) + " ", block, re.M)
            assert not bare, f"{doc.name}: `{tool}` is not on PATH after `make demo`: use its path\n{block}"
        if "$CAST " in block:
            assert "CAST=$PWD/contracts/node_modules/@foundry-rs/cast-linux-amd64/bin/cast" in block
        for script in re.findall(r"(?:^|\s)((?:examples|bench)/\S+\.py)", block):
            assert (ROOT / script).exists(), script
    # Inline commands with options, e.g. `sf-mcp deploy --rpc-url ...`, give the venv's path too.
    assert not re.findall(r"`sf-mcp [a-z]+ [-\[]", text), doc.name


def test_the_readme_links_only_files_in_the_repository() -> None:
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links
    for target in links:
        assert "://" not in target and not target.startswith("/"), target
        assert (ROOT / target.split("#", 1)[0]).exists(), target
    assert "DESIGN.md" not in text


def test_one_name_for_the_bearer_token_variable() -> None:
    files = [*DOCS, *(ROOT / "examples").glob("*"), *(ROOT / "src").rglob("*.py")]
    assert not [f.name for f in files if f.is_file() and "SF_MCP_TOKEN" in f.read_text()]
    assert "SF_TOKEN" in (ROOT / "examples" / "http_client.py").read_text()
    assert "export SF_TOKEN=" in (ROOT / "docs" / "http.md").read_text()


def test_the_readme_says_what_stdio_signs_and_what_enters_the_contest() -> None:
    text = " ".join((ROOT / "README.md").read_text().split())
    assert "only when `SF_AGENT_KEY` is set" in text and "unsigned transaction plans" in text
    assert "Only paid generations" in text and "enters every result" not in text
