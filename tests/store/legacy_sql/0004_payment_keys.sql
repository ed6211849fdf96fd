-- Crypto payments are keyed by transaction, not by log index: a transaction re-mined in
-- another block after a reorg keeps its hash but not its log index. The key is
-- 'crypto:{chain_id}:{tx_hash}' for a transaction's first GenerationRequested event and
-- 'crypto:{chain_id}:{tx_hash}#{n}' for its n-th further one (a contract wallet may pay
-- twice in one transaction).

-- The payment key of each indexed GenerationRequested event, set by the indexer.
ALTER TABLE blockchain_transactions ADD COLUMN payment_key TEXT;

UPDATE blockchain_transactions AS e SET payment_key = k.key
FROM (
    SELECT chain_id, tx_hash, log_index,
           'crypto:' || chain_id || ':' || tx_hash ||
           CASE WHEN n = 0 THEN '' ELSE '#' || n END AS key
    FROM (SELECT chain_id, tx_hash, log_index,
                 ROW_NUMBER() OVER (PARTITION BY chain_id, tx_hash ORDER BY log_index) - 1 AS n
          FROM blockchain_transactions WHERE event = 'GenerationRequested')
) AS k
WHERE e.chain_id = k.chain_id AND e.tx_hash = k.tx_hash AND e.log_index = k.log_index;

CREATE INDEX blockchain_transactions_payment ON blockchain_transactions(payment_key);

-- Re-key existing crypto jobs. Two jobs of one transaction (the old key made a second one
-- when a reorg moved the payment) keep apart: the older takes the plain key.
UPDATE ai_generations AS g SET payment_key = k.key
FROM (
    SELECT task_id,
           'crypto:' || json_extract(payment, '$.chain_id') || ':' || lower(json_extract(payment, '$.tx_hash')) ||
           CASE WHEN n = 0 THEN '' ELSE '#' || n END AS key
    FROM (SELECT task_id, payment,
                 ROW_NUMBER() OVER (PARTITION BY json_extract(payment, '$.chain_id'),
                                    lower(json_extract(payment, '$.tx_hash'))
                                    ORDER BY created_at, json_extract(payment, '$.log_index')) - 1 AS n
          FROM ai_generations
          WHERE payment_method = 'crypto' AND json_extract(payment, '$.tx_hash') IS NOT NULL
            AND payment_key NOT LIKE '%:stale:%')
) AS k
WHERE g.task_id = k.task_id;

-- A job whose payment left the chain in a reorg (and was not mined again): its contest
-- submission and refund are held and it is listed for review.
ALTER TABLE ai_generations ADD COLUMN payment_orphaned_at REAL;

-- Operator transactions: claimed in the database before anything is signed, recorded
-- (hash, nonce, signed bytes) before broadcasting, replaced only with the same nonce.
CREATE TABLE operator_txs_v2 (
    task_id         TEXT NOT NULL,
    action          TEXT NOT NULL CHECK (action IN ('refund', 'submit')),
    chain_id        INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('claimed', 'sent', 'mined')),
    owner           TEXT,
    nonce           INTEGER,
    tx_hash         TEXT,
    raw_tx          TEXT,
    hashes          TEXT NOT NULL DEFAULT '[]',
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    PRIMARY KEY (task_id, action)
);

INSERT INTO operator_txs_v2 (task_id, action, chain_id, status, owner, nonce, tx_hash, raw_tx, hashes, created_at,
                             updated_at)
SELECT task_id, action, chain_id, 'sent', NULL, NULL, tx_hash, NULL, json_array(tx_hash), created_at, created_at
FROM operator_txs;

DROP TABLE operator_txs;

ALTER TABLE operator_txs_v2 RENAME TO operator_txs;
