-- Mailings: one message to many customers (a segment, an RFM group, everyone, or a
-- list), scheduled, tried as an A/B split on part of the audience before the winner
-- goes to the rest. A mailing is enqueued a batch at a time (`after_customer`: the last
-- customer id enqueued in the current `phase`), so a restart goes on where it stopped
-- and memory does not grow with the audience; each recipient becomes an event and a
-- delivery of the outbox, keyed by mailing and customer, so none is enqueued twice.
-- The migration of the same number for the other backend does the same.
CREATE TABLE mailings (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    -- all, segment:<id>, rfm:<group> or list (the mailing_list rows)
    audience        TEXT NOT NULL,
    -- The variants, their texts and the sending rules as JSON (no personal data).
    spec            TEXT NOT NULL,
    -- scheduled, enqueuing, testing, sending, sent, cancelled
    state           TEXT NOT NULL,
    send_at         BIGINT NOT NULL,
    -- 1: the test share (or everyone, without a test) is being enqueued; 2: the rest,
    -- with the winner.
    phase           BIGINT NOT NULL DEFAULT 1,
    after_customer  BIGINT NOT NULL DEFAULT 0,
    winner          TEXT,
    enqueued        BIGINT NOT NULL DEFAULT 0,
    -- Audience members left out when enqueued: merged, opted out, no consent.
    skipped         BIGINT NOT NULL DEFAULT 0,
    started_at      BIGINT,
    enqueued_at     BIGINT,
    decided_at      BIGINT,
    finished_at     BIGINT,
    operation_id    TEXT UNIQUE,
    request_hash    TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX mailings_due_idx ON mailings (send_at) WHERE state IN ('scheduled', 'enqueuing', 'testing', 'sending');

-- The customers of a mailing to an uploaded list.
CREATE TABLE mailing_list (
    mailing_id   BIGINT NOT NULL,
    customer_id  BIGINT NOT NULL,
    PRIMARY KEY (mailing_id, customer_id)
);

-- A delivery of a mailing: which, which variant, to whom, and what the customer did
-- with it (opened, clicked a link, unsubscribed through it).
ALTER TABLE deliveries ADD COLUMN mailing_id BIGINT;
ALTER TABLE deliveries ADD COLUMN variant TEXT;
ALTER TABLE deliveries ADD COLUMN customer_id BIGINT;
ALTER TABLE deliveries ADD COLUMN opened_at BIGINT;
ALTER TABLE deliveries ADD COLUMN clicked_at BIGINT;
ALTER TABLE deliveries ADD COLUMN unsubscribed_at BIGINT;
CREATE INDEX deliveries_mailing_idx ON deliveries (mailing_id, variant) WHERE mailing_id IS NOT NULL;
-- A customer's latest mailing, which an unsubscribe is counted against.
CREATE INDEX deliveries_customer_idx ON deliveries (customer_id, id) WHERE customer_id IS NOT NULL;

-- Throttling: the next free moment of each channel (microseconds); a mailing's
-- deliveries are due one per slot at the channel's `rate_per_minute`.
INSERT INTO rollup_cursors (source, last) VALUES ('slot:email', 0), ('slot:sms', 0);
