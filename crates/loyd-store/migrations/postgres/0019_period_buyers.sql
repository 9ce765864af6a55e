-- Buyers per month and per year, kept as purchases are added, so that the KPI's buyers
-- and the regular customers report read a row per period and store instead of every
-- customer's months.
--
-- Each identified customer's purchases per calendar year ('YYYY', the store's local
-- year), in each store and in all stores together (store_id ''), as customer_months
-- keeps them per month.
CREATE TABLE customer_years (
    year         TEXT NOT NULL,
    store_id     TEXT NOT NULL,
    customer_id  BIGINT NOT NULL,
    receipts     BIGINT NOT NULL DEFAULT 0,
    revenue      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (year, store_id, customer_id)
);

-- Per month ('YYYY-MM') or year ('YYYY') and store ('': all stores, a customer counted
-- once): the customers with a purchase, by how many they made (one; two or three; four
-- or more: regular), their purchases, what they paid after discounts and what the
-- regular ones paid, in store minor units. The roll_up job changes a row as it changes
-- a customer's month or year, in the same transaction.
CREATE TABLE period_buyers (
    period           TEXT NOT NULL,
    store_id         TEXT NOT NULL,
    buyers           BIGINT NOT NULL DEFAULT 0,
    once             BIGINT NOT NULL DEFAULT 0,
    repeat           BIGINT NOT NULL DEFAULT 0,
    regular          BIGINT NOT NULL DEFAULT 0,
    receipts         BIGINT NOT NULL DEFAULT 0,
    revenue          BIGINT NOT NULL DEFAULT 0,
    regular_revenue  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (period, store_id)
);

-- What the job has added so far.
INSERT INTO customer_years (year, store_id, customer_id, receipts, revenue)
    SELECT substr(month, 1, 4), store_id, customer_id, SUM(receipts), SUM(revenue)
    FROM customer_months GROUP BY substr(month, 1, 4), store_id, customer_id;

INSERT INTO period_buyers (period, store_id, buyers, once, repeat, regular, receipts, revenue, regular_revenue)
    SELECT month, store_id, COUNT(*),
        SUM(CASE WHEN receipts = 1 THEN 1 ELSE 0 END),
        SUM(CASE WHEN receipts BETWEEN 2 AND 3 THEN 1 ELSE 0 END),
        SUM(CASE WHEN receipts >= 4 THEN 1 ELSE 0 END),
        SUM(receipts), SUM(revenue),
        SUM(CASE WHEN receipts >= 4 THEN revenue ELSE 0 END)
    FROM customer_months WHERE receipts > 0 GROUP BY month, store_id;

INSERT INTO period_buyers (period, store_id, buyers, once, repeat, regular, receipts, revenue, regular_revenue)
    SELECT year, store_id, COUNT(*),
        SUM(CASE WHEN receipts = 1 THEN 1 ELSE 0 END),
        SUM(CASE WHEN receipts BETWEEN 2 AND 3 THEN 1 ELSE 0 END),
        SUM(CASE WHEN receipts >= 4 THEN 1 ELSE 0 END),
        SUM(receipts), SUM(revenue),
        SUM(CASE WHEN receipts >= 4 THEN revenue ELSE 0 END)
    FROM customer_years WHERE receipts > 0 GROUP BY year, store_id;

-- Customers registered per UTC day (days since 1970-01-01), written in the transaction
-- that registers them, so that members at a time are a sum of days and a count of the
-- registrations on that one day before it, not a count of every customer.
CREATE TABLE member_days (
    day     BIGINT PRIMARY KEY,
    joined  BIGINT NOT NULL DEFAULT 0
);
INSERT INTO member_days (day, joined)
    SELECT created_at / 86400000000, COUNT(*) FROM customers GROUP BY created_at / 86400000000;
