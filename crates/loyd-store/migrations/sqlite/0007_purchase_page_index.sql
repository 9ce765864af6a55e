-- A customer's purchase history page (newest first, 20 at a time) is answered from the
-- index alone, as the counters' sums already are. `id` is a key column so the order
-- (at, id) needs no sort. The PostgreSQL migration of the same number defines the same index.
DROP INDEX receipts_customer_idx;
CREATE INDEX receipts_customer_idx ON receipts (customer_id, at, id, status, total, discount, returned_paid,
    redeemed_value, store_id, terminal_id, receipt_id);
