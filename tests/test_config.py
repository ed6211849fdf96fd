"""Settings: environment, TOML file, validation errors that name the setting, secrets never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from sf_mcp.chain import is_dev_chain
from sf_mcp.cli import main
from sf_mcp.config import Settings, load_settings
from sf_mcp.errors import ConfigError
from sf_mcp.generation import local_renderer_enabled


def test_embedded_defaults(settings) -> None:
    assert settings.chain.embedded and _local_renderer(settings)
    assert settings.storage.database == f"sqlite:///{settings.storage.data_dir / 'sf-mcp.db'}"
    assert settings.providers.image_models[0] == "black-forest-labs/FLUX.1-schnell"


def test_env_then_toml_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "sf.toml"
    toml.write_text('free_daily_quota = 9\nworkers = 2\nimage_models = ["a/b"]\n')
    monkeypatch.setenv("SF_CONFIG_FILE", str(toml))
    monkeypatch.setenv("SF_WORKERS", "7")
    s = load_settings(data_dir=tmp_path)
    assert s.limits.free_daily_quota == 9 and s.jobs.workers == 7 and s.providers.image_models == ["a/b"]


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("SF_WORKERS", "0", "SF_WORKERS"),
        ("SF_FREE_DAILY_QUOTA", "many", "SF_FREE_DAILY_QUOTA"),
        ("SF_WALLET", "0xnothex", "SF_WALLET"),
        ("SF_PORT", "70000", "SF_PORT"),
    ],
)
def test_bad_setting_is_named(env: str, value: str, named: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=named):
        load_settings(data_dir=tmp_path)


def test_missing_toml_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("SF_CONFIG_FILE", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="SF_CONFIG_FILE"):
        load_settings(data_dir=tmp_path)


def test_secrets_are_never_printed(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    secret = "hf_supersecretvalue123"
    monkeypatch.setenv("SF_HF_TOKEN", secret)
    s = load_settings(data_dir=tmp_path)
    assert s.providers.hf_token.get_secret_value() == secret
    assert secret not in repr(s) and secret not in str(s.model_dump())


def test_cli_reports_bad_config_without_traceback(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("SF_WORKERS", "-1")
    assert main(["--data-dir", str(tmp_path), "serve"]) == 2
    err = capsys.readouterr().err
    assert "SF_WORKERS" in err and "Traceback" not in err


@pytest.mark.anyio
async def test_two_data_dirs_share_nothing(tmp_path, monkeypatch) -> None:
    from mcp.client import Client

    from sf_mcp.server import build_server
    from support import generate, read_json

    a = load_settings(data_dir=tmp_path / "a")
    b = load_settings(data_dir=tmp_path / "b")
    async with Client(build_server(a)) as ca, Client(build_server(b)) as cb:
        await generate(ca, "only in a")
        assert len(await read_json(ca, "generations://recent")) == 1
        assert await read_json(cb, "generations://recent") == []


def test_local_renderer_defaults_on_for_dev_chains_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SF_LOCAL_RENDERER", raising=False)
    rpc = "http://127.0.0.1:8545"
    assert _local_renderer(load_settings(data_dir=tmp_path))  # embedded
    assert not _local_renderer(load_settings(data_dir=tmp_path, rpc_url=rpc))  # no deployment yet
    (tmp_path / "deployment.json").write_text('{"chain_id": 31337, "dev": true, "contracts": {}}')
    assert _local_renderer(load_settings(data_dir=tmp_path, rpc_url=rpc))  # `sf-mcp deploy --dev`
    (tmp_path / "deployment.json").write_text('{"chain_id": 146, "dev": false, "contracts": {}}')
    assert not _local_renderer(load_settings(data_dir=tmp_path, rpc_url=rpc))  # a real deployment
    monkeypatch.setenv("SF_LOCAL_RENDERER", "true")
    assert _local_renderer(load_settings(data_dir=tmp_path, rpc_url=rpc))


def _local_renderer(settings: Settings) -> bool:
    return local_renderer_enabled(settings, dev_chain=is_dev_chain(settings))
