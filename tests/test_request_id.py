"""request_id: a client's retry of a free or credits call returns its task and never pays twice."""

from __future__ import annotations

import anyio
import pytest
from mcp.client import Client

from sf_mcp.config import Settings
from sf_mcp.jobs import CreditsPayment, FreePayment
from sf_mcp.server.mcp.identity import DEV_WALLET
from support import connected, generate

pytestmark = pytest.mark.anyio

OTHER_WALLET = "0x" + "12" * 20


async def test_a_retried_free_request_is_a_replay_and_uses_the_quota_once(client: Client) -> None:
    first = await generate(client, "retry me", request_id="job-1")
    again = await generate(client, "retry me", request_id="job-1")
    assert not first.is_error and not again.is_error
    a, b = first.structured_content, again.structured_content
    assert a["task_id"] == b["task_id"] and a["request_id"] == "job-1"
    assert a["payment"]["replay"] is False and b["payment"]["replay"] is True
    assert "nothing was charged again" in again.content[-1].text
    account = (await client.call_tool("account", {})).structured_content
    assert account["free_quota_left_today"] == account["free_daily_quota"] - 1


async def test_a_different_request_under_a_used_request_id_is_refused_naming_the_task(client: Client) -> None:
    first = (await generate(client, "the first", request_id="k")).structured_content
    for changed in ({"prompt": "another prompt"}, {"width": 512}, {"payment": {"method": "credits"}}):
        args = {"prompt": "the first", "request_id": "k", **changed}
        refused = await generate(client, **args)
        assert refused.is_error
        text = refused.content[0].text
        assert "request_id: 'k' was already used for task " + first["task_id"] in text
    video = await client.call_tool("generate_video", {"prompt": "the first", "payment": {"method": "free"},
                                                      "request_id": "k"})
    assert video.is_error and first["task_id"] in video.content[0].text
    account = (await client.call_tool("account", {})).structured_content
    assert account["free_quota_left_today"] == account["free_daily_quota"] - 1


async def test_parallel_retries_with_one_request_id_make_one_task_and_spend_one_credit(settings: Settings) -> None:
    async with connected(settings) as (client, services):
        await services.store.accounts.add_credits(DEV_WALLET, 5, reason="test grant")
        results = []

        async def call() -> None:
            results.append(await generate(client, "once", payment={"method": "credits"}, request_id="same"))

        async with anyio.create_task_group() as tg:
            for _ in range(12):
                tg.start_soon(call)

        assert all(not r.is_error for r in results), [r.content for r in results if r.is_error]
        assert len({r.structured_content["task_id"] for r in results}) == 1
        assert sum(not r.structured_content["payment"]["replay"] for r in results) == 1
        assert await services.store.accounts.credits(DEV_WALLET) == 4


async def test_request_ids_are_per_wallet(settings: Settings) -> None:
    async with connected(settings) as (_, services):
        gate = services.gate
        params = {"width": 64, "height": 64}
        mine = await gate.reserve(wallet=DEV_WALLET, kind="image", prompt="p", params=params, payment=FreePayment(
            method="free"), request_id="r")
        theirs = await gate.reserve(wallet=OTHER_WALLET, kind="image", prompt="p", params=params,
                                    payment=FreePayment(method="free"), request_id="r")
        assert mine.job.task_id != theirs.job.task_id and not theirs.replay
        again = await gate.reserve(wallet=DEV_WALLET, kind="image", prompt="p", params=params,
                                   payment=FreePayment(method="free"), request_id="r")
        assert again.replay and again.job.task_id == mine.job.task_id
        with pytest.raises(Exception, match="request_id: 'r' was already used for task"):
            await gate.reserve(wallet=DEV_WALLET, kind="image", prompt="p", params=params,
                               payment=CreditsPayment(method="credits"), request_id="r")
