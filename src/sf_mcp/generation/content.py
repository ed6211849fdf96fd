"""Content-addressed storage for generated media: ``content://{sha256}`` works with every backend.

The key is the SHA-256 of the bytes, so storing the same bytes twice is a no-op,
a URI can never point at different bytes later, and a cache may keep an object
for ever. Backends: :class:`LocalContentStore` (files under the data dir, the
embedded default) and :class:`S3ContentStore` (AWS S3, Cloudflare R2, MinIO),
selected by :func:`build_content_store` from the settings.
"""

from __future__ import annotations

import abc
import hashlib
import os
import re
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from sf_mcp.config import ContentBackend, Settings
from sf_mcp.errors import InvalidRequest, NotFound
from sf_mcp.generation.base import Preview
from sf_mcp.generation.media import is_mp4, make_preview

__all__ = [
    "ContentStore",
    "LocalContentStore",
    "S3ContentStore",
    "StoredContent",
    "build_content_store",
    "content_uri",
    "parse_sha256",
]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MIME = re.compile(r"^[a-z]+/[a-z0-9.+-]+$")


@dataclass(frozen=True, kw_only=True)
class StoredContent:
    """Where stored bytes can be read again: always by ``uri``, and by ``public_url`` where a bucket is public."""

    sha256: str
    mime_type: str
    size: int
    uri: str
    public_url: str | None = None


def content_uri(sha256: str) -> str:
    """The MCP resource URI of stored bytes."""
    return f"content://{sha256}"


def parse_sha256(value: str) -> str:
    """Return ``value`` (a hex digest or a ``content://`` URI) as a lower-case digest, or raise InvalidRequest."""
    digest = value.removeprefix("content://").strip().lower()
    if not _SHA256.match(digest):
        raise InvalidRequest(f"sha256: {value!r} is not a 64-character hex SHA-256 digest")
    return digest


def _check_mime(mime_type: str) -> str:
    if not _MIME.match(mime_type):
        raise InvalidRequest(f"mime_type: {mime_type!r} is not a media type such as image/png")
    return mime_type


INLINE_HASH_BYTES = 64 * 1024  # below this, hashing (~50 us) costs less than a hop to a worker thread
RECENT_BYTES = 32 * 1024 * 1024  # objects kept in memory after put/get: a generate call reads its image right back
PREVIEW_BYTES = 8 * 1024 * 1024  # previews kept in memory: ~10-40 KB each, so hundreds of recent results


async def sha256_of(data: bytes) -> str:
    """The hex SHA-256 of ``data``; large media are hashed in a worker thread, off the event loop."""
    if len(data) < INLINE_HASH_BYTES:
        return hashlib.sha256(data).hexdigest()
    return await anyio.to_thread.run_sync(lambda: hashlib.sha256(data).hexdigest())


