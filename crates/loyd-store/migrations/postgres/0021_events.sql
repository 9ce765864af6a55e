-- Events and their deliveries: the outbox. What happens (a customer registered, a
-- test event staff asked for) is one row of `events`, written in the transaction of
-- its cause; the dispatcher turns each event into a delivery per webhook and per
-- message the program in force subscribes to it, and the worker sends each delivery
-- until it is answered, retrying with backoff, or gives up.
-- The migration of the same number for the other backend does the same.
CREATE TABLE events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- customer.registered, webhook.test, ...
    kind        TEXT NOT NULL,
    -- What it is about: customer:12, webhook:crm.
    subject     TEXT NOT NULL,
    -- Its data as JSON, sealed (personal data): what a webhook receives as `data`.
    payload     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    -- 0 until the dispatcher has made its deliveries; only a webhook.test event names
    -- the one webhook it is for.
    dispatched  SMALLINT NOT NULL DEFAULT 0,
    target      TEXT
);
CREATE INDEX events_undispatched_idx ON events (id) WHERE dispatched = 0;

-- One event to one receiver. `key` (event id and receiver) is the idempotency key
-- the receiver gets with every attempt (an e-mail's Message-ID). `state`: pending (to
-- send at `next_at`), delivered, dead (given up after the attempts), or withheld (the
-- customer's consent, opt-out or address forbade it when it was due: never sent);
-- `claimed_until`: a worker sends it until then, another may take it after.
CREATE TABLE deliveries (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       BIGINT NOT NULL REFERENCES events (id),
    -- webhook or email
    channel        TEXT NOT NULL,
    -- The webhook's or the message's id.
    target         TEXT NOT NULL,
    key            TEXT NOT NULL UNIQUE,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead', 'withheld')),
    attempts       BIGINT NOT NULL DEFAULT 0,
    next_at        BIGINT NOT NULL,
    claimed_until  BIGINT,
    -- The last attempt: when, the receiver's HTTP status (none when it did not answer),
    -- and what went wrong.
    last_at        BIGINT,
    last_status    BIGINT,
    last_error     TEXT,
    created_at     BIGINT NOT NULL,
    delivered_at   BIGINT
);
CREATE INDEX deliveries_due_idx ON deliveries (next_at) WHERE state = 'pending';
CREATE INDEX deliveries_target_idx ON deliveries (target, id);

-- Secrets of the channels (a webhook's signing secret, the SMTP password), sealed; set through the
-- admin API or the console, never part of the program file, never read back.
CREATE TABLE channel_secrets (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    secret      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
