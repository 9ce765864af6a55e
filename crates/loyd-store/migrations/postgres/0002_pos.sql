-- POS processing: customers, cards, receipts, idempotent POS operations, the failure
-- log, API keys. Times are microseconds since the epoch, amounts minor units.

-- The money currency of each store's receipts.
ALTER TABLE stores ADD COLUMN currency TEXT NOT NULL DEFAULT 'EUR';

-- Customers. The CRM extends this table; lookups by phone use the unique index.
CREATE TABLE customers (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone       TEXT UNIQUE,
    name        TEXT,
    created_at  BIGINT NOT NULL
);

-- Cards of every kind. `account_id` is the card's own account (gift value, pass
-- visits); loyalty and credit cards use their customer's accounts.
CREATE TABLE cards (
    number        TEXT PRIMARY KEY,
    series        TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('loyalty', 'gift', 'pass', 'credit')),
    state         TEXT NOT NULL CHECK (state IN ('issued', 'active', 'blocked', 'expired')),
    customer_id   BIGINT REFERENCES customers (id),
    account_id    BIGINT REFERENCES accounts (id),
    -- HMAC-SHA256 of number and PIN under the server's secret key: useless without it.
    pin_hash      TEXT,
    pin_failures  BIGINT NOT NULL DEFAULT 0,
    locked_until  BIGINT,
    valid_until   BIGINT,
    single_use    BOOLEAN NOT NULL DEFAULT false,
    issued_at     BIGINT NOT NULL,
    activated_at  BIGINT
);
CREATE INDEX cards_customer_idx ON cards (customer_id);
CREATE INDEX cards_series_idx ON cards (series);

-- One-time identification codes shown in the customer's portal; stored hashed.
CREATE TABLE one_time_codes (
    code_hash    TEXT PRIMARY KEY,
    customer_id  BIGINT NOT NULL REFERENCES customers (id),
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);

-- Committed receipts. The unique key is the POS's idempotency key; `request_hash` and
-- `response` make a retry return the original answer; `effects` lists every transfer
-- and per-line share so returns can reverse them; `returned` is the cumulative
-- quantity returned per line.
CREATE TABLE receipts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id        TEXT NOT NULL,
    terminal_id     TEXT NOT NULL,
    receipt_id      TEXT NOT NULL,
    customer_id     BIGINT,
    at              BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('committed', 'cancelled')),
    config_version  BIGINT NOT NULL,
    total           BIGINT NOT NULL,
    discount        BIGINT NOT NULL,
    redeemed_value  BIGINT NOT NULL,
    gift_card_value BIGINT NOT NULL,
    offline         BOOLEAN NOT NULL DEFAULT false,
    request_hash    TEXT NOT NULL,
    response        TEXT NOT NULL,
    effects         TEXT NOT NULL,
    returned        TEXT NOT NULL,
    recorded_at     BIGINT NOT NULL,
    UNIQUE (store_id, terminal_id, receipt_id)
);
CREATE INDEX receipts_customer_idx ON receipts (customer_id, at);
CREATE INDEX receipts_store_idx ON receipts (store_id, at);
CREATE INDEX receipts_lookup_idx ON receipts (store_id, receipt_id);

-- Other idempotent POS operations: returns, cancellations, gift card activations,
-- visits. A retry with the same id and body gets the stored response.
CREATE TABLE pos_operations (
    store_id      TEXT NOT NULL,
    terminal_id   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    op_id         TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        BIGINT NOT NULL,
    response      TEXT NOT NULL,
    receipt_ref   BIGINT,
    recorded_at   BIGINT NOT NULL,
    PRIMARY KEY (store_id, terminal_id, kind, op_id)
);

-- Every refused operation and why: the failure log.
CREATE TABLE failures (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           BIGINT NOT NULL,
    store_id     TEXT,
    terminal_id  TEXT,
    operation    TEXT NOT NULL,
    code         TEXT NOT NULL,
    message      TEXT NOT NULL,
    card         TEXT,
    client_id    TEXT
);
CREATE INDEX failures_at_idx ON failures (at);
CREATE INDEX failures_terminal_idx ON failures (terminal_id, code, at);
CREATE INDEX failures_card_idx ON failures (card, at);

-- API keys for the admin API and integrations; only their SHA-256 is kept.
CREATE TABLE api_keys (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    key_hash    TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
