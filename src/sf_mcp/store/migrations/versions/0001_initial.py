"""Seed tables (users, user_sessions, ai_generations, user_credits, blockchain_transactions, nft_stakes)
plus what jobs and the indexer need.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.Float  # unix seconds (REAL in SQLite, double precision in PostgreSQL)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("wallet", sa.Text, primary_key=True),  # lower-case 0x address
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
    )
    op.create_table(
        "user_sessions",
        sa.Column("session_id", sa.Text, primary_key=True),  # the JWT id (jti)
        sa.Column("wallet", sa.Text, sa.ForeignKey("users.wallet"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
    )
    op.create_index("user_sessions_wallet", "user_sessions", ["wallet"])
    # One row per generation job; payment_key makes a payment pay for one job only.
    op.create_table(
        "ai_generations",
        sa.Column("task_id", sa.Text, primary_key=True),
        sa.Column("wallet", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),  # JSON: width, height, steps, seed, ...
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("payment_method", sa.Text, nullable=False),
        sa.Column("payment_key", sa.Text, nullable=False, unique=True),
        sa.Column("payment", sa.Text, nullable=False),  # JSON details of the payment
        sa.Column("provider", sa.Text),
        sa.Column("model", sa.Text),
        sa.Column("content_sha256", sa.Text),
        sa.Column("mime_type", sa.Text),
        sa.Column("public_url", sa.Text),
        sa.Column("attempts", sa.Text, nullable=False, server_default="[]"),
        sa.Column("error", sa.Text),
        sa.Column("refund", sa.Text),  # JSON: how the payment was returned
        sa.Column("run_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.Text),
        sa.Column("lease_expires_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("chain_request_id", sa.BigInteger),  # the payment contract's requestId
        sa.Column("submission", sa.Text),  # JSON: the submitGeneration tx, once sent
        sa.CheckConstraint("kind IN ('image', 'video')", name="ai_generations_kind"),
        sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed', 'refunded')",
                           name="ai_generations_status"),
        sa.CheckConstraint("payment_method IN ('free', 'credits', 'crypto')", name="ai_generations_payment_method"),
    )
    op.create_index("ai_generations_wallet", "ai_generations", ["wallet", "created_at"])
    op.create_index("ai_generations_status", "ai_generations", ["status", "created_at"])
    op.create_index("ai_generations_created", "ai_generations", ["created_at"])
    op.create_table(
        "user_credits",
        sa.Column("wallet", sa.Text, primary_key=True),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("balance >= 0", name="user_credits_balance"),
    )
    # Every credit movement, so a balance can always be explained.
    op.create_table(
        "credit_ledger",
        sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("wallet", sa.Text, nullable=False),
        sa.Column("delta", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("task_id", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("credit_ledger_wallet", "credit_ledger", ["wallet"])
    op.create_table(
        "free_usage",
        sa.Column("wallet", sa.Text, primary_key=True),
        sa.Column("day", sa.Text, primary_key=True),  # UTC date, YYYY-MM-DD
        sa.Column("used", sa.Integer, nullable=False),
        sa.CheckConstraint("used >= 0", name="free_usage_used"),
    )
    # Decoded contract events, stored once per (chain, tx, log index).
    op.create_table(
        "blockchain_transactions",
        sa.Column("chain_id", sa.BigInteger, primary_key=True),
        sa.Column("tx_hash", sa.Text, primary_key=True),
        sa.Column("log_index", sa.BigInteger, primary_key=True),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("block_hash", sa.Text, nullable=False),
        sa.Column("contract", sa.Text, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("args", sa.Text, nullable=False),  # JSON
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("blockchain_transactions_block", "blockchain_transactions", ["chain_id", "block_number"])
    op.create_table(
        "nft_stakes",
        sa.Column("chain_id", sa.BigInteger, primary_key=True),
        sa.Column("token_id", sa.BigInteger, primary_key=True),
        sa.Column("wallet", sa.Text, nullable=False),
        sa.Column("staked_at", TS, nullable=False),
        sa.Column("unstaked_at", TS),
    )
    op.create_index("nft_stakes_wallet", "nft_stakes", ["wallet"])
    # Where the indexer is: the last processed block and its hash, for reorg checks.
    op.create_table(
        "indexer_cursor",
        sa.Column("chain_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("block_hash", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
