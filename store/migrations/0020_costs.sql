-- Actual spend from Cost Explorer (issue 10), cached so that reports and
-- /ops costs never call Cost Explorer (it charges per request).
--   cost_lines: one row per view, day and pair of group keys. A view is
--     one GetCostAndUsage grouping ("account_service", "team_service",
--     ...); day is the UTC date Cost Explorer reports (YYYY-MM-DD; for a
--     month fetched at MONTHLY granularity, its first day); amount in
--     millionths of a dollar; estimated is Cost Explorer's flag for data
--     not final yet. A refresh replaces a view's rows for the days it
--     covered, in one transaction.
--   cost_refreshes: when each view was last refreshed and the newest
--     day it covered.
-- Times are Unix nanoseconds UTC.
CREATE TABLE cost_lines (
    view       TEXT NOT NULL,
    day        TEXT NOT NULL,
    key1       TEXT NOT NULL,
    key2       TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    estimated  BIGINT NOT NULL,
    PRIMARY KEY (view, day, key1, key2)
);
CREATE TABLE cost_refreshes (
    view       TEXT PRIMARY KEY,
    through    TEXT NOT NULL,   -- the day after the newest day covered
    at         BIGINT NOT NULL
);
