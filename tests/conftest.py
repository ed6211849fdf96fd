"""Shared fixtures: settings in a fresh data dir, the server, and MCP clients in both protocol eras."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from mcp.client import Client
from tests.pg_support import TEMPLATE, PgServer, pg_server

from sf_mcp.config import Settings, load_settings
from sf_mcp.server import build_server
from sf_mcp.store import migrate

BACKENDS = ["sqlite", "postgresql"]
MODES = ["auto", "legacy"]  # protocol 2026-07-28, and 2025-06-18/2025-11-25 as assistants speak today


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Embedded defaults in a private data dir, with no key from the developer's environment."""
    for name in ("HF_TOKEN", "SF_HF_TOKEN", "SF_WALLET", "SF_AGENT_KEY", "SF_RPC_URL", "SF_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    return load_settings(data_dir=data_dir)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def client(settings: Settings, mode: str) -> AsyncIterator[Client]:
    async with Client(build_server(settings), mode=mode) as c:
        yield c


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    """One throwaway PostgreSQL server for the session, with a migrated template database."""
    with pg_server() as server:
        template = server.create(template=None)
        asyncio.run(migrate(template))
        server.rename(template, TEMPLATE)
        yield server


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database on each backend: a SQLite file, or a database on the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    with request.getfixturevalue("pg").database() as url:
        yield url
