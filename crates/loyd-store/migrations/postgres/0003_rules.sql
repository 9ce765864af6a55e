-- The rules engine: usage counters for limits, budgets and coupon uses; coupons;
-- gift issuance; what counters and simulation need from receipts.

-- Birth dates for birthday campaigns ('YYYY-MM-DD'); partners for coalitions.
ALTER TABLE customers ADD COLUMN birth_date TEXT;
ALTER TABLE stores ADD COLUMN partner TEXT;

-- The request as received (simulation replays it) and the part of the paid amount
-- (after discounts) that returns have given back (counters subtract it).
ALTER TABLE receipts ADD COLUMN request TEXT NOT NULL DEFAULT '{}';
ALTER TABLE receipts ADD COLUMN returned_paid BIGINT NOT NULL DEFAULT 0;

-- Usage counters: `key` names what is counted (a campaign per customer, a campaign's
-- budget, a coupon code), `period` when ('all', 'd:2026-11-24', 'm:2026-11'). Commits
-- add to them with a guard, so limits hold under concurrency.
CREATE TABLE usage_counters (
    key     TEXT NOT NULL,
    period  TEXT NOT NULL,
    uses    BIGINT NOT NULL DEFAULT 0,
    value   BIGINT NOT NULL DEFAULT 0,
    items   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (key, period)
);

-- Generated coupons (promo codes live in the configuration). `customer_id` for
-- personal coupons.
CREATE TABLE coupons (
    code         TEXT PRIMARY KEY,
    series       TEXT NOT NULL,
    customer_id  BIGINT REFERENCES customers (id),
    valid_until  BIGINT,
    void         BOOLEAN NOT NULL DEFAULT false,
    issued_at    BIGINT NOT NULL,
    receipt_ref  BIGINT
);
CREATE INDEX coupons_customer_idx ON coupons (customer_id);
CREATE INDEX coupons_series_idx ON coupons (series);

-- Non-monetary gifts handed over, for accounting.
CREATE TABLE gift_issues (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    receipt_ref  BIGINT NOT NULL,
    customer_id  BIGINT,
    campaign     TEXT NOT NULL,
    gift         TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX gift_issues_at_idx ON gift_issues (at);
