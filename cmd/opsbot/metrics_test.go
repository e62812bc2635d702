package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// scrape reads the App's /metrics through its HTTP handler.
func (h *harness) scrape() string {
	h.t.Helper()
	resp, err := h.srv.Client().Get(h.srv.URL + "/metrics")
	if err != nil {
		h.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	return string(body)
}

// sample returns the value of the sample whose line starts with series
// (name and labels as Prometheus writes them), and whether there is one.
func sample(text, series string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// busyHarness has done a bit of everything: a server launched, messages
// and calls to Slack, EC2, PagerDuty and Notion, an incident and a nag.
func busyHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.launched("test-small for 2h")
	if _, err := h.pd.Trigger(pdService, "DB latency above 2s"); err != nil {
		t.Fatal(err)
	}
	h.drain()
	h.advance(2 * time.Hour) // the sev's update nag, the lease's warnings and end
	// And one job left in the queue, so that its figures have a sample
	// (moved there from the intake journal, where the webhook left it).
	if _, err := h.pd.Trigger(pdService, "Disk full"); err != nil {
		t.Fatal(err)
	}
	if err := h.app.moveJournal(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h
}

// The figures read from the store at scrape time follow the state.
func TestMetrics_StateFigures(t *testing.T) {
	h := newHarness(t)
	h.launched("test-small for 2h")
	text := h.scrape()
	for series, want := range map[string]float64{
		`opsbot_leases_ending_24h{team="platform"}`: 1,
		`opsbot_budget_usd{team="platform"}`:        500,
		`opsbot_budget_usd{team="data"}`:            20,
		`opsbot_state_up`:                           1,
		`opsbot_jobs_oldest_due_seconds`:            0,
		`opsbot_scheduler_leader`:                   0, // the harness runs no scheduler
	} {
		if got, ok := sample(text, series); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if got, _ := sample(text, `opsbot_budget_committed_usd{team="platform"}`); got <= 0 {
		t.Errorf("committed budget %v after a launch", got)
	}
	if got, ok := sample(text, `opsbot_outside_calls_total{method="RunInstances",service="aws",status="200"}`); !ok || got != 1 {
		t.Errorf("RunInstances calls %v (present %v), want 1", got, ok)
	}
	if got, _ := sample(text, `opsbot_outside_calls_total{method="chat.postMessage",service="slack",status="200"}`); got < 1 {
		t.Errorf("chat.postMessage calls %v", got)
	}

	// A job left due while the clock moves on ages; its kind counts.
	h.ops(dev, "lease release "+h.requests()[0].ID)
	h.clock.Advance(5 * time.Minute)
	text = h.scrape()
	if got, _ := sample(text, `opsbot_jobs_oldest_due_seconds`); got < 300 {
		t.Errorf("oldest due job %vs old, want at least 300", got)
	}
	if got, _ := sample(text, `opsbot_jobs_queued{kind="server.end",state="pending"}`); got != 1 {
		t.Errorf("pending server.end jobs %v, want 1:\n%s", got, grepLines(text, "opsbot_jobs_queued"))
	}
	h.drain()
	h.clock.Advance(stateCacheFor) // the figures are read at most once in that time
	if got, _ := sample(h.scrape(), `opsbot_jobs_oldest_due_seconds`); got != 0 {
		t.Errorf("oldest due job %vs after the queue drained", got)
	}
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The alert rules shipped in deploy/prometheus parse, and every metric
// their expressions name is one a running opsbot exposes.
func TestAlertRules(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/prometheus/opsbot-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("parse rules: %v", err)
	}
	h := busyHarness(t)
	exposed := map[string]bool{}
	for _, line := range strings.Split(h.scrape(), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(rest, " ")
			exposed[name] = true
			if kind == "histogram" || kind == "summary" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					exposed[name+s] = true
				}
			}
		}
	}
	names := regexp.MustCompile(`\bopsbot_[a-z0-9_]+`)
	alerts := map[string]bool{}
	n := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" || r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
				t.Errorf("rule %q: needs alert, expr, labels.severity and annotations.summary", r.Alert)
			}
			if alerts[r.Alert] {
				t.Errorf("alert %q twice", r.Alert)
			}
			alerts[r.Alert] = true
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("rule %q: for %q: %v", r.Alert, r.For, err)
				}
			}
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") || strings.Count(r.Expr, "{") != strings.Count(r.Expr, "}") {
				t.Errorf("rule %q: unbalanced brackets in %s", r.Alert, r.Expr)
			}
			used := names.FindAllString(r.Expr, -1)
			if len(used) == 0 {
				t.Errorf("rule %q names no opsbot metric", r.Alert)
			}
			for _, m := range used {
				if !exposed[m] {
					t.Errorf("rule %q: metric %s is not in /metrics", r.Alert, m)
				}
			}
		}
	}
	for _, want := range []string{"OpsbotQueueStuck", "OpsbotIntegrationFailing", "OpsbotNoSchedulerLeader", "OpsbotIntakeErrors"} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
	if t.Failed() {
		var all []string
		for m := range exposed {
			all = append(all, m)
		}
		sort.Strings(all)
		t.Logf("exposed: %s", strings.Join(all, " "))
	}
	t.Logf("%d rules checked", n)
}
