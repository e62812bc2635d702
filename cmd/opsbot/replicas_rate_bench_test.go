package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/store/storetest"
)

// BenchmarkPostgres_ReplicasAcceptWebhooks measures how many unique,
// signed PagerDuty webhooks a second one opsbot replica accepts (verify,
// de-duplicate, durable insert, answer), then three replicas on the same
// PostgreSQL database, the events spread over them round robin from 32
// connections, alternating one and three twice in one run. It reports
// both rates and their ratio (three over one). All replicas run in this
// one process, on this machine's cores, with PostgreSQL on them too: the
// ratio says whether the database serializes the replicas (a ratio well
// under 1) or not; whether CPU is the ceiling is read from the CPU use.
//
//	OPSBOT_TEST_POSTGRES=postgres://opsbot:opsbot@127.0.0.1:5432/opsbot_test?sslmode=disable go test ./cmd/opsbot -run XXX -bench ReplicasAcceptWebhooks -benchtime 1x
//
// OPSBOT_LOADTEST_EVENTS sets the events per phase (default 3000).
func BenchmarkPostgres_ReplicasAcceptWebhooks(b *testing.B) {
	h := newHarness(b, storetest.FreshPostgres(b))
	srv2 := func() string { _, s := h.bootApp(); return s.URL }
	urls := []string{h.srv.URL, srv2(), srv2()}
	h.pd.SetWebhookURL("")
	if _, err := h.pd.Trigger(pdService, "Load"); err != nil {
		b.Fatal(err)
	}
	template := h.pd.Events()[0]
	events := 3000
	if v, err := strconv.Atoi(os.Getenv("OPSBOT_LOADTEST_EVENTS")); err == nil && v > 0 {
		events = v
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}, Timeout: 30 * time.Second}
	var seq atomic.Int64
	// phase sends events unique events over servers from 32 connections
	// and returns the rate at which they were accepted.
	var busy []string // cores busy on the machine in each phase
	phase := func(servers []string) float64 {
		bodies := make([][]byte, events)
		for i := range bodies {
			id := fmt.Sprintf("LOAD%022d", seq.Add(1))
			bodies[i] = bytes.Replace(template.Body, []byte(`"id":"`+template.ID+`"`), []byte(`"id":"`+id+`"`), 1)
		}
		var next atomic.Int64
		var failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		cpu0 := machineBusyTicks()
		for c := 0; c < 32; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= events {
						return
					}
					req, _ := http.NewRequest(http.MethodPost, servers[i%len(servers)]+pdfake.WebhookPath, bytes.NewReader(bodies[i]))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("X-PagerDuty-Signature", pdfake.Sign(bodies[i], pdSecret))
					resp, err := client.Do(req)
					if err != nil || resp.StatusCode/100 != 2 {
						failed.Add(1)
					}
					if resp != nil {
						resp.Body.Close()
					}
				}
			}()
		}
		wg.Wait()
		took := time.Since(start)
		busy = append(busy, fmt.Sprintf("%d replica(s) %.2f", len(servers), float64(machineBusyTicks()-cpu0)/100/took.Seconds()))
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d of %d webhooks not accepted", n, events)
		}
		return float64(events) / took.Seconds()
	}
	var one, three []float64
	for round := 0; round < 2; round++ {
		one = append(one, phase(urls[:1]))
		three = append(three, phase(urls))
	}
	best := func(xs []float64) float64 {
		m := 0.0
		for _, x := range xs {
			m = max(m, x)
		}
		return m
	}
	r1, r3 := best(one), best(three)
	b.ReportMetric(r1, "events/s-1-replica")
	b.ReportMetric(r3, "events/s-3-replicas")
	b.ReportMetric(r3/r1, "ratio-3/1")
	b.Logf("one replica %s events/s, three replicas %s events/s (best of 2 alternating runs of %d events, 32 connections): ratio %.2f",
		fmtRates(one), fmtRates(three), events, r3/r1)
	b.Logf("cores busy on this %d-core machine in each phase (replicas, client and PostgreSQL together): %s",
		runtime.NumCPU(), strings.Join(busy, ", "))
}

// machineBusyTicks reads the machine's non-idle CPU time from /proc/stat,
// in clock ticks (1/100 s); 0 where there is none.
func machineBusyTicks() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	var busy int64
	for i, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseInt(f, 10, 64)
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy
}

func fmtRates(xs []float64) string {
	var out []string
	for _, x := range xs {
		out = append(out, strconv.FormatFloat(x, 'f', 0, 64))
	}
	return strings.Join(out, "/")
}
