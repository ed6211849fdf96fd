"""The rules of sf-mcp, with typed inputs and outputs; server/ adapts them to MCP, chain/ and store/ serve them.

One module per concern:

- ``actions``: what a user action answers (a plan to sign, or the agent key's receipts), relaying signed txs
- ``payments``: paying for a generation on chain (price in S or USDC, or an on-chain credit)
- ``pricing``: what a generation costs by each way of paying (the quote), and the caller's ``max_price``
- ``staking``: stake, unstake (with the early-unstake forfeit), claim rewards
- ``voting``: votes and every check before one is planned
- ``contests``: finalizing an ended contest, claiming prizes, the dev clock
- ``leaderboard``: creators ranked by the votes they received
- ``accounts``: the caller's balances, stake, voting power, rewards and stats
- ``gallery``: everyone's generations, filtered and paged with stable cursors
- ``generations``: what a generation task looks like to its owner and to everyone else
"""

from sf_mcp.domain.accounts import Account, account_of
from sf_mcp.domain.actions import Caller, ChainAction, Payout, outcome, relay
from sf_mcp.domain.contests import ChainTime, advance_time, contest_action
from sf_mcp.domain.gallery import Gallery, GalleryItem, gallery_page
from sf_mcp.domain.generations import GenerationResult, PublicGeneration
from sf_mcp.domain.leaderboard import Leaderboard, LeaderboardEntry, leaderboard
from sf_mcp.domain.payments import prepare_payment
from sf_mcp.domain.pricing import Quote, quote
from sf_mcp.domain.staking import forfeit_share, stake_action
from sf_mcp.domain.voting import vote

__all__ = [
    "Account",
    "Caller",
    "ChainAction",
    "ChainTime",
    "Gallery",
    "GalleryItem",
    "GenerationResult",
    "Leaderboard",
    "LeaderboardEntry",
    "Payout",
    "PublicGeneration",
    "Quote",
    "account_of",
    "advance_time",
    "contest_action",
    "forfeit_share",
    "gallery_page",
    "leaderboard",
    "outcome",
    "prepare_payment",
    "quote",
    "relay",
    "stake_action",
    "vote",
]
