-- Chain integration: the indexer's checkpoint history (reorg detection), the
-- operator's own transactions (so a refund is never sent twice), and the agent
-- key's spending (daily limits).

-- Recent (block, hash) pairs the indexer processed up to; a reorg rewinds to the
-- newest one still on the chain.
CREATE TABLE indexer_checkpoints (
    chain_id        INTEGER NOT NULL,
    block_number    INTEGER NOT NULL,
    block_hash      TEXT NOT NULL,
    created_at      REAL NOT NULL,
    PRIMARY KEY (chain_id, block_number)
);

-- Transactions the operator key sent for a job: one refund and one submission per task.
CREATE TABLE operator_txs (
    task_id         TEXT NOT NULL,
    action          TEXT NOT NULL CHECK (action IN ('refund', 'submit')),
    chain_id        INTEGER NOT NULL,
    tx_hash         TEXT NOT NULL,
    created_at      REAL NOT NULL,
    PRIMARY KEY (task_id, action)
);

-- What the agent key spent, per UTC day and token (amounts in base units, as text).
CREATE TABLE agent_spend (
    spend_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    wallet          TEXT NOT NULL,
    day             TEXT NOT NULL,
    token           TEXT NOT NULL CHECK (token IN ('S', 'USDC')),
    amount          TEXT NOT NULL,
    tx_hash         TEXT,
    created_at      REAL NOT NULL
);
CREATE INDEX agent_spend_day ON agent_spend(wallet, day, token);
CREATE INDEX blockchain_transactions_event ON blockchain_transactions(chain_id, event);
