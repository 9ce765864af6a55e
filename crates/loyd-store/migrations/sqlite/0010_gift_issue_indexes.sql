-- Gift issues read per customer and per campaign, newest first
-- (GET /v1/admin/gifts); the SQLite migration of the same number does the same.
CREATE INDEX gift_issues_customer_idx ON gift_issues (customer_id, id);
CREATE INDEX gift_issues_campaign_idx ON gift_issues (campaign, id);
