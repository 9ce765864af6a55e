-- Hardening (the SQLite migration of the same number does the same).
--
-- 1. A store's offline policy: how many days back its tills may date a receipt
--    (NULL: the default, 30 days). Receipts dated before the store existed or older
--    than this are refused.
ALTER TABLE stores ADD COLUMN offline_days BIGINT CHECK (offline_days IS NULL OR offline_days BETWEEN 1 AND 3660);

-- 2. Secrets in copies of requests. Versions before this one kept a receipt's request
--    with the gift card PINs it carried and the one-time code a customer was named by.
--    Both are removed from the kept copies; the receipt row names its customer by id.
--    The copies were written by serde_json (compact, fields in a fixed order: a gift
--    card's `pin` between `number` and `amount`, `customer` before `lines`), so the text
--    is edited in place; a cast to jsonb would refuse copies holding `\u0000`, which
--    earlier versions accepted in `payments`. The old row versions stay on disk until
--    vacuumed: run VACUUM (FULL) receipts after the upgrade (docs/operations.md).
UPDATE receipts
SET request = regexp_replace(
        regexp_replace(request, '"pin":"(?:[^"\\]|\\.)*",', '', 'g'),
        ',"pin":"(?:[^"\\]|\\.)*"', '', 'g')
WHERE request LIKE '%"pin":"%';

UPDATE receipts
SET request = regexp_replace(request, '"customer":\{"(?:code|phone)":"(?:[^"\\]|\\.)*"\},?', '', 'g')
WHERE request LIKE '%"customer":{"code"%' OR request LIKE '%"customer":{"phone"%';

-- 3. Refusals of a value of the wrong JSON type were logged with the value echoed
--    ("gift_cards[0].pin: invalid type: integer `1712`", "customer.code: invalid type:
--    integer `483920`"); the value may have been a PIN or a code. Such messages are
--    replaced; the refusal itself (code, card, time) stays.
UPDATE failures
SET message = 'the request body did not match the expected shape (message removed on upgrade: it echoed a value)'
WHERE message LIKE '%invalid type:%' OR message LIKE '%invalid value:%' OR message LIKE '%unknown variant%';
