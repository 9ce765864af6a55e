-- Hardening (the PostgreSQL migration of the same number does the same).
--
-- 1. A store's offline policy: how many days back its tills may date a receipt
--    (NULL: the default, 30 days). Receipts dated before the store existed or older
--    than this are refused.
ALTER TABLE stores ADD COLUMN offline_days INTEGER CHECK (offline_days IS NULL OR offline_days BETWEEN 1 AND 3660);

-- 2. Secrets in copies of requests. Versions before this one kept a receipt's request
--    with the gift card PINs it carried and the one-time code a customer was named by.
--    Both are removed from the kept copies; the receipt row names its customer by id.
--    (`secure_delete` zeroes the replaced bytes in the database file.)
UPDATE receipts
SET request = json_set(request, '$.gift_cards',
        (SELECT json_group_array(json_remove(g.value, '$.pin')) FROM json_each(receipts.request, '$.gift_cards') AS g))
WHERE request LIKE '%"pin"%' AND json_valid(request) AND json_type(request, '$.gift_cards') = 'array';

UPDATE receipts
SET request = json_remove(request, '$.customer')
WHERE request LIKE '%"customer"%' AND json_valid(request)
  AND (json_extract(request, '$.customer.code') IS NOT NULL OR json_extract(request, '$.customer.phone') IS NOT NULL);

-- 3. A refusal of a PIN sent with the wrong JSON type was logged with the value
--    echoed ("gift_cards[0].pin: invalid type: integer `1712`"). Such messages are
--    replaced; the refusal itself (code, card, time) stays.
UPDATE failures
SET message = 'the request body did not match the expected shape (message removed on upgrade: it echoed a PIN)'
WHERE message LIKE '%pin:%invalid%' OR message LIKE '%pin: invalid%';
