"""bulk.building_rows pauses the cyclic garbage collector for a batch and always restores what it found."""

from __future__ import annotations

import gc
import threading

import pytest

from sf_mcp.bulk import building_rows


def test_the_collector_is_paused_inside_and_restored_after_nesting_and_errors() -> None:
    assert gc.isenabled()
    with building_rows():
        assert not gc.isenabled()
        with building_rows():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner batch ended, the outer one goes on
    assert gc.isenabled()
    with pytest.raises(ValueError), building_rows():
        raise ValueError("a bad log")
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled() -> None:
    gc.disable()
    try:
        with building_rows():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_batches_in_threads_restore_it_once_both_end() -> None:
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with building_rows():
            inside.set()
            release.wait()

    thread = threading.Thread(target=other)
    with building_rows():
        thread.start()
        inside.wait()
    assert not gc.isenabled()  # the other thread's batch is still open
    release.set()
    thread.join()
    assert gc.isenabled()
