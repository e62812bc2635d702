package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"time"

	"github.com/opsbot/opsbot/config"
	"github.com/opsbot/opsbot/internal/telemetry"
)

// serve runs opsbot until ctx ends. Any problem with the config or the
// environment stops it before it starts, with one line saying what.
func serve(ctx context.Context, path string, getenv func(string) string, stderr io.Writer) error {
	required := []string{config.EnvSlackBotToken, config.EnvSlackSigningSecret}
	if getenv(config.EnvSlackAppToken) != "" {
		// Socket Mode: requests come over the app's own connection, not
		// signed HTTP.
		required = required[:1]
	}
	cfg, env, err := loadAll(path, getenv, required...)
	if err != nil {
		return err
	}
	log := slog.New(telemetry.LogHandler(slog.NewJSONHandler(stderr, nil)))
	if path := getenv("OPSBOT_CPU_PROFILE"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer stop()
	}
	tracing, err := telemetry.Setup(ctx, getenv, version)
	if err != nil {
		return err
	}
	defer func() {
		// Spans not exported yet go out before the process ends.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tracing.Shutdown(sctx); err != nil {
			log.WarnContext(ctx, "flush traces", "err", err)
		}
	}()
	app, err := NewApp(ctx, cfg, env, Deps{Log: log, Tracing: tracing, Getenv: getenv})
	if err != nil {
		return err
	}
	defer app.Close()
	ln, err := net.Listen("tcp", env.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (OPSBOT_LISTEN): %w", env.Listen, err)
	}
	log.InfoContext(ctx, "opsbot serving", "version", version, "listen", ln.Addr().String(), "config", cfg.Source, "db", env.DB.String(), "dry_run", env.DryRun,
		"teams", len(cfg.Catalog.Teams), "templates", len(cfg.Catalog.Templates), "traces", tracesTo(tracing))
	err = app.Run(ctx, ln)
	log.InfoContext(ctx, "opsbot stopped")
	return err
}

// startCPUProfile writes a CPU profile of the whole run to path, for
// developers (`make loadtest LOADTEST_FLAGS=-cpuprofile=...`,
// docs/development.md); stop ends and flushes it.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("OPSBOT_CPU_PROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("OPSBOT_CPU_PROFILE: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// tracesTo says where spans go, for the start-up line.
func tracesTo(t *telemetry.Tracing) string {
	if !t.On() {
		return "off"
	}
	return t.Endpoint
}

// loadAll reads the config file and the environment and insists on the
// named variables; the error is one line.
func loadAll(path string, getenv func(string) string, required ...string) (*config.Config, config.Env, error) {
	env, problems := config.LoadEnv(getenv)
	problems = append(problems, env.Require(required...)...)
	if len(problems) > 0 {
		return nil, env, config.Problems(problems)
	}
	cfg, err := config.Load(path)
	var ps config.Problems
	if errors.As(err, &ps) {
		return nil, env, fmt.Errorf("%s (run `opsbot config validate %s` to list them all)", ps.Error(), path)
	}
	return cfg, env, err
}
