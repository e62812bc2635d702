-- What every workflow shares: sequences, the audit log, the durable job
-- outbox, and records of messages sent and prices looked up.

-- Sequences: human IDs by prefix ("srv" -> srv-1, srv-2) and row IDs
-- ("#jobs", ...), so no engine-specific autoincrement is needed.
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    n    BIGINT NOT NULL
);

CREATE TABLE audit (
    id      BIGINT PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    reason  TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX audit_subject ON audit (subject, at);

-- The outbox. A job is pending (waiting for run_at), running (leased to
-- owner until locked_until) or dead (given up, kept for people). Finished
-- jobs are deleted.
CREATE TABLE jobs (
    id           BIGINT PRIMARY KEY,
    kind         TEXT NOT NULL,
    job_key      TEXT, -- NULL when the job has no key
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL,
    run_at       BIGINT NOT NULL,
    attempts     BIGINT NOT NULL,
    last_error   TEXT NOT NULL,
    owner        TEXT NOT NULL,
    locked_until BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    finished_at  BIGINT NOT NULL
);
-- At most one waiting job per key: enqueueing again replaces it.
CREATE UNIQUE INDEX jobs_pending_key ON jobs (job_key) WHERE state = 'pending';
-- Claim reads waiting jobs in run order, and running jobs whose lease ran out.
CREATE INDEX jobs_due ON jobs (state, run_at, id);
CREATE INDEX jobs_lease ON jobs (state, locked_until);
CREATE INDEX jobs_key ON jobs (job_key, state);

CREATE TABLE sent (
    sent_key TEXT PRIMARY KEY,
    at       BIGINT NOT NULL
);

CREATE TABLE message_refs (
    msg_key TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    ts      TEXT NOT NULL,
    at      BIGINT NOT NULL
);

CREATE TABLE prices (
    price_key TEXT PRIMARY KEY,
    price     BIGINT NOT NULL,
    at        BIGINT NOT NULL
);