class ContentStore(abc.ABC):
    """Stores bytes under their SHA-256; subclasses implement three small operations.

    Bytes are hashed once on the way in (in a worker thread when large) and kept in a small
    in-memory cache of recent objects, so the generate tool reading its result right back for
    the preview neither touches the backend nor hashes again: the cached bytes are the very
    bytes the digest was computed from. Whatever comes from the backend is checked against
    its digest before it is served.

    Previews are kept in memory beside them: the one made while the media was validated
    (handed to :meth:`put`), or one made from the stored bytes on the first request for it.
    """

    def __init__(self) -> None:
        self._recent: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._recent_size = 0
        self._previews: OrderedDict[tuple[str, int], Preview] = OrderedDict()
        self._previews_size = 0

    async def put(self, data: bytes, mime_type: str, *, preview: Preview | None = None) -> StoredContent:
        """Store ``data`` (idempotent) and say where it can be read; ``preview`` is kept for :meth:`preview`."""
        mime_type = _check_mime(mime_type)
        digest = await self._store(data, mime_type)
        self._remember(digest, data, mime_type)
        if preview is not None:
            self._remember_preview(digest, preview)
        return StoredContent(sha256=digest, mime_type=mime_type, size=len(data), uri=content_uri(digest),
                             public_url=self.public_url(digest))

    async def get(self, sha256: str) -> tuple[bytes, str]:
        """Return the bytes and mime type stored under ``sha256``; NotFound if absent or corrupted."""
        digest = parse_sha256(sha256)
        recent = self._recent.get(digest)
        if recent is not None:
            self._recent.move_to_end(digest)
            return recent
        found = await self._get(digest)
        if found is None:
            raise NotFound(f"no content with sha256 {digest}")
        data, mime_type = found
        if await sha256_of(data) != digest:  # a damaged object must never be served as this hash
            raise NotFound(f"content {digest} is damaged in the store and cannot be served")
        self._remember(digest, data, mime_type)
        return data, mime_type

    async def preview(self, sha256: str, max_px: int) -> Preview:
        """The preview of stored media at ``max_px``: kept from :meth:`put`, else made once from the stored bytes."""
        digest = parse_sha256(sha256)
        kept = self._previews.get((digest, max_px))
        if kept is not None:
            self._previews.move_to_end((digest, max_px))
            return kept
        data, _ = await self.get(digest)
        made, mime = await anyio.to_thread.run_sync(make_preview, data, max_px)
        preview = Preview(data=made, mime_type=mime, max_px=max_px)
        self._remember_preview(digest, preview)
        return preview

    async def _store(self, data: bytes, mime_type: str) -> str:
        """Hash and write ``data``; returns its digest. A backend may do both in one worker-thread hop."""
        digest = await sha256_of(data)
        await self._put(digest, data, mime_type)
        return digest

    def _remember(self, digest: str, data: bytes, mime_type: str) -> None:
        if len(data) > RECENT_BYTES // 4 or digest in self._recent:
            return
        self._recent[digest] = (data, mime_type)
        self._recent_size += len(data)
        while self._recent_size > RECENT_BYTES:
            _, (old, _) = self._recent.popitem(last=False)
            self._recent_size -= len(old)

    def _remember_preview(self, digest: str, preview: Preview) -> None:
        key = (digest, preview.max_px)
        if key in self._previews:
            return
        self._previews[key] = preview
        self._previews_size += len(preview.data)
        while self._previews_size > PREVIEW_BYTES:
            _, old = self._previews.popitem(last=False)
            self._previews_size -= len(old.data)

    async def exists(self, sha256: str) -> bool:
        """Whether bytes with this digest are stored."""
        return await self._exists(parse_sha256(sha256))

    def public_url(self, sha256: str) -> str | None:
        """An HTTP URL anyone can fetch, where the backend has one."""
        return None

    @abc.abstractmethod
    async def _put(self, digest: str, data: bytes, mime_type: str) -> None: ...

    @abc.abstractmethod
    async def _get(self, digest: str) -> tuple[bytes, str] | None: ...

    @abc.abstractmethod
    async def _exists(self, digest: str) -> bool: ...


class LocalContentStore(ContentStore):
    """Files ``root/ab/<sha256>``, with the mime type in ``<sha256>.mime`` beside them unless the bytes announce it.

    Writes go to a temporary file in the same folder and are renamed into place,
    so a reader never sees half an image and a crash leaves no partial object.
    """

    def __init__(self, root: Path | str) -> None:
        super().__init__()
        self.root = Path(root)

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    async def _store(self, data: bytes, mime_type: str) -> str:
        def store() -> str:
            digest = hashlib.sha256(data).hexdigest()
            self._put_sync(digest, data, mime_type)
            return digest

        return await anyio.to_thread.run_sync(store)  # hash and write in one hop

    async def _put(self, digest: str, data: bytes, mime_type: str) -> None:
        await anyio.to_thread.run_sync(self._put_sync, digest, data, mime_type)

    def _put_sync(self, digest: str, data: bytes, mime_type: str) -> None:
        path = self._path(digest)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # A type the bytes announce themselves (every validated image and video) is read from them again,
        # so one file and one fsync per object; any other type is written first, to a file of its own: the
        # data file's presence is what "exists" means.
        if _sniff_mime(data) != mime_type:
            _atomic_write(path.with_suffix(".mime"), mime_type.encode())
        _atomic_write(path, data)

    async def _get(self, digest: str) -> tuple[bytes, str] | None:
        return await anyio.to_thread.run_sync(self._get_sync, digest)

    def _get_sync(self, digest: str) -> tuple[bytes, str] | None:
        path = self._path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            mime_type = path.with_suffix(".mime").read_text().strip()
        except FileNotFoundError:
            mime_type = ""
        return data, mime_type if _MIME.match(mime_type) else _sniff_mime(data)

    async def _exists(self, digest: str) -> bool:
        return await anyio.to_thread.run_sync(self._path(digest).is_file)


