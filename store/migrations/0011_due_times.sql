-- When each lease, approval, incident and action item next needs the
-- scheduler's look, so a tick reads only what is due: ended leases and
-- closed incidents are left out of the partial indexes and never read
-- again. Unix nanoseconds; NULL: nothing can fall due until the row is
-- saved again; 0: saved since a tick last looked, due at once (what is
-- due depends on the config, so the tick works the time out).
ALTER TABLE requests ADD COLUMN next_due_at BIGINT;
ALTER TABLE approvals ADD COLUMN next_due_at BIGINT;
ALTER TABLE incidents ADD COLUMN next_due_at BIGINT;
ALTER TABLE action_items ADD COLUMN next_due_at BIGINT;

-- Backfill: every row that may still fall due is looked at by the first
-- tick, which stores its real due time.
UPDATE requests SET next_due_at = 0 WHERE state IN ('running', 'stopped');
UPDATE approvals SET next_due_at = 0 WHERE state = 'pending';
UPDATE incidents SET next_due_at = 0 WHERE cancelled = 0 AND (status <> 'resolved' OR postmortem_done = 0);
UPDATE action_items SET next_due_at = 0 WHERE done_at = 0;

CREATE INDEX requests_next_due ON requests (next_due_at, id) WHERE next_due_at IS NOT NULL;
CREATE INDEX approvals_next_due ON approvals (next_due_at, id) WHERE next_due_at IS NOT NULL;
CREATE INDEX incidents_next_due ON incidents (next_due_at, id) WHERE next_due_at IS NOT NULL;
CREATE INDEX action_items_next_due ON action_items (next_due_at, id) WHERE next_due_at IS NOT NULL;
