-- A job's lane (workflows.JobLane: messages to one channel or person),
-- and, while a rate limit holds it back, the slot it waits for: slot is
-- NULL for a job not deferred, else the rate key whose slot at run_at was
-- taken for it ('' when none was: a Retry-After). A later job of a lane
-- is not claimed while an earlier one of the lane is deferred, so a job
-- put back for its slot keeps its place in the lane.
ALTER TABLE jobs ADD COLUMN lane TEXT;
ALTER TABLE jobs ADD COLUMN slot TEXT;
CREATE INDEX jobs_lane_deferred ON jobs (lane, id) WHERE slot IS NOT NULL;
