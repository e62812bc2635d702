package workflows_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
)

// fakeCPU answers every instance at one level, hourly, and records the
// questions by account and region.
type fakeCPU struct {
	mu    sync.Mutex
	level float64
	calls []cpuCall
}

type cpuCall struct {
	account, region string
	ids             []string
	from, to        time.Time
}

func (f *fakeCPU) CPU(_ context.Context, account, region string, ids []string, from, to time.Time, period time.Duration) (map[string][]workflows.CPUPoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, cpuCall{account, region, append([]string(nil), ids...), from, to})
	out := map[string][]workflows.CPUPoint{}
	for _, id := range ids {
		for t := from; t.Before(to); t = t.Add(period) {
			out[id] = append(out[id], workflows.CPUPoint{At: t, Percent: f.level})
		}
	}
	return out, nil
}

func (f *fakeCPU) taken() []cpuCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.calls
	f.calls = nil
	return out
}

// idleWorld is the servers workflow on a real SQLite store, with running
// servers written straight into it.
type idleWorld struct {
	t     *testing.T
	clock *workflows.ManualClock
	db    *store.DB
	cpu   *fakeCPU
	srv   *workflows.Servers
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func newIdleWorld(t *testing.T) *idleWorld {
	t.Helper()
	clock := workflows.NewManualClock(t0)
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "opsbot.db"), store.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cat := &workflows.Catalog{
		Accounts: []*workflows.Account{{Name: "prod", ID: "111122223333", RoleARN: "arn:aws:iam::111122223333:role/opsbot"}},
		Teams:    []*workflows.Team{{Name: "platform", Members: []string{"U0DEV"}, Approvers: []string{"U0LEAD"}, Location: time.UTC, MonthlyBudget: 500 * workflows.Dollar}},
		Templates: []*workflows.Template{
			{Name: "small", InstanceType: "t3.small", Region: "us-east-1", Teams: []string{"*"}},
			{Name: "prod-small", InstanceType: "t3.small", Region: "eu-central-1", Account: "prod", Teams: []string{"*"}},
		},
		Idle: workflows.IdlePolicy{CPUBelow: 5, For: 24 * time.Hour, CheckEvery: time.Hour},
	}
	w := &idleWorld{t: t, clock: clock, db: db, cpu: &fakeCPU{level: 1}}
	w.srv = &workflows.Servers{Store: db, Clock: clock, Catalog: cat, CPU: w.cpu, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return w
}

// running writes a server of tpl running since launched.
func (w *idleWorld) running(id, tpl string, launched time.Time) {
	w.t.Helper()
	t, _ := w.srv.Catalog.Template(tpl)
	err := w.db.Update(context.Background(), func(tx workflows.Tx) error {
		return tx.CreateRequest(&workflows.ServerRequest{
			ID: id, Owner: workflows.Person{SlackID: "U0DEV"}, Team: "platform", Template: tpl, State: workflows.StateRunning,
			HourlyRate: workflows.Dollar / 10, Spec: &workflows.LaunchSpec{RequestID: id, Account: t.Account, Region: t.Region, InstanceType: t.InstanceType},
			Instance:   workflows.Instance{ID: "i-" + id, Account: t.Account, Region: t.Region, Type: t.InstanceType, State: workflows.InstanceRunning, LaunchTime: launched},
			LeaseStart: launched, LeaseEnd: launched.Add(7 * 24 * time.Hour), CreatedAt: launched, UpdatedAt: launched,
		})
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *idleWorld) check() workflows.IdleReport {
	w.t.Helper()
	rep, err := w.srv.CheckIdle(context.Background())
	if err != nil {
		w.t.Fatalf("idle check: %v", err)
	}
	return rep
}

// TestCheckIdle_EachAccountReadInItsOwnAccountAndRegion: a server of a
// template in another account (accounts:, STS AssumeRole) is asked about
// in that account and its region, never with the default account's
// credentials; the default account's servers are asked about apart.
func TestCheckIdle_EachAccountReadInItsOwnAccountAndRegion(t *testing.T) {
	w := newIdleWorld(t)
	w.running("srv-1", "small", t0)
	w.running("srv-2", "prod-small", t0)
	w.running("srv-3", "prod-small", t0)
	w.clock.Advance(25 * time.Hour)
	if rep := w.check(); rep.Checked != 3 || rep.Idle != 3 {
		t.Fatalf("report %+v", rep)
	}
	calls := w.cpu.taken()
	sort.Slice(calls, func(i, j int) bool { return calls[i].account < calls[j].account })
	if len(calls) != 2 {
		t.Fatalf("calls %+v, want one per account and region", calls)
	}
	if c := calls[0]; c.account != "" || c.region != "us-east-1" || len(c.ids) != 1 || c.ids[0] != "i-srv-1" {
		t.Errorf("default account's call %+v", c)
	}
	if c := calls[1]; c.account != "prod" || c.region != "eu-central-1" || len(c.ids) != 2 {
		t.Errorf("prod's call %+v", c)
	}
}

// TestCheckIdle_DueTimes: each server is asked about when its own check
// is due (a whole window after its start, then each turn of the hourly
// grid), so a check reads only the servers due; a check run again at the
// same instant asks nothing; a clock jumped by a day checks each server
// once, not once per missed hour; a stopped server's record is dropped
// when it is next looked at.
func TestCheckIdle_DueTimes(t *testing.T) {
	w := newIdleWorld(t)
	w.running("srv-1", "small", t0)
	w.running("srv-2", "small", t0.Add(5*time.Hour))
	// 09:00 + 24h: only srv-1 has run a whole window.
	w.clock.Advance(24 * time.Hour)
	if rep := w.check(); rep.Checked != 1 {
		t.Fatalf("at +24h: %+v", rep)
	}
	if calls := w.cpu.taken(); len(calls) != 1 || len(calls[0].ids) != 1 || calls[0].ids[0] != "i-srv-1" {
		t.Fatalf("at +24h asked %+v", calls)
	}
	// Again at the same instant, and 30 minutes on: nothing is due.
	w.check()
	w.clock.Advance(30 * time.Minute)
	w.check()
	if calls := w.cpu.taken(); len(calls) != 0 {
		t.Fatalf("asked again before the next turn: %+v", calls)
	}
	// The clock jumps a day: each server is checked once.
	w.clock.Advance(24 * time.Hour)
	if rep := w.check(); rep.Checked != 2 {
		t.Fatalf("after the jump: %+v", rep)
	}
	calls := w.cpu.taken()
	if len(calls) != 1 || len(calls[0].ids) != 2 {
		t.Fatalf("after the jump asked %+v, want one call for both", calls)
	}
	if want := w.clock.Now().Truncate(time.Hour); !calls[0].to.Equal(want) || !calls[0].from.Equal(want.Add(-24*time.Hour)) {
		t.Errorf("window [%s, %s), want the last whole day to %s", calls[0].from, calls[0].to, want)
	}
	w.check()
	if calls := w.cpu.taken(); len(calls) != 0 {
		t.Fatalf("a second check after the jump asked %+v", calls)
	}
	// srv-1 is stopped: its idle record goes at the next look, and it is
	// not asked about.
	if err := w.db.Update(context.Background(), func(tx workflows.Tx) error {
		r, err := tx.Request("srv-1")
		if err != nil {
			return err
		}
		r.State = workflows.StateStopped
		return tx.SaveRequest(r)
	}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Hour)
	if rep := w.check(); rep.Checked != 1 {
		t.Fatalf("after the stop: %+v", rep)
	}
	if err := w.db.View(context.Background(), func(tx workflows.Tx) error {
		vs, err := tx.IdleServers("")
		if err == nil && (len(vs) != 1 || vs[0].RequestID != "srv-2") {
			t.Errorf("idle records after the stop: %+v", vs)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
