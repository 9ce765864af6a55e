-- Hardening (the SQLite migration of the same number does the same).
--
-- 1. A store's offline policy: how many days back its tills may date a receipt
--    (NULL: the default, 30 days). Receipts dated before the store existed or older
--    than this are refused.
ALTER TABLE stores ADD COLUMN offline_days BIGINT CHECK (offline_days IS NULL OR offline_days BETWEEN 1 AND 3660);

-- 2. Secrets in copies of requests. Versions before this one kept a receipt's request
--    with the gift card PINs it carried and the one-time code a customer was named by.
--    Both are removed from the kept copies; the receipt row names its customer by id.
--    The old row versions stay on disk until vacuumed: run VACUUM (FULL) receipts after
--    the upgrade to remove them from the data files too (docs/security.md).
UPDATE receipts
SET request = jsonb_set(request::jsonb, '{gift_cards}',
        (SELECT COALESCE(jsonb_agg(g - 'pin' ORDER BY n), '[]'::jsonb)
         FROM jsonb_array_elements(request::jsonb -> 'gift_cards') WITH ORDINALITY AS e (g, n)))::text
WHERE request LIKE '%"pin"%' AND jsonb_typeof(request::jsonb -> 'gift_cards') = 'array';

UPDATE receipts
SET request = (request::jsonb - 'customer')::text
WHERE request LIKE '%"customer"%' AND (request::jsonb -> 'customer') ?| ARRAY['code', 'phone'];

-- 3. A refusal of a PIN sent with the wrong JSON type was logged with the value
--    echoed ("gift_cards[0].pin: invalid type: integer `1712`"). Such messages are
--    replaced; the refusal itself (code, card, time) stays.
UPDATE failures
SET message = 'the request body did not match the expected shape (message removed on upgrade: it echoed a PIN)'
WHERE message LIKE '%pin:%invalid%' OR message LIKE '%pin: invalid%';
