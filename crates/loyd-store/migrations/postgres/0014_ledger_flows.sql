-- Aggregates of the ledger and of campaigns, kept like day_sales (0013) by the
-- roll_up job so reports read a row per day instead of scanning history.
-- The migration of the same number for the other backend does the same.

-- The store where a transfer happened, for those a store's operation makes (receipts,
-- returns, gift card sales, pass visits). Transfers made before this migration, and
-- those no store makes (adjustments, expiry, conversions by the job), have none.
ALTER TABLE transfers ADD COLUMN store_id TEXT;

-- What moved into (credited) and out of (debited) the accounts of customers, cards and
-- organisations, per local day, store ('' for none), currency, transfer code, kind of
-- holder and, for cards, their series ('' otherwise); in the currency's minor units.
-- Summed over all days, credited - debited is what the holders of that kind hold.
CREATE TABLE day_flows (
    day          TEXT NOT NULL,
    store_id     TEXT NOT NULL,
    asset        TEXT NOT NULL,
    code         TEXT NOT NULL,
    holder_kind  TEXT NOT NULL,
    series       TEXT NOT NULL,
    credited     BIGINT NOT NULL DEFAULT 0,
    debited      BIGINT NOT NULL DEFAULT 0,
    transfers    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, store_id, asset, code, holder_kind, series)
);
CREATE INDEX day_flows_asset_idx ON day_flows (asset, holder_kind, day);

-- What each campaign gave at the receipts of a store on a local day, per currency:
-- discounts in the store currency, accruals in theirs; the receipts it touched and
-- what they totalled; gifts and coupons it handed out. Cancellations subtract.
CREATE TABLE day_campaigns (
    day          TEXT NOT NULL,
    store_id     TEXT NOT NULL,
    campaign     TEXT NOT NULL,
    currency     TEXT NOT NULL,
    receipts     BIGINT NOT NULL DEFAULT 0,
    revenue      BIGINT NOT NULL DEFAULT 0,
    discount     BIGINT NOT NULL DEFAULT 0,
    accrued      BIGINT NOT NULL DEFAULT 0,
    gifts        BIGINT NOT NULL DEFAULT 0,
    coupons      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, store_id, campaign, currency)
);
CREATE INDEX day_campaigns_campaign_idx ON day_campaigns (campaign, day);

-- Lines of the receipts per store and day (items per receipt), added with what the
-- campaigns gave; a cancellation takes them off on its day.
ALTER TABLE day_sales ADD COLUMN lines BIGINT NOT NULL DEFAULT 0;

-- Each identified customer's purchases per month (YYYY-MM, the store's local month):
-- in each store, and in all stores together (store_id ''). Buyers per month, purchase
-- frequency and the customer's history come from here. A cancellation takes the
-- purchase off the receipt's own month.
CREATE TABLE customer_months (
    month        TEXT NOT NULL,
    store_id     TEXT NOT NULL,
    customer_id  BIGINT NOT NULL,
    receipts     BIGINT NOT NULL DEFAULT 0,
    revenue      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (month, store_id, customer_id)
);
CREATE INDEX customer_months_customer_idx ON customer_months (customer_id, month);

-- Members joined per period.
CREATE INDEX customers_created_idx ON customers (created_at);

-- Receipts are added to day_campaigns, day_sales.lines and customer_months from the start, past a cursor of their own; those
-- cancelled before this migration are skipped (their cancellation subtracted nothing).
INSERT INTO rollup_cursors (source, last) VALUES ('transfers', 0), ('campaigns', 0);
CREATE TABLE rollup_cancelled_before (
    receipt_ref BIGINT PRIMARY KEY
);
INSERT INTO rollup_cancelled_before (receipt_ref) SELECT id FROM receipts WHERE status = 'cancelled';
