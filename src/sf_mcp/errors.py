"""The one exception tree of sf-mcp.

Every error a user can act on derives from :class:`SfMcpError`; tools turn them
into ``is_error`` results whose text is ``str(error)``, so messages are written
for a person, name the offending field or value, and never contain secrets.

    SfMcpError
    ├── ConfigError              a setting is missing or invalid (names the setting)
    ├── InvalidRequest           bad tool input (names the field)
    │   └── RequestIdUsed        the wallet already used this request_id (names the task)
    ├── PaymentError             the payment cannot pay for this generation
    │   ├── PaymentRejected      invalid, foreign, failed, other payer, mismatch
    │   ├── PaymentConsumed      already paid for another task (names the task)
    │   ├── InsufficientFunds    no free quota / credits left
    │   └── PriceAboveMax        the price is above the caller's max_price (nothing charged)
    ├── GenerationError          every provider failed (attempts attached)
    │   └── PromptRefused        a provider refused the prompt; no other model tried
    ├── ChainError               the chain could not be read or written
    │   └── ChainUnavailable     RPC outage: retryable, nothing was consumed
    ├── StoreUnavailable         the database is locked, full or failing: retryable, nothing was lost
    ├── NotFound                 an unknown task, content hash or generation
    └── Unauthorized             the caller may not do this for that wallet
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class SfMcpError(Exception):
    """Root of every error sf-mcp raises on purpose."""

    retryable: bool = False


class ConfigError(SfMcpError):
    """A setting is missing or invalid."""


class InvalidRequest(SfMcpError):
    """A tool argument is invalid; the message names the field."""


class RequestIdUsed(InvalidRequest):
    """The wallet already started a task under this ``request_id`` (a retry, or a reused key)."""

    def __init__(self, message: str, *, task_id: str) -> None:
        super().__init__(message)
        self.task_id = task_id


class PaymentError(SfMcpError):
    """The payment cannot pay for this generation."""


class PaymentRejected(PaymentError):
    """The payment is invalid for this caller or request."""


class PaymentConsumed(PaymentError):
    """The payment already paid for a different task."""

    def __init__(self, message: str, *, task_id: str) -> None:
        super().__init__(message)
        self.task_id = task_id


class InsufficientFunds(PaymentError):
    """No free quota or credits left."""


class GenerationError(SfMcpError):
    """Every provider in the chain failed.

    ``attempts`` holds the chain's record of every try (``generation.base.Attempt``
    objects: provider, model, outcome, error class, ms) so callers can show the
    user what was tried and refund with a reason. It is typed loosely here because
    this module sits below every other one and imports nothing from sf_mcp.
    """

    def __init__(self, message: str, *, attempts: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.attempts: list[Any] = list(attempts)


class PromptRefused(GenerationError):
    """A provider refused the prompt, so no other model is tried."""


class ChainError(SfMcpError):
    """The chain could not be read or written."""


class ChainUnavailable(ChainError):
    """The RPC endpoint is unreachable; try again, nothing was consumed."""

    retryable = True


class StoreUnavailable(SfMcpError):
    """The database cannot be read or written right now (locked by another writer, disk full, I/O error)."""

    retryable = True


class NotFound(SfMcpError):
    """An unknown task, content hash or generation."""


class Unauthorized(SfMcpError):
    """The caller may not act for that wallet."""


class PriceAboveMax(PaymentError):
    """The price of this generation is above the caller's ``max_price``; nothing was charged."""
