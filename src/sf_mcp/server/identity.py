"""Who is calling: every tool acts for this wallet and no other.

Over HTTP the wallet comes from the bearer token (Sign-In with Ethereum). Over
stdio it is the wallet this server was configured for: ``SF_WALLET``, the
address of ``SF_AGENT_KEY``, or, in embedded mode with neither, the first funded
development account. No tool takes a wallet argument that could override it.
"""

from __future__ import annotations

from eth_account import Account
from mcp.server.auth.middleware.auth_context import get_access_token

from sf_mcp.config import Settings
from sf_mcp.errors import Unauthorized

# Account #0 of the standard development mnemonic (anvil's first account); the
# embedded chain funds the same accounts, so the demo works with no keys.
DEV_WALLET = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"


def configured_wallet(settings: Settings) -> str | None:
    """The stdio caller's wallet from the settings, if any."""
    if settings.agent_key is not None:
        return Account.from_key(settings.agent_key.get_secret_value()).address.lower()
    if settings.wallet is not None:
        return settings.wallet
    if settings.embedded:
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
