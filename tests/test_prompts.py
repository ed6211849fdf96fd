"""The prompts: listed with their arguments, and every tool they name exists on the server."""

from __future__ import annotations

import re

import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError

pytestmark = pytest.mark.anyio


async def _text(client: Client, name: str, args: dict[str, str] | None = None) -> str:
    result = await client.get_prompt(name, args)
    assert len(result.messages) == 1 and result.messages[0].role == "user"
    return result.messages[0].content.text


async def test_prompts_name_only_real_tools_in_order(client: Client) -> None:
    listed = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(listed) == {"enter_weekly_contest", "review_my_account", "vote_for_favourites"}
    assert {a.name: a.required for a in listed["enter_weekly_contest"].arguments} == {"idea": True, "payment_method": False}
    tools = {t.name for t in (await client.list_tools()).tools}

    enter = await _text(client, "enter_weekly_contest", {"idea": "a fox in a teacup", "payment_method": "USDC"})
    named = re.findall(r"`([a-z_]+)`", enter)
    assert named == ["account", "prepare_payment", "generate_image", "leaderboard"]
    assert '"USDC"' in enter and "a fox in a teacup" in enter and '"method": "crypto"' in enter

    review = await _text(client, "review_my_account")
    vote = await _text(client, "vote_for_favourites", {"theme": "foxes"})
    assert re.findall(r"`([a-z_]+)`", vote)[:3] == ["account", "stake", "gallery"] and 'search "foxes"' in vote
    for text in (enter, review, vote):
        assert set(re.findall(r"`([a-z_]+)`", text)) <= tools, text
        assert "private key" in text  # the assistant is told never to ask for one


async def test_prompt_arguments_are_validated(client: Client) -> None:
    with pytest.raises(MCPError, match="payment_method"):
        await client.get_prompt("enter_weekly_contest", {"idea": "x", "payment_method": "free"})
    with pytest.raises(MCPError, match="idea"):
        await client.get_prompt("enter_weekly_contest", {})
