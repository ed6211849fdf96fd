"""Alembic migrations: a SQLite file made by the old SQL-file runner upgrades in place; a PostgreSQL
database is migrated by ``sf-mcp migrate`` only, and a server refuses to start on one that is behind."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import pytest
from tests.pg_support import PgServer

from sf_mcp.cli import main
from sf_mcp.errors import ConfigError
from sf_mcp.store import OperatorAction, Store, migrations

LEGACY = Path(__file__).parent / "legacy_sql"  # the SQL files of main at 3095f67, applied as its runner did
TX = "0x" + "AB" * 32
WALLET = "0x" + "cd" * 20


def _legacy_db(path: Path, *, upto: int) -> sqlite3.Connection:
    """A database as the hand-rolled runner left it after applying migrations 1..upto."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    for file in sorted(LEGACY.glob("*.sql")):
        version = int(file.name.split("_", 1)[0])
        if version > upto:
            break
        script = "\n".join(re.sub(r"--.*$", "", line) for line in file.read_text().splitlines())
        for statement in (s.strip() for s in script.split(";")):
            if statement:
                conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, file.name))
    return conn


def _crypto_job(conn: sqlite3.Connection, task_id: str, key: str) -> None:
    payment = {"method": "crypto", "chain_id": 5, "tx_hash": TX, "log_index": 3}
    conn.execute(
        "INSERT INTO ai_generations (task_id, wallet, kind, prompt, params, status, payment_method, payment_key, "
        "payment, created_at) VALUES (?, ?, 'image', 'p', '{}', 'succeeded', 'crypto', ?, ?, 1.0)",
        (task_id, WALLET, key, json.dumps(payment)),
    )


@pytest.mark.anyio
async def test_a_current_legacy_sqlite_file_is_adopted_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "sf-mcp.db"
    conn = _legacy_db(path, upto=4)
    _crypto_job(conn, "t1", f"crypto:5:{TX.lower()}")
    conn.close()
    store = await Store.open(path)
    try:
        assert await migrations.current(store.db) == migrations.head()
        assert (await store.generations.get("t1")).payment_key == f"crypto:5:{TX.lower()}"
        await store.accounts.add_credits(WALLET, 2, reason="test")  # the adopted schema takes writes
        assert await store.accounts.credits(WALLET) == 2
        assert await store.db.fetchone("SELECT name FROM sqlite_master WHERE name = 'schema_migrations'") is None
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_legacy_file_behind_runs_the_remaining_revisions(tmp_path: Path) -> None:
    """Made before 0004: Alembic's 0004 re-keys the crypto job by transaction and rebuilds operator_txs."""
    path = tmp_path / "sf-mcp.db"
    conn = _legacy_db(path, upto=3)
    _crypto_job(conn, "t1", f"crypto:5:{TX}:3")
    conn.execute("INSERT INTO operator_txs VALUES ('t1', 'submit', 5, '0xfeed', 2.0)")
    conn.execute(
        "INSERT INTO blockchain_transactions VALUES (5, ?, 3, 10, '0xb', '0xc', 'GenerationRequested', '{}', 1.0)",
        (TX.lower(),),
    )
    conn.close()
    store = await Store.open(path)
    try:
        assert (await store.generations.get("t1")).payment_key == f"crypto:5:{TX.lower()}"
        op = await store.operator_txs.get("t1", OperatorAction.SUBMIT)
        assert op is not None and op.status == "sent" and op.hashes == ("0xfeed",)
        [event] = await store.chain.events(5)
        assert event.payment_key == f"crypto:5:{TX.lower()}"
    finally:
        await store.close()


def test_postgres_needs_sf_mcp_migrate_and_serve_refuses_before(
    pg: PgServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pg.database(template=None) as url:
        with pytest.raises(ConfigError, match="pending migrations .*run `sf-mcp migrate`"):
            asyncio.run(Store.open(url))
        monkeypatch.setenv("SF_DATABASE_URL", url)
        assert main(["--data-dir", str(tmp_path), "serve"]) == 2
        assert "run `sf-mcp migrate` first" in capsys.readouterr().err
        assert main(["--data-dir", str(tmp_path), "migrate"]) == 0
        assert f"at migration {migrations.head()} (was empty)" in capsys.readouterr().out
        assert main(["--data-dir", str(tmp_path), "migrate"]) == 0  # again: nothing to do
        assert capsys.readouterr().out.strip().endswith(f"at migration {migrations.head()}")
        asyncio.run(_open_and_close(url))


async def _open_and_close(url: str) -> None:
    store = await Store.open(url)
    await store.close()


@pytest.mark.anyio
async def test_postgres_refuses_a_database_newer_than_the_code(pg: PgServer) -> None:
    with pg.database() as url:
        store = await Store.open(url)
        async with store.db.transaction() as tx:
            await tx.execute("UPDATE alembic_version SET version_num = '9999'")
        await store.close()
        with pytest.raises(ConfigError, match="newer than this sf-mcp"):
            await Store.open(url)


def test_a_database_url_of_another_kind_is_refused_by_name(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SF_DATABASE_URL", "mysql://x@y/z")
    assert main(["--data-dir", str(tmp_path), "migrate"]) == 2
