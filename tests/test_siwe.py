"""EIP-4361 messages on their own: the strict parser names the first problem; signers and hashes are eth-account's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from sf_mcp.signatures import SiweError, build_message, message_hash, parse_message, recover_signer

ACCOUNT = Account.from_key("0x" + "11" * 32)
ISSUED = datetime(2026, 11, 29, 3, 0, 0, tzinfo=UTC)


def _text(**changes: object) -> str:
    message = build_message(domain="sf.example", address=ACCOUNT.address, uri="https://sf.example/mcp", chain_id=146,
                            nonce="abcdefgh12", issued_at=ISSUED, expiration_time=None, statement="Sign in to sf-mcp")
    return message.to_text() if not changes else _replace(message.to_text(), **changes)


def _replace(text: str, **changes: object) -> str:
    lines = text.split("\n")
    for index, line in changes.items():
        lines[int(index.removeprefix("line"))] = str(line)
    return "\n".join(lines)


def test_a_full_message_reads_back_field_for_field() -> None:
    message = build_message(
        domain="sf.example", address=ACCOUNT.address.lower(), uri="https://sf.example/mcp", chain_id=146,
        nonce="abcdefgh12", issued_at=ISSUED, expiration_time=datetime(2026, 11, 29, 4, tzinfo=UTC),
        statement=None, scheme="https", request_id="req-1", resources=("https://a.example/x", "ipfs://y"),
    )
    assert message.address == ACCOUNT.address  # checksummed whatever the caller gave
    parsed = parse_message(message.to_text())
    assert parsed == message and parsed.wallet == ACCOUNT.address.lower()
    assert parsed.to_text().split("\n")[:4] == [
        "https://sf.example wants you to sign in with your Ethereum account:", ACCOUNT.address, "", ""]
    with_not_before = message.to_text().replace("Request ID:", "Not Before: 2026-11-29T03:30:00+01:00\nRequest ID:")
    assert parse_message(with_not_before).not_before == datetime(2026, 11, 29, 2, 30, tzinfo=UTC)  # kept in UTC


@pytest.mark.parametrize(("text", "problem"), [
    ("", "missing or longer than 8192 characters"),
    (_text() + "\n" + "x" * 8192, "missing or longer than 8192 characters"),
    (_text(line0="sf.example wants you to sign in:"), "the first line must be"),
    (_text(line1=ACCOUNT.address.lower()), "is not an EIP-55 checksummed address"),
    (_text(line1="0x1234"), "is not an EIP-55 checksummed address"),
    (_text(line2="not blank"), "expected a blank line after the address"),
    (_text(line3="URI: https://sf.example/mcp"), "expected a blank line or a statement before URI"),
    (_text(line4="not blank"), "expected a blank line after the statement"),
    (_text(line5="Version: 1"), "expected 'URI: ...', got 'Version: 1'"),
    (_text(line5="a line much longer than forty characters, cut at forty exactly"),
     "got 'a line much longer than forty characters'"),
    (_text(line6="Version: 2"), "Version must be 1, got '2'"),
    (_text(line7="Chain ID: 0"), "Chain ID '0' is not a positive integer"),
    (_text(line7="Chain ID: 12a"), "Chain ID '12a' is not a positive integer"),
    (_text(line8="Nonce: short"), "Nonce must be at least 8 letters or digits"),
    (_text(line8="Nonce: abcdefgh-12"), "Nonce must be at least 8 letters or digits"),
    (_text(line5="URI: https://sf.example/a b"), "URI is empty or contains spaces"),
    (_text(line5="URI: "), "URI is empty or contains spaces"),
    (_text(line9="Issued At: yesterday"), "Issued At 'yesterday' is not an RFC 3339 date-time"),
    (_text(line9="Issued At: 2026-13-45T03:00:00Z"), "Issued At '2026-13-45T03:00:00Z' is not a valid date-time"),
    (_text() + "\nExpiration Time: soon", "Expiration Time 'soon' is not an RFC 3339 date-time"),
    (_text() + "\nsomething else", "unexpected line 'something else'"),
    ("\n".join(_text().split("\n")[:8]), "ends before Nonce"),
    ("\n".join(_text().split("\n")[:1]), "ends before the address"),
])
def test_a_malformed_message_is_refused_naming_the_first_problem(text: str, problem: str) -> None:
    with pytest.raises(SiweError) as refused:
        parse_message(text)
    assert problem in str(refused.value)


def test_the_longest_message_is_accepted() -> None:
    text = _text()
    padded = _replace(text, line3="s" * (8192 - len(text) + len("Sign in to sf-mcp")))
    assert len(padded) == 8192 and parse_message(padded).statement.startswith("sss")


def test_signer_recovery_and_the_hash_wallets_sign() -> None:
    text = _text()
    signed = ACCOUNT.sign_message(encode_defunct(text=text))
    signature = "0x" + bytes(signed.signature).hex()
    assert recover_signer(text, signature) == ACCOUNT.address.lower()
    assert recover_signer(text + " ", signature) != ACCOUNT.address.lower()
    assert recover_signer(text, signature[2:]) is None  # no 0x
    assert recover_signer(text, "0x" + "zz" * 65) is None
    assert recover_signer(text, "0x" + "00" * 20) is None  # not a 65-byte signature
    assert message_hash(text) == bytes(signed.message_hash)
