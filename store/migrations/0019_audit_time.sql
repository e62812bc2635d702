-- /ops audit and `opsbot audit export` read the log by time.
CREATE INDEX audit_at ON audit (at, id);
