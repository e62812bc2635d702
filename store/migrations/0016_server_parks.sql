-- Stops within a lease and idle servers (issue 10, items 5 and 6).
--   server_parks: each stop opsbot makes of a server whose lease still
--     runs (a night of the off-hours schedule, an idle server stopped from
--     its flag), closed by started_at when it is started again. The money
--     saved is hours stopped x hourly_rate, clipped to the lease.
--   server_idle: the servers the last CPU check found idle, with when
--     their owner was told and whether someone chose to keep them.
-- Times are Unix nanoseconds UTC (0 = unset).
CREATE TABLE server_parks (
    request_id   TEXT NOT NULL REFERENCES requests (id),
    stopped_at   BIGINT NOT NULL,
    started_at   BIGINT NOT NULL,
    team         TEXT NOT NULL,
    why          TEXT NOT NULL,
    hourly_rate  BIGINT NOT NULL,
    PRIMARY KEY (request_id, stopped_at)
);
CREATE INDEX server_parks_team ON server_parks (team, stopped_at);
CREATE INDEX server_parks_stopped ON server_parks (stopped_at);
CREATE TABLE server_idle (
    request_id   TEXT PRIMARY KEY REFERENCES requests (id),
    team         TEXT NOT NULL,
    since        BIGINT NOT NULL,
    peak_cpu     DOUBLE PRECISION NOT NULL,
    checked_at   BIGINT NOT NULL,
    flagged_at   BIGINT NOT NULL,
    kept_at      BIGINT NOT NULL,
    kept_by      TEXT NOT NULL
);
CREATE INDEX server_idle_team ON server_idle (team, request_id);
