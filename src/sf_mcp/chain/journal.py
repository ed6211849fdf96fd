"""py-evm's key-value store, kept in an append-only file: what lets the embedded chain outlive its process.

py-evm keeps a whole chain (headers, blocks, receipts, state tries, the canonical
head) in one key-value store. :class:`JournalDB` is that store in memory, plus a
file that every write is appended to. Writes are collected and appended as one
framed batch (length, payload, CRC-32) that is flushed and fsynced by
:meth:`JournalDB.flush`, which the chain calls before it answers the request that
made them: a transaction whose hash a caller has seen is on disk.

Loading replays the batches in order and stops at the first torn or corrupt one
(a crash in the middle of a write), which it cuts off; what came before is a
state the chain had acknowledged. A file much larger than the data it holds
(values overwritten many times, like the canonical head) is rewritten compactly
when it is opened.
"""

from __future__ import annotations

import os
import struct
import zlib
from io import BufferedWriter
from pathlib import Path

from eth.db.backends.memory import MemoryDB

_BATCH = struct.Struct(">Q")  # payload length
_CRC = struct.Struct(">I")
_LEN = struct.Struct(">I")
_DELETED = 0xFFFFFFFF  # a value length that marks a deletion
COMPACT_OVER = 1 << 20  # rewrite on open when the file exceeds twice its live data plus this many bytes


class JournalDB(MemoryDB):
    """A MemoryDB whose writes are appended to ``path``; :meth:`flush` makes them durable."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._pending: list[tuple[bytes, bytes | None]] = []
        self._file: BufferedWriter | None = None

    @classmethod
    def open(cls, path: Path) -> JournalDB:
        db = cls(path)
        size = db._load()
        live = sum(len(k) + len(v) for k, v in db.kv_store.items())
        if size > 2 * live + COMPACT_OVER:
            db._rewrite()
        db._file = open(path, "ab")
        return db

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.kv_store[key] = value
        self._pending.append((bytes(key), bytes(value)))

    def __delitem__(self, key: bytes) -> None:
        del self.kv_store[key]
        self._pending.append((bytes(key), None))

    def __deepcopy__(self, memo: dict[int, object]) -> MemoryDB:
        """A copy of the data without the file (a snapshot of the chain that does not persist)."""
        return MemoryDB(dict(self.kv_store))

    def seed(self, items: dict[bytes, bytes]) -> None:
        """Start an empty journal with ``items`` (a new chain's genesis and deployment)."""
        for key, value in items.items():
            self[key] = value
        self.flush()

    def flush(self) -> None:
        """Append the writes since the last flush as one batch and wait until the disk has it."""
        if not self._pending or self._file is None:
            return
        payload = b"".join(_record(k, v) for k, v in self._pending)
        self._file.write(_BATCH.pack(len(payload)) + payload + _CRC.pack(zlib.crc32(payload)))
        self._file.flush()
        os.fsync(self._file.fileno())
        self._pending.clear()

    def close(self) -> None:
        if self._file is not None:
            self.flush()
            self._file.close()
            self._file = None

    # -- loading -----------------------------------------------------------------
    def _load(self) -> int:
        """Replay the complete batches; cut off a torn tail. Returns the size of the file kept."""
        if not self.path.exists():
            return 0
        data = self.path.read_bytes()
        at = 0
        while at + _BATCH.size <= len(data):
            (length,) = _BATCH.unpack_from(data, at)
            end = at + _BATCH.size + length + _CRC.size
            if end > len(data):
                break
            payload = data[at + _BATCH.size:end - _CRC.size]
            if _CRC.unpack_from(data, end - _CRC.size)[0] != zlib.crc32(payload):
                break
            self._apply(payload)
            at = end
        if at < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(at)
        return at

    def _apply(self, payload: bytes) -> None:
        at = 0
        while at < len(payload):
            (klen,) = _LEN.unpack_from(payload, at)
            key = payload[at + 4:at + 4 + klen]
            at += 4 + klen
            (vlen,) = _LEN.unpack_from(payload, at)
            at += 4
            if vlen == _DELETED:
                self.kv_store.pop(key, None)
                continue
            self.kv_store[key] = payload[at:at + vlen]
            at += vlen

    def _rewrite(self) -> None:
        tmp = self.path.with_suffix(".compact")
        payload = b"".join(_record(k, v) for k, v in self.kv_store.items())
        with open(tmp, "wb") as f:
            f.write(_BATCH.pack(len(payload)) + payload + _CRC.pack(zlib.crc32(payload)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def _record(key: bytes, value: bytes | None) -> bytes:
    if value is None:
        return _LEN.pack(len(key)) + key + _LEN.pack(_DELETED)
    return _LEN.pack(len(key)) + key + _LEN.pack(len(value)) + value
