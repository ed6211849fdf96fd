"""Who is calling: every tool acts for this wallet and no other.

Over HTTP the wallet comes from the bearer token (Sign-In with Ethereum). Over
stdio it is the wallet this server was configured for: ``SF_WALLET``, the
address of ``SF_AGENT_KEY``, or, in embedded mode with neither, the first funded
development account. No tool takes a wallet argument that could override it.
"""

from __future__ import annotations

from mcp.server.auth.middleware.auth_context import get_access_token

from sf_mcp.config import Settings
from sf_mcp.domain.actions import Caller
from sf_mcp.errors import Unauthorized
from sf_mcp.server.services import Services
from sf_mcp.signatures import address_of_key

# Account #0 of the standard development mnemonic (anvil's first account); the
# embedded chain funds the same accounts, so the demo works with no keys.
DEV_WALLET = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"


def configured_wallet(settings: Settings) -> str | None:
    """The stdio caller's wallet from the settings, if any."""
    if settings.chain.agent_key is not None:
        return address_of_key(settings.chain.agent_key.get_secret_value())
    if settings.chain.wallet is not None:
        return settings.chain.wallet
    if settings.chain.embedded:
        return DEV_WALLET
    return None


def caller_wallet(settings: Settings, *, over_http: bool = False) -> str:
    """The wallet the current request acts for, or a clear error when none is configured.

    Over HTTP only a bearer token names the wallet: a request that reached a tool without one
    never falls back to the server's own wallet or agent key.
    """
    token = get_access_token()
    if token is not None:
        wallet = getattr(token, "subject", None) or token.client_id
        return str(wallet).lower()
    if over_http:
        raise Unauthorized("sign in first: this server acts only for the wallet of a bearer token")
    wallet = configured_wallet(settings)
    if wallet is None:
        raise Unauthorized("no wallet: set SF_WALLET (an address) or SF_AGENT_KEY for this server")
    return wallet


def caller_of(services: Services) -> Caller:
    """The caller's wallet and the planner that may act for it.

    The agent key signs only for the local user over stdio: a caller with a bearer token
    always gets plans for its own wallet to sign.
    """
    wallet = caller_wallet(services.settings, over_http=services.over_http)
    planner = services.planner if get_access_token() is None else services.plan_only
    return Caller(wallet=wallet, planner=planner)
