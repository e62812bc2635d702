// Package sandbox runs opsbot on one machine with no accounts: fake
// Slack, EC2 (with CloudWatch, STS and Cost Explorer), PagerDuty and
// Notion servers that speak the real wire protocols, opsbot itself
// (built by the caller, unmodified, pointed at the fakes through the
// same base-URL overrides production has), and a web page that looks
// like the real tools, all behind one localhost listener. The sandbox never does opsbot's work: it only plays the
// people and the outside services.
package sandbox

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/opsbot/opsbot/integrations/aws/cefake"
	"github.com/opsbot/opsbot/integrations/aws/cloudwatchfake"
	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/integrations/aws/stsfake"
	"github.com/opsbot/opsbot/integrations/notion/notionfake"
	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/workflows"
)

// Config is the sample opsbot config the sandbox runs (a copy of
// examples/sandbox.yaml, kept equal by a test).
//
//go:embed sandbox.yaml
var Config []byte

//go:embed web
var webFiles embed.FS

// Where each fake is mounted on the sandbox's listener.
const (
	SlackPrefix     = "/fake/slack"
	EC2Prefix       = "/fake/ec2"
	PagerDutyPrefix = "/fake/pagerduty"
	NotionPrefix    = "/fake/notion"
	CostPrefix      = "/fake/costexplorer"
	STSPrefix       = "/fake/sts"
)

// SampleBaseURL is the base URL sandbox.yaml's runbook URLs are written
// for (the default --listen).
const SampleBaseURL = "http://127.0.0.1:8088"

// SigningSecret is the Slack signing secret the fake signs with and
// opsbot verifies.
const SigningSecret = "sandbox-slack-signing-secret"

// Opsbot is the running bot as the sandbox needs it. The caller builds it
// (cmd/opsbot wraps its App), so this package never depends on the
// composition root.
type Opsbot struct {
	// Handler serves opsbot's own routes (/slack/..., /webhooks/...,
	// /healthz, /readyz, /metrics).
	Handler http.Handler
	// Run works the job queue and the scheduler until ctx ends.
	Run func(ctx context.Context) error
	// CatchUp runs every scheduled task once and then the jobs that are
	// due, as the scheduler would have done by now; the sandbox calls it
	// after moving the clock.
	CatchUp func(ctx context.Context) error
	// Close releases the store.
	Close func() error
	// HoldCostReview queues last month's cost review now, as its
	// schedule would on the first working day, and says what it did
	// (nil: the sandbox has no cost review).
	HoldCostReview func(ctx context.Context) (string, error)
}

// Wiring is what the sandbox hands to Boot: opsbot's environment (tokens,
// secrets and the base-URL overrides pointing at the fakes), the EC2,
// STS and Cost Explorer endpoints, the shared clock and a logger.
type Wiring struct {
	Env map[string]string
	// BaseURL is where the sandbox listens; sandbox.yaml's runbook URLs
	// (written for SampleBaseURL) are pointed there.
	BaseURL      string
	AWSEndpoint  string
	STSEndpoint  string
	CostEndpoint string
	Clock        workflows.Clock
	Log          *slog.Logger
}

// Options configure a sandbox.
type Options struct {
	// BaseURL is where the listener is reachable, e.g.
	// "http://127.0.0.1:8088"; the fakes and opsbot address each other
	// through it.
	BaseURL string
	// DB is the SQLite file holding opsbot's state and the sandbox's own
	// (the clock offset, snapshots of fakes that support them).
	DB string
	// Boot builds opsbot from the wiring.
	Boot func(ctx context.Context, w Wiring) (*Opsbot, error)
	// Clock is the wall clock the shared offset clock runs on. Default:
	// the system clock.
	Clock workflows.Clock
	// Step is how far the clock moves between two scheduler runs when
	// fast-forwarding, so warnings due on the way are not skipped.
	// Default 15 minutes.
	Step time.Duration
	// Log receives the sandbox's and opsbot's logs. Default: discard.
	Log *slog.Logger
}

// Sandbox is the whole local workspace. It is an http.Handler.
type Sandbox struct {
	opts   Options
	log    *slog.Logger
	clock  *workflows.OffsetClock
	slack  *slackfake.Server
	ec2    *ec2fake.Server
	cw     *cloudwatchfake.Server
	ce     *cefake.Server
	sts    *stsfake.Server
	pd     *pdfake.Server
	notion *notionfake.Server
	bot    *Opsbot
	state  *store
	mux    *http.ServeMux
	client *http.Client
	// Notes tell the page what is not as it should be (e.g. fakes that
	// could not be restored after a restart).
	notes []string

	advancing sync.Mutex
	running   chan struct{}
}

