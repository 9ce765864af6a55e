-- A birthday is found without opening every customer's sealed data: a blind index of
-- its month and day (one of 366 values, so it tells only who share a birthday, not
-- which day it is). '-' when there is none; NULL until the birthdays job has filled
-- it for customers of earlier versions.
-- The migration of the same number for the other backend does the same.
ALTER TABLE customers ADD COLUMN birthday_index TEXT;
CREATE INDEX customers_birthday_idx ON customers (birthday_index);
UPDATE customers SET birthday_index = '-' WHERE pii IS NULL;
-- When the birthdays job last looked (microseconds).
INSERT INTO rollup_cursors (source, last) VALUES ('birthdays', 0);
