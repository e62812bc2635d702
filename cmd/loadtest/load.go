package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opsbot/opsbot/bot"
	"github.com/opsbot/opsbot/sandbox"
)

// request is one prepared, signed request.
type request struct {
	path   string
	header http.Header
	body   []byte
}

// pdEvents builds n unique signed V3 events: priority changes of
// incidents opsbot does not track, so processing them from the outbox is
// a read, and what is measured is the intake.
func pdEvents(run string, n int, at time.Time) []request {
	out := make([]request, n)
	for i := range out {
		id := fmt.Sprintf("%s%06d", run, i)
		body := fmt.Sprintf(`{"event":{"id":"01LOAD%s","event_type":"incident.priority_updated","resource_type":"incident",`+
			`"occurred_at":"%s","agent":{"id":"PLOAD01","type":"user_reference","summary":"Load Test"},"client":null,`+
			`"data":{"id":"QLOAD%s","type":"incident","self":"https://api.pagerduty.com/incidents/QLOAD%s",`+
			`"html_url":"https://example.pagerduty.com/incidents/QLOAD%s","number":%d,"status":"triggered",`+
			`"incident_key":"load-%s","created_at":"%s","title":"Load test incident %d",`+
			`"service":{"id":"PLOADSVC","type":"service_reference","summary":"load"},"assignees":[],`+
			`"priority":{"id":"PP1","type":"priority_reference","summary":"P1"},"urgency":"high"}}}`,
			id, at.Format(time.RFC3339), id, id, id, i+1, id, at.Format(time.RFC3339), i)
		mac := hmac.New(sha256.New, []byte(pdSecret))
		mac.Write([]byte(body))
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set("X-PagerDuty-Signature", "v1="+hex.EncodeToString(mac.Sum(nil)))
		out[i] = request{path: "/webhooks/pagerduty", header: h, body: []byte(body)}
	}
	return out
}

// slashCommands builds n unique signed slash commands from the sample
// setup's people, with the fields Slack sends.
func slashCommands(run, command string, n int, at time.Time, fakeURL string) []request {
	name, text, _ := strings.Cut(command, " ")
	out := make([]request, n)
	for i := range out {
		p := sandbox.People[i%len(sandbox.People)]
		id := fmt.Sprintf("%s%06d", run, i)
		form := url.Values{
			"token": {"loadtest"}, "team_id": {"T0FAKE001"}, "team_domain": {"sandbox"},
			"channel_id": {"C0GENERAL"}, "channel_name": {"general"},
			"user_id": {p.Slack}, "user_name": {p.Handle}, "command": {name}, "text": {text},
			"api_app_id": {"A0APP0001"}, "is_enterprise_install": {"false"},
			"response_url": {fakeURL + "/slack/commands/" + id},
			"trigger_id":   {"13345224609." + id},
		}
		body := []byte(form.Encode())
		h := bot.Sign(slackSecret, body, at)
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		out[i] = request{path: "/slack/commands", header: h, body: body}
	}
	return out
}

// result is one timed phase against one server.
type result struct {
	server   string
	n, bad   int
	wall     time.Duration
	settle   time.Duration   // after the last answer, until the work the requests queued was done
	lat      []time.Duration // sorted
	cpu      cpuUse
	firstBad string
	// records and transactions of opsbot's intake group commit
	records, txs float64
}

func (r result) rate() float64 { return float64(r.n-r.bad) / r.wall.Seconds() }

// cpuPer is the server's CPU time per request: unlike the rate, it
// hardly depends on what else the machine is doing.
func (r result) cpuPer() time.Duration {
	if r.n == 0 {
		return 0
	}
	return time.Duration(float64(r.cpu.server) / clockTick * float64(time.Second) / float64(r.n))
}

// add sums two phases against the same server.
func (r result) add(o result) result {
	if r.server == "" {
		return o
	}
	r.n += o.n
	r.bad += o.bad
	r.wall += o.wall
	r.settle += o.settle
	r.lat = append(r.lat, o.lat...)
	r.records += o.records
	r.txs += o.txs
	sort.Slice(r.lat, func(a, b int) bool { return r.lat[a] < r.lat[b] })
	r.cpu = cpuUse{machine: r.cpu.machine + o.cpu.machine, server: r.cpu.server + o.cpu.server,
		ours: r.cpu.ours + o.cpu.ours, d: r.cpu.d + o.cpu.d}
	if r.firstBad == "" {
		r.firstBad = o.firstBad
	}
	return r
}

