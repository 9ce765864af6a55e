-- A staff member's work e-mail address: where the tasks and reminders due to them are
-- sent (the `crm.task_due` message). Contact data of the operator's own staff, kept
-- as given; customers' personal data stays sealed.
-- The migration of the same number for the other backend does the same.
ALTER TABLE users ADD COLUMN email TEXT;
-- Up to when the task_reminders job has looked for tasks due (microseconds).
INSERT INTO rollup_cursors (source, last) VALUES ('task_reminders', 0);
