-- The till's reads that grow with a customer's history are answered from the index
-- alone (index-only scans), not from one heap page per row: the receipts of the
-- counters' periods, and the open lots of an account. With ten million receipts of
-- history a customer has dozens of each, scattered over the tables.
-- The SQLite migration of the same number defines the same indexes.
DROP INDEX receipts_customer_idx;
CREATE INDEX receipts_customer_idx ON receipts (customer_id, at) INCLUDE (status, total, discount, returned_paid);
DROP INDEX lots_open_idx;
CREATE INDEX lots_open_idx ON lots (account_id) INCLUDE (id, amount, remaining, available_at, expires_at, created_at)
    WHERE remaining > 0;
