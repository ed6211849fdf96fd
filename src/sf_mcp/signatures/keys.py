"""Local private keys: the address a key signs as, and EIP-191 ``personal_sign`` with it.

Used for the stdio agent key (its address is the caller's wallet) and by
``sf-mcp login``; transaction signing stays with ``chain.client.Signer``.
"""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct


def address_of_key(key: str) -> str:
    """The lower-case address of a private key; ValueError when ``key`` is not one."""
    return str(Account.from_key(key.strip()).address).lower()


def sign_text(key: str, text: str) -> str:
    """An EIP-191 personal_sign signature of ``text`` by ``key``, as 0x-hex."""
    signature = Account.from_key(key.strip()).sign_message(encode_defunct(text=text)).signature
    return "0x" + bytes(signature).hex()
