"""Fixtures for the generation tests: an asyncio backend for anyio, and the loopback fakes."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
