-- A runbook run accepted by its endpoint (202) waits for the final
-- callback until accepted_at + its runbook's callback_timeout, then is
-- timed out (workflows/runbooks/timeout.go). accepted_at is Unix
-- nanoseconds, 0 until accepted. next_due_at is the tick's due time
-- (store/due.go): NULL unless the run is accepted, 0 when saved since
-- the tick last looked, else the deadline. Runs accepted before this
-- migration count from their last update.
ALTER TABLE runbook_runs ADD COLUMN accepted_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runbook_runs ADD COLUMN next_due_at BIGINT;
UPDATE runbook_runs SET accepted_at = updated_at, next_due_at = 0 WHERE state = 'accepted';
CREATE INDEX runbook_runs_next_due ON runbook_runs (next_due_at, id) WHERE next_due_at IS NOT NULL;
