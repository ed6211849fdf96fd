"""Amounts and values as people read them, and the fee fields every transaction we build uses.

:func:`format_units` is the one way sf-mcp writes a token amount: exact (no float),
no trailing zeros, no exponent, ``"10"`` for ten S and ``"0.000000000000000001"`` for one wei.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

DEFAULT_TIP = 10**9  # 1 gwei, when the node cannot suggest a priority fee

# The one place token decimals are written: S is the native coin (18, like ether); USDC has 6.
S_DECIMALS = 18
USDC_DECIMALS = 6
# A price's unit -> its decimals: S and USDC as above; credits (off- or on-chain) are whole.
PRICE_DECIMALS: dict[str, int] = {"S": S_DECIMALS, "USDC": USDC_DECIMALS, "credits": 0}


def format_units(units: int, decimals: int) -> str:
    """``units`` base units of a token with ``decimals`` decimals, as a plain decimal string."""
    units = int(units)
    if decimals < 0:
        raise ValueError("decimals must not be negative")
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**decimals)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}." + str(frac).rjust(decimals, "0").rstrip("0")


def format_s(wei: int) -> str:
    return format_units(wei, S_DECIMALS)


def format_usdc(units: int) -> str:
    return format_units(units, USDC_DECIMALS)


def to_base_units(amount: float | Decimal | str, decimals: int) -> int:
    """Whole tokens (as configured, e.g. ``2.5``) in base units, exactly: via the decimal text, never a float product."""
    return int(Decimal(str(amount)) * 10**decimals)


def fee_fields(base_fee: int, tip: int | None = None) -> dict[str, int]:
    """EIP-1559 fees that stay valid while the base fee doubles: ``maxFee = 2 * base + tip``."""
    tip = DEFAULT_TIP if tip is None else int(tip)
    return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * int(base_fee) + tip}


JSON_EXACT_INT = 2**53  # a JSON number above this loses digits in JavaScript clients


def plain(value: Any, *, exact_below: int = JSON_EXACT_INT) -> Any:
    """A decoded ABI value as JSON-friendly data: bytes as 0x-hex, addresses lower-case, and ints from
    ``exact_below`` up as decimal strings (the store keeps 63-bit ints as numbers, answers 53-bit ones)."""
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= exact_below:
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v, exact_below=exact_below) for v in value]
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    return value
