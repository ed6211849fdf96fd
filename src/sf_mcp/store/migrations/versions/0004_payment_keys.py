"""Crypto payments keyed by transaction; reorged payments held; operator transactions claimed before signing.

A payment's key is 'crypto:{chain_id}:{tx_hash}' for a transaction's first GenerationRequested event and
'crypto:{chain_id}:{tx_hash}#{n}' for its n-th further one (a contract wallet may pay twice in one
transaction): a transaction re-mined in another block after a reorg keeps its hash but not its log index.
Operator transactions are claimed in the database before anything is signed, recorded (hash, nonce,
signed bytes) before broadcasting, and replaced only with the same nonce.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _json(column: str, key: str) -> str:
    if op.get_bind().dialect.name == "postgresql":
        return f"({column}::jsonb ->> '{key}')"
    return f"json_extract({column}, '$.{key}')"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # The payment key of each indexed GenerationRequested event, set by the indexer.
    op.add_column("blockchain_transactions", sa.Column("payment_key", sa.Text))
    op.execute(
        "UPDATE blockchain_transactions AS e SET payment_key = k.key FROM ("
        " SELECT chain_id, tx_hash, log_index, 'crypto:' || chain_id || ':' || tx_hash ||"
        "        CASE WHEN n = 0 THEN '' ELSE '#' || n END AS key"
        " FROM (SELECT chain_id, tx_hash, log_index,"
        "              ROW_NUMBER() OVER (PARTITION BY chain_id, tx_hash ORDER BY log_index) - 1 AS n"
        "       FROM blockchain_transactions WHERE event = 'GenerationRequested') AS numbered"
        ") AS k WHERE e.chain_id = k.chain_id AND e.tx_hash = k.tx_hash AND e.log_index = k.log_index"
    )
    op.create_index("blockchain_transactions_payment", "blockchain_transactions", ["payment_key"])
    # Re-key existing crypto jobs. Two jobs of one transaction (the old key made a second one when a reorg
    # moved the payment) keep apart: the older takes the plain key.
    chain_id, tx_hash, log_index = _json("payment", "chain_id"), _json("payment", "tx_hash"), _json("payment", "log_index")
    op.execute(
        "UPDATE ai_generations AS g SET payment_key = k.key FROM ("
        f" SELECT task_id, 'crypto:' || {chain_id} || ':' || lower({tx_hash}) ||"
        "        CASE WHEN n = 0 THEN '' ELSE '#' || n END AS key"
        " FROM (SELECT task_id, payment,"
        f"             ROW_NUMBER() OVER (PARTITION BY {chain_id}, lower({tx_hash})"
        f"                                ORDER BY created_at, {log_index}) - 1 AS n"
        "       FROM ai_generations"
        f"      WHERE payment_method = 'crypto' AND {tx_hash} IS NOT NULL"
        "         AND payment_key NOT LIKE '%:stale:%') AS numbered"
        ") AS k WHERE g.task_id = k.task_id"
    )
    # A job whose payment left the chain in a reorg (and was not mined again): its contest submission and
    # refund are held and it is listed for review.
    op.add_column("ai_generations", sa.Column("payment_orphaned_at", sa.Float))
    op.create_table(
        "operator_txs_v2",
        sa.Column("task_id", sa.Text, primary_key=True),
        sa.Column("action", sa.Text, primary_key=True),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("owner", sa.Text),
        sa.Column("nonce", sa.BigInteger),
        sa.Column("tx_hash", sa.Text),
        sa.Column("raw_tx", sa.Text),
        sa.Column("hashes", sa.Text, nullable=False, server_default="[]"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.CheckConstraint("action IN ('refund', 'submit')", name="operator_txs_v2_action"),
        sa.CheckConstraint("status IN ('claimed', 'sent', 'mined')", name="operator_txs_v2_status"),
    )
    one_hash = "json_build_array(tx_hash)::text" if postgres else "json_array(tx_hash)"
    op.execute(
        "INSERT INTO operator_txs_v2 (task_id, action, chain_id, status, owner, nonce, tx_hash, raw_tx, hashes, "
        f"created_at, updated_at) SELECT task_id, action, chain_id, 'sent', NULL, NULL, tx_hash, NULL, {one_hash}, "
        "created_at, created_at FROM operator_txs"
    )
    op.drop_table("operator_txs")
    op.rename_table("operator_txs_v2", "operator_txs")
