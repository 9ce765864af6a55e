-- The PostgreSQL migration of the same number makes receipts' JSON columns compress
-- with lz4; SQLite does not compress, so there is nothing to do here.
SELECT 1;
