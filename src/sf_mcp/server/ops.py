"""Operations: alerts for large payments, and the operator's review queue.

**Payment alerts.** The indexer calls :meth:`PaymentAlerts.on_payment` once for
every ``PaymentReceived`` event it stores for the first time (events are stored
once per chain, transaction and log index, so a re-poll does not alert twice).
A payment at or above ``SF_ALERT_PAYMENT_S`` / ``SF_ALERT_PAYMENT_USDC`` (whole
tokens) writes one WARNING line (payer, amount, transaction; never a setting's
secret), counts ``sf_mcp_payment_alerts_total{token}`` and, when
``SF_ALERT_WEBHOOK_URL`` is set, POSTs a JSON body to it. A failing webhook is
logged and counted, never raised: an alert must not stop the indexer.

**Review queue.** ``review://queue`` (and ``sf-mcp review``) lists what
``store.review`` finds: failed crypto jobs with no refund, and indexed payments
with no job. Over HTTP only wallets in ``SF_OPERATOR_WALLETS`` may read it; over
stdio the local user is the operator.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx2
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel

from sf_mcp.chain.units import format_units, to_base_units
from sf_mcp.config import Settings
from sf_mcp.store import ChainEvent, ReviewItem

logger = logging.getLogger("sf_mcp.alerts")

REVIEW_URI = "review://queue"


class PaymentAlert(BaseModel):
    """The webhook's JSON body."""

    kind: str = "large_payment"
    chain_id: int
    tx_hash: str
    log_index: int
    block_number: int
    payer: str
    token: str
    amount: str  # whole tokens, decimal string
    amount_base_units: str
    threshold: str  # whole tokens
    generation_type: str | None = None


class AlertCounters:
    """The alert metrics; made once per server so they join the HTTP metrics registry (served at /metrics)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.alerts = Counter("sf_mcp_payment_alerts", "Payments at or above the alert threshold, by token", ["token"],
                              registry=registry)
        self.webhook_failures = Counter("sf_mcp_payment_alert_webhook_failures",
                                        "Alert webhooks that failed or answered an error", registry=registry)


class PaymentAlerts:
    """Checks indexed payments against the configured thresholds and raises the alarm."""

    def __init__(
        self, settings: Settings, *, tokens: Mapping[str, tuple[str, int]],
        counters: AlertCounters | None = None, registry: CollectorRegistry | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        """``tokens``: the chain's payment tokens, address -> (symbol, decimals), from the deployment."""
        alerts = settings.alerts
        self._limits: dict[str, Decimal | None] = {"S": alerts.alert_payment_s, "USDC": alerts.alert_payment_usdc}
        self._webhook = alerts.alert_webhook_url.get_secret_value() if alerts.alert_webhook_url else None
        self._timeout_s = alerts.alert_webhook_timeout_s
        self._transport = transport
        self._tokens = {address.lower(): spec for address, spec in tokens.items()}
        counters = counters if counters is not None else AlertCounters(registry)
        self.alerts = counters.alerts
        self.webhook_failures = counters.webhook_failures

    @property
    def enabled(self) -> bool:
        return any(v is not None for v in self._limits.values())

    async def on_payment(self, event: ChainEvent) -> PaymentAlert | None:
        """The indexer's ``on_payment`` hook; returns the alert it raised, if any."""
        token = self._tokens.get(str(event.args.get("token", "")).lower())
        if token is None:
            return None
        symbol, decimals = token
        limit = self._limits.get(symbol)
        units = int(event.args.get("amount", 0))
        if limit is None or units < to_base_units(limit, decimals):
            return None
        alert = PaymentAlert(
            chain_id=event.chain_id, tx_hash=event.tx_hash, log_index=event.log_index,
            block_number=event.block_number, payer=str(event.args.get("payer", "")), token=symbol,
            amount=format_units(units, decimals), amount_base_units=str(units), threshold=f"{limit.normalize():f}",
            generation_type=event.args.get("generationType"),
        )
        self.alerts.labels(token=symbol).inc()
        logger.warning("large payment: %s %s from %s in %s (threshold %s %s)", alert.amount, symbol, alert.payer,
                       alert.tx_hash, alert.threshold, symbol)
        if self._webhook is not None:
            await self._post(alert)
        return alert

    async def _post(self, alert: PaymentAlert) -> None:
        try:
            async with httpx2.AsyncClient(timeout=self._timeout_s, transport=self._transport) as http:
                response = await http.post(self._webhook or "", json=alert.model_dump(mode="json"))
            if response.status_code >= 400:
                self.webhook_failures.inc()
                logger.error("payment alert webhook answered %s for %s", response.status_code, alert.tx_hash)
        except httpx2.HTTPError as exc:  # the URL may hold a token: name the failure, not the URL
            self.webhook_failures.inc()
            logger.error("payment alert webhook failed for %s: %s", alert.tx_hash, type(exc).__name__)


# -- the review queue ---------------------------------------------------------------------
def review_table(items: list[ReviewItem]) -> str:
    """The queue as a fixed-width table for a terminal."""
    if not items:
        return "review queue: empty (every payment has a job, and every failed crypto job was refunded)"
    columns = ["kind", "task_id", "wallet", "token", "amount", "tx_hash", "reason"]
    rows = [[_cell(getattr(i, c)) for c in columns] for i in items]
    widths = [max(len(c), *(len(r[n]) for r in rows)) for n, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)
