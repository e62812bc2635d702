package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// BenchmarkTick measures one scheduler tick (the lease tick and the nag
// tick, as `opsbot serve` runs them every minute) over a fleet's history:
// 100,000 leases and 10,000 incidents, 95 % of them closed, then the same
// live set with the closed history ×10 (1,000,000 leases and 100,000
// incidents in all). Each iteration moves the clock a minute, so the tick
// does the work that falls due in that minute (warnings, ends, reminders,
// nags among 5,000 live leases and 500 live incidents). Beside it, in the
// same run, "oldreads" is the old tick's reads (every live lease and
// approval, every incident ever stored with the reminders of those not
// closed, every open action item) at the same instant: the baseline (at
// most 10 runs; they change nothing).
// Each engine prints a summary with the ratios at the end:
//
//	go test ./store -run '^$' -bench Tick -benchtime 100x
//	OPSBOT_TEST_POSTGRES=postgres://opsbot:opsbot@127.0.0.1:5432/opsbot_test?sslmode=disable go test ./store -run '^$' -bench Tick/postgres -benchtime 100x
func BenchmarkTick(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			res := &tickResults{}
			for _, hist := range []int{1, 10} {
				b.Run(fmt.Sprintf("history=x%d", hist), func(b *testing.B) { benchTickFleet(b, e, hist, res) })
			}
			res.print(e.name)
		})
	}
}

// The fleet: live leases and incidents stay the same; the closed history
// is multiplied.
const (
	benchLiveLeases      = 5_000
	benchClosedLeases    = 95_000
	benchLiveIncidents   = 500
	benchClosedIncidents = 9_500
)

type tickResults struct {
	mu   sync.Mutex
	rows []string
	per  map[string]time.Duration
}

func (r *tickResults) set(key string, d time.Duration, note string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.per == nil {
		r.per = map[string]time.Duration{}
	}
	r.per[key] = d
	if note != "" {
		r.rows = append(r.rows, note)
	}
}

func (r *tickResults) print(engine string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }
	ratio := func(a, b time.Duration) string {
		if b == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.3f×", float64(a)/float64(b))
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\nTick on %s (one lease tick + one nag tick, 1 minute of clock each):\n", engine)
	for _, h := range []string{"x1", "x10"} {
		tick, old := r.per["tick/"+h], r.per["oldreads/"+h]
		if tick == 0 {
			continue
		}
		fmt.Fprintf(&out, "  history %-3s  tick %s   old reads %s   tick/old %s\n", h, ms(tick), ms(old), ratio(tick, old))
	}
	if a, b := r.per["tick/x1"], r.per["tick/x10"]; a > 0 && b > 0 {
		fmt.Fprintf(&out, "  history ×10 / ×1: tick %s, old reads %s\n", ratio(b, a), ratio(r.per["oldreads/x10"], r.per["oldreads/x1"]))
	}
	sort.Strings(r.rows)
	for _, row := range r.rows {
		fmt.Fprintf(&out, "  %s\n", row)
	}
	fmt.Fprint(os.Stdout, out.String())
}

// benchNow is where the benchmark's fleet stands: its live leases end
// over the next week from here.
var benchNow = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

func benchCatalog() *workflows.Catalog {
	return &workflows.Catalog{
		Teams: []*workflows.Team{{
			Name: "platform", ApprovalsChannel: "C-approvals", Location: time.UTC, MonthlyBudget: workflows.USD(100_000),
			Policy: &workflows.Policy{
				Access: workflows.AccessPolicy{Templates: []string{"*"}, ApprovalTimeout: 48 * time.Hour, RemindEvery: 4 * time.Hour},
				Lifecycle: workflows.LifecyclePolicy{DefaultLease: 24 * time.Hour, MaxLease: 7 * 24 * time.Hour, MaxLifetime: 30 * 24 * time.Hour,
					MaxExtensions: 2, WarnBefore: []time.Duration{24 * time.Hour, time.Hour}, EndAction: workflows.EndStop, Grace: 30 * time.Minute},
			},
		}},
		Templates: []*workflows.Template{{Name: "small", Teams: []string{"*"}}},
		Incidents: &workflows.IncidentPolicy{
			UpdateEvery:     map[workflows.Severity]time.Duration{workflows.Sev1: 30 * time.Minute, workflows.Sev2: time.Hour, workflows.Sev3: 4 * time.Hour},
			MeetingNagAfter: 24 * time.Hour, MeetingNagEvery: 24 * time.Hour, PostmortemDue: 5 * 24 * time.Hour,
		},
	}
}

