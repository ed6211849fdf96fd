"""The local content-addressed store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sf_mcp.errors import InvalidRequest, NotFound
from sf_mcp.generation import LocalContentStore

pytestmark = pytest.mark.anyio


async def test_put_get_exists_roundtrip(tmp_path: Path) -> None:
    store = LocalContentStore(tmp_path)
    data = b"\x89PNG fake but stored as given"
    stored = await store.put(data, "image/png")
    digest = hashlib.sha256(data).hexdigest()
    assert (stored.sha256, stored.size, stored.uri, stored.public_url) == (digest, len(data), f"content://{digest}",
                                                                           None)
    assert await store.exists(digest)
    assert await store.get(digest) == (data, "image/png")
    assert await store.get(stored.uri) == (data, "image/png")  # a content:// URI is accepted too
    again = await store.put(data, "image/png")
    assert again == stored
    assert not [p for p in tmp_path.rglob("*.tmp")], "no temporary files are left behind"


async def test_unknown_and_malformed_hashes(tmp_path: Path) -> None:
    store = LocalContentStore(tmp_path)
    with pytest.raises(NotFound):
        await store.get("0" * 64)
    assert not await store.exists("0" * 64)
    for bad in ("xyz", "../" + "0" * 61, "0" * 63, "g" * 64):
        with pytest.raises(InvalidRequest, match="sha256"):
            await store.get(bad)


async def test_damaged_file_is_not_served(tmp_path: Path) -> None:
    store = LocalContentStore(tmp_path)
    stored = await store.put(b"original", "text/plain")
    next(p for p in tmp_path.rglob(stored.sha256)).write_bytes(b"tampered")
    with pytest.raises(NotFound, match="damaged"):
        await store.get(stored.sha256)


async def test_bad_mime_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="mime_type"):
        await LocalContentStore(tmp_path).put(b"x", "not a mime\n")
