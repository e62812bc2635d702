-- What people read about incidents: the time of the last status update
-- itself (a later resolve must not move it), the PagerDuty service's name,
-- private incidents and whether their post-mortem was published; and a
-- cache of names looked up elsewhere (Slack real names, Notion users,
-- PagerDuty service names), refreshed after a while.

ALTER TABLE incidents ADD COLUMN update_posted_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN pd_service_name TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN private BIGINT NOT NULL DEFAULT 0;              -- 0 or 1
ALTER TABLE incidents ADD COLUMN postmortem_published BIGINT NOT NULL DEFAULT 0; -- 0 or 1

CREATE TABLE names (
    name_key TEXT PRIMARY KEY, -- "slack-name:U123", "notion-user:ada@example.com", "pd-service:P1"
    value    TEXT NOT NULL,    -- '' records "looked up, none found"
    at       BIGINT NOT NULL
);