// New builds the fakes, restores or seeds them, and boots opsbot on them.
// It makes no outside network calls.
func New(ctx context.Context, opts Options) (*Sandbox, error) {
	if opts.Boot == nil || opts.BaseURL == "" || opts.DB == "" {
		return nil, errors.New("sandbox: BaseURL, DB and Boot are required")
	}
	opts.BaseURL = strings.TrimSuffix(opts.BaseURL, "/")
	if opts.Clock == nil {
		opts.Clock = workflows.SystemClock{}
	}
	if opts.Step <= 0 {
		opts.Step = 15 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Sandbox{
		opts: opts, log: opts.Log.With("component", "sandbox"), clock: workflows.NewOffsetClock(opts.Clock),
		client: &http.Client{Timeout: 30 * time.Second}, running: make(chan struct{}),
	}
	st, fresh, err := openStore(ctx, opts.DB)
	if err != nil {
		return nil, err
	}
	s.state = st
	if off, err := st.offset(ctx); err != nil {
		st.close()
		return nil, err
	} else if off > 0 {
		s.clock.Advance(off)
	}
	s.makeFakes()
	if err := s.populate(ctx, fresh); err != nil {
		st.close()
		return nil, err
	}
	// The bill is not saved: it is the same function of the date at
	// every start.
	seedCosts(s.ce, s.sts, s.clock.Now())
	s.bot, err = opts.Boot(ctx, Wiring{Env: s.env(), BaseURL: opts.BaseURL, AWSEndpoint: opts.BaseURL + EC2Prefix,
		STSEndpoint: opts.BaseURL + STSPrefix, CostEndpoint: opts.BaseURL + CostPrefix, Clock: s.clock, Log: opts.Log})
	if err != nil {
		st.close()
		return nil, fmt.Errorf("boot opsbot: %w", err)
	}
	s.routes()
	return s, nil
}

// makeFakes creates the fakes on the shared clock, mounted under
// the sandbox's base URL.
func (s *Sandbox) makeFakes() {
	now := s.clock.Now
	base := s.opts.BaseURL
	s.slack = slackfake.New(slackfake.Options{Clock: now, BaseURL: base + SlackPrefix, AppURL: base, RateLimits: true,
		Log: s.opts.Log.With("component", "slackfake")})
	s.ec2 = ec2fake.New(now)
	s.ec2.SetDelays(ec2fake.Delays{Launch: 5 * time.Second, Stop: 5 * time.Second, Terminate: 5 * time.Second})
	// CloudWatch on the EC2 endpoint: every server idles at 1.5% CPU,
	// so one left running for a day is flagged idle.
	s.cw = cloudwatchfake.New(now)
	s.cw.SetDefault(1.5)
	s.ec2.SetMetrics(s.cw)
	// Cost Explorer holds six months of a sample bill over three
	// accounts; STS lets opsbot assume the accounts' roles.
	s.ce = cefake.New(now)
	s.sts = stsfake.New(now)
	s.pd = pdfake.New(pdfake.Options{Clock: now, BaseURL: base + PagerDutyPrefix, WebhookURL: base + "/webhooks/pagerduty",
		Log: s.opts.Log.With("component", "pdfake")})
	s.notion = notionfake.New(notionfake.Options{Clock: now, RateLimit: 3, Log: s.opts.Log.With("component", "notionfake")})
}

// env is opsbot's environment: the fakes' tokens and the overrides that
// point opsbot at them.
func (s *Sandbox) env() map[string]string {
	base := s.opts.BaseURL
	return map[string]string{
		"SLACK_BOT_TOKEN":          s.slack.Token(),
		"SLACK_SIGNING_SECRET":     SigningSecret,
		"SLACK_API_URL":            base + SlackPrefix + "/api/",
		"PAGERDUTY_API_TOKEN":      s.pd.Token(),
		"PAGERDUTY_WEBHOOK_SECRET": pdfake.DefaultWebhookSecret,
		"PAGERDUTY_API_URL":        base + PagerDutyPrefix,
		"NOTION_TOKEN":             s.notion.Token(),
		"NOTION_API_URL":           base + NotionPrefix,
		"OPSBOT_DB":                "sqlite:" + s.opts.DB,
		"OPSBOT_LISTEN":            strings.TrimPrefix(base, "http://"),
		// The sample runbooks' secret and where their endpoint calls back.
		"SANDBOX_RUNBOOK_SECRET":      RunbookSecret,
		"OPSBOT_RUNBOOK_CALLBACK_URL": base + "/runbooks/callback",
	}
}

// routes mounts the fakes, the page, its API and opsbot on one mux.
func (s *Sandbox) routes() {
	mux := http.NewServeMux()
	mux.Handle(SlackPrefix+"/", http.StripPrefix(SlackPrefix, s.slack))
	mux.Handle(EC2Prefix+"/", http.StripPrefix(EC2Prefix, s.ec2))
	mux.Handle(EC2Prefix, http.StripPrefix(EC2Prefix, s.ec2))
	mux.Handle(PagerDutyPrefix+"/", http.StripPrefix(PagerDutyPrefix, s.pd))
	mux.Handle(NotionPrefix+"/", http.StripPrefix(NotionPrefix, s.notion))
	mux.Handle(CostPrefix, http.StripPrefix(CostPrefix, s.ce))
	mux.Handle(CostPrefix+"/", http.StripPrefix(CostPrefix, s.ce))
	mux.Handle(STSPrefix, http.StripPrefix(STSPrefix, s.sts))
	mux.Handle(STSPrefix+"/", http.StripPrefix(STSPrefix, s.sts))
	mux.Handle(RunbooksPrefix+"/", http.StripPrefix(RunbooksPrefix, &runbookEndpoint{s: s, answers: map[string]answer{}}))
	s.apiRoutes(mux)
	web, _ := fs.Sub(webFiles, "web")
	mux.Handle("GET /ui/", http.StripPrefix("/ui/", http.FileServerFS(web)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, web, "index.html")
	})
	mux.Handle("/", s.bot.Handler) // opsbot's real routes
	s.mux = mux
}

