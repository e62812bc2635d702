package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/opsbot/opsbot/config"
	"github.com/opsbot/opsbot/internal/telemetry"
	"github.com/opsbot/opsbot/sandbox"
	"github.com/opsbot/opsbot/workflows"
)

// runSandbox is `opsbot sandbox`: opsbot with fake Slack, EC2, PagerDuty
// and Notion on one localhost listener, and a page to drive them.
func runSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8088", "address to serve on (loopback only: the page has no login)")
	dbPath := fs.String("db", "opsbot-sandbox.db", "SQLite file holding the sandbox's state")
	reset := fs.Bool("reset", false, "delete the state file first and start from the sample setup")
	verbose := fs.Bool("v", false, "log everything opsbot and the fakes do")
	if err := fs.Parse(args); err != nil {
		return exitCode(2)
	}
	began := workflows.SystemClock{}.Now()
	if *reset {
		if err := removeDB(*dbPath); err != nil {
			return err
		}
	}
	ln, err := listenLoopback(*listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(telemetry.LogHandler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))
	// The sandbox traces as serve does when OTEL_EXPORTER_OTLP_* is set
	// (point it at a local Jaeger or collector to see the spans).
	tracing, err := telemetry.Setup(ctx, os.Getenv, version)
	if err != nil {
		return err
	}
	defer tracing.Shutdown(context.WithoutCancel(ctx))
	url := "http://" + ln.Addr().String()
	sb, err := sandbox.New(ctx, sandbox.Options{BaseURL: url, DB: *dbPath, Log: log,
		Boot: func(ctx context.Context, w sandbox.Wiring) (*sandbox.Opsbot, error) {
			return bootTracedSandbox(ctx, w, tracing)
		}})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "opsbot sandbox: open %s/ (state in %s, started in %s)\n", url, *dbPath,
		workflows.SystemClock{}.Now().Sub(began).Round(1e6))
	for _, n := range sb.Notes() {
		fmt.Fprintln(stdout, "note:", n)
	}
	return sb.Serve(ctx, ln)
}

// listenLoopback listens on addr, refusing anything but a loopback
// address: the sandbox page lets anyone who reaches it act as anyone.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--listen %q: the sandbox serves on a loopback address only (127.0.0.1, ::1, localhost)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (--listen): %w", addr, err)
	}
	return ln, nil
}

// removeDB deletes a SQLite file and its WAL companions.
func removeDB(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reset: %w", err)
		}
	}
	return nil
}

// sandboxJobLease is the sandbox's job lease (see bootTracedSandbox).
const sandboxJobLease = 24 * time.Hour

// sandboxJobWait bounds how long, in real time, a step of the sandbox's
// clock waits for the jobs at work (a job paced behind Notion's 3 calls a
// second takes seconds); a job that hangs longer is outrun, and said so.
const sandboxJobWait = 30 * time.Second

// waitForHeldJobs waits until runner holds no job, or sandboxJobWait.
func waitForHeldJobs(ctx context.Context, runner *workflows.Runner, log *slog.Logger) {
	deadline := time.Now().Add(sandboxJobWait)
	for runner.Holding() > 0 {
		if time.Now().After(deadline) {
			log.WarnContext(ctx, "sandbox clock moves on under jobs still at work", "jobs", runner.Holding(), "waited", sandboxJobWait)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// bootSandbox builds the real App from the sample config and the
// environment the sandbox made, exactly as `serve` would from its own.
func bootSandbox(ctx context.Context, w sandbox.Wiring) (*sandbox.Opsbot, error) {
	return bootTracedSandbox(ctx, w, nil)
}

// bootTracedSandbox is bootSandbox with the App's spans going to tracing
// (nil: off).
func bootTracedSandbox(ctx context.Context, w sandbox.Wiring, tracing *telemetry.Tracing) (*sandbox.Opsbot, error) {
	cfg, err := config.Parse(sandbox.Config, "sandbox.yaml")
	if err != nil {
		return nil, fmt.Errorf("sample config: %w", err)
	}
	env, problems := config.LoadEnv(func(k string) string { return w.Env[k] })
	if len(problems) > 0 {
		return nil, config.Problems(problems)
	}
	for _, rb := range cfg.Runbooks {
		if w.BaseURL != "" && strings.HasPrefix(rb.URL, sandbox.SampleBaseURL+"/") {
			rb.URL = w.BaseURL + strings.TrimPrefix(rb.URL, sandbox.SampleBaseURL)
		}
	}
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDSANDBOX", "sandbox-secret", "")}
	app, err := NewApp(ctx, cfg, env, Deps{Clock: w.Clock, Log: w.Log, AWSConfig: &awsCfg, AWSEndpoint: w.AWSEndpoint,
		AWSSTSEndpoint: w.STSEndpoint, AWSCostEndpoint: w.CostEndpoint, Owner: "sandbox", Tracing: tracing,
		Getenv: func(k string) string { return w.Env[k] }})
	if err != nil {
		return nil, err
	}
	// The sandbox's clock jumps (15 minutes a step when fast-forwarding,
	// many steps a second): a 30 s job lease on it would run out under a
	// running job, and the job would run a second time beside the first
	// (two Notion pages for one review). So CatchUp, run after each step,
	// waits for the jobs the runner holds before the clock moves on
	// (sandboxJobWait), and a lease of a day outlasts the one step a job
	// claimed just after that wait can see; a job held when the sandbox
	// was killed is free again a sandbox day later.
	app.Runner.Lease, app.Runner.RenewEvery = sandboxJobLease, time.Second
	var holdReview func(ctx context.Context) (string, error)
	if app.Costs != nil {
		holdReview = func(ctx context.Context) (string, error) {
			m, fresh, err := app.Costs.HoldReview(ctx)
			if err != nil {
				return "", err
			}
			where := app.Config.Costs.Review.Channel
			if !fresh {
				return fmt.Sprintf("The cost review of %s was held already: it is updated in place in %s.", m.Name(), where), nil
			}
			return fmt.Sprintf("The cost review of %s is being posted in %s.", m.Name(), where), nil
		}
	}
	return &sandbox.Opsbot{
		HoldCostReview: holdReview,
		Handler:        app.Handler,
		Run:            func(ctx context.Context) error { return app.Run(ctx, nil) },
		CatchUp: func(ctx context.Context) error {
			app.Scheduler.RunAll()
			for range 100 {
				n, err := app.Runner.RunDue(ctx)
				if err != nil {
					return err
				}
				if n == 0 {
					break
				}
			}
			app.Bot.Wait()
			app.Wake()
			waitForHeldJobs(ctx, app.Runner, app.Log)
			return nil
		},
		Close: app.Close,
	}, nil
}
