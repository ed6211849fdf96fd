"""Signatures: Sign-In with Ethereum messages, EIP-1271 contract wallets and local keys.

The one package besides chain/ that imports eth_account / eth_utils / web3:

- ``siwe``: EIP-4361 messages (build, strict parse, recover the EIP-191 signer)
- ``eip1271``: ask a contract wallet whether it accepts a signature
- ``keys``: a local key's address, and personal_sign with it (stdio agent, ``sf-mcp login``)
"""

from sf_mcp.signatures.eip1271 import is_valid_signature
from sf_mcp.signatures.keys import address_of_key, sign_text
from sf_mcp.signatures.siwe import (
    SiweError,
    SiweMessage,
    build_message,
    format_time,
    message_hash,
    parse_message,
    recover_signer,
)

__all__ = [
    "SiweError",
    "SiweMessage",
    "address_of_key",
    "build_message",
    "format_time",
    "is_valid_signature",
    "message_hash",
    "parse_message",
    "recover_signer",
    "sign_text",
]
