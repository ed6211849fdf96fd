"""EIP-4361 (Sign-In with Ethereum) messages: build, parse strictly, and check against what we issued.

The message is a fixed text format (https://eips.ethereum.org/EIPS/eip-4361)::

    ${scheme}://${domain} wants you to sign in with your Ethereum account:   (scheme optional)
    ${address}                                                                (EIP-55 checksum)

    ${statement}                                                              (optional line)

    URI: ${uri}
    Version: 1
    Chain ID: ${chain_id}
    Nonce: ${nonce}
    Issued At: ${issued_at}
    Expiration Time: ${expiration_time}                                       (optional)
    Not Before: ${not_before}                                                 (optional)
    Request ID: ${request_id}                                                 (optional)
    Resources:                                                                (optional)
    - ${resource}

The parser accepts exactly that and nothing else (no extra lines, fields in
order), because a signature only means something for text that has a single
reading. Signatures are recovered with eth-account (EIP-191 personal_sign).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import is_checksum_address, to_checksum_address
from eth_utils.crypto import keccak

from sf_mcp.errors import SfMcpError

_HEADER = re.compile(
    r"^(?:(?P<scheme>[a-zA-Z][a-zA-Z0-9+\-.]*)://)?(?P<domain>[^\s/?#]+) wants you to sign in with your Ethereum account:$"
)
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_NONCE = re.compile(r"^[A-Za-z0-9]{8,}$")
_TAGS = ("URI", "Version", "Chain ID", "Nonce", "Issued At")
_OPTIONAL_TAGS = ("Expiration Time", "Not Before", "Request ID")


class SiweError(SfMcpError):
    """A sign-in message is malformed or does not match what this server issued."""


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str  # EIP-55 checksummed, as written in the message
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    statement: str | None = None
    version: str = "1"
    scheme: str | None = None
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default_factory=tuple)

    def to_text(self) -> str:
        """The exact text a wallet signs."""
        prefix = f"{self.scheme}://" if self.scheme else ""
        lines = [f"{prefix}{self.domain} wants you to sign in with your Ethereum account:", self.address, ""]
        if self.statement is not None:
            lines += [self.statement, ""]
        else:
            lines += [""]
        lines += [
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {format_time(self.issued_at)}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {format_time(self.expiration_time)}")
        if self.not_before is not None:
            lines.append(f"Not Before: {format_time(self.not_before)}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {r}" for r in self.resources]
        return "\n".join(lines)

    @property
    def wallet(self) -> str:
        """The signer's address in lower case (sf-mcp's wallet key)."""
        return self.address.lower()


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a Z, seconds precision (what wallets display)."""
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str, name: str) -> datetime:
    if not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", value):
        raise SiweError(f"sign-in message: {name} {value!r} is not an RFC 3339 date-time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SiweError(f"sign-in message: {name} {value!r} is not a valid date-time") from None
    return parsed.astimezone(UTC)


def parse_message(text: str) -> SiweMessage:
    """Parse an EIP-4361 message strictly; raise SiweError naming the first problem."""
    if not isinstance(text, str) or not text or len(text) > 8192:
        raise SiweError("sign-in message: missing or longer than 8192 characters")
    lines = text.split("\n")
    pos = 0

    def take(what: str) -> str:
        nonlocal pos
        if pos >= len(lines):
            raise SiweError(f"sign-in message: ends before {what}")
        line = lines[pos]
        pos += 1
        return line

    header = _HEADER.match(take("the header line"))
    if not header:
        raise SiweError("sign-in message: the first line must be '<domain> wants you to sign in with your Ethereum account:'")
    address = take("the address")
    if not _ADDRESS.match(address) or not is_checksum_address(address):
        raise SiweError(f"sign-in message: address {address!r} is not an EIP-55 checksummed address")
    if take("the blank line after the address") != "":
        raise SiweError("sign-in message: expected a blank line after the address")
    statement: str | None = None
    line = take("the statement or URI")
    if line != "":
        if line.startswith("URI: ") or "\n" in line:
            raise SiweError("sign-in message: expected a blank line or a statement before URI")
        statement = line
        if take("the blank line after the statement") != "":
            raise SiweError("sign-in message: expected a blank line after the statement")
    fields: dict[str, str] = {}
    for tag in _TAGS:
        line = take(tag)
        if not line.startswith(f"{tag}: "):
            raise SiweError(f"sign-in message: expected '{tag}: ...', got {line[:40]!r}")
        fields[tag] = line.removeprefix(f"{tag}: ")
    for tag in _OPTIONAL_TAGS:
        if pos < len(lines) and lines[pos].startswith(f"{tag}: "):
            fields[tag] = take(tag).removeprefix(f"{tag}: ")
    resources: list[str] = []
    if pos < len(lines) and lines[pos] == "Resources:":
        take("Resources")
        while pos < len(lines) and lines[pos].startswith("- "):
            resources.append(take("a resource").removeprefix("- "))
    if pos != len(lines):
        raise SiweError(f"sign-in message: unexpected line {lines[pos][:40]!r}")

    if fields["Version"] != "1":
        raise SiweError(f"sign-in message: Version must be 1, got {fields['Version']!r}")
    if not re.match(r"^[1-9][0-9]{0,19}$", fields["Chain ID"]):
        raise SiweError(f"sign-in message: Chain ID {fields['Chain ID']!r} is not a positive integer")
    if not _NONCE.match(fields["Nonce"]):
        raise SiweError("sign-in message: Nonce must be at least 8 letters or digits")
    if not fields["URI"] or any(c.isspace() for c in fields["URI"]):
        raise SiweError("sign-in message: URI is empty or contains spaces")
    return SiweMessage(
        scheme=header.group("scheme"),
        domain=header.group("domain"),
        address=address,
        statement=statement,
        uri=fields["URI"],
        version=fields["Version"],
        chain_id=int(fields["Chain ID"]),
        nonce=fields["Nonce"],
        issued_at=parse_time(fields["Issued At"], "Issued At"),
        expiration_time=parse_time(fields["Expiration Time"], "Expiration Time")
        if "Expiration Time" in fields
        else None,
        not_before=parse_time(fields["Not Before"], "Not Before") if "Not Before" in fields else None,
        request_id=fields.get("Request ID"),
        resources=tuple(resources),
    )


def build_message(
    *, domain: str, address: str, uri: str, chain_id: int, nonce: str, issued_at: datetime,
    expiration_time: datetime | None, statement: str | None, scheme: str | None = None,
    request_id: str | None = None, resources: tuple[str, ...] = (),
) -> SiweMessage:
    return SiweMessage(
        request_id=request_id,
        resources=resources,
        scheme=scheme,
        domain=domain,
        address=to_checksum_address(address),
        statement=statement,
        uri=uri,
        chain_id=chain_id,
        nonce=nonce,
        issued_at=issued_at,
        expiration_time=expiration_time,
    )


def message_hash(text: str) -> bytes:
    """The EIP-191 personal_sign hash of ``text`` (what EIP-1271 wallets are asked about)."""
    data = text.encode()
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


def recover_signer(text: str, signature: str) -> str | None:
    """The lower-case address that signed ``text`` with personal_sign, or None if the signature is not an EOA's."""
    if not isinstance(signature, str) or not re.match(r"^0x[0-9a-fA-F]+$", signature):
        return None
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=signature)).lower()
    except Exception:  # eth-account raises several types for malformed signatures
        return None
