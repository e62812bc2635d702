-- The alert review held every two weeks (issue 11): what each review
-- covered and what was decided about each alert.
--   alert_reviews: one per team per review slot (or on-demand request);
--     slot is the scheduled time (0 for /incident review), posted_at 0
--     while the window's PagerDuty history is still being gathered.
--   alert_review_items: the alerts a review put before the team, each
--     with its figures as shown; decision '' until someone decides; a
--     decision with work in it (make non-critical, tune or automate) gets
--     an owner and a due date, and is reminded until done_at is set.
-- Times are Unix nanoseconds UTC (0 = unset).
CREATE TABLE alert_reviews (
    id            TEXT PRIMARY KEY,          -- "rev-3"
    team          TEXT NOT NULL,
    window_start  BIGINT NOT NULL,
    window_end    BIGINT NOT NULL,
    channel       TEXT NOT NULL,
    slot          BIGINT NOT NULL,
    requested_by  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    posted_at     BIGINT NOT NULL
);
CREATE INDEX alert_reviews_team ON alert_reviews (team, created_at);
CREATE TABLE alert_review_items (
    review_id     TEXT NOT NULL REFERENCES alert_reviews (id),
    n             BIGINT NOT NULL,            -- 1, 2, ... within the review
    group_key     TEXT NOT NULL,              -- service ID | alert key or normalized summary
    label         TEXT NOT NULL,
    service_name  TEXT NOT NULL,
    critical      BIGINT NOT NULL,
    figures       TEXT NOT NULL,
    decision      TEXT NOT NULL,
    decided_slack TEXT NOT NULL,
    decided_email TEXT NOT NULL,
    decided_at    BIGINT NOT NULL,
    owner_slack   TEXT NOT NULL,
    owner_email   TEXT NOT NULL,
    due_at        BIGINT NOT NULL,
    done_at       BIGINT NOT NULL,
    PRIMARY KEY (review_id, n)
);
CREATE INDEX alert_review_items_group ON alert_review_items (group_key);
CREATE INDEX alert_review_items_follow_up ON alert_review_items (done_at, due_at);
