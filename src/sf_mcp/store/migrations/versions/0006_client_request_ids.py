"""A client's idempotency key on generation jobs: one task per wallet and request_id.

``request_id`` of generate_image / generate_video: the same wallet and key return the task they
started, never a second charge. The partial unique index is the backstop of the check the
reserving transaction makes (under an advisory lock on PostgreSQL).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ai_generations", sa.Column("client_request_id", sa.Text))
    only_keyed = sa.text("client_request_id IS NOT NULL")
    op.create_index("ai_generations_client_request", "ai_generations", ["wallet", "client_request_id"], unique=True,
                    sqlite_where=only_keyed, postgresql_where=only_keyed)
