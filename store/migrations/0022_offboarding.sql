-- Offboarding hands a departed person's servers to their team (issue 13):
-- the owner columns are emptied and the person who held the server is
-- kept here, with when it was handed over. Times are Unix nanoseconds UTC
-- (0 = unset).
ALTER TABLE requests ADD COLUMN handed_from_slack TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN handed_from_email TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN handed_at BIGINT NOT NULL DEFAULT 0;

-- The EC2 key pairs found for a departed person, each deleted at most
-- once from the "Delete key pair" button.
CREATE TABLE offboard_keys (
    id            TEXT PRIMARY KEY,
    person        TEXT NOT NULL,
    person_slack  TEXT NOT NULL,
    person_email  TEXT NOT NULL,
    teams         TEXT NOT NULL,
    account       TEXT NOT NULL,
    region        TEXT NOT NULL,
    name          TEXT NOT NULL,
    key_pair_id   TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    why           TEXT NOT NULL,
    instances     TEXT NOT NULL,
    state         TEXT NOT NULL,
    result        TEXT NOT NULL,
    deleted_slack TEXT NOT NULL,
    deleted_email TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX offboard_keys_place ON offboard_keys (person, account, region, name);
