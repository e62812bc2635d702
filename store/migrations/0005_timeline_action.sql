-- What a timeline entry records, in PagerDuty's terms, when it is a
-- PagerDuty event ("incident.acknowledged"): the log entries merged into
-- the post-mortem are matched on it, so an event the webhook (or opsbot's
-- own change) put on the timeline is not listed twice.
ALTER TABLE timeline ADD COLUMN action TEXT NOT NULL DEFAULT '';
