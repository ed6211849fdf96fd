"""The S3 content store against a real S3-compatible server (moto's server mode on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx2
import pytest
from moto.server import ThreadedMotoServer

from sf_mcp.config import Settings
from sf_mcp.errors import NotFound
from sf_mcp.generation import GenerationKind, GenerationRequest, LocalContentStore, S3ContentStore, build_content_store
from sf_mcp.generation.providers.local import render_png

pytestmark = pytest.mark.anyio

BUCKET = "sf-mcp-test"
KEYS = {"access_key_id": "testing-key", "secret_access_key": "testing-secret", "region": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    admin = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing-key",
                         aws_secret_access_key="testing-secret")
    admin.create_bucket(Bucket=BUCKET)
    # What an operator does for a public bucket (R2 public access, a CDN origin): anyone may read objects.
    admin.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))
    try:
        yield endpoint
    finally:
        server.stop()


async def test_put_get_exists_and_public_url(s3_endpoint: str) -> None:
    store = S3ContentStore(BUCKET, endpoint_url=s3_endpoint, public_base_url=f"{s3_endpoint}/{BUCKET}/", **KEYS)
    png = render_png(GenerationRequest(kind=GenerationKind.IMAGE, prompt="s3", width=64, height=64))
    stored = await store.put(png, "image/png")
    digest = hashlib.sha256(png).hexdigest()
    assert stored.sha256 == digest and stored.uri == f"content://{digest}" and stored.size == len(png)
    assert stored.public_url == f"{s3_endpoint}/{BUCKET}/content/{digest}"
    assert await store.exists(digest)
    assert await store.get(stored.uri) == (png, "image/png")

    # The public URL really serves the bytes, with their type and an immutable cache header.
    async with httpx2.AsyncClient() as client:
        response = await client.get(stored.public_url)
    assert response.status_code == 200 and response.content == png
    assert response.headers["content-type"] == "image/png"
    assert "immutable" in response.headers.get("cache-control", "")


async def test_missing_object(s3_endpoint: str) -> None:
    store = S3ContentStore(BUCKET, endpoint_url=s3_endpoint, **KEYS)
    assert not await store.exists("f" * 64)
    with pytest.raises(NotFound):
        await store.get("f" * 64)
    assert store.public_url("f" * 64) is None


async def test_build_content_store_from_settings(s3_endpoint: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, content_backend="s3", s3_bucket=BUCKET, s3_endpoint_url=s3_endpoint,
                        s3_region="us-east-1", s3_access_key_id="testing-key",
                        s3_secret_access_key="testing-secret", s3_public_base_url="https://cdn.example/media")
    store = build_content_store(settings)
    assert isinstance(store, S3ContentStore)
    stored = await store.put(b"hello", "text/plain")
    assert stored.public_url == f"https://cdn.example/media/content/{stored.sha256}"
    assert await store.get(stored.sha256) == (b"hello", "text/plain")

    local = build_content_store(Settings(data_dir=tmp_path))
    assert isinstance(local, LocalContentStore) and local.root == tmp_path / "content"
