package workflows

import "time"

// ParkTx holds the stops opsbot makes within a lease (a night of the
// off-hours schedule, an idle server stopped from its flag) and the idle
// flags: what the money saved and the idle servers of a month are
// worked out from.
type ParkTx interface {
	// AddPark records a stop. A second one for the same request and
	// StoppedAt returns ErrDuplicate.
	AddPark(p Park) error
	// EndPark records that the open stop of requestID ended at at (the
	// server was started again). Without an open stop it does nothing.
	EndPark(requestID string, at time.Time) error
	// OpenPark returns the stop of requestID not ended yet, if any.
	OpenPark(requestID string) (Park, bool, error)
	// Parks returns the stops of team (all teams when empty) that
	// overlap [from, to), each with its lease's end, oldest first.
	Parks(team string, from, to time.Time) ([]Park, error)

	// PutIdle records (or replaces) what the last CPU check found of a
	// server; DropIdle forgets it (busy again, or no longer running).
	PutIdle(v IdleServer) error
	DropIdle(requestID string) error
	// IdleServer returns what is recorded for requestID.
	IdleServer(requestID string) (IdleServer, bool, error)
	// IdleServers lists the servers recorded idle, of team (all teams
	// when empty), in request order.
	IdleServers(team string) ([]IdleServer, error)
}

// Park is one stop of a server within its lease.
type Park struct {
	RequestID  string
	Team       string
	Why        Why
	HourlyRate Money // the instance's rate when stopped: what each hour stopped saves
	StoppedAt  time.Time
	StartedAt  time.Time // zero while it stays stopped
	// LeaseEnd is read with the stop: a stop saves nothing after the
	// lease ends (or the server is released), started or not.
	LeaseEnd time.Time
}

// End is when the stop stopped saving, as of now: the start, the lease
// end or now, whichever comes first.
func (p Park) End(now time.Time) time.Time {
	end := now
	if !p.StartedAt.IsZero() && p.StartedAt.Before(end) {
		end = p.StartedAt
	}
	if !p.LeaseEnd.IsZero() && p.LeaseEnd.Before(end) {
		end = p.LeaseEnd
	}
	return end
}

// HoursIn is how long the stop lasted within [from, to), as of now.
func (p Park) HoursIn(from, to, now time.Time) float64 {
	start, end := maxTime(p.StoppedAt, from), p.End(now)
	if to.Before(end) {
		end = to
	}
	if !end.After(start) {
		return 0
	}
	return end.Sub(start).Hours()
}

// IdleServer is what the last CPU check found of an idle server.
type IdleServer struct {
	RequestID string
	Team      string
	// Since is the start of the window in which the CPU stayed under the
	// threshold; PeakCPU the highest datapoint in it, in percent.
	Since     time.Time
	PeakCPU   float64
	CheckedAt time.Time
	// FlaggedAt is when its owner was told (zero: not yet); KeptAt and
	// KeptBy when someone pressed Keep: no more flags for this lease.
	FlaggedAt time.Time
	KeptAt    time.Time
	KeptBy    string
}

// Savings is what stops within leases saved over a period.
type Savings struct {
	Stops int     // stops that overlap the period
	Hours float64 // server-hours stopped within it
	Money Money   // hours x each server's hourly rate
}

// SavingsIn sums the stops of team (every team when empty) within
// [from, to), as of now, by why they were made: the off-hours savings of
// a month are SavingsIn(tx, team, monthStart, nextMonthStart, now)[WhyOffHours].
// A stop saves until the server is started again or its lease ends.
func SavingsIn(tx Tx, team string, from, to, now time.Time) (map[Why]Savings, error) {
	parks, err := tx.Parks(team, from, to)
	if err != nil {
		return nil, err
	}
	out := map[Why]Savings{}
	for _, p := range parks {
		h := p.HoursIn(from, to, now)
		if h <= 0 {
			continue
		}
		s := out[p.Why]
		s.Stops++
		s.Hours += h
		s.Money += p.HourlyRate.For(h)
		out[p.Why] = s
	}
	return out, nil
}
