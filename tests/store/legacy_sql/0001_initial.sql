-- Seed tables (users, user_sessions, ai_generations, user_credits,
-- blockchain_transactions, nft_stakes) plus what jobs and the indexer need.

CREATE TABLE users (
    wallet          TEXT PRIMARY KEY,          -- lower-case 0x address
    created_at      REAL NOT NULL,
    last_seen_at    REAL NOT NULL
);

CREATE TABLE user_sessions (
    session_id      TEXT PRIMARY KEY,          -- the JWT id (jti)
    wallet          TEXT NOT NULL REFERENCES users(wallet),
    created_at      REAL NOT NULL,
    expires_at      REAL NOT NULL,
    revoked_at      REAL
);
CREATE INDEX user_sessions_wallet ON user_sessions(wallet);

-- One row per generation job; payment_key makes a payment pay for one job only.
CREATE TABLE ai_generations (
    task_id         TEXT PRIMARY KEY,
    wallet          TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('image', 'video')),
    prompt          TEXT NOT NULL,
    params          TEXT NOT NULL,             -- JSON: width, height, steps, seed, ...
    status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'refunded')),
    payment_method  TEXT NOT NULL CHECK (payment_method IN ('free', 'credits', 'crypto')),
    payment_key     TEXT NOT NULL UNIQUE,
    payment         TEXT NOT NULL,             -- JSON details of the payment
    provider        TEXT,
    model           TEXT,
    content_sha256  TEXT,
    mime_type       TEXT,
    public_url      TEXT,
    attempts        TEXT NOT NULL DEFAULT '[]',
    error           TEXT,
    refund          TEXT,                      -- JSON: how the payment was returned
    run_count       INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_expires_at REAL,
    created_at      REAL NOT NULL,
    started_at      REAL,
    finished_at     REAL,
    chain_request_id INTEGER,                  -- the payment contract's requestId
    submission      TEXT                       -- JSON: the submitGeneration tx, once sent
);
CREATE INDEX ai_generations_wallet ON ai_generations(wallet, created_at);
CREATE INDEX ai_generations_status ON ai_generations(status, created_at);
CREATE INDEX ai_generations_created ON ai_generations(created_at);

CREATE TABLE user_credits (
    wallet          TEXT PRIMARY KEY,
    balance         INTEGER NOT NULL CHECK (balance >= 0),
    updated_at      REAL NOT NULL
);

-- Every credit movement, so a balance can always be explained.
CREATE TABLE credit_ledger (
    entry_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    wallet          TEXT NOT NULL,
    delta           INTEGER NOT NULL,
    reason          TEXT NOT NULL,
    task_id         TEXT,
    created_at      REAL NOT NULL
);
CREATE INDEX credit_ledger_wallet ON credit_ledger(wallet);

CREATE TABLE free_usage (
    wallet          TEXT NOT NULL,
    day             TEXT NOT NULL,             -- UTC date, YYYY-MM-DD
    used            INTEGER NOT NULL CHECK (used >= 0),
    PRIMARY KEY (wallet, day)
);

-- Decoded contract events, stored once per (chain, tx, log index).
CREATE TABLE blockchain_transactions (
    chain_id        INTEGER NOT NULL,
    tx_hash         TEXT NOT NULL,
    log_index       INTEGER NOT NULL,
    block_number    INTEGER NOT NULL,
    block_hash      TEXT NOT NULL,
    contract        TEXT NOT NULL,
    event           TEXT NOT NULL,
    args            TEXT NOT NULL,             -- JSON
    created_at      REAL NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX blockchain_transactions_block ON blockchain_transactions(chain_id, block_number);

CREATE TABLE nft_stakes (
    chain_id        INTEGER NOT NULL,
    token_id        INTEGER NOT NULL,
    wallet          TEXT NOT NULL,
    staked_at       REAL NOT NULL,
    unstaked_at     REAL,
    PRIMARY KEY (chain_id, token_id)
);
CREATE INDEX nft_stakes_wallet ON nft_stakes(wallet);

-- Where the indexer is: the last processed block and its hash, for reorg checks.
CREATE TABLE indexer_cursor (
    chain_id        INTEGER PRIMARY KEY,
    block_number    INTEGER NOT NULL,
    block_hash      TEXT NOT NULL,
    updated_at      REAL NOT NULL
);
