package main

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/opsbot/opsbot/workflows"
)

// Metrics are what /metrics exposes, on a registry of opsbot's own so
// tests can build several Apps in one process.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	jobs     *prometheus.CounterVec
	jobTime  *prometheus.HistogramVec
	ticks    *prometheus.CounterVec
	intake   *prometheus.CounterVec
	batches  *prometheus.CounterVec
	calls    *prometheus.CounterVec
	nags     prometheus.Counter
	waits    *prometheus.CounterVec
	waited   *prometheus.CounterVec
	deferred *prometheus.CounterVec
	jobBatch *prometheus.CounterVec
}

// NewMetrics registers opsbot's metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opsbot_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "opsbot_http_request_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 3, 5},
		}, []string{"route"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opsbot_jobs_total", Help: "Outbox jobs run, by kind and outcome (ok or error).",
		}, []string{"kind", "outcome"}),
		jobTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "opsbot_job_seconds", Help: "Time to run one outbox job, by kind.",
		}, []string{"kind"}),
		ticks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opsbot_scheduler_runs_total", Help: "Scheduled task runs, by task and outcome.",
		}, []string{"task", "outcome"}),
	}
	m.intake = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsbot_intake_records_total", Help: "Requests taken in and marked done by the intake group commit, by source.",
	}, []string{"source"})
	m.batches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsbot_intake_transactions_total", Help: "Transactions the intake group commit wrote them in, by source.",
	}, []string{"source"})
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsbot_outside_calls_total", Help: "HTTP calls to Slack, PagerDuty, Notion and AWS (each retry counts), by service, method (API method, AWS action, or HTTP method and path) and status (HTTP code, or error when no answer came).",
	}, []string{"service", "method", "status"})
	m.nags = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "opsbot_nags_sent_total", Help: "Incident nags sent (status updates due, meetings, post-mortems) by this replica's scheduler.",
	})
	m.waits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsbot_rate_limit_waits_total", Help: "Waits before a call to an outside service, by service: pacing to its rate limit, or backing off after a 429 or a failure.",
	}, []string{"service"})
	m.waited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsbot_rate_limit_wait_seconds_total", Help: "Time spent in those waits, by service.",
	}, []string{"service"})
	m.deferred = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsbot_jobs_deferred_total", Help: "Jobs put back in the queue, not run, because a shared rate limit (Slack's, across replicas) had no room, by kind.",
	}, []string{"kind"})
	m.jobBatch = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsbot_job_batches_total", Help: "Transactions that worked many jobs of a kind at once (PagerDuty events), by kind; their jobs are counted in opsbot_jobs_total.",
	}, []string{"kind"})
	m.reg.MustRegister(m.jobBatch, m.calls, m.nags, m.waits, m.waited, m.deferred, m.requests, m.latency, m.jobs, m.jobTime, m.ticks, m.intake, m.batches,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus text format.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

func (m *Metrics) observeJob(kind string, err error, d time.Duration) {
	if _, ok := workflows.DeferredUntil(err); ok && !workflows.IsPermanent(err) {
		m.deferred.WithLabelValues(kind).Inc()
	}
	m.jobs.WithLabelValues(kind, outcome(err)).Inc()
	m.jobTime.WithLabelValues(kind).Observe(d.Seconds())
}

// observeBatch counts one batch of n jobs of kind.
func (m *Metrics) observeBatch(kind string, n int) { m.jobBatch.WithLabelValues(kind).Inc() }

// observeIntake counts one intake transaction holding n records.
func (m *Metrics) observeIntake(source string, n int) {
	m.intake.WithLabelValues(source).Add(float64(n))
	m.batches.WithLabelValues(source).Inc()
}

func (m *Metrics) observeTick(task string, err error) {
	m.ticks.WithLabelValues(task, outcome(err)).Inc()
}

// instrument counts requests by the route pattern that served them.
func (m *Metrics) instrument(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// observeCall counts one call to an outside service.
func (m *Metrics) observeCall(service, method, status string) {
	m.calls.WithLabelValues(service, method, status).Inc()
}

// sleeper wraps sleep (nil: a real timer) so that each wait before a
// call to service is counted.
func (m *Metrics) sleeper(service string, sleep func(ctx context.Context, d time.Duration) error) func(ctx context.Context, d time.Duration) error {
	if sleep == nil {
		sleep = timerSleep
	}
	waits, waited := m.waits.WithLabelValues(service), m.waited.WithLabelValues(service)
	return func(ctx context.Context, d time.Duration) error {
		if d > 0 {
			waits.Inc()
			waited.Add(d.Seconds())
		}
		return sleep(ctx, d)
	}
}

// timerSleep waits d on a real timer, or until ctx ends.
func timerSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// watchState registers the figures read from the store at scrape time.
func (m *Metrics) watchState(c *stateCollector) { m.reg.MustRegister(c) }

// watchJournal exposes this process's intake journal: what it holds not
// yet recorded in the database, and for how long.
func (m *Metrics) watchJournal(j interface {
	Waiting() int
	Oldest() time.Duration
}) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "opsbot_intake_journal_waiting", Help: "PagerDuty events this process took in through its intake journal (SQLite) and has not yet recorded in the database.",
		}, func() float64 { return float64(j.Waiting()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "opsbot_intake_journal_oldest_seconds", Help: "How long the oldest of them has waited (0 when none): about a second at most while events pour in; more means moving them into the database fails.",
		}, func() float64 { return j.Oldest().Seconds() }),
	)
}
