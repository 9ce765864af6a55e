-- Foundation: currencies, stores, terminals, the ledger, configuration versions.
-- Every time is an INTEGER of microseconds since the Unix epoch (UTC); every amount an
-- INTEGER of minor units of its currency. STRICT tables make SQLite enforce the types.
-- The PostgreSQL migration of the same number defines the same tables.

-- A currency (ledger asset). `scale` fixes the minor unit and never changes.
CREATE TABLE currencies (
    code        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('points', 'money', 'counter')),
    scale       INTEGER NOT NULL CHECK (scale BETWEEN 0 AND 9),
    name        TEXT,
    rounding    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE stores (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    format      TEXT,
    timezone    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

-- A cash register. Only the SHA-256 of its key is kept; the key is shown once.
CREATE TABLE terminals (
    store_id    TEXT NOT NULL REFERENCES stores (id),
    id          TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    PRIMARY KEY (store_id, id)
) STRICT;

-- Ledger accounts: one per holder and currency. Totals follow TigerBeetle: posted and
-- pending, debits and credits, all non-negative. Unbounded (system) accounts keep zero
-- totals here; their balances are derived from transfers so no hot row serialises
-- every receipt.
CREATE TABLE accounts (
    id               INTEGER PRIMARY KEY,
    holder_kind      TEXT NOT NULL,
    holder_id        TEXT NOT NULL,
    asset            TEXT NOT NULL REFERENCES currencies (code),
    policy           TEXT NOT NULL CHECK (policy IN ('non_negative', 'credit_limit', 'unbounded')),
    credit_limit     INTEGER NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    tracks_lots      INTEGER NOT NULL CHECK (tracks_lots IN (0, 1)),
    debits_posted    INTEGER NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_posted   INTEGER NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    debits_pending   INTEGER NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    credits_pending  INTEGER NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    created_at       INTEGER NOT NULL,
    UNIQUE (holder_kind, holder_id, asset),
    -- The last line of defence behind the domain rule: never below zero.
    CHECK (policy <> 'non_negative' OR debits_posted + debits_pending <= credits_posted)
) STRICT;

-- Transfers: immutable movements. `id` is the client's idempotency key; `seq` the order
-- of recording. The mutable columns are bookkeeping of later transfers: a pending
-- transfer's resolution and the sum reversed so far.
CREATE TABLE transfers (
    seq                INTEGER PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    debit_account_id   INTEGER NOT NULL REFERENCES accounts (id),
    credit_account_id  INTEGER NOT NULL REFERENCES accounts (id),
    asset              TEXT NOT NULL,
    amount             INTEGER NOT NULL CHECK (amount >= 0),
    kind               TEXT NOT NULL CHECK (kind IN ('single', 'pending', 'post', 'void', 'expire')),
    pending_id         TEXT,
    timeout_at         INTEGER,
    pending_state      TEXT CHECK (pending_state IN ('pending', 'posted', 'voided', 'expired')),
    posted_amount      INTEGER,
    lot_available_at   INTEGER,
    lot_expires_at     INTEGER,
    debit_lot          TEXT,
    reverses           TEXT,
    reversed_amount    INTEGER NOT NULL DEFAULT 0 CHECK (reversed_amount >= 0 AND reversed_amount <= amount),
    code               TEXT NOT NULL,
    reference          TEXT,
    at                 INTEGER NOT NULL,
    recorded_at        INTEGER NOT NULL,
    fingerprint        TEXT NOT NULL
) STRICT;
CREATE INDEX transfers_debit_idx ON transfers (debit_account_id, seq);
CREATE INDEX transfers_credit_idx ON transfers (credit_account_id, seq);
-- The expiry job's queue of holds with a timeout.
CREATE INDEX transfers_open_holds_idx ON transfers (timeout_at) WHERE pending_state = 'pending';

-- Lots: value that arrived together with activation and expiry dates. Named by the
-- credit transfer that made them.
CREATE TABLE lots (
    id            TEXT PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    amount        INTEGER NOT NULL CHECK (amount > 0),
    remaining     INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    available_at  INTEGER,
    expires_at    INTEGER,
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX lots_open_idx ON lots (account_id) WHERE remaining > 0;
-- The burn job's queue of lots that will expire.
CREATE INDEX lots_expiring_idx ON lots (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;

-- What each debit took from each lot, so voids and returns restore it exactly.
CREATE TABLE lot_moves (
    transfer_id  TEXT NOT NULL,
    ord          INTEGER NOT NULL,
    lot_id       TEXT NOT NULL REFERENCES lots (id),
    amount       INTEGER NOT NULL CHECK (amount > 0),
    restored     INTEGER NOT NULL DEFAULT 0 CHECK (restored >= 0 AND restored <= amount),
    PRIMARY KEY (transfer_id, ord)
) STRICT;

-- Every applied configuration document, in order. Receipts will record the version
-- they were computed with.
CREATE TABLE config_versions (
    version     INTEGER PRIMARY KEY,
    applied_at  INTEGER NOT NULL,
    source      TEXT NOT NULL,
    hash        TEXT NOT NULL,
    document    TEXT NOT NULL,
    steps       TEXT NOT NULL
) STRICT;
