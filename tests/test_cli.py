"""The `sf-mcp` command line: options on either side of the command, help, version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sf_mcp import package_version
from sf_mcp.cli import _parser, main


@pytest.mark.parametrize(
    "argv",
    [
        ["--data-dir", "X", "-v", "demo"],
        ["demo", "--data-dir", "X", "-v"],
        ["-v", "demo", "--data-dir", "X"],
        ["--data-dir", "elsewhere", "demo", "--data-dir", "X", "--verbose"],  # the command's own wins
    ],
)
def test_data_dir_and_verbose_go_before_or_after_the_command(argv: list[str]) -> None:
    args = _parser().parse_args(argv)
    assert args.data_dir == Path("X") and args.verbose is True


def test_options_default_when_given_nowhere() -> None:
    args = _parser().parse_args(["demo"])
    assert args.data_dir is None and args.verbose is False


def test_a_command_uses_the_data_dir_given_after_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SF_DATABASE_URL", raising=False)
    monkeypatch.delenv("SF_DATA_DIR", raising=False)
    assert main(["review", "--data-dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert [p.name for p in tmp_path.glob("*.db")] == ["sf-mcp.db"]  # the database was opened there


def test_sf_mcp_alone_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: sf-mcp") and "serve" in out and "demo" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"sf-mcp {package_version()}"


def test_serve_help_describes_the_transports_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for text in ("stdio  (default)", "http   MCP over streamable HTTP", "SF_AGENT_KEY", "(default: stdio)",
                 "default 127.0.0.1", "default 8000", "default: the embedded chain", "--data-dir"):
        assert text in out, text