def _sniff_mime(data: bytes) -> str:
    """The media type the first bytes announce (the kinds a provider's output is validated as), else octet-stream."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if is_mp4(data):
        return "video/mp4"
    return "application/octet-stream"


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class S3ContentStore(ContentStore):
    """Objects ``{prefix}{sha256}`` in an S3-compatible bucket, through boto3 in worker threads.

    boto3 clients are thread-safe and blocking, so every call runs in
    ``anyio.to_thread``. Objects are written with their content type and an
    immutable cache header (content-addressed bytes never change), so a public
    bucket (``public_base_url``) can serve them straight to browsers.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        public_base_url: str | None = None,
        prefix: str = "content/",
        client: Any | None = None,
    ) -> None:
        super().__init__()
        self.bucket = bucket
        self.prefix = prefix
        self._public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self._client = client or _make_s3_client(endpoint_url, region, access_key_id, secret_access_key)

    def key(self, digest: str) -> str:
        return f"{self.prefix}{digest}"

    def public_url(self, sha256: str) -> str | None:
        return f"{self._public_base_url}/{self.key(sha256)}" if self._public_base_url else None

    async def _put(self, digest: str, data: bytes, mime_type: str) -> None:
        await anyio.to_thread.run_sync(lambda: self._client.put_object(
            Bucket=self.bucket, Key=self.key(digest), Body=data, ContentType=mime_type,
            CacheControl="public, max-age=31536000, immutable"))

    async def _get(self, digest: str) -> tuple[bytes, str] | None:
        def fetch() -> tuple[bytes, str] | None:
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=self.key(digest))
            except self._client.exceptions.NoSuchKey:
                return None
            with response["Body"] as body:
                return body.read(), response.get("ContentType") or "application/octet-stream"

        return await anyio.to_thread.run_sync(fetch)

    async def _exists(self, digest: str) -> bool:
        from botocore.exceptions import ClientError

        def head() -> bool:
            try:
                self._client.head_object(Bucket=self.bucket, Key=self.key(digest))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
            return True

        return await anyio.to_thread.run_sync(head)


def _make_s3_client(
    endpoint_url: str | None, region: str | None, access_key_id: str | None, secret_access_key: str | None
) -> Any:
    import boto3
    from botocore.config import Config

    # Path-style addressing works on MinIO, R2 and test servers alike; AWS accepts it too.
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=10, read_timeout=60)
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region, aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key, config=config)


def build_content_store(settings: Settings) -> ContentStore:
    """The store the settings select: local files by default, an S3 bucket with SF_CONTENT_BACKEND=s3."""
    if settings.storage.content_backend is ContentBackend.S3:
        assert settings.storage.s3_bucket is not None  # StorageSettings requires it with the S3 backend
        return S3ContentStore(
            settings.storage.s3_bucket,
            endpoint_url=settings.storage.s3_endpoint_url,
            region=settings.storage.s3_region,
            access_key_id=_secret(settings.storage.s3_access_key_id),
            secret_access_key=_secret(settings.storage.s3_secret_access_key),
            public_base_url=settings.storage.s3_public_base_url,
        )
    return LocalContentStore(settings.storage.content_dir)


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None
