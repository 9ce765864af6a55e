-- Hardening (the PostgreSQL migration of the same number does the same).
--
-- 1. A store's offline policy: how many days back its tills may date a receipt
--    (NULL: the default, 30 days). Receipts dated before the store existed or older
--    than this are refused.
ALTER TABLE stores ADD COLUMN offline_days INTEGER CHECK (offline_days IS NULL OR offline_days BETWEEN 1 AND 3660);

-- 2. Secrets in copies of requests. Versions before this one kept a receipt's request
--    with the gift card PINs it carried and the one-time code a customer was named by.
--    Both are removed from the kept copies; the receipt row names its customer by id.
--    A receipt has at most 10 gift cards, so the paths are spelled out. The migration
--    runs with `secure_delete = ON` (set by the server), which zeroes the replaced
--    bytes, overflow pages included; the server checkpoints the log afterwards.
UPDATE receipts
SET request = json_remove(request,
        '$.gift_cards[0].pin', '$.gift_cards[1].pin', '$.gift_cards[2].pin', '$.gift_cards[3].pin', '$.gift_cards[4].pin',
        '$.gift_cards[5].pin', '$.gift_cards[6].pin', '$.gift_cards[7].pin', '$.gift_cards[8].pin', '$.gift_cards[9].pin')
WHERE request LIKE '%"pin"%' AND json_valid(request);

UPDATE receipts
SET request = json_remove(request, '$.customer')
WHERE request LIKE '%"customer"%' AND json_valid(request)
  AND (json_extract(request, '$.customer.code') IS NOT NULL OR json_extract(request, '$.customer.phone') IS NOT NULL);

-- 3. Refusals of a value of the wrong JSON type were logged with the value echoed
--    ("gift_cards[0].pin: invalid type: integer `1712`", "customer.code: invalid type:
--    integer `483920`"); the value may have been a PIN or a code. Such messages are
--    replaced; the refusal itself (code, card, time) stays.
UPDATE failures
SET message = 'the request body did not match the expected shape (message removed on upgrade: it echoed a value)'
WHERE message LIKE '%invalid type:%' OR message LIKE '%invalid value:%' OR message LIKE '%unknown variant%';