// catchUpOnce runs opsbot's scheduled tasks and due jobs once.
func (s *Sandbox) catchUpOnce(ctx context.Context) {
	s.advancing.Lock()
	defer s.advancing.Unlock()
	if err := s.bot.CatchUp(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("run opsbot's schedule at start", "err", err)
	}
}

// ServeHTTP serves the page, its API, the fakes and opsbot.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Clock is the clock opsbot and every fake share.
func (s *Sandbox) Clock() *workflows.OffsetClock { return s.clock }

// Slack is the fake Slack workspace, for tests to look at.
func (s *Sandbox) Slack() *slackfake.Server { return s.slack }

// EC2 is the fake EC2, for tests to look at.
func (s *Sandbox) EC2() *ec2fake.Server { return s.ec2 }

// PagerDuty is the fake PagerDuty account, for tests to look at.
func (s *Sandbox) PagerDuty() *pdfake.Server { return s.pd }

// CostExplorer is the fake Cost Explorer, for tests to look at (its
// Calls count what opsbot asked).
func (s *Sandbox) CostExplorer() *cefake.Server { return s.ce }

// STS is the fake STS, for tests to look at.
func (s *Sandbox) STS() *stsfake.Server { return s.sts }

// Notion is the fake Notion workspace, for tests to look at.
func (s *Sandbox) Notion() *notionfake.Server { return s.notion }

// Notes say what is not as it should be, e.g. fakes that started empty
// after a restart; the page shows them.
func (s *Sandbox) Notes() []string { return append([]string(nil), s.notes...) }

// Serve serves HTTP on ln and runs opsbot's job queue and scheduler until
// ctx ends. It stops opsbot first, while the fakes it talks to are still
// being served, then the listener; then it saves what it can and closes
// opsbot's store.
func (s *Sandbox) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	botCtx, stopBot := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBot()
	ran := make(chan error, 1)
	close(s.running)
	go func() { ran <- s.bot.Run(botCtx) }()
	go s.saveLoop(botCtx)
	// What the schedule does is done once now, not a tick later: the
	// bill is read, so /ops costs answers from the first minute.
	go s.catchUpOnce(botCtx)
	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
		err = fmt.Errorf("serve sandbox: %w", err)
	}
	stopBot()
	if berr := <-ran; err == nil && berr != nil {
		err = fmt.Errorf("opsbot: %w", berr)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(sctx); err == nil && serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = serr
	}
	s.pd.Close()
	if serr := s.save(context.WithoutCancel(ctx)); serr != nil {
		s.log.Warn("save fake state", "err", serr)
	}
	s.state.close()
	if cerr := s.bot.Close(); err == nil {
		err = cerr
	}
	return err
}
