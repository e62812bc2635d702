package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the queue of a PostgreSQL opsbot
	_ "modernc.org/sqlite"             // the queue of a SQLite opsbot

	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/sandbox"
)

// fakes are Slack, PagerDuty and EC2 on one loopback server.
type fakes struct {
	srv   *httptest.Server
	slack *slackfake.Server
	pd    *pdfake.Server
}

func startFakes() *fakes {
	f := &fakes{}
	mux := http.NewServeMux()
	f.srv = httptest.NewServer(mux)
	base := f.srv.URL
	f.slack = slackfake.New(slackfake.Options{BaseURL: base + "/slack"})
	f.pd = pdfake.New(pdfake.Options{BaseURL: base + "/pagerduty"})
	ec2 := ec2fake.New(time.Now)
	var ids []string
	for _, p := range sandbox.People {
		f.slack.AddUser(slackfake.User{ID: p.Slack, Name: p.Handle, RealName: p.Name, Email: p.Email})
		ids = append(ids, p.Slack)
	}
	for _, name := range sandbox.Channels {
		f.slack.AddChannel(slackfake.Channel{Name: name, Members: append(ids, f.slack.BotUserID())})
	}
	mux.Handle("/slack/", http.StripPrefix("/slack", f.slack))
	mux.Handle("/pagerduty/", http.StripPrefix("/pagerduty", f.pd))
	mux.Handle("/ec2/", http.StripPrefix("/ec2", ec2))
	mux.Handle("/ec2", http.StripPrefix("/ec2", ec2))
	return f
}

// server is a child process serving HTTP on addr.
type server struct {
	name string
	addr string
	cmd  *exec.Cmd
	// settle, when set, waits until the work the requests queued is
	// done, and says how long that took.
	settle func(ctx context.Context) time.Duration
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

// pid is the process to count CPU time of.
func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
		}
	}
}

// freeAddr picks a loopback port nobody listens on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startBare runs `loadtest bare` as a process of its own, under name;
// with db, its PagerDuty handler also inserts each event into that SQLite
// file (serveBare).
func startBare(ctx context.Context, dir, name, db string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"bare", addr}
	if db != "" {
		args = append(args, db)
	}
	cmd := exec.Command(self, args...)
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s handlers: %w", name, err)
	}
	s := &server{name: name, addr: addr, cmd: cmd}
	return s, waitHealthy(ctx, s)
}

// startOpsbot runs `opsbot serve` on the sandbox's sample config, its
// outside services pointed at the fakes.
func startOpsbot(ctx context.Context, o options, dir string, f *fakes) (*server, error) {
	cfg := filepath.Join(dir, "opsbot.yaml")
	if err := os.WriteFile(cfg, sandbox.Config, 0o600); err != nil {
		return nil, err
	}
	if o.config != "" {
		cfg = o.config
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	db := o.db
	if db == "" {
		db = "sqlite:" + filepath.Join(dir, "opsbot.db")
	}
	cmd := exec.Command(o.opsbot, "serve", "--config", cfg)
	cmd.Env = append(os.Environ(),
		"SLACK_BOT_TOKEN="+f.slack.Token(),
		"SLACK_SIGNING_SECRET="+slackSecret,
		"SLACK_API_URL="+f.srv.URL+"/slack/api/",
		"PAGERDUTY_API_TOKEN="+f.pd.Token(),
		"PAGERDUTY_WEBHOOK_SECRET="+pdSecret,
		"PAGERDUTY_API_URL="+f.srv.URL+"/pagerduty",
		"OPSBOT_DB="+db,
		"OPSBOT_LISTEN="+addr,
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDLOADTEST",
		"AWS_SECRET_ACCESS_KEY=loadtest",
		"AWS_ENDPOINT_URL="+f.srv.URL+"/ec2",
		// The sample config's runbooks need their secret to start.
		"SANDBOX_RUNBOOK_SECRET="+sandbox.RunbookSecret,
	)
	if o.cpuprofile != "" {
		abs, err := filepath.Abs(o.cpuprofile)
		if err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, "OPSBOT_CPU_PROFILE="+abs)
	}
	logf, err := os.Create(filepath.Join(dir, "opsbot.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w (build it with make build)", o.opsbot, err)
	}
	s := &server{name: "opsbot", addr: addr, cmd: cmd}
	s.settle = func(ctx context.Context) time.Duration { return waitQueue(ctx, db) }
	if err := waitHealthy(ctx, s); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "opsbot.log"))
		return s, fmt.Errorf("%w; its log:\n%s", err, strings.TrimSpace(string(log)))
	}
	return s, nil
}

// waitQueue waits (up to a minute) until opsbot's database holds no
// PagerDuty event waiting to be worked, nor its intake journal one
// waiting to be recorded, and says how long it waited.
func waitQueue(ctx context.Context, dsn string) time.Duration {
	start := time.Now()
	driver, name := "pgx", dsn
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		driver, name = "sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)"
		for time.Since(start) < time.Minute && ctx.Err() == nil && journalHolds(path+"-intake") {
			time.Sleep(5 * time.Millisecond)
		}
	}
	db, err := sql.Open(driver, name)
	if err != nil {
		return 0
	}
	defer db.Close()
	for time.Since(start) < time.Minute && ctx.Err() == nil {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM jobs WHERE kind = 'incident.pd-event' AND state <> 'dead'`).Scan(&n); err != nil || n == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// journalHolds says whether opsbot's intake journal in dir holds
// arrivals not yet recorded: a file of its with something in it.
func journalHolds(dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".journal" {
			continue
		}
		if info, err := e.Info(); err == nil && info.Size() > 0 {
			return true
		}
	}
	return false
}

func waitHealthy(ctx context.Context, s *server) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		resp, err := http.Get(s.url("/healthz"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer /healthz within 30s", s.name)
}
