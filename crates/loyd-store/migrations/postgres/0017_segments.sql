-- Segments. What the aggregates know of each customer's purchases lives on the
-- customer's row, so that a till reads it with the customer at no extra cost: the
-- roll_up job's contents pass adds each receipt to its customer (purchases, spent in
-- store minor units, first and last purchase), a cancellation takes its purchase off
-- in its own transaction; the segments job scores recency, frequency and money and
-- writes the RFM group.
-- The migration of the same number for the other backend does the same.
ALTER TABLE customers ADD COLUMN purchases BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN spent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN first_purchase_at BIGINT;
ALTER TABLE customers ADD COLUMN last_purchase_at BIGINT;
-- The RFM group (champions, loyal, ... lost) and the scores, e.g. '545'.
ALTER TABLE customers ADD COLUMN rfm TEXT;
ALTER TABLE customers ADD COLUMN rfm_score TEXT;

-- The purchases added so far: those of customer_months, the times from the receipts
-- the job has passed.
UPDATE customers SET
    purchases = COALESCE((SELECT SUM(m.receipts) FROM customer_months m WHERE m.customer_id = customers.id AND m.store_id = ''), 0),
    spent = COALESCE((SELECT SUM(m.revenue) FROM customer_months m WHERE m.customer_id = customers.id AND m.store_id = ''), 0),
    first_purchase_at = (SELECT MIN(r.at) FROM receipts r WHERE r.customer_id = customers.id
        AND r.id <= (SELECT last FROM rollup_cursors WHERE source = 'campaigns')),
    last_purchase_at = (SELECT MAX(r.at) FROM receipts r WHERE r.customer_id = customers.id
        AND r.id <= (SELECT last FROM rollup_cursors WHERE source = 'campaigns'));

-- Who is in each segment, as the segments job last found: the program's segments a
-- job can evaluate, and the RFM groups as 'rfm:<group>'. `since`: when the job first
-- found them there (microseconds).
CREATE TABLE segment_members (
    segment      TEXT NOT NULL,
    customer_id  BIGINT NOT NULL,
    since        BIGINT NOT NULL,
    PRIMARY KEY (segment, customer_id)
);
CREATE INDEX segment_members_customer_idx ON segment_members (customer_id);

-- Each segment's members at the end of each pass of the job, per day (the last pass
-- of a day counts), and how many joined and left during that day's passes.
CREATE TABLE segment_history (
    day       TEXT NOT NULL,
    segment   TEXT NOT NULL,
    members   BIGINT NOT NULL DEFAULT 0,
    joined    BIGINT NOT NULL DEFAULT 0,
    departed  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, segment)
);

-- The segments job's pass over customers: one row. `next_customer`: the pass goes on
-- after this customer id (0: no pass under way); `bounds`: the RFM quintiles the pass
-- scores by (JSON); `version`: the program version it evaluates.
CREATE TABLE segment_pass (
    id             BIGINT PRIMARY KEY,
    next_customer  BIGINT NOT NULL DEFAULT 0,
    started_at     BIGINT,
    finished_at    BIGINT,
    version        BIGINT,
    bounds         TEXT
);
INSERT INTO segment_pass (id) VALUES (1);
