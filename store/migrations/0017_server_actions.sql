-- Server actions (workflows/actions): each action asked for on a server,
-- and the root-volume snapshots opsbot made.
CREATE TABLE server_ops (
    id             TEXT PRIMARY KEY,
    server         TEXT NOT NULL,
    action         TEXT NOT NULL,
    actor_slack    TEXT NOT NULL,
    actor_email    TEXT NOT NULL,
    state          TEXT NOT NULL,
    approver_slack TEXT NOT NULL,
    approver_email TEXT NOT NULL,
    result         TEXT NOT NULL,
    detail         TEXT NOT NULL,
    button         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
-- One button press, one action: a double click or a replay is refused.
CREATE UNIQUE INDEX server_ops_button ON server_ops (button);
CREATE INDEX server_ops_server ON server_ops (server, created_at);

CREATE TABLE server_snapshots (
    id         TEXT PRIMARY KEY,
    server     TEXT NOT NULL,
    region     TEXT NOT NULL,
    volume_id  TEXT NOT NULL,
    op_id      TEXT NOT NULL,
    kept       BIGINT NOT NULL,
    deleted    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX server_snapshots_server ON server_snapshots (server, created_at);
