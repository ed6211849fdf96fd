"""MCP prompts for the common flows, so an assistant can offer them to its user as ready-made tasks.

Each prompt returns one user message that names our real tools (in backticks;
nothing else is) in the order to call them, so a prompt never sends the assistant
to a tool that does not exist (the tests check every name).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import Prompt, UserMessage
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from pydantic import Field, ValidationError

IDEA_MAX = 1000


class _CheckedPrompt(Prompt):
    """A prompt whose bad arguments answer INVALID_PARAMS naming the argument (the SDK says "Internal error")."""

    async def render(self, arguments: dict[str, Any] | None, context: Any) -> Any:
        given = arguments or {}
        missing = sorted(a.name for a in self.arguments or [] if a.required and a.name not in given)
        if missing:
            raise MCPError(code=INVALID_PARAMS, message=f"{', '.join(missing)}: required argument missing")
        try:
            return await super().render(arguments, context)
        except ValueError as exc:
            if isinstance(exc.__cause__, ValidationError):
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or self.name}: {e['msg']}" for e in exc.__cause__.errors()
                )
                raise MCPError(code=INVALID_PARAMS, message=problems) from None
            raise


def enter_weekly_contest(
    idea: Annotated[str, Field(min_length=1, max_length=IDEA_MAX, description="What the entry should show.")],
    payment_method: Annotated[
        Literal["S", "USDC", "credits"],
        Field(description="Pay 3 S, 1 USDC, or one on-chain credit (only on-chain payments enter the contest)."),
    ] = "S",
) -> list[UserMessage]:
    """Create an image from an idea, pay for it on chain and enter it in the open weekly contest."""
    steps = [
        "Call `account` and tell me my balances in a sentence; if I cannot pay with "
        f"{payment_method} (for credits: credits_onchain is 0), stop and say what I could use instead.",
        "Turn my idea into one clear image prompt (at most 1000 bytes) and show it to me before paying.",
        f'Call `prepare_payment` with method "{payment_method}", that exact prompt and generation_type "image".',
        'If its answer has mode "plan", show me each transaction\'s summary and ask me to sign and send them '
        "in order with my wallet, then ask me for the payment transaction's hash (the last one). If mode is "
        '"sent", the server already paid: take the hash of the last transaction in sent.',
        'Call `generate_image` with the same prompt and payment {"method": "crypto", "tx_hash": <that hash>}. '
        "If it says the payment is not confirmed yet, wait a moment and call it again with the same arguments "
        "(a retry never pays twice).",
        "Show me the result (its preview and task_id). Paid generations are entered in the contest "
        "automatically once they succeed.",
        'Call `leaderboard` with period "week" and tell me where I stand and how large the prize pool is.',
    ]
    return [UserMessage(_numbered(f"Enter this week's sf-mcp contest with this idea: {idea.strip()}", steps))]


def review_my_account() -> list[UserMessage]:
    """Summarise my credits, stake, voting power, rewards and contest standing, and what to do next."""
    steps = [
        "Call `account`. Summarise: credits (off-chain and on-chain), free generations left today, staked "
        "NFTs, voting power now and from the next contest, claimable staking rewards, pending prizes, and my "
        "stats (upvotes received, generations created, points this week and all time).",
        "Read the resource generations://wallet/<my wallet from account> and list my latest generations "
        "with their status.",
        'Call `leaderboard` with period "week" and say where I rank.',
        'Call `gallery` with sort "trending" and timeframe "week", limit 5, and show what is popular now.',
        "Suggest next steps, and ask before doing any of them: if claimable_rewards is above zero, "
        '`stake` with action "claim"; if I have NFTs but no voting power, explain it starts with the next '
        "contest; if can_vote is true, offer to vote for favourites.",
    ]
    steps.insert(4, 'If pending_prize is above zero, offer `contest` with action "claim" to collect it.')
    return [UserMessage(_numbered("Review my sf-mcp account.", steps))]


def vote_for_favourites(
    theme: Annotated[str, Field(max_length=200, description="Optional text the prompts should contain.")] = "",
) -> list[UserMessage]:
    """Find this week's best entries (optionally on a theme) and vote for the ones I pick."""
    search = f', search "{theme.strip()}"' if theme.strip() else ""
    steps = [
        "Call `account`. If can_vote is false, explain that voting power comes from BanditKidz NFTs staked "
        "before the contest began (the `stake` tool), and stop.",
        f'Call `gallery` with timeframe "week", sort "trending"{search}, limit 10. Show each entry\'s '
        "prompt, creator and votes; leave out my own (the wallet from account).",
        "Ask me which ones to vote for. Do not choose for me.",
        "For each one I pick, call `vote` with generation_id = its task_id. If the answer has mode \"plan\", "
        "ask me to sign and send the transaction. Skip ones it refuses and tell me why.",
        'Call `leaderboard` with period "week" and show how the standings changed.',
    ]
    return [UserMessage(_numbered("Help me vote in this week's sf-mcp contest.", steps))]


PROMPTS = (
    (enter_weekly_contest, "Enter this week's contest"),
    (review_my_account, "Review my account"),
    (vote_for_favourites, "Vote for favourites"),
)


def register(server: MCPServer) -> None:
    for fn, title in PROMPTS:
        server.add_prompt(_CheckedPrompt.from_function(fn, title=title))


def _numbered(goal: str, steps: list[str]) -> str:
    lines = [goal, "", "Use the sf-mcp tools in this order:"]
    lines += [f"{i}. {step}" for i, step in enumerate(steps, 1)]
    lines.append("Never ask me for a private key or seed phrase; transactions are signed in my own wallet.")
    return "\n".join(lines)