// compare runs reqs[name] against each server in slices, alternating
// which server goes first, so that a burst of other work on the machine
// falls on both alike.
func compare(ctx context.Context, servers []*server, reqs map[string][]request, conns, want, slices int) map[string]result {
	out := map[string]result{}
	for k := range slices {
		order := servers
		if k%2 == 1 {
			order = make([]*server, len(servers))
			for i, s := range servers {
				order[len(servers)-1-i] = s
			}
		}
		for _, s := range order {
			all := reqs[s.name]
			lo, hi := k*len(all)/slices, (k+1)*len(all)/slices
			rec0, tx0 := intakeCounters(s)
			res := fire(ctx, s, all[lo:hi], conns, want, otherPIDs(s, servers...))
			rec1, tx1 := intakeCounters(s)
			res.records, res.txs = rec1-rec0, tx1-tx0
			out[s.name] = out[s.name].add(res)
		}
	}
	return out
}

func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(p*float64(len(r.lat))+0.5) - 1
	return r.lat[max(0, min(i, len(r.lat)-1))]
}

// fire sends reqs to s from conns connections, each sending its next
// request when the last was answered, and times every answer.
func fire(ctx context.Context, s *server, reqs []request, conns int, want int, others []int) result {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	lat := make([]time.Duration, len(reqs))
	var next, bad atomic.Int64
	var firstBad atomic.Value
	var wg sync.WaitGroup
	before := sampleCPU(s.pid(), others)
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(reqs) {
					return
				}
				r := reqs[i]
				hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url(r.path), bytes.NewReader(r.body))
				hr.Header = r.header.Clone()
				t0 := time.Now()
				resp, err := client.Do(hr)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				lat[i] = time.Since(t0)
				if err != nil || resp.StatusCode != want {
					bad.Add(1)
					msg := fmt.Sprint(err)
					if err == nil {
						msg = resp.Status
					}
					firstBad.CompareAndSwap(nil, msg)
				}
			}
		}()
	}
	wg.Wait()
	res := result{server: s.name, n: len(reqs), bad: int(bad.Load()), wall: time.Since(start), lat: lat}
	if s.settle != nil {
		// The server's work the requests queued (opsbot's outbox) is
		// done before the next phase, whichever server it times, and
		// its CPU is counted here.
		res.settle = s.settle(ctx)
	}
	res.cpu = sampleCPU(s.pid(), others).since(before)
	if v := firstBad.Load(); v != nil {
		res.firstBad = v.(string)
	}
	sort.Slice(res.lat, func(a, b int) bool { return res.lat[a] < res.lat[b] })
	return res
}

// cpuUse is CPU time in clock ticks: the whole machine's busy time, the
// server's under test, and this process's and the idle server's.
type cpuUse struct {
	machine, server, ours int64
	wall                  time.Time
	d                     time.Duration
}

const clockTick = 100 // USER_HZ on Linux

func sampleCPU(server int, others []int) cpuUse {
	u := cpuUse{machine: machineBusy(), server: procTicks(server), wall: time.Now()}
	u.ours = procTicks(os.Getpid())
	for _, p := range others {
		u.ours += procTicks(p)
	}
	return u
}

func (u cpuUse) since(b cpuUse) cpuUse {
	return cpuUse{machine: u.machine - b.machine, server: u.server - b.server, ours: u.ours - b.ours, d: u.wall.Sub(b.wall)}
}

// cores says how many cores' worth of CPU t ticks were over the phase.
func (u cpuUse) cores(t int64) float64 {
	if u.d <= 0 {
		return 0
	}
	return float64(t) / clockTick / u.d.Seconds()
}

// String: machine busy, of which the server, the client (and the other,
// idle, server), and everything else on the machine.
func (u cpuUse) String() string {
	rest := u.machine - u.server - u.ours
	return fmt.Sprintf("cpu %.2f cores busy: server %.2f, client+idle server %.2f, other processes %.2f",
		u.cores(u.machine), u.cores(u.server), u.cores(u.ours), u.cores(max(rest, 0)))
}

// machineBusy reads the machine's non-idle CPU ticks from /proc/stat.
func machineBusy() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		busy += n
	}
	return busy
}

// procTicks reads a process's user+system ticks, its children's included.
func procTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	f := strings.Fields(s)
	var t int64
	for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime (fields 14-17)
		if i < len(f) {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			t += n
		}
	}
	return t
}

// intakeCounters reads opsbot's intake group-commit counters from
// /metrics (all sources); the bare server has none.
func intakeCounters(s *server) (records, txs float64) {
	if s.name != "opsbot" {
		return 0, 0
	}
	resp, err := http.Get(s.url("/metrics"))
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(val, 64)
		switch {
		case strings.HasPrefix(name, "opsbot_intake_records_total{"):
			records += v
		case strings.HasPrefix(name, "opsbot_intake_transactions_total{"):
			txs += v
		}
	}
	return records, txs
}
