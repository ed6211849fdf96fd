"""EIP-1271: ask a smart-contract wallet whether it accepts a signature.

A contract wallet (Safe, an ERC-4337 account) cannot produce an ECDSA signature
of its own; instead its ``isValidSignature(bytes32 hash, bytes signature)``
returns the magic value ``0x1626ba7e`` when it considers ``signature`` valid
for ``hash``. Sign-In with Ethereum uses this when the recovered signer is not
the address in the message.
"""

from __future__ import annotations

from typing import Any

from sf_mcp.chain.client import is_unavailable
from sf_mcp.errors import ChainUnavailable

MAGIC_VALUE = bytes.fromhex("1626ba7e")
_ABI = [
    {
        "name": "isValidSignature",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "hash", "type": "bytes32"}, {"name": "signature", "type": "bytes"}],
        "outputs": [{"name": "magicValue", "type": "bytes4"}],
    }
]


async def is_valid_signature(client: Any, address: str, message_hash: bytes, signature: bytes) -> bool:
    """True when the contract at ``address`` returns the EIP-1271 magic value for ``(hash, signature)``.

    ``client`` is a :class:`sf_mcp.chain.client.ChainClient`. An address without code, a revert or
    any other answer is False; an unreachable RPC endpoint raises ChainUnavailable (retryable).
    """
    w3 = client.w3
    checksum = w3.to_checksum_address(address)
    code = await client.read(f"reading the code at {checksum}", lambda: w3.eth.get_code(checksum))
    if not code:
        return False
    contract = w3.eth.contract(address=checksum, abi=_ABI)
    try:
        result = await contract.functions.isValidSignature(message_hash, signature).call()
    except Exception as exc:  # a revert means "not valid"; an outage must not look like a refusal
        if is_unavailable(exc):
            raise ChainUnavailable(f"asking the wallet contract {checksum} about a signature: RPC unreachable") from exc
        return False
    return bytes(result) == MAGIC_VALUE
