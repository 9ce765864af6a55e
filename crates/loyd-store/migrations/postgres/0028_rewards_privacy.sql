-- The portal's rewards catalogue and the privacy of personal data. The migration of
-- the same number for the other backend does the same.

-- Each exchange of points for a coupon, by the client's operation id (a form sent
-- twice exchanges once).
CREATE TABLE reward_exchanges (
    operation_id  TEXT PRIMARY KEY,
    customer_id   BIGINT NOT NULL REFERENCES customers (id),
    reward        TEXT NOT NULL,
    currency      TEXT NOT NULL,
    cost          BIGINT NOT NULL,
    coupon_code   TEXT NOT NULL,
    at            BIGINT NOT NULL
);
CREATE INDEX reward_exchanges_customer_idx ON reward_exchanges (customer_id, reward);
CREATE INDEX reward_exchanges_reward_idx ON reward_exchanges (reward);

-- When a customer's personal data was erased (the ledger keeps their amounts).
ALTER TABLE customers ADD COLUMN erased_at BIGINT;

-- Customers who asked for their personal data to be erased (from the portal): open
-- until staff erase it.
CREATE TABLE erasure_requests (
    customer_id  BIGINT PRIMARY KEY REFERENCES customers (id),
    asked_at     BIGINT NOT NULL,
    erased_at    BIGINT
);
CREATE INDEX erasure_requests_open_idx ON erasure_requests (asked_at) WHERE erased_at IS NULL;

-- When a customer last signed in to the portal (the retention job's measure of
-- activity beside purchases).
ALTER TABLE customers ADD COLUMN seen_at BIGINT;

-- Where the retention job's daily pass stands: the next event and customer to look at.
CREATE TABLE retention_pass (
    id             BIGINT PRIMARY KEY CHECK (id = 1),
    next_event     BIGINT NOT NULL,
    next_customer  BIGINT NOT NULL,
    started_at     BIGINT,
    finished_at    BIGINT
);
INSERT INTO retention_pass (id, next_event, next_customer) VALUES (1, 0, 0);