func benchTickFleet(b *testing.B, e engine, hist int, res *tickResults) {
	ctx := context.Background()
	db := e.open(b)
	start := time.Now()
	seedFleet(b, db, hist)
	seeded := time.Since(start)

	clock := workflows.NewManualClock(benchNow)
	log := discardLogger()
	cat := benchCatalog()
	servers := &workflows.Servers{Store: db, Clock: clock, Catalog: cat, Log: log}
	incidents := &workflows.Incidents{Store: db, Clock: clock, Catalog: cat, Log: log}
	tick := func() {
		if _, err := servers.Tick(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := incidents.Tick(ctx); err != nil {
			b.Fatal(err)
		}
	}
	// A start: every live subject is due at once and the first tick works
	// their due times out.
	start = time.Now()
	if _, err := workflows.ResetDueTimes(ctx, db); err != nil {
		b.Fatal(err)
	}
	tick()
	first := time.Since(start)
	h := fmt.Sprintf("x%d", hist)
	res.set("first/"+h, first, fmt.Sprintf("history %s: seeded %d leases, %d incidents in %s; first tick after a start (every live subject looked at once) %.0f ms",
		h, benchLiveLeases+benchClosedLeases*hist, benchLiveIncidents+benchClosedIncidents*hist, seeded.Round(time.Millisecond), float64(first)/1e6))

	b.Run("tick", func(b *testing.B) {
		n := 0
		start := time.Now()
		for b.Loop() {
			clock.Advance(time.Minute)
			tick()
			n++
		}
		per := time.Since(start) / time.Duration(n)
		b.ReportMetric(float64(per)/1e6, "ms/tick")
		res.set("tick/"+h, per, "")
	})
	b.Run("oldreads", func(b *testing.B) {
		// They change nothing, so a few runs tell their cost (at ×10 on
		// SQLite one takes seconds).
		n := min(b.N, 10)
		start := time.Now()
		for range n {
			oldTickReads(b, db, cat, clock.Now())
		}
		per := time.Since(start) / time.Duration(n)
		b.ReportMetric(float64(per), "ns/op")
		b.ReportMetric(float64(per)/1e6, "ms/tick")
		res.set("oldreads/"+h, per, "")
	})
}

// oldTickReads is what the ticks read before due times, as they read it:
// the lease tick every running or stopped lease and every pending
// approval; the nag tick every incident ever stored, the reminders of
// those not closed, and every open action item with its reminders. Each
// is decided at now, as the old code did before acting on the few due.
func oldTickReads(b *testing.B, db *DB, cat *workflows.Catalog, now time.Time) {
	ctx := context.Background()
	team := cat.Teams[0]
	lc := team.Policy.Lifecycle
	due := 0
	err := db.View(ctx, func(tx workflows.Tx) error {
		reqs, err := tx.Requests(workflows.RequestFilter{States: []workflows.State{workflows.StateRunning, workflows.StateStopped}})
		if err != nil {
			return err
		}
		for _, r := range reqs {
			if _, ok := cat.Team(r.Team); !ok {
				continue
			}
			if s := workflows.DueLease(now, r, lc); s.Warn != 0 || s.End {
				due++
			}
		}
		apps, err := tx.Approvals(workflows.ApprovalFilter{States: []workflows.ApprovalState{workflows.ApprovalPending}})
		if err != nil {
			return err
		}
		for _, a := range apps {
			if s := workflows.DueApproval(now, a, team.Policy.Access.RemindEvery); s.Expire || s.RemindKey != "" {
				due++
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	err = db.View(ctx, func(tx workflows.Tx) error {
		incs, err := tx.Incidents(workflows.IncidentFilter{})
		if err != nil {
			return err
		}
		for _, inc := range incs {
			if inc.ChannelID == "" || (!inc.Open() && inc.PostmortemDone) {
				continue
			}
			last, err := tx.LastReminders(inc.ID)
			if err != nil {
				return err
			}
			sent := workflows.NagsSent{}
			for k, at := range last {
				sent[workflows.NagKind(k)] = at
			}
			due += len(workflows.DueNags(now, inc, cat.Incidents, time.UTC, sent))
		}
		acts, err := tx.Actions("")
		if err != nil {
			return err
		}
		for _, a := range acts {
			if a.Due.IsZero() {
				continue
			}
			last, err := tx.LastReminders(a.ID)
			if err != nil {
				return err
			}
			if _, ok := (workflows.Repeat{First: a.Due, Every: 24 * time.Hour}).Due(now, last[string(workflows.NagAction)]); ok {
				due++
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	_ = due
}

// seedFleet writes the fleet with a few set-based INSERT ... SELECT
// statements over a counting CTE (both engines run them), in one
// transaction: seconds for a million rows, where one CreateRequest per
// row would take minutes on PostgreSQL. Rows are as the store writes
// them; live ones are due at once (as after the migration's backfill),
// closed ones have no due time.
func seedFleet(b *testing.B, db *DB, hist int) {
	b.Helper()
	ctx := context.Background()
	now := benchNow.UnixNano()
	const day = int64(24 * time.Hour)
	closedLeases, closedIncidents := benchClosedLeases*hist, benchClosedIncidents*hist
	count := func(n int) string {
		return fmt.Sprintf(`WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < %d) `, n)
	}
	requestCols := `id, owner_slack, owner_email, owner_email_key, team, template, reason,
		state, state_reason, duration, hourly_rate, estimate, client_token,
		instance_id, instance_region, instance_type, instance_state, instance_launch_time,
		instance_private_ip, instance_private_dns, instance_tags,
		lease_start, lease_end, extensions, ending_at, created_at, updated_at, launch_spec, next_due_at`
	incidentCols := incidentColumns + `, next_due_at`
	stmts := []struct {
		q    string
		args []any
	}{
		// Closed leases: terminated over the past years.
		{count(closedLeases) + `INSERT INTO requests (` + requestCols + `)
			SELECT 'srv-' || (i + 1000000), 'U' || (i % 50), 'u' || (i % 50) || '@example.com', 'u' || (i % 50) || '@example.com', 'platform', 'small', 'history',
			'terminated', 'lease ended', 86400000000000, 20000, 480000, 'opsbot-h' || i,
			'i-h' || i, 'us-east-1', 't3.small', 'terminated', CAST(? AS BIGINT) - i * 3600000000000,
			'10.0.0.1', 'ip-10-0-0-1', '',
			CAST(? AS BIGINT) - i * 3600000000000, CAST(? AS BIGINT) - i * 3600000000000 + 86400000000000, 0, 0,
			CAST(? AS BIGINT) - i * 3600000000000, CAST(? AS BIGINT) - i * 3600000000000 + 86400000000000, '', NULL FROM seq`,
			[]any{now, now - 30*day, now - 30*day, now - 30*day, now - 30*day}},
		// Live leases: running, ending from a day and a minute to a week
		// from now: their 24h warnings start a minute into the run.
		{count(benchLiveLeases) + `INSERT INTO requests (` + requestCols + `)
			SELECT 'srv-' || i, 'U' || (i % 50), 'u' || (i % 50) || '@example.com', 'u' || (i % 50) || '@example.com', 'platform', 'small', 'live',
			'running', 'launched', 172800000000000, 20000, 960000, 'opsbot-l' || i,
			'i-l' || i, 'us-east-1', 't3.small', 'running', CAST(? AS BIGINT) - (i % 48) * 3600000000000,
			'10.0.0.2', 'ip-10-0-0-2', '',
			CAST(? AS BIGINT) - (i % 48) * 3600000000000, CAST(? AS BIGINT) + 86460000000000 + ((i * 7919) % 8640) * 60000000000, 0, 0,
			CAST(? AS BIGINT) - (i % 48) * 3600000000000, CAST(? AS BIGINT), '', 0 FROM seq`,
			[]any{now, now, now, now, now}},
		// Approvals: one decided per ten closed leases, twenty pending.
		{count(closedLeases/10) + `INSERT INTO approvals (` + approvalColumns + `, next_due_at)
			SELECT 'apr-' || (i + 1000000), 'srv-' || (i * 10 + 1000000), 'launch', 'platform', 'U1', '', 0,
			'history', 480000, 0, 1, 'approved', '', '',
			CAST(? AS BIGINT) - i * 36000000000000, CAST(? AS BIGINT) - i * 36000000000000 + 172800000000000, CAST(? AS BIGINT) - i * 36000000000000 + 60000000000, 0, '', '', NULL FROM seq`,
			[]any{now - 30*day, now - 30*day, now - 30*day}},
		{count(20) + `INSERT INTO approvals (` + approvalColumns + `, next_due_at)
			SELECT 'apr-' || i, 'srv-' || i, 'extend', 'platform', 'U1', '', 86400000000000,
			'live', 480000, 0, 1, 'pending', '', '',
			CAST(? AS BIGINT) - i * 600000000000, CAST(? AS BIGINT) - i * 600000000000 + 172800000000000, 0, 0, '', '', 0 FROM seq`,
			[]any{now, now}},
		// Closed incidents: resolved, post-mortem done.
		{count(closedIncidents) + `INSERT INTO incidents (` + incidentCols + `)
			SELECT 'inc-' || (i + 1000000), 'Something broke', 'sev2', 'resolved', 'platform',
			'', 'PSVC', '', 'resolved', 'C-h' || i, 'inc-h' || i,
			'U1', '', '', '', '', '', 'U2', '', CAST(? AS BIGINT) - i * 7200000000000, CAST(? AS BIGINT) - i * 7200000000000 + 7200000000000,
			CAST(? AS BIGINT) - i * 7200000000000, 'fixed', 'page-h' || i, 'https://notion.so/h', CAST(? AS BIGINT) - i * 7200000000000 + 86400000000000,
			CAST(? AS BIGINT) - i * 7200000000000 + 432000000000000, 1, '', CAST(? AS BIGINT) - i * 7200000000000 + 432000000000000,
			CAST(? AS BIGINT) - i * 7200000000000, 'Search', 0, 1, '', 0, '', NULL FROM seq`,
			[]any{now, now, now, now, now, now, now}},
		// Live incidents: half open (sev1, sev2, sev3), half resolved with the
		// post-mortem to do.
		{count(benchLiveIncidents) + `INSERT INTO incidents (` + incidentCols + `)
			SELECT 'inc-' || i, 'Something is broken',
			CASE i % 3 WHEN 0 THEN 'sev1' WHEN 1 THEN 'sev2' ELSE 'sev3' END,
			CASE WHEN i % 2 = 0 THEN 'investigating' ELSE 'resolved' END, 'platform',
			'', 'PSVC', '', 'triggered', 'C-l' || i, 'inc-l' || i,
			'U1', '', '', '', '', '', 'U2', '', CAST(? AS BIGINT) - (i % 240) * 60000000000,
			CASE WHEN i % 2 = 0 THEN 0 ELSE CAST(? AS BIGINT) - (i % 72) * 3600000000000 END,
			CAST(? AS BIGINT) - (i % 240) * 60000000000, 'looking', '', '', 0,
			CASE WHEN i % 2 = 0 THEN 0 ELSE CAST(? AS BIGINT) + (i % 120) * 3600000000000 END, 0, '', CAST(? AS BIGINT),
			CAST(? AS BIGINT) - (i % 240) * 60000000000, 'Search', 0, 0, '', 0, '', 0 FROM seq`,
			[]any{now, now, now, now, now, now}},
		// Reminders sent for the closed incidents (one each), and action
		// items: one per incident, done for the closed ones.
		{count(closedIncidents) + `INSERT INTO reminders (subject, kind, due_at, sent_at)
			SELECT 'inc-' || (i + 1000000), 'update', CAST(? AS BIGINT) - i * 7200000000000 + 3600000000000, CAST(? AS BIGINT) - i * 7200000000000 + 3600000000000 FROM seq`,
			[]any{now, now}},
		{count(closedIncidents) + `INSERT INTO action_items (` + actionColumns + `, next_due_at)
			SELECT 'act-' || (i + 1000000), 'inc-' || (i + 1000000), 'Add an index', 'U3', '', CAST(? AS BIGINT) - i * 7200000000000 + 604800000000000,
			CAST(? AS BIGINT) - i * 7200000000000 + 604800000000000, 'U1', CAST(? AS BIGINT) - i * 7200000000000, NULL FROM seq`,
			[]any{now, now, now}},
		{count(benchLiveIncidents) + `INSERT INTO action_items (` + actionColumns + `, next_due_at)
			SELECT 'act-' || i, 'inc-' || i, 'Add an index', 'U3', '', CAST(? AS BIGINT) + (i % 96) * 3600000000000 - 86400000000000,
			0, 'U1', CAST(? AS BIGINT) - 86400000000000, 0 FROM seq`,
			[]any{now, now}},
	}
	err := db.writeTx(ctx, "seed", sql.LevelReadCommitted, func(t *sql.Tx) error {
		for _, s := range stmts {
			if _, err := t.ExecContext(ctx, db.q(s.q), s.args...); err != nil {
				return fmt.Errorf("%.80s: %w", strings.TrimSpace(s.q), err)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("seed the fleet: %v", err)
	}
	if db.dialect == dialectPostgres {
		// Fresh statistics, as autovacuum would have after a load this size.
		for _, table := range []string{"requests", "approvals", "incidents", "reminders", "action_items"} {
			if _, err := db.write.ExecContext(ctx, "ANALYZE "+table); err != nil {
				b.Fatal(err)
			}
		}
	}
}
