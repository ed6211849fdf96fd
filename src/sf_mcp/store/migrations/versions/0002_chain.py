"""Chain integration: the indexer's checkpoint history (reorg detection), the operator's own transactions
(so a refund is never sent twice), and the agent key's spending (daily limits).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Recent (block, hash) pairs the indexer processed up to; a reorg rewinds to the newest one still on the chain.
    op.create_table(
        "indexer_checkpoints",
        sa.Column("chain_id", sa.BigInteger, primary_key=True),
        sa.Column("block_number", sa.BigInteger, primary_key=True),
        sa.Column("block_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    # Transactions the operator key sent for a job: one refund and one submission per task (rebuilt by 0004).
    op.create_table(
        "operator_txs",
        sa.Column("task_id", sa.Text, primary_key=True),
        sa.Column("action", sa.Text, primary_key=True),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("tx_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.CheckConstraint("action IN ('refund', 'submit')", name="operator_txs_action"),
    )
    # What the agent key spent, per UTC day and token (amounts in base units, as text).
    op.create_table(
        "agent_spend",
        sa.Column("spend_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("wallet", sa.Text, nullable=False),
        sa.Column("day", sa.Text, nullable=False),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("amount", sa.Text, nullable=False),
        sa.Column("tx_hash", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.CheckConstraint("token IN ('S', 'USDC')", name="agent_spend_token"),
        sqlite_autoincrement=True,
    )
    op.create_index("agent_spend_day", "agent_spend", ["wallet", "day", "token"])
    op.create_index("blockchain_transactions_event", "blockchain_transactions", ["chain_id", "event"])
