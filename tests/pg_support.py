"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl in a temporary folder, removed afterwards.

The server binaries come from Debian's ``postgresql`` package (``make test`` installs it when ``initdb``
is missing). As root, the cluster runs as the ``postgres`` user, which initdb requires.
Every test gets its own database, cloned from a template that is migrated once.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

TEMPLATE = "sfmcp_template"


def pg_bin(name: str) -> str:
    """A PostgreSQL server binary: on PATH, else in Debian's versioned folder."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise RuntimeError(f"{name} not found: install Debian's postgresql package (make test does)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One running cluster; :meth:`database` hands out fresh databases on it."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def _admin(self, *statements: str) -> None:
        conn = await asyncpg.connect(host="127.0.0.1", port=self.port, user="postgres", database="postgres")
        try:
            for sql in statements:
                await conn.execute(sql)
        finally:
            await conn.close()

    def create(self, *, template: str | None = TEMPLATE) -> str:
        """A new database (a clone of the migrated template, or empty); returns its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        clause = f" TEMPLATE {template}" if template else ""
        _run_aside(self._admin(f"CREATE DATABASE {name}{clause}"))
        return self.url(name)

    def rename(self, url: str, name: str) -> None:
        _run_aside(self._admin(f"ALTER DATABASE {url.rsplit('/', 1)[1]} RENAME TO {name}"))

    def drop(self, url: str) -> None:
        _run_aside(self._admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)"))

    @contextmanager
    def database(self, *, template: str | None = TEMPLATE) -> Iterator[str]:
        url = self.create(template=template)
        try:
            yield url
        finally:
            self.drop(url)


def _run_aside(coro) -> None:
    """Run a coroutine to completion on its own loop and thread (callers may be inside a running loop)."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:  # handed to the caller
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(f"'{a}'" for a in argv)]


@contextmanager
def pg_server() -> Iterator[PgServer]:
    """Start a cluster on a free loopback port; stop it and delete its files at the end."""
    folder = Path(tempfile.mkdtemp(prefix="sf-mcp-pg-"))
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    data = folder / "data"
    subprocess.run(_as_postgres([pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]),
                   check=True, capture_output=True)
    port = _free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
    subprocess.run(_as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"),
                                 "-w", "start"]), check=True, capture_output=True)
    try:
        yield PgServer(folder, port)
    finally:
        subprocess.run(_as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
