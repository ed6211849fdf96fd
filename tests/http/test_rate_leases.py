"""Rate limits shared through the database: a fast caller's calls are counted by leases, without a
round trip per call, and the limit still holds in total across replicas."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from sf_mcp.server.http.limits import RateLimiter
from sf_mcp.store import RateBuckets, Store

pytestmark = pytest.mark.anyio


class CountingBuckets(RateBuckets):
    """The shared buckets, counting round trips."""

    takes = 0

    async def take(self, key: str, **kwargs) -> float | None:  # type: ignore[override]
        self.takes += 1
        return await super().take(key, **kwargs)


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    s = await Store.open(db_url)
    yield s
    await s.close()


def _replica(buckets: RateBuckets, clock: Clock) -> RateLimiter:
    return RateLimiter("tool_wallet", 100, 900, shared=buckets, clock=clock)


async def test_fast_callers_on_two_replicas_get_the_limit_in_total_with_few_round_trips(store: Store) -> None:
    buckets, clock = CountingBuckets(store.db), Clock()
    a, b = _replica(buckets, clock), _replica(buckets, clock)
    allowed, takes = [], []
    for i in range(130):
        allowed.append(await (a if i % 2 else b).take("0xabc") is None)
        takes.append(buckets.takes)
    assert allowed.count(True) == 100  # not one more than the bucket holds in total, none lost while both call
    assert not any(allowed[110:])  # a replica still spending its lease lets a few through after the other's refusal
    first_refusal = allowed.index(False)
    assert first_refusal >= 90 and takes[first_refusal - 1] <= 30  # leases of 5: one round trip per ~5 calls


async def test_a_slow_caller_spends_exactly_one_token_per_call(store: Store) -> None:
    buckets, clock = CountingBuckets(store.db), Clock()
    limiter = _replica(buckets, clock)
    for _ in range(100):
        assert await limiter.take("0xslow") is None
        clock.now += 10  # slower than one call per lease time (900 s / 100 = 9 s): no lease
    assert await limiter.take("0xslow") is not None  # the bucket's refill is by wall time: still empty
    assert buckets.takes == 101


async def test_a_token_given_back_stays_with_the_replica(store: Store) -> None:
    buckets, clock = CountingBuckets(store.db), Clock()
    limiter = _replica(buckets, clock)
    for _ in range(2):
        assert await limiter.take("0xback") is None  # the second call leases 5 and spends one
    await limiter.give_back("0xback")
    before = buckets.takes
    for _ in range(5):
        assert await limiter.take("0xback") is None
    assert buckets.takes == before  # 4 left of the lease + 1 given back: no round trip
    clock.now += 10  # the lease ends
    assert await limiter.take("0xback") is None and buckets.takes == before + 1


async def test_a_burst_of_concurrent_calls_takes_one_lease_not_one_apiece(store: Store) -> None:
    buckets, clock = CountingBuckets(store.db), Clock()
    a, b = _replica(buckets, clock), _replica(buckets, clock)
    assert await a.take("0xburst") is None  # a's next calls within the lease time are fast
    allowed: list[bool] = []

    async def call() -> None:
        allowed.append(await a.take("0xburst") is None)

    async with anyio.create_task_group() as tg:  # twenty calls at once, all before any answer
        for _ in range(20):
            tg.start_soon(call)
    assert allowed == [True] * 20
    others = 0
    while await b.take("0xburst") is None:
        others += 1
    # 1 + 20 calls spent 1 + 5 (one lease) + 19 single tokens: 4 wait in a's lease, the rest go to b.
    assert others == 100 - 1 - 5 - 19


async def test_under_a_raised_limit_a_lease_lasts_long_enough_to_save_round_trips(store: Store) -> None:
    """At a million calls per 15 minutes a bucket earns a token in a millisecond; a lease still lasts 5 s."""
    buckets, clock = CountingBuckets(store.db), Clock()
    limiter = RateLimiter("tool_wallet", 1_000_000, 900, shared=buckets, clock=clock)
    for _ in range(40):  # two calls a second for 20 s
        assert await limiter.take("0xabc") is None
        clock.now += 0.5
    assert buckets.takes <= 10  # a take and a lease per 5 s; leases of 1 s made it 27
