package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/opsbot/opsbot/sandbox"
)

type options struct {
	opsbot, db, command        string
	events, conns              int
	commands, cmdConns, rounds int
	slices                     int
	keep                       bool
	cpuprofile, only, config   string
	insert                     bool
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "opsbot-loadtest-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	f := startFakes()
	defer f.srv.Close()
	bare, err := startBare(ctx, dir, "bare", "")
	if bare != nil {
		defer bare.stop()
	}
	if err != nil {
		return err
	}
	var insert *server
	if o.insert && o.only != "slash" {
		insert, err = startBare(ctx, dir, "insert", filepath.Join(dir, "insert.db"))
		if insert != nil {
			defer insert.stop()
		}
		if err != nil {
			return err
		}
	}
	ops, err := startOpsbot(ctx, o, dir, f)
	if ops != nil {
		defer ops.stop()
	}
	if err != nil {
		return err
	}
	fmt.Printf("opsbot %s and the bare handlers, both on loopback; %d round(s); load %s\n", o.opsbot, o.rounds, loadavg())
	// Warm up, untimed: each person's first command has opsbot look up
	// their email in Slack (cached after), and both servers' connections
	// and caches settle.
	if insert != nil {
		fire(ctx, insert, pdEvents("wi", 200, time.Now()), 4, 202, nil)
	}
	for _, s := range []*server{bare, ops} {
		fire(ctx, s, slashCommands(fmt.Sprintf("w%s", s.name[:1]), o.command, 8*len(sandbox.People), time.Now(), f.srv.URL), 4, 200, nil)
		fire(ctx, s, pdEvents(fmt.Sprintf("w%s", s.name[:1]), 200, time.Now()), 4, 202, nil)
	}
	servers := []*server{bare, ops}
	var pdRatios, insertRatios, p99Ratios, pdCPU, cmdCPU []float64
	var worst time.Duration
	for r := range o.rounds {
		if r%2 == 1 {
			servers = []*server{ops, bare}
		} else {
			servers = []*server{bare, ops}
		}
		if o.only != "slash" {
			pd := servers
			if insert != nil {
				pd = append([]*server{insert}, servers...)
				if r%2 == 1 {
					pd = append(servers[:2:2], insert)
				}
			}
			ratio, insertRatio, cpu := pdRound(ctx, o, r, pd, bare, insert, ops)
			pdRatios, pdCPU = append(pdRatios, ratio), append(pdCPU, cpu)
			if insert != nil {
				insertRatios = append(insertRatios, insertRatio)
			}
		}
		if o.only == "pagerduty" {
			continue
		}
		reqs := map[string][]request{}
		for _, s := range servers {
			reqs[s.name] = slashCommands(fmt.Sprintf("%d%s%d", time.Now().UnixNano()%1e6, s.name[:1], r), o.command, o.commands, time.Now(), f.srv.URL)
		}
		res := compare(ctx, servers, reqs, o.cmdConns, 200, o.slices)
		ratio := float64(res["opsbot"].pct(0.99)) / float64(res["bare"].pct(0.99))
		p99Ratios = append(p99Ratios, ratio)
		cmdCPU = append(cmdCPU, float64(res["opsbot"].cpuPer())/float64(res["bare"].cpuPer()))
		worst = max(worst, res["opsbot"].pct(1))
		fmt.Printf("round %d  slash command %q, %d from %d connections: p99 opsbot %s, bare %s, ratio %.2f\n",
			r+1, o.command, o.commands, o.cmdConns, ms(res["opsbot"].pct(0.99)), ms(res["bare"].pct(0.99)), ratio)
		for _, s := range []*server{bare, ops} {
			printResult("  ", res[s.name], true)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	fmt.Printf("\nPagerDuty accept rate, opsbot / bare: %s (goal >= 0.70)\n", spread(pdRatios))
	if len(insertRatios) > 0 {
		fmt.Printf("PagerDuty accept rate, opsbot / bare + SQLite insert: %s\n", spread(insertRatios))
	}
	fmt.Printf("slash command p99, opsbot / bare:      %s (goal <= 2.50), opsbot's slowest answer %s (goal <= 3s)\n", spread(p99Ratios), ms(worst))
	fmt.Printf("server CPU per request, opsbot / bare: PagerDuty %s, slash command %s\n", spread(pdCPU), spread(cmdCPU))
	fmt.Printf("load average at the end: %s\n", loadavg())
	return nil
}

// pdRound sends round r's PagerDuty events to the servers and returns
// opsbot's accept rate over bare's and over the reference insert's (0
// without it), and its CPU per event over bare's.
func pdRound(ctx context.Context, o options, r int, servers []*server, bare, insert, ops *server) (ratio, insertRatio, cpu float64) {
	reqs := map[string][]request{}
	for _, s := range servers {
		reqs[s.name] = pdEvents(fmt.Sprintf("%d%s%d", time.Now().UnixNano()%1e6, s.name[:1], r), o.events, time.Now())
	}
	res := compare(ctx, servers, reqs, o.conns, 202, o.slices)
	ratio = res["opsbot"].rate() / res["bare"].rate()
	fmt.Printf("round %d  PagerDuty, %d events from %d connections: opsbot %.0f/s, bare %.0f/s, ratio %.2f",
		r+1, o.events, o.conns, res["opsbot"].rate(), res["bare"].rate(), ratio)
	shown := []*server{bare, ops}
	if insert != nil {
		insertRatio = res["opsbot"].rate() / res["insert"].rate()
		fmt.Printf("; bare + SQLite insert %.0f/s, opsbot / it %.2f", res["insert"].rate(), insertRatio)
		shown = append(shown, insert)
	}
	fmt.Println()
	for _, s := range shown {
		printResult("  ", res[s.name], false)
	}
	return ratio, insertRatio, float64(res["opsbot"].cpuPer()) / float64(res["bare"].cpuPer())
}

// otherPIDs are the servers other than s.
func otherPIDs(s *server, all ...*server) []int {
	var out []int
	for _, o := range all {
		if o != s {
			out = append(out, o.pid())
		}
	}
	return out
}

func printResult(indent string, r result, latency bool) {
	fmt.Printf("%s%-6s %5.0f/s  %3.0fµs CPU each", indent, r.server, r.rate(), float64(r.cpuPer().Nanoseconds())/1000)
	if latency {
		fmt.Printf("  p50 %s p99 %s max %s", ms(r.pct(0.5)), ms(r.pct(0.99)), ms(r.pct(1)))
	}
	if r.txs > 0 {
		fmt.Printf("  %.1f records per intake transaction", r.records/r.txs)
	}
	if r.settle > 0 {
		fmt.Printf("  queue worked off %s after the last answer", ms(r.settle))
	}
	if r.bad > 0 {
		fmt.Printf("  %d failed (first: %s)", r.bad, r.firstBad)
	}
	fmt.Printf("  %s\n", r.cpu)
}

// spread prints the median and the range of xs.
func spread(xs []float64) string {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return "-"
	}
	return fmt.Sprintf("median %.2f (%.2f–%.2f over %d rounds)", s[len(s)/2], s[0], s[len(s)-1], len(s))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	var a, b5, c float64
	fmt.Sscan(string(b), &a, &b5, &c)
	return fmt.Sprintf("%.2f %.2f %.2f (1, 5, 15 min) on %d cores", a, b5, c, numCPU())
}

func numCPU() int { return runtime.NumCPU() }
