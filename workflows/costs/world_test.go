package costs_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/costs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var berlin, _ = time.LoadLocation("Europe/Berlin")

// cronish is "0 9 * * 1-5": weekdays at 09:00, in the time's zone.
type cronish struct{}

func (cronish) Next(t time.Time) time.Time {
	d := time.Date(t.Year(), t.Month(), t.Day(), 9, 0, 0, 0, t.Location())
	for !d.After(t) || d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = time.Date(d.Year(), d.Month(), d.Day()+1, 9, 0, 0, 0, t.Location())
	}
	return d
}

// fakeExplorer answers every query with fixed daily costs per view, and
// counts the calls; err, when set, is answered instead.
type fakeExplorer struct {
	mu      sync.Mutex
	queries []costs.Query
	err     error
}

func (f *fakeExplorer) CostAndUsage(_ context.Context, q costs.Query) (costs.Answer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	if f.err != nil {
		return costs.Answer{Calls: 1}, f.err
	}
	type row struct {
		k1, k2 string
		perDay float64
	}
	var rows []row
	switch {
	case q.GroupBy[0] == costs.ByAccount:
		rows = []row{{"111122223333", "Amazon Elastic Compute Cloud - Compute", 10}, {"444455556666", "Amazon Relational Database Service", 4}, {"444455556666", "AWS Lambda", 0.5}}
	case q.GroupBy[0] == costs.ByTag(workflows.TagTeam):
		rows = []row{{"platform", "Amazon Elastic Compute Cloud - Compute", 2}}
	case q.GroupBy[0] == costs.ByTag("team"):
		rows = []row{{"platform", "Amazon Elastic Compute Cloud - Compute", 6}, {"data", "Amazon Relational Database Service", 4}, {"", "Amazon Elastic Compute Cloud - Compute", 4}, {"", "AWS Lambda", 0.5}}
	default:
		rows = []row{{"checkout", "Amazon Elastic Compute Cloud - Compute", 14.5}}
	}
	start, _ := time.Parse("2006-01-02", q.Start)
	end, _ := time.Parse("2006-01-02", q.End)
	var a costs.Answer
	a.Calls = 1
	a.Accounts = map[string]string{"444455556666": "sandbox-dev"}
	for d := start; d.Before(end); {
		next := d.AddDate(0, 0, 1)
		if q.Monthly {
			next = time.Date(d.Year(), d.Month()+1, 1, 0, 0, 0, 0, time.UTC)
			if next.After(end) {
				next = end
			}
		}
		days := next.Sub(d).Hours() / 24
		// Later months cost more: month-over-month movers to show.
		growth := 1 + float64(int(d.Month())*int(d.Month()))/100
		for _, r := range rows {
			a.Lines = append(a.Lines, costs.Line{Day: d.Format("2006-01-02"), Keys: [2]string{r.k1, r.k2}, Amount: r.perDay * days * growth})
		}
		d = next
	}
	return a, nil
}

func (f *fakeExplorer) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queries)
}

type world struct {
	t     *testing.T
	clock *workflows.ManualClock
	db    *store.DB
	cat   *workflows.Catalog
	pol   *costs.Policy
	ce    *fakeExplorer
	svc   *costs.Service
	sent  []workflows.Message
	jobs  []string
}

func newWorld(t *testing.T, at time.Time) *world {
	t.Helper()
	clock := workflows.NewManualClock(at)
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "opsbot.db"), store.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cat := &workflows.Catalog{
		Admins: []string{"admin@example.com"},
		Accounts: []*workflows.Account{
			{Name: "prod", ID: "111122223333"},
		},
		Teams: []*workflows.Team{
			{Name: "platform", ApprovalsChannel: "#platform-approvals", Members: []string{"U0DEV"}, Approvers: []string{"U0LEAD"}, Location: berlin, MonthlyBudget: 500 * workflows.Dollar},
			{Name: "data", ApprovalsChannel: "#data-approvals", Members: []string{"ana@example.com"}, Approvers: []string{"U0DLEAD"}, Location: time.UTC, MonthlyBudget: 200 * workflows.Dollar},
		},
	}
	pol := &costs.Policy{CostExplorer: true, Metric: costs.MetricUnblended, TeamTag: "team", Tags: []string{"project"}, DriftPercent: 25,
		RefreshHour: 6, Review: &costs.ReviewPolicy{Channel: "#cost-review", Schedule: cronish{}, Location: berlin, TeamParts: true}}
	w := &world{t: t, clock: clock, db: db, cat: cat, pol: pol, ce: &fakeExplorer{}}
	w.svc = w.service()
	return w
}

// service is one more replica of the costs workflow on the same store.
func (w *world) service() *costs.Service {
	return &costs.Service{Store: w.db, Clock: w.clock, Catalog: w.cat, Policy: w.pol, Explorer: w.ce}
}

func (w *world) tick() costs.TickReport {
	w.t.Helper()
	rep, err := w.svc.Tick(context.Background())
	if err != nil {
		w.t.Fatalf("tick: %v", err)
	}
	return rep
}

// drain runs every due job: messages are collected in w.sent, the costs
// jobs are run by the service's handlers.
func (w *world) drain() {
	w.t.Helper()
	ctx := context.Background()
	hs := w.svc.Handlers()
	for range 20 {
		js, err := w.db.Claim(ctx, w.clock.Now(), "test", time.Minute, 100)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(js) == 0 {
			return
		}
		for _, j := range js {
			w.jobs = append(w.jobs, j.Kind)
			switch {
			case j.Kind == workflows.JobMessage:
				m, err := workflows.DecodeMessage(j.Payload)
				if err != nil {
					w.t.Fatal(err)
				}
				w.sent = append(w.sent, m)
			case hs[j.Kind] != nil:
				if err := hs[j.Kind](ctx, j); err != nil && !workflows.IsPermanent(err) {
					// As the runner does: again later, one more attempt.
					if err := w.db.Retry(ctx, j, w.clock.Now().Add(time.Minute), err.Error()); err != nil {
						w.t.Fatal(err)
					}
					continue
				}
			}
			if err := w.db.Done(ctx, j, w.clock.Now()); err != nil && !errors.Is(err, workflows.ErrLeaseLost) {
				w.t.Fatal(err)
			}
		}
	}
}

// messages returns the messages sent since the last call.
func (w *world) messages() []workflows.Message {
	out := w.sent
	w.sent = nil
	return out
}

func (w *world) commit(team, month, req string, amount workflows.Money) {
	w.t.Helper()
	err := w.db.Update(context.Background(), func(tx workflows.Tx) error {
		return tx.AddLedger(workflows.LedgerEntry{Team: team, Month: month, RequestID: req, Kind: workflows.LedgerCommit, Amount: amount, At: w.clock.Now()})
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// golden compares v, as indented JSON, with testdata/name.json.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	if m, ok := v.(workflows.Message); ok {
		m.ID = "" // random, for delivery only
		v = m
	}
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".json")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden %s (run with -update): %v", path, err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the golden file (run with -update and review the diff):\n%s", name, got)
	}
}

func titles(ms []workflows.Message) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Channel+m.User+": "+m.Title)
	}
	return strings.Join(out, "\n")
}
