package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/opsbot/opsbot/bot"
	"github.com/opsbot/opsbot/config"
	awsint "github.com/opsbot/opsbot/integrations/aws"
	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/pagerduty"
	"github.com/opsbot/opsbot/integrations/s3backup"
	slackout "github.com/opsbot/opsbot/integrations/slack"
	"github.com/opsbot/opsbot/internal/telemetry"
	"github.com/opsbot/opsbot/scheduler"
	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/store/journal"
	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/actions"
	"github.com/opsbot/opsbot/workflows/audit"
	"github.com/opsbot/opsbot/workflows/costs"
	"github.com/opsbot/opsbot/workflows/offboard"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

// App is opsbot assembled: everything `serve` runs. The sandbox and the
// end-to-end tests build the very same App, pointed at local fakes through
// the same overrides production has.
type App struct {
	Config *config.Config
	Env    config.Env
	Clock  workflows.Clock
	Log    *slog.Logger
	DB     *store.DB
	// Journal takes PagerDuty events in on a SQLite file (nil otherwise,
	// and without incidents): see store/journal.
	Journal   *journal.Journal
	Slack     *slackout.Client
	EC2       *awsint.EC2
	Servers   *workflows.Servers
	Incidents *workflows.Incidents // nil when incidents are not configured
	Actions   *actions.Service
	Offboard  *offboard.Service
	Costs     *costs.Service    // nil without a costs section
	Runbooks  *runbooks.Service // nil without runbooks
	PagerDuty *pagerduty.Client // nil without PAGERDUTY_API_TOKEN
	Notion    *notion.Client    // nil without NOTION_TOKEN
	// pages writes review pages when no post-mortem database is set
	// (else Notion does); see notionPages.
	pages     *notion.Client
	Runner    *workflows.Runner
	Bot       *bot.Bot
	Scheduler *scheduler.Scheduler
	Handler   http.Handler
	Metrics   *Metrics
	Tracing   *telemetry.Tracing
	Backups   *scheduledBackups // nil without a backup section

	tracer trace.Tracer
	wake   chan struct{}
	// quiet holds the timer of wakeWhenQuiet.
	quiet struct {
		sync.Mutex
		t *time.Timer
	}
	slackHTTP   *http.Client
	notionCheck notionCheck
}

// Deps are what differs between production, the sandbox and tests.
type Deps struct {
	Clock workflows.Clock // default: the system clock
	Log   *slog.Logger    // default: JSON to stderr
	// AWSConfig replaces the SDK's default credential chain (tests,
	// sandbox); AWSEndpoint points EC2 and the Price List API elsewhere.
	AWSConfig   *aws.Config
	AWSEndpoint string
	// AWSSTSEndpoint and AWSCostEndpoint point STS (the accounts' roles)
	// and Cost Explorer elsewhere (tests, sandbox); in production the
	// SDK's AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL_COST_EXPLORER are
	// honoured.
	AWSSTSEndpoint  string
	AWSCostEndpoint string
	// AWSMaxBackoff bounds the SDK's wait between retries (default its
	// own, 20s); tests with failing fakes make it short, since the SDK
	// sleeps on the wall clock.
	AWSMaxBackoff time.Duration
	// SlackHTTP is the HTTP client for Slack calls and response_url posts;
	// HTTP the one for PagerDuty and Notion.
	SlackHTTP *http.Client
	HTTP      *http.Client
	// Sleep waits between paced or retried calls to Slack, PagerDuty and
	// Notion; default a real timer. Tests on a manual clock advance it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Owner names this process in job leases; default host:pid.
	Owner string
	// StoreOptions are passed to store.Open (the crash tests' write hook).
	StoreOptions []store.Option
	// Tracing is where spans go; default off (telemetry.Setup builds it
	// from the OTEL_EXPORTER_OTLP_* variables for serve).
	Tracing *telemetry.Tracing
	// BackupS3 sets up the S3 client of scheduled backups (default: the
	// SDK's standard chain).
	BackupS3 s3backup.Options
	// Getenv reads the variables the config names (runbook secrets);
	// default os.Getenv.
	Getenv func(string) string
}

