"""The local content-addressed store."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from sf_mcp.errors import InvalidRequest, NotFound
from sf_mcp.generation import LocalContentStore, Preview, content

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


def _png(size: tuple[int, int], colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


async def test_the_preview_handed_to_put_is_served_without_decoding_the_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalContentStore(tmp_path)
    preview = Preview(data=b"a preview made while validating", mime_type="image/jpeg", max_px=256)
    stored = await store.put(_png((64, 64), "red"), "image/png", preview=preview)

    def no_decode(data: bytes, max_px: int) -> tuple[bytes, str]:
        raise AssertionError("the stored bytes were decoded again")

    monkeypatch.setattr(content, "make_preview", no_decode)
    assert await store.preview(stored.sha256, 256) == preview
    assert await store.preview(stored.uri, 256) == preview  # a content:// URI is accepted too


async def test_a_preview_not_handed_over_is_made_once_from_the_stored_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = await LocalContentStore(tmp_path).put(_png((200, 100), "red"), "image/png")
    made: list[int] = []
    real = content.make_preview

    def counting(data: bytes, max_px: int) -> tuple[bytes, str]:
        made.append(max_px)
        return real(data, max_px)

    monkeypatch.setattr(content, "make_preview", counting)
    replica = LocalContentStore(tmp_path)  # another process: it did not validate this image
    first = await replica.preview(stored.sha256, 64)
    assert await replica.preview(stored.sha256, 64) == first and made == [64]
    assert (first.mime_type, first.max_px) == ("image/jpeg", 64)
    assert Image.open(io.BytesIO(first.data)).size == (64, 32)
    other_size = await replica.preview(stored.sha256, 32)
    assert Image.open(io.BytesIO(other_size.data)).size == (32, 16) and made == [64, 32]
    with pytest.raises(NotFound):
        await replica.preview("0" * 64, 64)


async def test_the_type_of_self_describing_bytes_is_read_from_them(tmp_path: Path) -> None:
    """An image is one file and one fsync: its type is read from its bytes; other types keep a .mime file."""
    png = await LocalContentStore(tmp_path).put(_png((32, 32), "blue"), "image/png")
    assert not list(tmp_path.rglob(f"{png.sha256}.mime"))
    text = await LocalContentStore(tmp_path).put(b"plain words", "text/plain")
    assert list(tmp_path.rglob(f"{text.sha256}.mime"))
    fresh = LocalContentStore(tmp_path)  # nothing in memory: both read back from disk
    assert (await fresh.get(png.sha256))[1] == "image/png"
    assert (await fresh.get(text.sha256))[1] == "text/plain"
    next(tmp_path.rglob(f"{text.sha256}.mime")).unlink()  # lost in a crash
    assert (await LocalContentStore(tmp_path).get(text.sha256))[1] == "application/octet-stream"
