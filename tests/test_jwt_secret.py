"""The JWT signing key: SF_JWT_SECRET or a key generated once into the data dir, never a short one."""

from __future__ import annotations

import stat

import pytest

from sf_mcp.config import Settings
from sf_mcp.server.http.auth import SECRET_FILE, AuthFailed, load_jwt_secret


def test_a_configured_secret_is_used_as_given(settings: Settings) -> None:
    secret = "k" * 32
    assert load_jwt_secret(settings.updated(jwt_secret=secret)) == secret.encode()
    assert not (settings.storage.data_dir / SECRET_FILE).exists()  # nothing generated beside a configured key


def test_a_short_configured_secret_is_refused_by_name(settings: Settings) -> None:
    with pytest.raises(AuthFailed, match="SF_JWT_SECRET must be at least 32 characters"):
        load_jwt_secret(settings.updated(jwt_secret="k" * 31))


def test_a_generated_secret_is_private_and_kept_across_restarts(settings: Settings) -> None:
    first = load_jwt_secret(settings)
    path = settings.storage.data_dir / SECRET_FILE
    assert len(first) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_jwt_secret(settings) == first


def test_a_damaged_secret_file_is_refused_naming_the_file(settings: Settings) -> None:
    settings.storage.data_dir.mkdir(parents=True)
    (settings.storage.data_dir / SECRET_FILE).write_text("short\n")
    with pytest.raises(AuthFailed, match="fewer than 32 characters; delete it"):
        load_jwt_secret(settings)


@pytest.mark.parametrize(("length", "accepted"), [(31, False), (32, True)])
def test_a_secret_file_needs_32_characters(settings: Settings, length: int, accepted: bool) -> None:
    settings.storage.data_dir.mkdir(parents=True)
    (settings.storage.data_dir / SECRET_FILE).write_text("s" * length + "\n")
    if accepted:
        assert load_jwt_secret(settings) == b"s" * 32
    else:
        with pytest.raises(AuthFailed, match="fewer than 32 characters"):
            load_jwt_secret(settings)
