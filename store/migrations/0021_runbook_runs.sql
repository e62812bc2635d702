-- Runbook actions (workflows/runbooks): each run of a config-defined
-- runbook. params is the typed form values as JSON (secrets included:
-- the endpoint needs them; never shown or audited). idem_key is the
-- idempotency key sent with every attempt; trigger names the form
-- submission, so a double submit makes one run. seq is the highest
-- callback number recorded (callbacks at or below it are replays).
-- Times are Unix nanoseconds UTC.
CREATE TABLE runbook_runs (
    id             TEXT PRIMARY KEY,
    runbook        TEXT NOT NULL,
    team           TEXT NOT NULL,
    actor_slack    TEXT NOT NULL,
    actor_email    TEXT NOT NULL,
    params         TEXT NOT NULL,
    state          TEXT NOT NULL,
    approver_slack TEXT NOT NULL,
    approver_email TEXT NOT NULL,
    idem_key       TEXT NOT NULL,
    trigger_id     TEXT NOT NULL,
    attempts       BIGINT NOT NULL,
    status         BIGINT NOT NULL,
    result         TEXT NOT NULL,
    body           TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX runbook_runs_trigger ON runbook_runs (trigger_id);
