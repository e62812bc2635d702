-- A team's budget reads the leases that ran into the month (lease_end at
-- or after its start) and its pending approvals, not every lease and
-- approval the team ever had: every lease warning and end message shows
-- the budget, and must not read history.
CREATE INDEX requests_team_lease_end ON requests (team, lease_end);
CREATE INDEX approvals_state_team ON approvals (state, team, created_at);
