-- Who may act on an incident, cancelled incidents and alert storms.
--   added:     people given the right to change the incident with
--              /incident add, a JSON array of {"slack","email"}; '' for none
--   cancelled: 1 when it was declared by mistake and cancelled
--   linked_to: the incident whose channel an alert-storm newcomer was
--              linked into instead of getting one of its own; '' otherwise
ALTER TABLE incidents ADD COLUMN added TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN cancelled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN linked_to TEXT NOT NULL DEFAULT '';
-- New incidents per PagerDuty service in a window (alert storms), and per
-- declarer (the declare rate limit).
CREATE INDEX incidents_service ON incidents (pd_service, created_at);
CREATE INDEX incidents_declared_by ON incidents (declared_by_slack, created_at);
