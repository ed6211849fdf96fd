"""Operations: large-payment alerts (log, metric, webhook to a loopback server) and the review queue (resource, CLI)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from prometheus_client import CollectorRegistry
from tests.chain.conftest import Session
from tests.fakes._server import Behavior, LoopbackServer, RecordedRequest

from sf_mcp.chain import Signer
from sf_mcp.chain.accounts import DEV_KEYS
from sf_mcp.chain.contracts import NATIVE_TOKEN, USDC
from sf_mcp.cli import main
from sf_mcp.config import Settings, load_settings
from sf_mcp.errors import ChainError, GenerationError
from sf_mcp.server.ops import PaymentAlerts
from sf_mcp.store import ChainEvent, Store
from support import connected, settled

pytestmark = pytest.mark.anyio

USDC_ADDRESS = "0x" + "cd" * 20


class WebhookServer(LoopbackServer):
    """Receives alert POSTs at /hook."""

    def route(self, method: str, path: str) -> str | None:
        return "hook" if method == "POST" and path == "/hook" else None

    def respond(self, request: RecordedRequest, model: str, behavior: Behavior) -> tuple[int, bytes, str]:
        return behavior.status, b"{}", "application/json"


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_TOKEN", "SF_HF_TOKEN", "SF_WALLET", "SF_AGENT_KEY", "SF_RPC_URL", "SF_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)


def _payment(amount: int, token: str = NATIVE_TOKEN, n: int = 1) -> ChainEvent:
    return ChainEvent(chain_id=1, tx_hash=f"0x{n:064x}", log_index=0, block_number=n, block_hash=f"0x{n:064x}",
                      contract="SonicAIGenerationPayment", event="PaymentReceived",
                      args={"payer": "0x" + "ab" * 20, "token": token, "amount": amount, "generationType": "image"})


def _count(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


# -- alerts ---------------------------------------------------------------------------------------
async def test_alert_thresholds_log_metric_and_webhook(webhook: WebhookServer, data_dir: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(data_dir=data_dir, alert_payment_s="5", alert_payment_usdc="2.5",
                             alert_webhook_url=f"{webhook.origin}/hook")
    registry = CollectorRegistry()
    alerts = PaymentAlerts(settings, registry=registry, tokens={NATIVE_TOKEN: ("S", 18), USDC_ADDRESS: ("USDC", 6)})
    with caplog.at_level(logging.WARNING, logger="sf_mcp.alerts"):
        assert await alerts.on_payment(_payment(5 * 10**18 - 1)) is None  # just below
        assert await alerts.on_payment(_payment(2_499_999, USDC_ADDRESS)) is None
        assert await alerts.on_payment(_payment(10**18, "0x" + "99" * 20)) is None  # not a payment token
        at = await alerts.on_payment(_payment(5 * 10**18, n=2))
        above = await alerts.on_payment(_payment(2_500_001, USDC_ADDRESS, n=3))
    assert at is not None and (at.token, at.amount, at.amount_base_units, at.threshold) == ("S", "5", str(5 * 10**18), "5")
    assert above is not None and (above.token, above.amount) == ("USDC", "2.500001")
    assert _count(registry, "sf_mcp_payment_alerts_total", token="S") == 1
    assert _count(registry, "sf_mcp_payment_alerts_total", token="USDC") == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "5 S" in warnings[0] and at.tx_hash in warnings[0]
    posted = [r.json for r in webhook.calls("hook")]
    assert [(p["token"], p["amount"], p["tx_hash"]) for p in posted] == [("S", "5", at.tx_hash),
                                                                          ("USDC", "2.500001", above.tx_hash)]
    assert posted[0]["kind"] == "large_payment" and posted[0]["payer"] == "0x" + "ab" * 20


async def test_a_failing_webhook_is_logged_and_counted_not_raised(webhook: WebhookServer, data_dir: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    secret_url = f"{webhook.origin}/hook?token=s3cret"
    settings = load_settings(data_dir=data_dir, alert_payment_s="1", alert_webhook_url=secret_url)
    registry = CollectorRegistry()
    alerts = PaymentAlerts(settings, registry=registry, tokens={NATIVE_TOKEN: ("S", 18)})
    assert await alerts.on_payment(_payment(10**18)) is not None  # route misses (query string): 404
    webhook.close()
    assert await alerts.on_payment(_payment(10**18, n=2)) is not None  # connection refused
    assert _count(registry, "sf_mcp_payment_alert_webhook_failures_total") == 2
    assert "s3cret" not in caplog.text and "payment alert webhook" in caplog.text


async def test_alert_counters_are_served_with_the_http_metrics(settings: Settings) -> None:
    from prometheus_client import generate_latest

    from sf_mcp.server import open_http_app

    async with open_http_app(settings) as (_, surface):
        text = generate_latest(surface.metrics.registry).decode()
    assert "sf_mcp_payment_alerts_total" in text or "# TYPE sf_mcp_payment_alerts counter" in text


async def test_alerts_off_by_default(data_dir: Path) -> None:
    alerts = PaymentAlerts(load_settings(data_dir=data_dir), tokens={NATIVE_TOKEN: ("S", 18)})
    assert not alerts.enabled and await alerts.on_payment(_payment(10**30)) is None


@pytest.fixture
async def alerting(webhook: WebhookServer, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Session]:
    _clean_env(monkeypatch)
    settings = load_settings(data_dir=data_dir, alert_payment_s="2.5", alert_payment_usdc="2",
                             alert_webhook_url=f"{webhook.origin}/hook", indexer=False)
    async with connected(settings, mode="auto") as (client, services):
        yield Session(client=client, services=services)


async def test_indexer_alerts_once_for_a_payment_above_the_threshold(alerting: Session, webhook: WebhookServer) -> None:
    s = alerting
    tx_s = await s.pay_s("a big spender's fox")  # 3 S >= 2.5 S
    usdc = s.chain.contract(USDC).functions
    signer = Signer(DEV_KEYS[0])
    await s.chain.send(signer, usdc.approve(s.chain.payment.address, 10**6))
    await s.chain.send(signer, s.chain.payment.functions.payWithUSDC("a modest fox", "image", 10**6))  # 1 USDC < 2
    await s.indexer.sync()
    await s.indexer.sync()  # nothing new: no second alert
    posted = [r.json for r in webhook.calls("hook")]
    assert [(p["tx_hash"], p["token"], p["amount"], p["threshold"]) for p in posted] == [(tx_s, "S", "3", "2.5")]
    alerts: PaymentAlerts = s.services.alerts
    counted = {sample.labels["token"]: sample.value for family in alerts.alerts.collect()
               for sample in family.samples if sample.name == "sf_mcp_payment_alerts_total"}
    assert counted == {"S": 1.0}


# -- review queue ---------------------------------------------------------------------------------------
class FailingRefunder:
    def __init__(self) -> None:
        self.calls = 0

    async def refund(self, job: Any) -> dict[str, Any]:
        self.calls += 1
        raise ChainError("addCredits: the RPC endpoint refused (test)")


@pytest.fixture
async def no_indexer(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Session]:
    """The indexer is polled by the test only, so its retry pass cannot refund behind the test's back."""
    _clean_env(monkeypatch)
    async with connected(load_settings(data_dir=data_dir, indexer=False), mode="auto") as (client, services):
        yield Session(client=client, services=services)


