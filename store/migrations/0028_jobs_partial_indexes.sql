-- Each index of the jobs table now holds only the rows its queries look
-- for: a job is inserted, claimed and deleted by the thousand in a storm
-- of PagerDuty events, and every index a row is in is written each time
-- (SQLite writes the pages to its log at each commit). Waiting jobs are
-- found by run time (jobs_due, and by kind: jobs_kind_due), running ones
-- by lease (jobs_lease), keyed ones by key (jobs_key); a keyless waiting
-- job is now in two indexes, not five. jobs_due carries the kind, so a
-- claim that leaves some kinds to others (the runner leaves PagerDuty
-- events to its batches) passes over their rows in the index alone.
DROP INDEX jobs_due;
DROP INDEX jobs_lease;
DROP INDEX jobs_key;
DROP INDEX jobs_kind_due;
CREATE INDEX jobs_due ON jobs (run_at, id, kind) WHERE state = 'pending';
CREATE INDEX jobs_kind_due ON jobs (kind, run_at, id) WHERE state = 'pending';
CREATE INDEX jobs_lease ON jobs (locked_until) WHERE state = 'running';
CREATE INDEX jobs_key ON jobs (job_key, state) WHERE job_key IS NOT NULL;
