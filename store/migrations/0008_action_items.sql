-- Action items of incidents: what someone must do after it, by when.
-- Each becomes a to-do on the post-mortem page, found there by its ID;
-- its owner is reminded until it is checked there or marked done here.
-- Times are Unix nanoseconds UTC (0 = unset).
CREATE TABLE action_items (
    id           TEXT PRIMARY KEY,          -- "act-3"
    incident_id  TEXT NOT NULL REFERENCES incidents (id) DEFERRABLE INITIALLY DEFERRED,
    body         TEXT NOT NULL,
    owner_slack  TEXT NOT NULL,
    owner_email  TEXT NOT NULL,
    due_at       BIGINT NOT NULL,
    done_at      BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX action_items_incident ON action_items (incident_id, created_at);
