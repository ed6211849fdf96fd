"""The running server's parts, built once from the settings and shared by every tool call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio

from sf_mcp.chain import ChainClient, ChainPaymentVerifier, Indexer, OperatorActions, Signer, open_chain
from sf_mcp.chain.contracts import NATIVE_TOKEN, USDC
from sf_mcp.chain.txplan import Limits, TxPlanner
from sf_mcp.config import Settings
from sf_mcp.errors import ConfigError
from sf_mcp.generation import ContentStore, FallbackChain, build_content_store, build_provider_chain
from sf_mcp.jobs import JobRunner, PaymentGate
from sf_mcp.server.notify import ResourceNotifier
from sf_mcp.server.ops import PaymentAlerts
from sf_mcp.store import GenerationRow, Leadership, Store


@dataclass
class Services:
    """What a tool needs: typed, built by the lifespan, never module globals."""

    settings: Settings
    store: Store
    providers: FallbackChain
    content: ContentStore
    runner: JobRunner
    gate: PaymentGate
    notifier: ResourceNotifier
    alerts: PaymentAlerts
    over_http: bool = False  # callers are identified by bearer tokens only (set by the HTTP surface)
    # Set once the chain is connected (always, in every mode the server runs in today).
    chain: ChainClient | None = None
    planner: TxPlanner | None = None  # user actions -> unsigned plans, or agent-signed transactions
    operator: OperatorActions | None = None  # the server key's refunds and contest submissions
    indexer: Indexer | None = None
    leadership: Leadership | None = None  # who runs the indexer among replicas sharing the database


def check_settings(settings: Settings) -> None:
    """Raise the ConfigError a running server would hit, before any transport starts."""
    build_provider_chain(settings)
    build_content_store(settings)


@asynccontextmanager
async def open_services(
    settings: Settings, notifier: ResourceNotifier, *, alerts: PaymentAlerts | None = None
) -> AsyncIterator[Services]:
    """Open the store, build the provider chain and run the job workers until the server stops.

    ``alerts`` is made once per server (its counters live in the HTTP metrics registry); by default
    a private one is made here.
    """
    providers = build_provider_chain(settings)  # configuration errors surface before anything is opened
    content = build_content_store(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = await Store.open(settings.database)
    runner = JobRunner(
        store,
        providers,
        content,
        workers=settings.workers,
        lease_s=settings.job_lease_s,
        max_runs=settings.job_max_attempts,
    )
    gate = PaymentGate(store, free_daily_quota=settings.free_daily_quota)
    services = Services(
        settings, store, providers, content, runner, gate, notifier,
        alerts=alerts if alerts is not None else PaymentAlerts(settings),
    )

    async def publish(row: GenerationRow) -> None:
        await notifier.updated(
            f"generation://{row.task_id}", "generations://recent", f"generations://wallet/{row.wallet}"
        )

    runner.on_finished.append(publish)
    chain = None
    detach = None
    try:
        chain = await _attach_chain(services)
        async with anyio.create_task_group() as tg:
            await tg.start(store.notifications.run)
            detach = await notifier.attach(store)
            await tg.start(notifier.run)
            await tg.start(runner.run)
            if services.indexer is not None and settings.indexer:
                services.leadership = store.leadership(f"indexer:{chain.chain_id}", lease_s=settings.leader_lease_s)
                await tg.start(services.leadership.run, services.indexer.run)
            yield services
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            if detach is not None:
                detach()
            if chain is not None:
                await chain.close()
            await providers.aclose()
            await store.close()


async def _attach_chain(services: Services) -> ChainClient:
    """Connect the chain: crypto payments, on-chain refunds, contest submissions and the event indexer."""
    settings, store, runner = services.settings, services.store, services.runner
    # A new embedded chain reuses the chain id (and replays the same first transaction hashes) of any earlier
    # one this database knew: forget that one before the new chain is reachable.
    chain = await open_chain(settings, on_new_chain=store.chain.reset)
    if settings.dev_tools and chain.embedded is None and (not chain.deployment.dev or chain.chain_id in (146, 14601)):
        await chain.close()
        raise ConfigError(f"SF_DEV_TOOLS moves the chain's clock: only for the embedded chain or a --dev anvil "
                          f"deployment, not {chain.label} (chain id {chain.chain_id}); unset it")
    operator = OperatorActions(chain, store)
    services.gate.verifier = ChainPaymentVerifier(chain, store)
    if chain.operator is not None:
        runner.refunder = operator

        async def submit(row: GenerationRow) -> None:
            if row.status == "succeeded" and row.chain_request_id is not None:
                await operator.submit(row)

        runner.on_finished.append(submit)
    services.chain = chain
    agent = Signer(settings.agent_key.get_secret_value()) if settings.agent_key else None
    services.planner = TxPlanner(chain, store, agent=agent, limits=Limits.from_settings(settings))
    services.operator = operator
    services.indexer = Indexer(
        chain, store, operator=operator, batch_blocks=settings.indexer_batch_blocks,
        poll_s=settings.indexer_poll_s, max_backoff_s=settings.indexer_max_backoff_s,
        on_jobs=runner.wake, publish=services.notifier.updated,
    )
    alerts = services.alerts
    alerts.watch_tokens({NATIVE_TOKEN: ("S", 18), chain.address_of(USDC): ("USDC", 6)})
    if alerts.enabled:
        services.indexer.on_payment.append(alerts.on_payment)
    return chain
