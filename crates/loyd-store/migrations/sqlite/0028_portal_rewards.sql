-- The portal's rewards catalogue: each exchange of points for a coupon, by the
-- client's operation id (a form sent twice exchanges once). The migration of the
-- same number for the other backend does the same.
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
