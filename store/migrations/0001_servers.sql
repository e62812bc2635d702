-- Server requests and their leases, approvals and votes, and the budget
-- ledger. Times are Unix nanoseconds UTC (0 = unset); money is millionths
-- of a dollar; durations are nanoseconds. Portable SQL: SQLite and
-- PostgreSQL both read it.

CREATE TABLE requests (
    id                   TEXT PRIMARY KEY,
    owner_slack          TEXT NOT NULL,
    owner_email          TEXT NOT NULL,
    owner_email_key      TEXT NOT NULL, -- lower-cased, for matching
    team                 TEXT NOT NULL,
    template             TEXT NOT NULL,
    reason               TEXT NOT NULL,
    state                TEXT NOT NULL,
    state_reason         TEXT NOT NULL,
    duration             BIGINT NOT NULL,
    hourly_rate          BIGINT NOT NULL,
    estimate             BIGINT NOT NULL,
    client_token         TEXT NOT NULL,
    instance_id          TEXT NOT NULL,
    instance_region      TEXT NOT NULL,
    instance_type        TEXT NOT NULL,
    instance_state       TEXT NOT NULL,
    instance_launch_time BIGINT NOT NULL,
    instance_private_ip  TEXT NOT NULL,
    instance_private_dns TEXT NOT NULL,
    instance_tags        TEXT NOT NULL, -- JSON object, '' for none
    lease_start          BIGINT NOT NULL,
    lease_end            BIGINT NOT NULL,
    extensions           BIGINT NOT NULL,
    ending_at            BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX requests_team ON requests (team, created_at);
CREATE INDEX requests_owner_slack ON requests (owner_slack);
CREATE INDEX requests_owner_email ON requests (owner_email_key);
CREATE INDEX requests_state ON requests (state);

CREATE TABLE extensions (
    id         BIGINT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id) DEFERRABLE INITIALLY DEFERRED,
    by_slack   TEXT NOT NULL,
    by_email   TEXT NOT NULL,
    from_at    BIGINT NOT NULL,
    to_at      BIGINT NOT NULL,
    reason     TEXT NOT NULL,
    cost       BIGINT NOT NULL,
    approved   BIGINT NOT NULL, -- 0 or 1
    at         BIGINT NOT NULL
);
CREATE INDEX extensions_request ON extensions (request_id, at);

CREATE TABLE approvals (
    id              TEXT PRIMARY KEY,
    request_id      TEXT NOT NULL REFERENCES requests (id) DEFERRABLE INITIALLY DEFERRED,
    kind            TEXT NOT NULL,
    team            TEXT NOT NULL,
    requester_slack TEXT NOT NULL,
    requester_email TEXT NOT NULL,
    extend          BIGINT NOT NULL,
    reason          TEXT NOT NULL,
    cost            BIGINT NOT NULL,
    overrun         BIGINT NOT NULL,
    required        BIGINT NOT NULL,
    state           TEXT NOT NULL,
    decided_by      TEXT NOT NULL, -- JSON list of people, '' for none
    note            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    decided_at      BIGINT NOT NULL,
    reminded_at     BIGINT NOT NULL
);
CREATE INDEX approvals_team ON approvals (team, created_at);
CREATE INDEX approvals_request ON approvals (request_id);
CREATE INDEX approvals_state ON approvals (state);

-- One vote per approver per approval, whether the approver is known by
-- Slack ID or by email (compared case-insensitively), like Person.Is.
CREATE TABLE decisions (
    id                 BIGINT PRIMARY KEY,
    approval_id        TEXT NOT NULL REFERENCES approvals (id) DEFERRABLE INITIALLY DEFERRED,
    approver_slack     TEXT NOT NULL,
    approver_email     TEXT NOT NULL,
    approver_email_key TEXT NOT NULL,
    approve            BIGINT NOT NULL, -- 0 or 1
    reason             TEXT NOT NULL,
    at                 BIGINT NOT NULL
);
CREATE UNIQUE INDEX decisions_by_slack ON decisions (approval_id, approver_slack)
    WHERE approver_slack <> '';
CREATE UNIQUE INDEX decisions_by_email ON decisions (approval_id, approver_email_key)
    WHERE approver_email_key <> '';

CREATE TABLE ledger (
    id         BIGINT PRIMARY KEY,
    team       TEXT NOT NULL,
    month      TEXT NOT NULL,
    request_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX ledger_team_month ON ledger (team, month, at);
CREATE INDEX ledger_request ON ledger (request_id, at);
