"""Rate-limit token buckets shared by every replica (PostgreSQL deployments).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_buckets",
        sa.Column("key", sa.Text, primary_key=True),  # "<limit>:<ip or wallet>"
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),  # unix seconds of the last take
    )
    op.create_index("rate_buckets_updated", "rate_buckets", ["updated_at"])
