-- Incidents and their timelines. Times are Unix nanoseconds UTC (0 =
-- unset); people are two columns (Slack ID, email), '' when unset.

CREATE TABLE incidents (
    id                 TEXT PRIMARY KEY,
    title              TEXT NOT NULL,
    severity           TEXT NOT NULL,
    status             TEXT NOT NULL,
    team               TEXT NOT NULL,
    pd_incident_id     TEXT NOT NULL, -- '' when declared without PagerDuty
    pd_service         TEXT NOT NULL,
    pd_url             TEXT NOT NULL,
    pd_status          TEXT NOT NULL,
    channel_id         TEXT NOT NULL, -- '' until the channel exists
    channel_name       TEXT NOT NULL,
    commander_slack    TEXT NOT NULL,
    commander_email    TEXT NOT NULL,
    comms_slack        TEXT NOT NULL,
    comms_email        TEXT NOT NULL,
    scribe_slack       TEXT NOT NULL,
    scribe_email       TEXT NOT NULL,
    declared_by_slack  TEXT NOT NULL,
    declared_by_email  TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    resolved_at        BIGINT NOT NULL,
    last_update_at     BIGINT NOT NULL,
    last_update        TEXT NOT NULL,
    postmortem_page_id TEXT NOT NULL,
    postmortem_url     TEXT NOT NULL,
    meeting_at         BIGINT NOT NULL,
    postmortem_due     BIGINT NOT NULL,
    postmortem_done    BIGINT NOT NULL, -- 0 or 1
    snoozed            TEXT NOT NULL,   -- JSON object nag kind -> Unix nanos, '' for none
    updated_at         BIGINT NOT NULL
);
-- One incident per PagerDuty incident and per Slack channel: a webhook
-- retried or delivered twice finds the incident the first one made.
CREATE UNIQUE INDEX incidents_pd_incident ON incidents (pd_incident_id) WHERE pd_incident_id <> '';
CREATE UNIQUE INDEX incidents_channel ON incidents (channel_id) WHERE channel_id <> '';
CREATE INDEX incidents_team ON incidents (team, created_at);
CREATE INDEX incidents_status ON incidents (status, created_at);

CREATE TABLE timeline (
    id          BIGINT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id) DEFERRABLE INITIALLY DEFERRED,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    body        TEXT NOT NULL,
    source      TEXT NOT NULL,
    external_id TEXT NOT NULL -- '' for entries made here
);
-- An entry that came from elsewhere (a PagerDuty log entry, a Slack
-- message) is recorded once per incident.
CREATE UNIQUE INDEX timeline_external ON timeline (incident_id, source, external_id) WHERE external_id <> '';
CREATE INDEX timeline_incident ON timeline (incident_id, at, id);
