-- Leases that make one replica the only one doing something (running
-- the scheduler): held by holder until expires_at, renewed by it, taken
-- over by another once it has expired.
CREATE TABLE leader_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    since      BIGINT NOT NULL
);
