-- The rules engine: usage counters for limits, budgets and coupon uses; coupons;
-- gift issuance; what counters and simulation need from receipts.

-- Birth dates for birthday campaigns ('YYYY-MM-DD'); partners for coalitions.
ALTER TABLE customers ADD COLUMN birth_date TEXT;
ALTER TABLE stores ADD COLUMN partner TEXT;

-- The request as received (simulation replays it) and the part of the paid amount
-- (after discounts) that returns have given back (counters subtract it).
ALTER TABLE receipts ADD COLUMN request TEXT NOT NULL DEFAULT '{}';
ALTER TABLE receipts ADD COLUMN returned_paid INTEGER NOT NULL DEFAULT 0;

-- Usage counters: `key` names what is counted (a campaign per customer, a campaign's
-- budget, a coupon code), `period` when ('all', 'd:2026-11-24', 'm:2026-11'). Commits
-- add to them with a guard, so limits hold under concurrency.
CREATE TABLE usage_counters (
    key     TEXT NOT NULL,
    period  TEXT NOT NULL,
    uses    INTEGER NOT NULL DEFAULT 0,
    value   INTEGER NOT NULL DEFAULT 0,
    items   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, period)
) STRICT;

-- Generated coupons (promo codes live in the configuration). `customer_id` for
-- personal coupons.
CREATE TABLE coupons (
    code         TEXT PRIMARY KEY,
    series       TEXT NOT NULL,
    customer_id  INTEGER REFERENCES customers (id),
    valid_until  INTEGER,
    void         INTEGER NOT NULL DEFAULT 0 CHECK (void IN (0, 1)),
    issued_at    INTEGER NOT NULL,
    receipt_ref  INTEGER
) STRICT;
CREATE INDEX coupons_customer_idx ON coupons (customer_id);
CREATE INDEX coupons_series_idx ON coupons (series);

-- Non-monetary gifts handed over, for accounting.
CREATE TABLE gift_issues (
    id           INTEGER PRIMARY KEY,
    receipt_ref  INTEGER NOT NULL,
    customer_id  INTEGER,
    campaign     TEXT NOT NULL,
    gift         TEXT NOT NULL,
    at           INTEGER NOT NULL
) STRICT;
CREATE INDEX gift_issues_at_idx ON gift_issues (at);
