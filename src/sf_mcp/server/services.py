"""The running server's parts, built once from the settings and shared by every tool call.

:func:`open_services` is the one place that builds them: each part gets what it
needs through its constructor, in dependency order (store and chain first, then
the payment gate, the job runner, the planner and the indexer), and nothing is
assigned after construction. Tools reach the result through the SDK's typed
lifespan context (``Context[Services]``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio

from sf_mcp.chain import ChainClient, ChainPaymentVerifier, Indexer, OperatorActions, Signer, is_dev_chain, open_chain
from sf_mcp.chain.events import ChainUpdate
from sf_mcp.chain.txplan import Limits, TxPlanner
from sf_mcp.chain.views import Contracts
from sf_mcp.chain.x402 import X402Chain
from sf_mcp.config import Settings
from sf_mcp.errors import ConfigError
from sf_mcp.generation import ContentStore, FallbackChain, build_content_store, build_provider_chain
from sf_mcp.jobs import FinishedHook, JobRunner, PaymentGate
from sf_mcp.jobs.x402 import X402Gate
from sf_mcp.server.notify import ResourceNotifier
from sf_mcp.server.ops import AlertCounters, PaymentAlerts
from sf_mcp.store import GenerationRow, JobStatus, Leadership, Store
from sf_mcp.waits import Sleep

# Chain ids of Sonic mainnet and its testnet: development tools never run there.
_PUBLIC_CHAIN_IDS = (146, 14601)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """What a tool needs: typed, built once by :func:`open_services`, never module globals."""

    settings: Settings
    store: Store
    providers: FallbackChain
    content: ContentStore
    chain: ChainClient
    verifier: ChainPaymentVerifier
    gate: PaymentGate
    x402: X402Gate | None  # x402 payments, settled with the operator key (None: the chain has none)
    runner: JobRunner
    contracts: Contracts  # typed reads and call steps of the deployment
    planner: TxPlanner  # user actions -> unsigned plans, or agent-signed transactions
    plan_only: TxPlanner  # the same without the agent key: for callers with a bearer token
    operator: OperatorActions  # the server key's refunds and contest submissions
    indexer: Indexer
    leadership: Leadership | None  # who runs the indexer among replicas sharing the database (None: no indexer)
    notifier: ResourceNotifier
    alerts: PaymentAlerts
    over_http: bool  # callers are identified by bearer tokens only


def check_settings(settings: Settings) -> None:
    """Raise the ConfigError a running server would hit, before any transport starts."""
    build_provider_chain(settings, dev_chain=is_dev_chain(settings))
    build_content_store(settings)


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    notifier: ResourceNotifier | None = None,
    over_http: bool = False,
    alert_counters: AlertCounters | None = None,
    on_finished: Sequence[FinishedHook] = (),
    indexer_sleep: Sleep = anyio.sleep,
) -> AsyncIterator[Services]:
    """Open the store and the chain, build every part, and run the job workers and the indexer until closed.

    ``notifier`` publishes resource updates (by default one with its own bus); ``alert_counters`` are the
    server's alert metrics (by default private ones); ``on_finished`` are extra hooks run
    after every finished job (the HTTP metrics); ``indexer_sleep`` is how the indexer waits between
    polls and through a backoff (tests pass one that watches the waits).
    """
    notifier = notifier if notifier is not None else ResourceNotifier()
    # Configuration errors surface before anything is opened.
    providers = build_provider_chain(settings, dev_chain=is_dev_chain(settings))
    content = build_content_store(settings)
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    store = await Store.open(settings.storage.database)
    chain: ChainClient | None = None
    detach = None
    try:
        chain = await _open_chain(settings, store)
        services = _build(settings, store, providers, content, chain, notifier, over_http, alert_counters, on_finished,
                          indexer_sleep)
        if services.x402 is not None:  # x402 stays off (saying why) unless the token's EIP-712 domain matches
            problem = await services.x402.check()
            if problem is not None:
                logger.warning("x402 payments are off: %s", problem)
        async with anyio.create_task_group() as tg:
            await tg.start(store.notifications.run)
            detach = await notifier.attach(store)
            await tg.start(notifier.run)
            await tg.start(services.runner.run)
            if services.leadership is not None:
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
            logger.info("services closed")


async def _open_chain(settings: Settings, store: Store) -> ChainClient:
    # A new embedded chain reuses the chain id (and replays the same first transaction hashes) of any earlier
    # one this database knew: forget that one before the new chain is reachable.
    chain = await open_chain(settings, on_new_chain=store.chain.reset)
    if settings.chain.dev_tools and chain.embedded is None and (
        not chain.deployment.dev or chain.chain_id in _PUBLIC_CHAIN_IDS
    ):
        await chain.close()
        raise ConfigError(f"SF_DEV_TOOLS moves the chain's clock: only for the embedded chain or a --dev anvil "
                          f"deployment, not {chain.label} (chain id {chain.chain_id}); unset it")
    return chain


def resource_uris(update: ChainUpdate) -> list[str]:
    """The MCP resources an indexer update changed."""
    uris: list[str] = []
    for job in (*update.created, *update.changed):
        uris += [f"generation://{job.task_id}", f"generations://wallet/{job.wallet}"]
    if update.created:
        uris.append("generations://recent")
    if update.standings_changed:
        uris.append("leaderboard://week")
    return list(dict.fromkeys(uris))


def _build(
    settings: Settings,
    store: Store,
    providers: FallbackChain,
    content: ContentStore,
    chain: ChainClient,
    notifier: ResourceNotifier,
    over_http: bool,
    alert_counters: AlertCounters | None,
    on_finished: Sequence[FinishedHook],
    indexer_sleep: Sleep,
) -> Services:
    """Every part from its dependencies, in order: nothing is assigned after construction, but for one hook.

    The chain is opened before the indexer exists, so the indexer's nudge joins the chain's ``on_mined``
    hooks once it is built.
    """
    operator = OperatorActions(chain, store, resend_after_s=settings.chain.operator_resend_after_s)
    verifier = ChainPaymentVerifier(chain, store)
    agent = Signer(settings.chain.agent_key.get_secret_value()) if settings.chain.agent_key else None
    x402 = None
    if chain.operator is not None:  # x402 settles with the operator key
        x402 = X402Gate(store, X402Chain(chain, token_name=settings.chain.x402_token_name,
                                         token_version=settings.chain.x402_token_version),
                        max_timeout_s=settings.chain.x402_max_timeout_s, agent=agent,
                        limits=Limits.from_settings(settings.limits))
    gate = PaymentGate(store, free_daily_quota=settings.limits.free_daily_quota, verifier=verifier, x402=x402)

    async def publish(row: GenerationRow) -> None:
        await notifier.updated(
            f"generation://{row.task_id}", "generations://recent", f"generations://wallet/{row.wallet}"
        )

    async def submit(row: GenerationRow) -> None:
        if row.status is JobStatus.SUCCEEDED and row.chain_request_id is not None:
            await operator.submit(row)

    hooks: list[FinishedHook] = [publish, *on_finished]
    if chain.operator is not None:
        hooks.append(submit)
    runner = JobRunner(
        store, providers, content,
        workers=settings.jobs.workers, lease_s=settings.jobs.job_lease_s, max_runs=settings.jobs.job_max_attempts,
        refunder=operator if chain.operator is not None else None, on_finished=hooks,
    )
    planner = TxPlanner(chain, store, agent=agent, limits=Limits.from_settings(settings.limits))
    contracts = Contracts(chain)
    alerts = PaymentAlerts(settings, counters=alert_counters, tokens=contracts.payment_tokens())
    indexer = Indexer(
        chain, store, operator=operator, batch_blocks=settings.chain.indexer_batch_blocks,
        poll_s=settings.chain.indexer_poll_s, max_backoff_s=settings.chain.indexer_max_backoff_s,
        on_jobs=runner.wake, on_update=lambda update: notifier.updated(*resource_uris(update)),
        on_payment=[alerts.on_payment] if alerts.enabled else [], sleep=indexer_sleep,
    )
    chain.on_mined.append(lambda _block: indexer.nudge())  # a caller reads its own transaction at once
    leadership = (store.leadership(f"indexer:{chain.chain_id}", lease_s=settings.chain.leader_lease_s)
                  if settings.chain.indexer else None)
    return Services(
        settings=settings, store=store, providers=providers, content=content, chain=chain, verifier=verifier, gate=gate,
        x402=x402, runner=runner, contracts=contracts, planner=planner, plan_only=TxPlanner(chain, store), operator=operator, indexer=indexer, leadership=leadership, notifier=notifier, alerts=alerts,
        over_http=over_http,
    )
