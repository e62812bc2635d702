-- The W3C traceparent of the span that enqueued a job, so that the job's
-- run continues that trace in whichever replica claims it, after a
-- restart too. Empty when tracing was off.
ALTER TABLE jobs ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';
