-- A receipt keeps its response, effects and request (for replays, returns and audits):
-- about 4 KB of JSON, which PostgreSQL compresses on every commit. lz4 compresses
-- several times faster than the default pglz (pglz took 2.3 % of the machine's CPU under
-- commit load). Servers built without lz4, and PostgreSQL 13 (no per-column compression;
-- the statement is a string so 13 does not parse it), keep pglz. Only new rows change.
-- The SQLite migration of the same number does nothing (SQLite does not compress).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        EXECUTE 'ALTER TABLE receipts ALTER COLUMN response SET COMPRESSION lz4, '
                'ALTER COLUMN effects SET COMPRESSION lz4, ALTER COLUMN request SET COMPRESSION lz4';
    END IF;
END
$$;
