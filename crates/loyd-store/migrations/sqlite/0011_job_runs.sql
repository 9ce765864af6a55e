-- Runs of the scheduled jobs (expired holds, expired lots, inactivity, conversions):
-- who started each (the schedule, the command line, a staff member), when it ended,
-- how many items it handled and why it stopped if it failed. A scheduled run that
-- found nothing to do replaces the one before it, so the table keeps the runs that
-- did something, failed or were started by hand, and the last check of each job.
-- The migration of the same number for the other backend does the same.
CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY,
    job         TEXT NOT NULL,
    started_by  TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    items       INTEGER NOT NULL DEFAULT 0,
    error       TEXT
) STRICT;
CREATE INDEX job_runs_job_idx ON job_runs (job, id);
