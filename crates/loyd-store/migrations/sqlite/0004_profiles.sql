-- Profile fields of customers (gender, city, custom attributes) as a JSON object of
-- strings: campaigns and segments target them. NULL is an empty profile.
ALTER TABLE customers ADD COLUMN profile TEXT;
