-- The portal's rewards catalogue and the privacy of personal data. The migration of
-- the same number for the other backend does the same.

-- Each exchange of points for a coupon, by the client's operation id (a form sent
-- twice exchanges once).
CREATE TABLE reward_exchanges (
    operation_id  TEXT PRIMARY KEY,
    customer_id   INTEGER NOT NULL REFERENCES customers (id),
    reward        TEXT NOT NULL,
    currency      TEXT NOT NULL,
    cost          INTEGER NOT NULL,
    coupon_code   TEXT NOT NULL,
    at            INTEGER NOT NULL
) STRICT;
CREATE INDEX reward_exchanges_customer_idx ON reward_exchanges (customer_id, reward);
CREATE INDEX reward_exchanges_reward_idx ON reward_exchanges (reward);

-- When a customer's personal data was erased (the ledger keeps their amounts).
ALTER TABLE customers ADD COLUMN erased_at INTEGER;

-- Customers who asked for their personal data to be erased (from the portal): open
-- until staff erase it.
CREATE TABLE erasure_requests (
    customer_id  INTEGER PRIMARY KEY REFERENCES customers (id),
    asked_at     INTEGER NOT NULL,
    erased_at    INTEGER
) STRICT;
CREATE INDEX erasure_requests_open_idx ON erasure_requests (asked_at) WHERE erased_at IS NULL;

-- When a customer last signed in to the portal (the retention job's measure of
-- activity beside purchases).
ALTER TABLE customers ADD COLUMN seen_at INTEGER;

-- Where the retention job's daily pass stands: the next event and customer to look at.
CREATE TABLE retention_pass (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    next_event     INTEGER NOT NULL,
    next_customer  INTEGER NOT NULL,
    started_at     INTEGER,
    finished_at    INTEGER
) STRICT;
INSERT INTO retention_pass (id, next_event, next_customer) VALUES (1, 0, 0);
