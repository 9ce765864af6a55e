-- An event a job raises about something that lasts (points expiring on a day) carries
-- a key naming it, so that however often the job looks, it is raised once.
-- The migration of the same number for the other backend does the same.
ALTER TABLE events ADD COLUMN dedupe TEXT;
CREATE UNIQUE INDEX events_dedupe_idx ON events (dedupe);
-- When the expiry_notices job last looked for points expiring (microseconds).
INSERT INTO rollup_cursors (source, last) VALUES ('expiry_notices', 0);
