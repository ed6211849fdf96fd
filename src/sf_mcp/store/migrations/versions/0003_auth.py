"""Sign-In with Ethereum: the nonces handed out by GET /auth/nonce, bound to the address they were issued
for and consumed at most once.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_nonces",
        sa.Column("nonce", sa.Text, primary_key=True),
        sa.Column("wallet", sa.Text, nullable=False),  # lower-case 0x address it was issued for
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float),  # set once, by the sign-in that consumed it
    )
    op.create_index("auth_nonces_expires", "auth_nonces", ["expires_at"])
