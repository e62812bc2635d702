-- Slack rate buckets shared by every replica (integrations/slack pacing):
-- one row per key (a method, or chat.postMessage/CHANNEL), a GCRA token
-- bucket in one timestamp.
--   tat:           the bucket's theoretical arrival time, Unix ns
--   blocked_until: a 429's Retry-After; no call under the key before it
CREATE TABLE rate_limits (
    rate_key      TEXT PRIMARY KEY,
    tat           BIGINT NOT NULL DEFAULT 0,
    blocked_until BIGINT NOT NULL DEFAULT 0
);
