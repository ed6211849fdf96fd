"""The in-chat views in a real browser: a test MCP Apps host, a live ``sf-mcp serve`` over HTTP, chromium.

One server and one browser serve the whole module (see ``views_support``). The host page
embeds each view in a sandboxed iframe through the ext-apps ``AppBridge``, with the CSP a
host builds from the view's ``_meta.ui.csp``, and forwards the view's tool calls and
resource reads to the server with the viewer's bearer token. Every test ends by checking
that the browser saw no script error, no CSP violation and no request to anywhere else.

Screenshots of every view, light and dark, at 1280 and 360 px go to ``test-output/apps/``.
The tests run in file order: the last one moves the chain's clock past the contest's end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from eth_account.signers.local import LocalAccount
from views_support import (
    MARKUP_PROMPT,
    PLAIN_PROMPT_WITH_SIGNS,
    SHOTS,
    Contest,
    Host,
    load_agent,
    served,
    set_up_contest,
    sign,
    wait_for_points,
)

DESKTOP, PHONE = 1280, 360


@pytest.fixture(scope="module")
def contest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Contest]:
    with served(tmp_path_factory.mktemp("apps-data")) as url:
        yield anyio.run(set_up_contest, url)


@pytest.fixture(scope="module")
def host(contest: Contest) -> Iterator[Host]:
    browser = Host(contest.url, contest.token)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(autouse=True)
def nothing_went_wrong(host: Host) -> Iterator[None]:
    yield
    report = host("report")
    assert report["problems"] == []  # no script error, no CSP violation
    assert report["foreign"] == []  # nothing fetched from anywhere but sf-mcp


def shoot(host: Host, view: str) -> None:
    """Screenshots of the view on screen, light and dark, desktop and phone; at 360 px nothing scrolls sideways."""
    for width in (DESKTOP, PHONE):
        host("width", width=width)
        for theme in ("light", "dark"):
            host("theme", theme=theme)
            layout = host("layout")
            assert layout["theme"] == theme
            assert layout["overflows"] is False, f"{view} overflows at {width} px"
            assert layout["objectText"] is False
            assert layout["smallestButton"] >= 44  # thumb-sized targets
            host("shot", name=f"{view}-{theme}-{'desktop' if width == DESKTOP else 'phone'}")
    host("width", width=DESKTOP)
    host("theme", theme="light")


def test_the_host_finds_each_view_through_the_tools_metadata(host: Host) -> None:
    tools = {t["name"]: t["ui"] for t in host("tools")}
    assert tools["generate_image"]["resourceUri"] == "ui://sf-mcp/generation.html"
    assert tools["gallery"]["resourceUri"] == "ui://sf-mcp/gallery.html"
    assert tools["leaderboard"]["resourceUri"] == "ui://sf-mcp/contest.html"
    assert tools["contest_status"] == {"resourceUri": "ui://sf-mcp/contest.html", "visibility": ["app"]}
    assert tools["vote"] is None


def test_a_generated_image_shows_its_progress_then_the_picture(host: Host) -> None:
    args = {"prompt": "a lighthouse at dusk", "payment": {"method": "free"}, "width": 256, "height": 256}
    host("open", tool="generate_image", args=args, hold=True)  # the call is in flight: the view has the arguments
    host("wait", selector='[data-stage="0"]')
    assert host("attr", selector='[role="progressbar"]', name="aria-valuenow") == "0"
    assert host("text", selector='[data-field="prompt"]') == "a lighthouse at dusk"
    host("shot", name="generation-progress-light-desktop")
    answer = host("release")
    assert answer["content"] == ["image", "resource_link", "text"]  # the model still gets today's answer
    assert answer["meta"]["ui"]["csp"]["connectDomains"] == []
    host("wait", selector=".media img")
    assert host("attr", selector='[role="progressbar"]', name="aria-valuenow") == "100"
    assert host("attr", selector=".media img", name="src").startswith("data:image/")
    assert "local" in host("text", selector='[data-field="model"]')
    assert host("text", selector='[data-field="payment"]') == "free daily quota"
    assert host("text", selector='[data-field="contest"]').startswith("Not entered")
    assert host("count", selector='button[name="variation"]') == 1
    shoot(host, "generation")


def test_a_variation_makes_a_new_image_with_the_same_prompt(host: Host) -> None:
    args = {"prompt": "a paper crane", "payment": {"method": "free"}, "width": 128, "height": 128}
    first = host("open", tool="generate_image", args=args)["structuredContent"]
    host("wait", selector=".media img")
    host("click", selector='button[name="variation"]')
    host("wait", selector='[data-field="task"]', text=first["task_id"], gone=True)
    host("wait", selector=".media img")
    assert host("text", selector='[data-field="prompt"]') == "a paper crane"


def test_a_video_task_is_followed_until_its_player(host: Host) -> None:
    answer = host("open", tool="generate_video", args={"prompt": "waves at night", "payment": {"method": "free"},
                                                       "duration_s": 1})
    assert answer["structuredContent"]["kind"] == "video"
    host("wait", selector=".media video", timeout=120_000)  # get_generation, called by the view, waited for it
    assert host("attr", selector='[role="progressbar"]', name="aria-valuenow") == "100"
    assert host("attr", selector=".media video", name="src").startswith("data:video/")


def test_the_gallery_pages_with_the_cursor_and_filters(host: Host, contest: Contest) -> None:
    answer = host("open", tool="gallery", args={"limit": 2})
    total = answer["structuredContent"]["total"]
    assert host("count", selector="article.item") == 2
    host("wait", selector='article.item [data-field="own"]')  # the newest are the viewer's: no vote for them
    assert host("count", selector='article.item [data-field="own"]') == 2
    assert host("count", selector='article.item button[name="vote"]') == 0
    first_page = host("attrs", selector="article.item", name="data-task")
    assert host("text", selector='[data-field="page"]').startswith(f"Page 1 of {(total + 1) // 2}")
    host("click", selector='button[name="next"]')
    host("wait", selector='[data-field="page"]', text="Page 2 of")
    assert not set(host("attrs", selector="article.item", name="data-task")) & set(first_page)
    host("click", selector='button[name="previous"]')
    host("wait", selector='[data-field="page"]', text="Page 1 of")
    assert host("attrs", selector="article.item", name="data-task") == first_page

    host("fill", selector='input[name="search"]', value="FOX")
    host("click", selector='button[name="apply"]')
    host("wait", selector='[data-field="page"]', text="Page 1 of 1 · 2 generations")  # two fox prompts so far
    prompts = host("texts", selector='article.item [data-field="prompt"]')
    assert prompts and all("fox" in p.lower() for p in prompts)

    host("fill", selector='input[name="search"]', value="")
    host("select", selector='select[name="type"]', value="video")
    host("click", selector='button[name="apply"]')
    host("wait", selector="article.item .thumb video")
    assert host("count", selector="article.item .thumb img") == 0

    host("open", tool="gallery", args={"limit": 12})  # every generation so far, the creator's entry among them
    host("wait", selector='article.item button[name="vote"]')
    shoot(host, "gallery")


def test_a_vote_from_a_card_is_signed_by_the_wallet_and_the_leaderboard_counts_it(host: Host, contest: Contest) -> None:
    host("open", tool="leaderboard", args={"period": "week"})
    host("wait", selector='[data-field="voting-power"]')
    assert host("text", selector='[data-field="standings"]') == "No votes yet in this contest."
    assert host("text", selector='[data-field="voting-power"]') == "1 per vote"
    assert "d" in host("text", selector='[data-field="time-left"]')  # days left, by the chain's clock

    host("open", tool="gallery", args={"search": "lighthouse of stained glass"})
    card = f'article[data-task="{contest.entry_task}"]'
    host("click", selector=f'{card} button[name="vote"]')
    host("wait", selector='[data-plan="unsigned"]')
    unsigned = json.loads(host("text", selector="pre[data-unsigned]"))
    assert unsigned["from"] == contest.viewer.address.lower() and unsigned["chainId"]
    shoot(host, "gallery-vote-plan")  # the plan fits a phone too
    host("fill", selector='textarea[name="signed"]', value=sign(contest.viewer, unsigned))
    host("click", selector='button[name="send"]')
    host("wait", selector=f"{card} .status.ok", text="Vote sent")

    board = anyio.run(wait_for_points, contest.url, contest.viewer, 1)
    assert board["entries"][0]["creator"] == contest.creator.address.lower()
    host("open", tool="leaderboard", args={"period": "week"})
    row = f'tr[data-creator="{contest.creator.address.lower()}"]'
    host("wait", selector=row)
    assert host("text", selector=f'{row} [data-field="points"]') == "1"
    shoot(host, "contest")


def test_a_prompt_full_of_markup_renders_as_text_in_every_view(host: Host, contest: Contest) -> None:
    args = {"prompt": MARKUP_PROMPT, "payment": {"method": "free"}, "width": 128, "height": 128}
    host("open", tool="generate_image", args=args, hold=True)
    host("wait", selector='[data-field="prompt"]')
    assert host("text", selector='[data-field="prompt"]') == MARKUP_PROMPT  # exactly what was typed, as text
    assert host("layout")["markup"] == 0
    stored = host("release")["structuredContent"]["prompt"]
    host("wait", selector=".media img")
    assert host("text", selector='[data-field="prompt"]') == stored
    assert host("layout")["markup"] == 0

    host("open", tool="gallery", args={"search": "friends"})
    host("wait", selector="article.item")
    assert host("texts", selector='article.item [data-field="prompt"]') == [PLAIN_PROMPT_WITH_SIGNS]
    host("fill", selector='input[name="search"]', value='<img src=x onerror="alert(1)">')
    host("click", selector='button[name="apply"]')
    host("wait", selector='[data-field="items"] p', text="Nothing matches")
    assert host("layout")["markup"] == 0

    host("open", tool="leaderboard", args={"period": "week"})
    host("wait", selector='[data-field="standings"]')
    assert host("layout")["markup"] == 0


def test_an_ended_contest_is_finalized_from_the_view_with_the_wallets_signature(host: Host, contest: Contest) -> None:
    # The set-up moved the clock into the next contest, so the first one ended and nobody finalized it.
    first = contest.contest_id - 1
    host("open", tool="leaderboard", args={"period": "week"})
    host("wait", selector='button[name="finalize"]', text=f"#{first}")
    host("click", selector='button[name="finalize"]')
    send_plan(host, contest.viewer)
    host("wait", selector='button[name="finalize"]', gone=True)  # the view refreshed: nothing left to finalize

    anyio.run(_advance_past_contest, contest)
    host("open", tool="contest", args={"action": "finalize"})  # the assistant finalizes: the view shows the plan
    host("wait", selector='[data-plan="unsigned"]')
    assert f"finalize contest {contest.contest_id}" in host("text", selector='[data-plan="unsigned"] ol')
    send_plan(host, contest.viewer)


def test_the_winner_claims_the_prize_from_the_contest_view(contest: Contest) -> None:
    """The creator won the finalized contest: signed in as them, the view offers the claim, which their wallet signs."""
    winner = Host(contest.url, anyio.run(load_agent().sign_in, contest.url, contest.creator))
    try:
        winner("open", tool="leaderboard", args={"period": "week", "contest_id": contest.contest_id})
        winner("wait", selector='button[name="claim"]')
        assert winner("text", selector='[data-field="prize"]').endswith(" USDC")
        assert winner("text", selector='[data-field="voting-power"]') == "0 per vote"
        winner("click", selector='button[name="claim"]')
        send_plan(winner, contest.creator)
        winner("wait", selector='[data-field="prize"]', text="none")
        assert winner("count", selector='button[name="claim"]') == 0
        # Their paid entry, as get_generation shows it to them: paid on chain, entered in the contest.
        winner("open", tool="get_generation", args={"task_id": contest.entry_task, "wait_s": 0})
        winner("wait", selector=".media img")
        assert winner("text", selector='[data-field="payment"]') == "paid on Sonic"
        assert winner("text", selector='[data-field="contest"]').startswith("Entered in this week's contest")
        assert winner("count", selector='button[name="variation"]') == 0  # a variation would need a new payment
        report = winner("report")
        assert report["problems"] == [] and report["foreign"] == []
    finally:
        winner.close()


def send_plan(host: Host, account: LocalAccount) -> None:
    """Sign the plan on screen with ``account``'s key (each transaction, in order), paste it and send it."""
    host("wait", selector='[data-plan="unsigned"]')
    unsigned = json.loads(host("text", selector="pre[data-unsigned]"))
    txs = unsigned if isinstance(unsigned, list) else [unsigned]
    host("fill", selector='textarea[name="signed"]', value="\n".join(sign(account, tx) for tx in txs))
    host("click", selector='button[name="send"]')
    host("wait", selector=".status.ok", text="Sent")


async def _advance_past_contest(contest: Contest) -> None:
    agent = load_agent()
    async with agent.wallet_session(contest.url, agent.Player("Clock", 1, stake=0, entry="")) as wallet:
        await agent.advance_to_next_contest(wallet)


def test_screenshots_were_written_for_every_view() -> None:
    for view in ("generation", "gallery", "contest"):
        for theme in ("light", "dark"):
            for width in ("desktop", "phone"):
                assert (SHOTS / f"{view}-{theme}-{width}.png").stat().st_size > 5_000
    assert Path(SHOTS / "generation-progress-light-desktop.png").exists()
