-- Fraud detection. The detect_fraud job reads receipts, ledger transfers and refused
-- operations past its cursors (from where they stood when this ran: history before it
-- raises nothing) and records an alert per rule, subject and period; a later run
-- that finds more for the same alert raises its figure, never a second alert.
-- The migration of the same number for the other backend does the same.
CREATE TABLE fraud_alerts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- receipts_per_hour, stores_per_day, return_after_accrual, card_guessing,
    -- cards_per_phone, peer_redemptions, peer_manual_entries.
    rule          TEXT NOT NULL,
    -- customer:12, terminal:riga-01/t1 or cashier:riga-01/anna.
    subject       TEXT NOT NULL,
    -- The UTC day it is about (YYYY-MM-DD), the returned receipt, or '' (once).
    period        TEXT NOT NULL,
    severity      TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    -- The last event counted, and when the job found it.
    at            BIGINT NOT NULL,
    found_at      BIGINT NOT NULL,
    store_id      TEXT,
    customer_id   BIGINT,
    card          TEXT,
    -- What was counted, and the limit it passed (a decimal for peers: factor x median).
    figure        BIGINT NOT NULL,
    threshold     TEXT NOT NULL,
    -- JSON: the receipts, returns, refusals or cards it counted.
    evidence      TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'dismissed')),
    note          TEXT,
    decided_by    TEXT,
    decided_at    BIGINT,
    -- The card blocked for it, by the rule (`[fraud] block`) or by whoever decided.
    blocked_card  TEXT,
    UNIQUE (rule, subject, period)
);
CREATE INDEX fraud_alerts_state_idx ON fraud_alerts (state, id);

-- Per UTC day, per terminal and per cashier: receipts, those paid partly with points,
-- and those whose card number was typed by hand. Peers are compared on these.
CREATE TABLE fraud_days (
    day          TEXT NOT NULL,
    actor        TEXT NOT NULL,
    receipts     BIGINT NOT NULL,
    redemptions  BIGINT NOT NULL,
    manual       BIGINT NOT NULL,
    PRIMARY KEY (day, actor)
);

INSERT INTO rollup_cursors (source, last) VALUES
    ('fraud_receipts', COALESCE((SELECT MAX(id) FROM receipts), 0)),
    ('fraud_transfers', COALESCE((SELECT MAX(seq) FROM transfers), 0)),
    ('fraud_failures', COALESCE((SELECT MAX(id) FROM failures), 0));