async def test_a_failed_refund_is_listed_for_review_and_by_the_cli(
    no_indexer: Session, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = no_indexer
    refunder = FailingRefunder()
    s.services.runner.refunder = refunder

    async def every_provider_fails(request: Any, **_: Any) -> Any:
        raise GenerationError("every provider failed (test)")

    s.services.providers.run = every_provider_fails  # type: ignore[method-assign]
    tx = await s.pay_s("a doomed fox")
    await s.indexer.sync()
    (job,) = [r for r in await s.services.store.generations.recent(limit=5) if r.prompt == "a doomed fox"]
    done = await settled(s.services.runner).wait(job.task_id)
    assert done.status == "failed" and refunder.calls == 1

    (item,) = json.loads((await s.client.read_resource("review://queue")).contents[0].text)
    assert item["kind"] == "refund_failed" and item["task_id"] == job.task_id and item["tx_hash"] == tx
    assert item["token"] == "S" and item["amount"] == str(3 * 10**18) and "every provider failed" in item["reason"]

    def cli(*args: str) -> tuple[int, str]:
        code = main(["--data-dir", str(data_dir), "review", *args])
        return code, capsys.readouterr().out

    code, out = await anyio.to_thread.run_sync(cli)
    assert code == 0 and job.task_id in out and "refund_failed" in out and out.splitlines()[0].startswith("kind")
    code, out = await anyio.to_thread.run_sync(cli, "--json", "--check")
    assert code == 1 and [i["task_id"] for i in json.loads(out)] == [job.task_id]


async def test_unmatched_payments_are_listed(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "r.db")
    try:
        event = ChainEvent(chain_id=7, tx_hash="0x" + "11" * 32, log_index=3, block_number=5, block_hash="0x" + "22" * 32,
                           contract="SonicAIGenerationPayment", event="GenerationRequested",
                           args={"requestId": 9, "user": "0x" + "ab" * 20, "generationType": "audio", "prompt": "x",
                                 "paymentToken": NATIVE_TOKEN, "amount": str(3 * 10**18)})
        await store.chain.apply(7, events=[event], jobs=[], block_number=5, block_hash="0x" + "22" * 32)
        (item,) = await store.review.items()
        assert (item.kind, item.tx_hash, item.log_index, item.request_id, item.wallet) == (
            "unmatched_payment", event.tx_hash, 3, 9, "0x" + "ab" * 20)
        assert "'audio'" in item.reason
    finally:
        await store.close()


async def test_review_queue_over_http_is_for_operator_wallets_only(settings: Settings) -> None:
    from mcp.server.auth.middleware.auth_context import auth_context_var
    from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
    from mcp.server.auth.provider import AccessToken

    from sf_mcp.server.mcp.resources import require_operator

    operator = "0x" + "aa" * 20
    configured = load_settings(data_dir=settings.storage.data_dir, operator_wallets=[operator.upper().replace("0X", "0x")])
    require_operator(configured)  # stdio: no token, the local operator

    def as_wallet(wallet: str) -> Any:
        token = AccessToken(token="t", client_id=wallet, scopes=[], subject=wallet)
        return auth_context_var.set(AuthenticatedUser(token))

    reset = as_wallet(operator)
    try:
        require_operator(configured)
    finally:
        auth_context_var.reset(reset)
    reset = as_wallet("0x" + "bb" * 20)
    try:
        with pytest.raises(Exception, match="SF_OPERATOR_WALLETS"):
            require_operator(configured)
    finally:
        auth_context_var.reset(reset)
