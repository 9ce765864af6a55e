-- The till's reads that grow with a customer's history are answered from the index
-- alone (covering indexes), not from one table page per row: the receipts of the
-- counters' periods, and the open lots of an account.
-- The PostgreSQL migration of the same number defines the same indexes.
DROP INDEX receipts_customer_idx;
CREATE INDEX receipts_customer_idx ON receipts (customer_id, at, status, total, discount, returned_paid);
DROP INDEX lots_open_idx;
CREATE INDEX lots_open_idx ON lots (account_id, id, amount, remaining, available_at, expires_at, created_at)
    WHERE remaining > 0;
