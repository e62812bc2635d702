-- When each running server next needs the idle check's look (issue 10,
-- item 5), so a check reads only the servers due and its cost grows with
-- them, not with every running server: Unix nanoseconds; NULL: nothing to
-- check until the row is saved again (stopped, ended, kept); 0: saved
-- since the check last looked, due at once (the check works the real
-- time out from the idle policy, which only workflows knows).
ALTER TABLE requests ADD COLUMN next_idle_at BIGINT;
UPDATE requests SET next_idle_at = 0 WHERE state = 'running';
CREATE INDEX requests_next_idle ON requests (next_idle_at, id) WHERE next_idle_at IS NOT NULL;
