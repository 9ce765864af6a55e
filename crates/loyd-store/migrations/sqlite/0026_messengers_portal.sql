-- Messengers and the portal as channels of messages.
-- The migration of the same number for the other backend does the same.

-- The Telegram chat a customer connected to the program's bot: the chat id is sealed
-- with the rest of their personal data (customers.pii); this blind index finds the
-- customer a chat belongs to (one customer per chat).
ALTER TABLE customers ADD COLUMN telegram_index TEXT;
CREATE UNIQUE INDEX customers_telegram_idx ON customers (telegram_index) WHERE telegram_index IS NOT NULL;

-- Notifications kept for a customer's portal: one per delivery of a message on the
-- portal channel (`delivery_key` makes a repeated attempt write nothing twice). The
-- subject and text are personal data, sealed as one JSON value.
CREATE TABLE notifications (
    id            INTEGER PRIMARY KEY,
    customer_id   INTEGER NOT NULL REFERENCES customers (id),
    delivery_key  TEXT NOT NULL UNIQUE,
    content       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    read_at       INTEGER
) STRICT;
CREATE INDEX notifications_customer_idx ON notifications (customer_id, id);

-- The next free moment of each new channel (its rate_per_minute).
INSERT INTO rollup_cursors (source, last) VALUES ('slot:viber', 0), ('slot:whatsapp', 0), ('slot:telegram', 0), ('slot:portal', 0);

-- The tier reviews: reviewed up to (microseconds), and the pass in progress (up to
-- when, after which customer).
INSERT INTO rollup_cursors (source, last) VALUES ('tier_reviews', 0), ('tier_reviews:until', 0), ('tier_reviews:after', 0);
