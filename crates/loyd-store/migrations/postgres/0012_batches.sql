-- Batches of coupon codes and of cards made with the client's operation id. A retry of
-- the same batch is answered "already made" instead of making a second one: the codes
-- and PINs were shown once, in the first answer, and are kept nowhere in the clear.
-- The migration of the same number for the other backend does the same.
CREATE TABLE batches (
    kind         TEXT NOT NULL,
    op_id        TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    items        BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (kind, op_id)
);
