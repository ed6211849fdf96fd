"""OAuth 2.1 for hosted assistants (server/oauth).

Access tokens stay rows of user_sessions (one sessions table for /auth/verify and OAuth tokens); a
grant is the family of tokens one consent issued, so revoking it (logout, RFC 7009, a reused refresh
token) ends them all. Codes and refresh tokens are stored as SHA-256 hashes, never in clear.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("user_sessions", sa.Column("client_id", sa.Text))  # OAuth client; NULL for /auth/verify
    op.add_column("user_sessions", sa.Column("scopes", sa.Text))  # space-separated; NULL = every scope
    op.add_column("user_sessions", sa.Column("grant_id", sa.Text))  # the OAuth grant (token family)
    op.create_index("user_sessions_grant", "user_sessions", ["grant_id"])

    # Clients registered by RFC 7591 (client metadata documents are fetched, not stored).
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.Text, primary_key=True),
        sa.Column("metadata", sa.Text, nullable=False),  # the registered client information, JSON
        sa.Column("created_at", sa.Float, nullable=False),
    )
    # An authorization request waiting for the wallet's signature on the login page.
    op.create_table(
        "oauth_requests",
        sa.Column("request_id", sa.Text, primary_key=True),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),  # redirect URI, state, scopes, PKCE challenge; JSON
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float),
    )
    # One consent: the wallet allowed this client these scopes on this resource.
    op.create_table(
        "oauth_grants",
        sa.Column("grant_id", sa.Text, primary_key=True),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("wallet", sa.Text, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float),
    )
    op.create_index("oauth_grants_wallet", "oauth_grants", ["wallet"])
    op.create_table(
        "oauth_codes",
        sa.Column("code_hash", sa.Text, primary_key=True),
        sa.Column("grant_id", sa.Text, nullable=False),  # the grant its exchange creates
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("wallet", sa.Text, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("redirect_explicit", sa.Integer, nullable=False),
        sa.Column("code_challenge", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float),
    )
    op.create_table(
        "oauth_refresh_tokens",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("grant_id", sa.Text, sa.ForeignKey("oauth_grants.grant_id"), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float),  # rotated: a second use revokes the grant
    )
    op.create_index("oauth_refresh_tokens_grant", "oauth_refresh_tokens", ["grant_id"])
