-- Every callback a runbook run recorded (workflows/runbooks Step), as a
-- JSON array in seq order, texts cut at 300 characters: the run's
-- message shows the last ones, and a seq is a replay only if it is
-- here (seq stays the highest recorded). '' is none.
ALTER TABLE runbook_runs ADD COLUMN progress TEXT NOT NULL DEFAULT '';
