-- A fencing token per claim of a job: each claim takes the next one, and
-- a worker finishes, retries, buries or renews a job only while the job
-- still carries the token its claim got. A worker whose lease ran out,
-- and whose job another worker claimed since, changes nothing.
ALTER TABLE jobs ADD COLUMN token BIGINT NOT NULL DEFAULT 0;
