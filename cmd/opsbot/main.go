// Command opsbot is the ChatOps bot and incident orchestrator: self-service
// servers with leases and budgets, and incidents that run themselves.
//
//	opsbot sandbox                    try it locally, no accounts needed
//	opsbot serve [--config FILE]      run everything
//	opsbot config validate FILE       check a config, print every problem
//	opsbot backup / restore           back up and restore the database
//	opsbot doctor [--config FILE]     check the installation, with fixes
//	opsbot notion init --parent PAGE  create the post-mortem database
//	opsbot version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/opsbot/opsbot/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	var code exitCode
	switch {
	case err == nil:
	case errors.As(err, &code):
		os.Exit(int(code))
	default:
		fmt.Fprintln(os.Stderr, "opsbot:", err)
		os.Exit(1)
	}
}

// exitCode ends the program with a status and nothing more to print.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit %d", int(c)) }

const usage = `opsbot: servers, leases, budgets and incidents from Slack.

Usage:
  opsbot sandbox [--listen 127.0.0.1:8088] [--db opsbot-sandbox.db] [--reset]
                                     opsbot with local fakes of Slack, PagerDuty, Notion
                                     and EC2, and a web page to drive it; no accounts
  opsbot serve [--config FILE]       run the bot (HTTP, Socket Mode, scheduler)
  opsbot config validate FILE        check a config file; exit 0 only if valid
  opsbot manifest [--config FILE] [--url https://...] [--socket]
                                     print the Slack app manifest for this config
  opsbot audit export --since DATE|DURATION [--until DATE] [--after-id N]
                                     write the audit log as JSON lines (OPSBOT_DB)
  opsbot backup --to FILE|DIR/|s3://BUCKET/PREFIX [--format sqlite|archive]
                                     back up OPSBOT_DB while opsbot runs
  opsbot backup verify --from FILE|s3://BUCKET/KEY
                                     restore into a scratch database and check it
  opsbot restore --from FILE|s3://BUCKET/KEY [--replace]
                                     load a backup into OPSBOT_DB (empty unless --replace)
  opsbot doctor [--config FILE] [--url https://...] [--json]
                                     check the installation against Slack, PagerDuty,
                                     Notion and AWS; a checklist with a fix per failure
  opsbot notion init --parent PAGE   create the post-mortem database under a Notion page
  opsbot version                     print the version
`

// run is main without the process: arguments, output and environment are
// passed in so tests drive it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitCode(2)
	}
	switch args[0] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(stderr)
		path := fs.String("config", "opsbot.yaml", "policy file (YAML)")
		if err := fs.Parse(args[1:]); err != nil {
			return exitCode(2)
		}
		return serve(ctx, *path, getenv, stderr)
	case "config":
		if len(args) != 3 || args[1] != "validate" {
			fmt.Fprint(stderr, "usage: opsbot config validate FILE\n")
			return exitCode(2)
		}
		return validate(args[2], stdout)
	case "manifest":
		fs := flag.NewFlagSet("manifest", flag.ContinueOnError)
		fs.SetOutput(stderr)
		path := fs.String("config", "opsbot.yaml", "policy file (YAML)")
		url := fs.String("url", "", "opsbot's public https URL (for the request URLs)")
		socket := fs.Bool("socket", getenv(config.EnvSlackAppToken) != "", "Socket Mode: no request URLs (default: on when SLACK_APP_TOKEN is set)")
		if err := fs.Parse(args[1:]); err != nil {
			return exitCode(2)
		}
		cfg, err := config.Load(*path)
		if err != nil {
			return err
		}
		return writeManifest(stdout, cfg, *url, *socket)
	case "sandbox":
		return runSandbox(ctx, args[1:], stdout, stderr)
	case "audit":
		if len(args) < 2 || args[1] != "export" {
			fmt.Fprint(stderr, "usage: opsbot audit export --since DATE|DURATION [--until DATE] [--after-id N]\n")
			return exitCode(2)
		}
		return auditExport(ctx, args[2:], stdout, stderr, getenv)
	case "backup":
		return runBackup(ctx, args[1:], stdout, stderr, getenv, backupDeps{})
	case "restore":
		return runRestore(ctx, args[1:], stdout, stderr, getenv, backupDeps{})
	case "doctor":
		return runDoctor(ctx, args[1:], stdout, stderr, getenv)
	case "notion":
		return runNotion(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "opsbot", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "opsbot: unknown command %q\n\n%s", args[0], usage)
	return exitCode(2)
}
