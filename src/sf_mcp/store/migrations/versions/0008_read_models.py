"""Read models the indexer maintains from events: votes, contest submissions, and a ledger of amounts.

``leaderboard``, ``gallery``, ``account`` and ``contest`` answer from these tables instead of
reading the chain on every call. Every row is one event (or one part of one) and carries its
block number, so a reorg forgets exactly the rows above the fork point, with the events.
The cursor also keeps its block's timestamp: the chain's clock as of the indexed block (which
contest is open).

Revision ID: 0008_read_models
Revises: 0007
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008_read_models"
down_revision = "0007"
branch_labels = None
depends_on = None


def _event_key() -> list[sa.Column[Any]]:
    return [
        sa.Column("chain_id", sa.BigInteger, primary_key=True),
        sa.Column("tx_hash", sa.Text, primary_key=True),
        sa.Column("log_index", sa.Integer, primary_key=True),
        sa.Column("block_number", sa.BigInteger, nullable=False),
    ]


def upgrade() -> None:
    op.add_column("indexer_cursor", sa.Column("block_timestamp", sa.BigInteger))
    # VoteCast: one row per vote (one wallet, one generation).
    op.create_table(
        "rm_votes", *_event_key(),
        sa.Column("voter", sa.Text, nullable=False),
        sa.Column("generation_id", sa.BigInteger, nullable=False),
        sa.Column("creator", sa.Text, nullable=False),
        sa.Column("contest_id", sa.BigInteger, nullable=False),
        sa.Column("weight", sa.BigInteger, nullable=False),
    )
    op.create_index("rm_votes_contest_creator", "rm_votes", ["chain_id", "contest_id", "creator"])
    op.create_index("rm_votes_creator", "rm_votes", ["chain_id", "creator"])
    op.create_index("rm_votes_generation", "rm_votes", ["chain_id", "generation_id"])
    op.create_index("rm_votes_block", "rm_votes", ["chain_id", "block_number"])
    # GenerationSubmitted: the contest entries.
    op.create_table(
        "rm_submissions", *_event_key(),
        sa.Column("generation_id", sa.BigInteger, nullable=False),
        sa.Column("creator", sa.Text, nullable=False),
        sa.Column("contest_id", sa.BigInteger, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("result_url", sa.Text, nullable=False),
    )
    op.create_index("rm_submissions_generation", "rm_submissions", ["chain_id", "generation_id"])
    op.create_index("rm_submissions_block", "rm_submissions", ["chain_id", "block_number"])
    # Amounts: prize pools funded and rolled over, prizes won and claimed, staking rewards claimed,
    # on-chain credits added and used. Amounts are exact decimal strings (uint256 outgrows BIGINT).
    op.create_table(
        "rm_ledger", *_event_key(),
        sa.Column("part", sa.Integer, primary_key=True),  # several rows of one event (two tokens, winners)
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("account", sa.Text),
        sa.Column("contest_id", sa.BigInteger),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("amount", sa.Text, nullable=False),
    )
    op.create_index("rm_ledger_account", "rm_ledger", ["chain_id", "account", "kind"])
    op.create_index("rm_ledger_contest", "rm_ledger", ["chain_id", "contest_id", "kind"])
    op.create_index("rm_ledger_block", "rm_ledger", ["chain_id", "block_number"])
    _backfill()


def _backfill() -> None:
    """Fill the tables from the events already indexed (a data dir upgraded in place)."""
    from sf_mcp.store.read_models import rows_of_event

    bind = op.get_bind()
    events = bind.execute(sa.text(
        "SELECT chain_id, tx_hash, log_index, block_number, event, args FROM blockchain_transactions "
        "ORDER BY chain_id, block_number, log_index")).mappings().all()
    import json

    for table, rows in rows_of_event([{**dict(e), "args": json.loads(e["args"])} for e in events]).items():
        if rows:
            columns = list(rows[0])
            bind.execute(sa.text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                 f"({', '.join(':' + c for c in columns)})"), rows)


def downgrade() -> None:
    for table in ("rm_ledger", "rm_submissions", "rm_votes"):
        op.drop_table(table)
    op.drop_column("indexer_cursor", "block_timestamp")
