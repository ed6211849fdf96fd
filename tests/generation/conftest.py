"""Fixtures for the generation tests: an asyncio backend for anyio, and the loopback fakes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The reusable fakes live in tests/fakes and are imported as ``fakes``.
_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from fakes import FakeCloudflare, FakeHuggingFace  # noqa: E402

HF_TOKEN = "hf_testtoken_DO_NOT_LEAK_1234567890"
CF_TOKEN = "cf_testtoken_DO_NOT_LEAK_0987654321"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_hf() -> Iterator[FakeHuggingFace]:
    with FakeHuggingFace(token=HF_TOKEN, video_models=("Lightricks/LTX-Video",)) as fake:
        yield fake


@pytest.fixture
def fake_cf() -> Iterator[FakeCloudflare]:
    with FakeCloudflare(token=CF_TOKEN) as fake:
        yield fake
