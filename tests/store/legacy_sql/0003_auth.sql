-- Sign-In with Ethereum: the nonces handed out by GET /auth/nonce. A nonce is
-- bound to the address it was issued for and consumed at most once.

CREATE TABLE auth_nonces (
    nonce           TEXT PRIMARY KEY,
    wallet          TEXT NOT NULL,             -- lower-case 0x address it was issued for
    created_at      REAL NOT NULL,
    expires_at      REAL NOT NULL,
    used_at         REAL                       -- set once, by the sign-in that consumed it
);
CREATE INDEX auth_nonces_expires ON auth_nonces(expires_at);
