-- Sales per store and local day, kept up to date so that reports and the dashboard
-- read a row per store and day instead of scanning receipts. Receipts are added by
-- the `roll_up` job, which reads them past a cursor (`rollup_cursors`) in the same
-- transaction that adds them, so a receipt is counted once whatever runs it and
-- however often; returns and cancellations are added by their own transaction, on the
-- day they happen. `day` is the store's local date, YYYY-MM-DD; amounts are in the
-- store currency's minor units.
-- The migration of the same number for the other backend does the same.
CREATE TABLE day_sales (
    day             TEXT NOT NULL,
    store_id        TEXT NOT NULL,
    receipts        INTEGER NOT NULL DEFAULT 0,
    total           INTEGER NOT NULL DEFAULT 0,
    discount        INTEGER NOT NULL DEFAULT 0,
    redeemed        INTEGER NOT NULL DEFAULT 0,
    gift_card       INTEGER NOT NULL DEFAULT 0,
    returns         INTEGER NOT NULL DEFAULT 0,
    cancelled       INTEGER NOT NULL DEFAULT 0,
    cancelled_total INTEGER NOT NULL DEFAULT 0,
    cancelled_discount INTEGER NOT NULL DEFAULT 0,
    cancelled_redeemed INTEGER NOT NULL DEFAULT 0,
    paid_back       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, store_id)
);
CREATE INDEX day_sales_store_idx ON day_sales (store_id, day);

-- How far each source has been added to its aggregate.
CREATE TABLE rollup_cursors (
    source TEXT PRIMARY KEY,
    last   INTEGER NOT NULL
);
INSERT INTO rollup_cursors (source, last) VALUES ('receipts', 0);

-- Returns and cancellations made before this migration: the job adds them on the day
-- of their receipt when it adds the receipt (their own day is not kept).
CREATE TABLE rollup_backlog (
    receipt_ref INTEGER PRIMARY KEY,
    cancelled   INTEGER NOT NULL,
    paid_back   INTEGER NOT NULL
);
INSERT INTO rollup_backlog (receipt_ref, cancelled, paid_back)
    SELECT id, CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END, returned_paid FROM receipts WHERE status = 'cancelled' OR returned_paid <> 0;
