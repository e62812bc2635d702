package workflows

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func TestCanMove_OnlyLegalTransitions(t *testing.T) {
	tests := []struct {
		from, to State
		ok       bool
	}{
		{StateRequested, StatePending, true},
		{StateRequested, StateApproved, true},
		{StatePending, StateApproved, true},
		{StatePending, StateExpired, true},
		{StateApproved, StateProvisioning, true},
		{StateProvisioning, StateRunning, true},
		{StateRunning, StateStopped, true},
		{StateRunning, StateTerminated, true},
		{StateStopped, StateRunning, true},
		{StateDenied, StateApproved, false},
		{StateApproved, StateApproved, false},
		{StateTerminated, StateRunning, false},
		{StatePending, StateRunning, false},
		{StateExpired, StatePending, false},
		{StateRunning, StatePending, false},
	}
	for _, tt := range tests {
		if got := CanMove(tt.from, tt.to); got != tt.ok {
			t.Errorf("CanMove(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.ok)
		}
	}
}

func TestMove_RefusesIllegalTransitionAndKeepsState(t *testing.T) {
	r := &ServerRequest{ID: "srv-1", State: StateDenied}
	err := r.Move(StateApproved, "x", t0)
	if err == nil || ErrorCode(err) != EConflict {
		t.Fatalf("err = %v, want a conflict", err)
	}
	if r.State != StateDenied {
		t.Fatalf("state changed to %s", r.State)
	}
}

func TestRequiredApprovals_ByCostTier(t *testing.T) {
	tiers := []ApprovalTier{{Above: 0, Approvals: 1}, {Above: USD(500), Approvals: 2}, {Above: USD(2000), Approvals: 3}}
	for _, tt := range []struct {
		cost Money
		want int
	}{{USD(10), 1}, {USD(500), 1}, {USD(500.01), 2}, {USD(2500), 3}, {0, 1}} {
		if got := RequiredApprovals(tiers, tt.cost); got != tt.want {
			t.Errorf("RequiredApprovals(%s) = %d, want %d", tt.cost, got, tt.want)
		}
	}
}

func TestTally_CountsDistinctApproversAndOneDenyDecides(t *testing.T) {
	alice, bob := Person{SlackID: "UALICE"}, Person{SlackID: "UBOB", Email: "bob@x.io"}
	a := &Approval{Required: 2}
	yes := func(p Person) Decision { return Decision{Approver: p, Approve: true} }
	if got := Tally(a, []Decision{yes(alice)}); got != ApprovalPending {
		t.Errorf("one of two: %s", got)
	}
	if got := Tally(a, []Decision{yes(alice), yes(Person{Email: "BOB@x.io"}), yes(bob)}); got != ApprovalApproved {
		t.Errorf("two distinct: %s", got)
	}
	if got := Tally(a, []Decision{yes(bob), yes(Person{Email: "bob@x.io"})}); got != ApprovalPending {
		t.Errorf("same person twice counted twice: %s", got)
	}
	if got := Tally(a, []Decision{yes(alice), {Approver: bob}}); got != ApprovalDenied {
		t.Errorf("a deny: %s", got)
	}
}

func lc() LifecyclePolicy {
	return LifecyclePolicy{DefaultLease: 24 * time.Hour, MaxLease: 7 * 24 * time.Hour, MaxLifetime: 30 * 24 * time.Hour,
		MaxExtensions: 2, WarnBefore: []time.Duration{24 * time.Hour, time.Hour}, EndAction: EndStop, Grace: 30 * time.Minute}
}

func TestDueLease_AtFixedInstants(t *testing.T) {
	end := t0.Add(48 * time.Hour)
	running := &ServerRequest{ID: "srv-1", State: StateRunning, LeaseStart: t0, LeaseEnd: end}
	tests := []struct {
		name string
		now  time.Time
		want LeaseStep
	}{
		{"long before", t0, LeaseStep{}},
		{"a minute before the 24h warning", end.Add(-24*time.Hour - time.Minute), LeaseStep{}},
		{"at the 24h warning", end.Add(-24 * time.Hour), LeaseStep{Warn: 24 * time.Hour}},
		{"between warnings", end.Add(-2 * time.Hour), LeaseStep{Warn: 24 * time.Hour}},
		{"at the 1h warning the 24h one is superseded", end.Add(-time.Hour), LeaseStep{Warn: time.Hour, Superseded: []time.Duration{24 * time.Hour}}},
		// In the grace the nearest warning stays due: the caller sends it
		// only if it was not recorded before the end (opsbot was down).
		{"at the end, in grace", end, LeaseStep{Warn: time.Hour, Superseded: []time.Duration{24 * time.Hour}}},
		{"just before grace runs out", end.Add(29 * time.Minute), LeaseStep{Warn: time.Hour, Superseded: []time.Duration{24 * time.Hour}}},
		{"when grace runs out", end.Add(30 * time.Minute), LeaseStep{End: true, Action: EndStop}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DueLease(tt.now, running, lc()); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	ending := *running
	ending.EndingAt = end
	if got := DueLease(end.Add(time.Hour), &ending, lc()); got.End {
		t.Error("end queued twice")
	}
	stopped := *running
	stopped.State = StateStopped
	if got := DueLease(end.Add(time.Hour), &stopped, lc()); got.End {
		t.Error("a stopped server with a stop policy is stopped already")
	}
	if got := DueLease(t0.Add(lc().MaxLifetime), &stopped, lc()); !got.End || got.Action != EndTerminate {
		t.Errorf("a stopped server past its maximum lifetime is terminated: %+v", got)
	}
	short := *running
	short.LeaseEnd = t0.Add(4 * time.Hour)
	if got := DueLease(t0.Add(time.Minute), &short, lc()); got.Warn != 0 {
		t.Errorf("a 24h warning on a 4h lease fired at launch: %+v", got)
	}
	if got := DueLease(t0.Add(3*time.Hour), &short, lc()); got.Warn != time.Hour {
		t.Errorf("the 1h warning of a 4h lease: %+v", got)
	}
	term := lc()
	term.EndAction = EndTerminate
	if got := DueLease(end.Add(time.Hour), &stopped, term); !got.End {
		t.Error("a stopped server with a terminate policy is terminated at the end")
	}
}

func TestWarningKey_ChangesWithTheLeaseEnd(t *testing.T) {
	r := &ServerRequest{ID: "srv-1", LeaseEnd: t0}
	k1 := WarningKey(r, time.Hour)
	r.LeaseEnd = t0.Add(24 * time.Hour)
	if k2 := WarningKey(r, time.Hour); k1 == k2 {
		t.Fatalf("extension did not re-arm the warning: %s", k1)
	}
}

func TestDueApproval_RemindsEachPeriodAndExpires(t *testing.T) {
	a := &Approval{ID: "apr-1", State: ApprovalPending, CreatedAt: t0, ExpiresAt: t0.Add(48 * time.Hour)}
	every := 4 * time.Hour
	tests := []struct {
		now  time.Time
		want ApprovalStep
	}{
		{t0, ApprovalStep{}},
		{t0.Add(3*time.Hour + 59*time.Minute), ApprovalStep{}},
		{t0.Add(4 * time.Hour), ApprovalStep{RemindKey: "approval-remind:apr-1:1"}},
		{t0.Add(7 * time.Hour), ApprovalStep{RemindKey: "approval-remind:apr-1:1"}},
		{t0.Add(8 * time.Hour), ApprovalStep{RemindKey: "approval-remind:apr-1:2"}},
		{t0.Add(48 * time.Hour), ApprovalStep{Expire: true}},
	}
	for _, tt := range tests {
		if got := DueApproval(tt.now, a, every); got != tt.want {
			t.Errorf("at +%s: got %+v, want %+v", tt.now.Sub(t0), got, tt.want)
		}
	}
	decided := *a
	decided.State = ApprovalApproved
	if got := DueApproval(t0.Add(60*time.Hour), &decided, every); got != (ApprovalStep{}) {
		t.Errorf("decided approval: %+v", got)
	}
}

func TestCheckExtension(t *testing.T) {
	r := &ServerRequest{ID: "srv-1", LeaseStart: t0, LeaseEnd: t0.Add(2 * 24 * time.Hour)}
	tests := []struct {
		name         string
		now          time.Time
		used         int
		d            time.Duration
		wantEnd      time.Time
		needApproval bool
		refused      bool
	}{
		{"self-service within policy", t0.Add(time.Hour), 0, 24 * time.Hour, t0.Add(3 * 24 * time.Hour), false, false},
		{"longer than the max lease", t0, 0, 8 * 24 * time.Hour, t0.Add(10 * 24 * time.Hour), true, false},
		{"extensions used up", t0, 2, 24 * time.Hour, t0.Add(3 * 24 * time.Hour), true, false},
		{"past the max lifetime", t0, 0, 29 * 24 * time.Hour, t0.Add(31 * 24 * time.Hour), false, true},
		{"during grace extends from now", t0.Add(2*24*time.Hour + 10*time.Minute), 0, time.Hour, t0.Add(2*24*time.Hour + 70*time.Minute), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := *r
			rr.Extensions = tt.used
			c := CheckExtension(tt.now, &rr, lc(), tt.d)
			if !c.NewEnd.Equal(tt.wantEnd) || (c.NeedApproval != "") != tt.needApproval || (c.Refused != "") != tt.refused {
				t.Errorf("got %+v", c)
			}
		})
	}
}

func TestRefunds_NewestMonthFirst(t *testing.T) {
	entries := []LedgerEntry{
		{Month: "2026-10", Kind: LedgerCommit, Amount: USD(100)},
		{Month: "2026-11", Kind: LedgerExtend, Amount: USD(30)},
	}
	got := Refunds(entries, USD(50))
	want := []LedgerEntry{{Month: "2026-11", Kind: LedgerRelease, Amount: -USD(30)}, {Month: "2026-10", Kind: LedgerRelease, Amount: -USD(20)}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{"90m": 90 * time.Minute, "4h": 4 * time.Hour, "2d": 48 * time.Hour, "1h30m": 90 * time.Minute, " 2D ": 48 * time.Hour}
	for in, want := range good {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "2x", "-1d", "0h", "999d", "d", "1.5d", "9000h"} {
		if _, err := ParseDuration(in); err == nil || ErrorCode(err) != EInvalid {
			t.Errorf("ParseDuration(%q) err = %v, want invalid", in, err)
		}
	}
}

func TestMoneyAndDurationFormatting(t *testing.T) {
	for m, want := range map[Money]string{USD(1234.567): "$1,234.57", USD(0.0208): "$0.02", -USD(3.2): "-$3.20", 0: "$0.00"} {
		if got := m.String(); got != want {
			t.Errorf("%d: %q, want %q", m, got, want)
		}
	}
	if got := USD(0.0208).For(48); got != USD(0.9984) {
		t.Errorf("48h at $0.0208 = %d", got)
	}
	for d, want := range map[time.Duration]string{26 * time.Hour: "1d 2h", 90 * time.Minute: "1h 30m", 48 * time.Hour: "2d"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestRunnerLanes_KeepOrderWithinALaneOneAtATime(t *testing.T) {
	msg := func(id int64, channel string) Job {
		return Job{ID: id, Kind: JobMessage, Payload: `{"Channel":"` + channel + `","Text":"x"}`}
	}
	q := &memQueue{jobs: []Job{msg(1, "C1"), msg(2, "C2"), msg(3, "C1"), {ID: 4, Kind: JobProvision, Payload: "srv-1"},
		{ID: 5, Kind: JobProvision, Payload: "srv-2"}, msg(6, "C1")}}
	var mu sync.Mutex
	var order []int64
	inC1 := 0
	r := &Runner{Queue: q, Clock: NewManualClock(time.Unix(0, 0)), Log: quietLog(), Lane: MessageLane, Concurrency: 6,
		Handlers: map[string]JobHandler{
			JobMessage: func(ctx context.Context, j Job) error {
				mu.Lock()
				if MessageLane(j) == "channel:C1" {
					inC1++
					if inC1 > 1 {
						t.Errorf("job %d runs beside another of its lane", j.ID)
					}
					order = append(order, j.ID)
				}
				mu.Unlock()
				time.Sleep(time.Millisecond) // let a wrongly parallel lane overlap
				mu.Lock()
				if MessageLane(j) == "channel:C1" {
					inC1--
				}
				mu.Unlock()
				return nil
			},
			JobProvision: func(ctx context.Context, j Job) error { return nil },
		}}
	if n, err := r.RunDue(context.Background()); err != nil || n != 6 {
		t.Fatalf("ran %d (%v), want 6", n, err)
	}
	if want := []int64{1, 3, 6}; !reflect.DeepEqual(order, want) {
		t.Fatalf("lane C1 ran %v, want %v", order, want)
	}
}

// TestMoney_LessThanHalfACentBelowZeroIsNoNegativeZero attacks the
// rounding of money shown: a negative amount that rounds to no cents (a
// ledger $0.004 above the bill, a change of -$0.003 in the cost review)
// reads "$0.00", not "-$0.00"; half a cent rounds away from zero on both
// sides.
func TestMoney_LessThanHalfACentBelowZeroIsNoNegativeZero(t *testing.T) {
	for m, want := range map[Money]string{-4_000: "$0.00", -1: "$0.00", -5_000: "-$0.01", 5_000: "$0.01", 4_999: "$0.00", -USD(999.995): "-$1,000.00"} {
		if got := m.String(); got != want {
			t.Errorf("%d: %q, want %q", m, got, want)
		}
	}
}
