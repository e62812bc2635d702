-- Reminders sent, one row per (subject, kind, due time): an incident's
-- update, meeting and post-mortem nags, an action item's reminders. The
-- row is written in the transaction that queues the reminder, so a
-- reminder goes out at most once per due time however many ticks,
-- replicas or retries race for it. The latest due_at of a (subject, kind)
-- is where its next reminder is counted from. Times are Unix nanoseconds.
CREATE TABLE reminders (
    subject TEXT NOT NULL,   -- "inc-7", "act-3"
    kind    TEXT NOT NULL,   -- "update", "meeting", "postmortem", "action"
    due_at  BIGINT NOT NULL, -- the instant the reminder fell due
    sent_at BIGINT NOT NULL, -- when it was queued
    PRIMARY KEY (subject, kind, due_at)
);