// NewApp builds opsbot from its config and environment. It makes no
// network calls: those start with Run.
func NewApp(ctx context.Context, cfg *config.Config, env config.Env, deps Deps) (*App, error) {
	a := &App{Config: cfg, Env: env, Clock: deps.Clock, Log: deps.Log, wake: make(chan struct{}, 1), slackHTTP: deps.SlackHTTP}
	if a.Clock == nil {
		a.Clock = workflows.SystemClock{}
	}
	if a.Log == nil {
		a.Log = slog.New(telemetry.LogHandler(slog.NewJSONHandler(os.Stderr, nil)))
	}
	a.Tracing = deps.Tracing
	if a.Tracing == nil {
		a.Tracing = telemetry.Off()
	}
	a.tracer = a.Tracing.Provider.Tracer(telemetry.Scope)
	a.Metrics = NewMetrics()
	db, err := store.Open(ctx, env.DB.DSN(), append([]store.Option{store.WithClock(a.Clock), store.WithTracerProvider(a.Tracing.Provider)}, deps.StoreOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", env.DB, err)
	}
	a.DB = db
	// The config is an input of every due time (warning offsets, grace,
	// reminder periods, business hours): the first tick works out again
	// the due times of what may still fall due, never of history.
	if _, err := workflows.ResetDueTimes(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	a.EC2, err = awsint.New(ctx, awsint.Options{DryRun: env.DryRun, Config: deps.AWSConfig, Endpoint: deps.AWSEndpoint, MaxBackoff: deps.AWSMaxBackoff, Log: a.Log.With("component", "ec2"),
		Transport: func(rt http.RoundTripper) http.RoundTripper { return a.outsideTransport(rt, "aws") },
		Accounts:  awsint.AccountsFrom(cfg.Catalog.Accounts), STSEndpoint: deps.AWSSTSEndpoint})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("set up AWS: %w", err)
	}
	a.Slack = slackout.New(env.SlackBotToken.Reveal(), slackout.Options{
		APIURL: env.SlackAPIURL, Log: a.Log.With("component", "slack"), Clock: a.Clock.Now, HTTPClient: a.outsideClient(deps.SlackHTTP, "slack", 30*time.Second), Sleep: a.Metrics.sleeper("slack", deps.Sleep),
		Shared: db, // every replica on this database paces as one
	})
	a.Servers = &workflows.Servers{
		Store: db, Clock: a.Clock, Catalog: cfg.Catalog, Provisioner: a.EC2, CPU: a.EC2, Log: a.Log.With("component", "servers"),
		Estimator: &workflows.Estimator{Source: a.EC2, Store: db, Clock: a.Clock, Pricing: cfg.Catalog.Pricing, Log: a.Log.With("component", "prices")},
		Wake:      a.Wake,
		DryRun:    env.DryRun,
	}
	a.Actions = &actions.Service{Store: db, Clock: a.Clock, Catalog: cfg.Catalog, Provisioner: a.EC2, Operator: a.EC2, Starter: a.EC2, CPU: a.EC2,
		Log: a.Log.With("component", "actions"), Wake: a.Wake}
	a.Servers.Terminated = a.Actions.Terminated
	handlers := a.Servers.Handlers()
	var batches map[string]workflows.BatchHandler
	var intakeBusy func() bool
	for k, h := range a.Actions.Handlers() {
		handlers[k] = h
	}
	handlers[workflows.JobMessage] = workflows.Deliver(db, a.Slack, a.Clock)
	handlers[workflows.JobUpload] = workflows.DeliverUpload(db, a.Slack, a.Clock)
	handlers[workflows.JobHome] = a.publishHome
	if a.Incidents = a.buildIncidents(deps); a.Incidents != nil {
		committed := func(n int) {
			a.Metrics.observeIntake("pagerduty", n)
			if a.Runner == nil || !a.Runner.Yielding() {
				a.Wake()
				return
			}
			// While events pour in, the runner works them in larger
			// batches once they stop (or a second on), not at every
			// commit: a claim that finds nothing costs a write.
			a.wakeWhenQuiet()
		}
		var stamp func(context.Context, *workflows.Job)
		if a.Tracing.On() {
			stamp = stampJob
		}
		if a.Journal, err = a.openJournal(ctx, committed, stamp); err != nil {
			db.Close()
			return nil, err
		}
		if a.Journal != nil {
			a.Incidents.Intake = a.Journal
			a.Metrics.watchJournal(a.Journal)
		} else {
			a.Incidents.Intake = &workflows.GroupCommit{Store: db, Gather: intakeGather, Committed: committed, Stamp: stamp}
		}
		for k, h := range a.Incidents.Handlers() {
			handlers[k] = h
		}
		batches = a.Incidents.Batches()
		intakeBusy = a.Incidents.Intake.Busy
	}
	if a.Costs, err = a.buildCosts(deps, handlers); err != nil {
		a.Close()
		return nil, fmt.Errorf("set up costs: %w", err)
	}
	if a.Runbooks, err = a.buildRunbooks(deps, handlers); err != nil {
		a.Close()
		return nil, fmt.Errorf("set up runbooks: %w", err)
	}
	owner := deps.Owner
	if owner == "" {
		host, _ := os.Hostname()
		owner = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	a.Runner = &workflows.Runner{
		Before: a.moveJournal,
		Queue:  db, Clock: a.Clock, Log: a.Log.With("component", "jobs"), Owner: owner,
		Handlers: handlers, GiveUp: a.giveUp, Observe: a.Metrics.observeJob, Lane: workflows.MessageLane,
		// PagerDuty events are worked many to a transaction.
		Batches: batches, Busy: intakeBusy, ObserveBatch: a.Metrics.observeBatch,
		// Channel creation is paced at Slack's Tier 2: one worker for it,
		// the others for everything else (the set-up of channels made).
		KindLimits: map[string]int{workflows.JobOpenChannel: 1},
		// A replica killed mid-job (SIGKILL, OOM, a lost host) holds its
		// jobs until their lease runs out: 30 s, renewed every 10 s while
		// a live worker holds them.
		Lease: JobLease,
	}
	if a.Tracing.On() {
		a.Runner.Trace = a.traceJob
	}
	a.Offboard = &offboard.Service{Store: db, Servers: a.Servers, Incidents: a.Incidents, Clock: a.Clock, Log: a.Log.With("component", "offboard"),
		Keys: a.EC2, DryRun: env.DryRun, Regions: offboard.Places(cfg.Catalog), Wake: a.Wake}
	for k, h := range a.Offboard.Handlers() {
		handlers[k] = h
	}
	a.Bot = (&bot.Bot{
		Servers: a.Servers, Incidents: a.Incidents, Actions: a.Actions, Costs: a.Costs, Runbooks: a.Runbooks,
		Audit:    &audit.Service{Store: db, Log: db, Catalog: cfg.Catalog, Clock: a.Clock},
		Offboard: a.Offboard, History: a.Slack, Store: db, Clock: a.Clock, Secret: env.SlackSigningSecret.Reveal(),
		Directory: a.Slack, Views: a.Slack, Render: slackout.Renderer{}, Log: a.Log.With("component", "bot"),
		HTTP: a.outsideClient(deps.SlackHTTP, "slack", 10*time.Second), Wake: a.Wake, Tracer: a.tracer, Intake: &workflows.GroupCommit{Store: db, Gather: intakeGather, Committed: func(n int) {
			a.Metrics.observeIntake("slack", n)
		}},
	}).Init(bot.Options{})
	if a.Tracing.On() {
		a.Bot.Intake.Stamp = stampJob
	}
	handlers[bot.JobEvent] = a.Bot.EventJob
	handlers[bot.JobIntake] = a.Bot.IntakeJob
	tasks := []scheduler.Task{
		{Name: "leases", Every: cfg.Scheduler.Tick, Run: a.tracedTask("leases", a.tick)},
		{Name: "nags", Every: cfg.Scheduler.Tick, Run: a.tracedTask("nags", a.nags)},
		{Name: "reviews", Every: cfg.Scheduler.Tick, Run: a.tracedTask("reviews", a.reviews)},
		{Name: "reconcile", Every: cfg.Scheduler.Reconcile, Run: a.tracedTask("reconcile", a.reconcile)},
		{Name: "idle", Every: idleEvery(cfg.Catalog.Idle), Run: a.tracedTask("idle", a.checkIdle)},
		{Name: "costs", Every: cfg.Scheduler.Tick, Run: a.tracedTask("costs", a.costsTick)},
		{Name: "prices", Every: 12 * time.Hour, Run: a.tracedTask("prices", a.warmPrices)},
		{Name: "prune", Every: time.Hour, Run: a.tracedTask("prune", a.prune)},
	}
	if a.Runbooks != nil {
		tasks = append(tasks, scheduler.Task{Name: "runbooks", Every: cfg.Scheduler.Tick, Run: a.tracedTask("runbooks", a.runbooksTick)})
	}
	if cfg.Backup.Schedule != nil {
		a.Backups = &scheduledBackups{app: a, last: a.Clock.Now(), S3: deps.BackupS3}
		tasks = append(tasks, scheduler.Task{Name: "backup", Every: cfg.Scheduler.Tick, Run: a.tracedTask("backup", a.Backups.tick)})
	}
	a.Scheduler, err = scheduler.New(a.Log.With("component", "scheduler"), tasks...)
	if err != nil {
		a.Close() // the journal too, so that its files' locks go
		return nil, err
	}
	// Of several replicas on one database, one runs the scheduler at a
	// time. The holder is unique per App, even for two in one process.
	elector := &scheduler.Elector{Leases: db, Clock: a.Clock, Log: a.Log.With("component", "scheduler"),
		Holder: fmt.Sprintf("%s/%08x", owner, rand.Uint32())}
	a.Scheduler.Lead(elector)
	a.Metrics.watchState(&stateCollector{gauges: db.Gauges, budgets: a.Servers.Budgets, clock: a.Clock, leading: elector.Leading})
	a.Handler = a.routes()
	return a, nil
}

// JobLease is how long a claimed job is leased to this process before
// another may take it (renewed every third of it while held).
const JobLease = 30 * time.Second

// intakeGather is how long a busy intake waits to gather requests into
// one transaction (workflows.GroupCommit.Gather): at a thousand requests
// a second, a millisecond doubles the batch (docs/operations.md).
const intakeGather = time.Millisecond

// Wake nudges the job runner to look for due jobs now.
func (a *App) Wake() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// wakeWhenQuiet wakes the runner once intake has been quiet a moment
// (no commit for quietAfter), so that events held back while webhooks
// poured in are worked as soon as they stop, not at the runner's next
// poll. Each call puts the wake off again.
func (a *App) wakeWhenQuiet() {
	a.quiet.Lock()
	defer a.quiet.Unlock()
	if a.quiet.t != nil {
		a.quiet.t.Reset(quietAfter)
		return
	}
	a.quiet.t = time.AfterFunc(quietAfter, func() {
		if a.Runner != nil && a.Runner.Yielding() {
			a.wakeWhenQuiet()
			return
		}
		a.Wake()
	})
}

// quietAfter is how long intake must be quiet for wakeWhenQuiet: past
// workflows' busy window (20 ms).
const quietAfter = 25 * time.Millisecond

// giveUp lets the workflow that owns a job record its failure.
func (a *App) giveUp(ctx context.Context, j workflows.Job, err error) {
	a.Servers.GiveUp(ctx, j, err)
	a.Actions.GiveUp(ctx, j, err)
	if a.Runbooks != nil {
		a.Runbooks.GiveUp(ctx, j, err)
	}
	a.Offboard.GiveUp(ctx, j, err)
	if a.Incidents != nil {
		a.Incidents.GiveUp(ctx, j, err)
	}
}

func (a *App) tick(ctx context.Context) error {
	rep, err := a.Servers.Tick(ctx)
	a.Metrics.observeTick("leases", err)
	if rep != (workflows.TickReport{}) {
		a.Log.InfoContext(ctx, "lease tick", "warnings", rep.Warnings, "ends", rep.Ends, "reminders", rep.Reminders, "expired", rep.Expired)
	}
	return err
}

func (a *App) nags(ctx context.Context) error {
	if a.Incidents == nil {
		return nil
	}
	rep, err := a.Incidents.Tick(ctx)
	a.Metrics.observeTick("nags", err)
	a.Metrics.nags.Add(float64(rep.Sent))
	if rep.Sent > 0 {
		a.Log.InfoContext(ctx, "incident nags", "sent", rep.Sent)
	}
	return err
}

// reviews starts the alert reviews whose slot has come and reminds the
// owners of review decisions.
func (a *App) reviews(ctx context.Context) error {
	if a.Incidents == nil {
		return nil
	}
	n, err := a.Incidents.ReviewTick(ctx)
	a.Metrics.observeTick("reviews", err)
	if n > 0 {
		a.Log.InfoContext(ctx, "alert reviews", "started_or_reminded", n)
	}
	return err
}

// checkIdle asks CloudWatch which running servers are idle and flags
// them to their owners (once per lease).
func (a *App) checkIdle(ctx context.Context) error {
	rep, err := a.Servers.CheckIdle(ctx)
	a.Metrics.observeTick("idle", err)
	if rep.Flagged > 0 || rep.Idle > 0 {
		a.Log.Info("idle check", "checked", rep.Checked, "idle", rep.Idle, "flagged", rep.Flagged)
	}
	return err
}

func idleEvery(p workflows.IdlePolicy) time.Duration {
	if p.CheckEvery <= 0 {
		return workflows.DefaultIdleCheckEvery
	}
	return p.CheckEvery
}

func (a *App) reconcile(ctx context.Context) error {
	n, err := a.Servers.Reconcile(ctx)
	a.Metrics.observeTick("reconcile", err)
	if n > 0 {
		a.Log.InfoContext(ctx, "reconciled leases with EC2", "changed", n)
	}
	return err
}

// prune forgets the keys of Slack requests past their replay window,
// and Slack rate buckets idle for an hour.
func (a *App) prune(ctx context.Context) error {
	n, err := workflows.PruneIntake(ctx, a.DB, a.Clock.Now())
	if n > 0 {
		a.Log.InfoContext(ctx, "pruned Slack request keys", "removed", n, "older_than", workflows.IntakeKeep)
	}
	if _, perr := a.DB.ForgetIdleBuckets(ctx, a.Clock.Now().Add(-time.Hour)); perr != nil {
		err = errors.Join(err, perr)
	}
	return err
}

// The store shares Slack's rate buckets between replicas, and puts jobs
// a rate limit held back in the queue again without counting a failure.
var (
	_ slackout.SharedPace = (*store.DB)(nil)
	_ workflows.Deferrer  = (*store.DB)(nil)
)

func (a *App) warmPrices(ctx context.Context) error {
	a.Servers.Estimator.Warm(ctx, a.Config.Catalog.Templates)
	return nil
}

func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	a.Bot.Routes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.DB.Ready(ctx); err != nil {
			a.Log.Warn("not ready", "err", err)
			http.Error(w, "not ready: store unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
		if a.Notion != nil {
			// Detail, not readiness: opsbot serves without Notion, and
			// post-mortems wait for the database to be fixed.
			w.Write([]byte(a.notionDetail(ctx) + "\n"))
		}
	})
	mux.Handle("GET /metrics", a.Metrics.Handler())
	a.runbookRoutes(mux)
	if a.Incidents != nil {
		mux.Handle("POST "+pagerduty.WebhookPath, &pagerduty.WebhookHandler{
			Secrets: a.webhookSecrets(), Receive: a.Incidents.Receive, Log: a.Log.With("component", "pagerduty-webhook"),
		})
	}
	h := a.Metrics.instrument(mux)
	if a.Tracing.On() {
		h = telemetry.Handler(h, a.Tracing.Provider)
	}
	return h
}

// Run serves HTTP on ln (when not nil), works the job queue and runs the
// scheduler until ctx ends; then it stops taking work, lets what is in
// flight finish, and returns.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	g, ctx := errgroup.WithContext(ctx)
	if ln != nil {
		srv := newHTTPServer(a.Handler, defaultTimeouts)
		g.Go(func() error {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve HTTP: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
	}
	if a.Env.SlackAppToken.IsSet() {
		g.Go(func() error {
			return a.Bot.RunSocketMode(ctx, a.Env.SlackAppToken.Reveal(), bot.SocketConfig{APIURL: a.Env.SlackAPIURL, HTTP: a.slackHTTP})
		})
	}
	g.Go(func() error { return a.Runner.Run(ctx, time.Second, a.wake) })
	if a.Journal != nil {
		g.Go(func() error { return a.Journal.Run(ctx) })
	}
	if a.Backups != nil {
		a.Backups.mu.Lock()
		a.Backups.ctx = ctx
		a.Backups.mu.Unlock()
	}
	g.Go(func() error { return a.Scheduler.Run(ctx) })
	g.Go(func() error {
		a.warmPrices(ctx)
		return nil
	})
	if a.Notion != nil {
		g.Go(func() error {
			a.checkNotion(ctx)
			return nil
		})
	}
	err := g.Wait()
	a.Bot.Wait()
	if a.Backups != nil {
		a.Backups.wait()
	}
	return err
}

// Close records what the intake journal holds and releases the store.
func (a *App) Close() error {
	if a.Journal != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.Journal.Close(ctx); err != nil {
			a.Log.Error("intake journal: not all of it recorded; the next start records the rest", "error", err)
		}
	}
	return a.DB.Close()
}
