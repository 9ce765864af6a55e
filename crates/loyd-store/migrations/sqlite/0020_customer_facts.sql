-- Customers' purchase facts move from the customers' rows to a narrow table of their
-- own. The roll_up job adds each receipt to its customer's facts; rewriting the wide
-- customers row (sealed contacts, profile, consents) for that cost the job more than
-- the rest of a batch on PostgreSQL, and left dead copies of those rows behind.
-- A customer without a row here has no purchases and no RFM group. Whoever reads a
-- customer reads the row by its key along with it (the till included).
-- The migration of the same number for the other backend does the same.
CREATE TABLE customer_facts (
    customer_id        INTEGER PRIMARY KEY,
    purchases          INTEGER NOT NULL DEFAULT 0,
    spent              INTEGER NOT NULL DEFAULT 0,
    first_purchase_at  INTEGER,
    last_purchase_at   INTEGER,
    rfm                TEXT,
    rfm_score          TEXT
);
INSERT INTO customer_facts (customer_id, purchases, spent, first_purchase_at, last_purchase_at, rfm, rfm_score)
    SELECT id, purchases, spent, first_purchase_at, last_purchase_at, rfm, rfm_score FROM customers
    WHERE purchases <> 0 OR spent <> 0 OR first_purchase_at IS NOT NULL OR rfm IS NOT NULL;
ALTER TABLE customers DROP COLUMN purchases;
ALTER TABLE customers DROP COLUMN spent;
ALTER TABLE customers DROP COLUMN first_purchase_at;
ALTER TABLE customers DROP COLUMN last_purchase_at;
ALTER TABLE customers DROP COLUMN rfm;
ALTER TABLE customers DROP COLUMN rfm_score;
