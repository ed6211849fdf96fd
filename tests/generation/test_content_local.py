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
    stored = await LocalContentStore(tmp_path).put(b"original", "text/plain")
    next(p for p in tmp_path.rglob(stored.sha256)).write_bytes(b"tampered")
    with pytest.raises(NotFound, match="damaged"):
        await LocalContentStore(tmp_path).get(stored.sha256)  # another process (or replica) reading the folder


async def test_large_media_hash_is_the_sha256_of_the_stored_bytes(tmp_path: Path) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB: hashed in a worker thread
    store = LocalContentStore(tmp_path)
    stored = await store.put(data, "video/mp4")
    on_disk = next(p for p in tmp_path.rglob(stored.sha256) if p.suffix != ".mime").read_bytes()
    assert stored.sha256 == hashlib.sha256(on_disk).hexdigest() == hashlib.sha256(data).hexdigest()
    assert await store.get(stored.sha256) == (data, "video/mp4")
    assert await LocalContentStore(tmp_path).get(stored.sha256) == (data, "video/mp4")


async def test_a_result_read_right_after_storing_comes_from_memory(tmp_path: Path) -> None:
    store = LocalContentStore(tmp_path)
    stored = await store.put(b"fresh image bytes", "image/png")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            path.unlink()
    assert await store.get(stored.sha256) == (b"fresh image bytes", "image/png")  # the bytes just hashed
    with pytest.raises(NotFound):
        await LocalContentStore(tmp_path).get(stored.sha256)


async def test_bad_mime_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="mime_type"):
        await LocalContentStore(tmp_path).put(b"x", "not a mime\n")
