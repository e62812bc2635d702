-- Due jobs of one kind, in run order: the runner claims a capped kind
-- (channel creation) apart from the others on every claim, and without
-- this index that claim read every due job of every other kind to find
-- none (a backlog of 4,000 PagerDuty events made each claim read 4,000
-- rows: half the intake's CPU under load, `make loadtest`).
CREATE INDEX jobs_kind_due ON jobs (kind, state, run_at, id);
