"""Durable generation jobs: the payment gate that creates them and the runner that executes them."""

from sf_mcp.chain.payments import VerifiedPayment
from sf_mcp.jobs.gate import (
    CreditsPayment,
    CryptoPayment,
    FreePayment,
    Payment,
    PaymentGate,
    PaymentVerifier,
    Reservation,
    X402Payment,
)
from sf_mcp.jobs.runner import FinishedHook, JobRunner, Progress, Refunder

__all__ = [
    "CreditsPayment",
    "CryptoPayment",
    "FinishedHook",
    "FreePayment",
    "JobRunner",
    "Payment",
    "PaymentGate",
    "PaymentVerifier",
    "Progress",
    "Refunder",
    "Reservation",
    "VerifiedPayment",
    "X402Payment",
]
