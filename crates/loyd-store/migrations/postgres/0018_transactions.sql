-- The transactions report lists, over a period, the till's operations other than
-- sales (returns, cancellations, gift card activations, visits) and the ledger's
-- manual operations (adjustments, settlements, merges); a receipt's page lists the
-- returns made of it. These indexes find them without reading the tables: the first
-- two grow with the operations they index only, the partial one on transfers only
-- with manual operations (a receipt's transfers are not in it).
-- The migration of the same number for the other backend does the same.
CREATE INDEX pos_operations_time_idx ON pos_operations (recorded_at);
CREATE INDEX pos_operations_receipt_idx ON pos_operations (receipt_ref) WHERE receipt_ref IS NOT NULL;
CREATE INDEX transfers_manual_idx ON transfers (at) WHERE code IN ('adjustment', 'settlement', 'merge');
