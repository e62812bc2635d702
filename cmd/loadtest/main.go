// Command loadtest measures how fast opsbot takes requests in, against a
// bare Go handler on the same machine, side by side in one run
// (`make loadtest`; docs/operations.md records the figures).
//
// It starts three things on loopback: fake Slack, PagerDuty and EC2 (in
// this process, so opsbot's outbox has somewhere to go), `opsbot serve`
// on the sandbox's sample config with a SQLite file (or OPSBOT_DB), and
// the bare handlers (this binary again, `loadtest bare`), each server a
// process of its own. Then, in rounds that alternate which server goes
// first:
//
//   - PagerDuty: unique signed V3 events from -conns connections (32);
//     accepted events per second, opsbot / bare. With -insert (the
//     default), a third server takes them too: the bare handler plus the
//     simplest durable, de-duplicating store (one SQLite INSERT per
//     event, see serveBare), to show what durability alone costs here.
//   - Slack: unique signed slash commands from -cmd-conns connections
//     (64); p50, p99 and max of the time to the HTTP answer, opsbot /
//     bare.
//
// After each phase against opsbot it waits until opsbot has worked off
// the PagerDuty events it took in (reading its database), so that the
// other server's next phase does not share the machine with that work;
// that wait is printed, and opsbot's CPU per request includes it.
//
// Requests are built and signed before each timed phase, so the client's
// own work is the same for both servers and small. It prints how busy
// the machine was while it ran (the CPU time of the servers, of this
// process and of everything else), since the figures mean little without.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const (
	slackSecret = "loadtest-slack-signing-secret"
	pdSecret    = "loadtest-pagerduty-webhook-secret"
)

func main() {
	if len(os.Args) >= 3 && os.Args[1] == "bare" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		db := ""
		if len(os.Args) >= 4 {
			db = os.Args[3]
		}
		if err := serveBare(ctx, os.Args[2], db); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest bare:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.opsbot, "opsbot", "bin/opsbot", "the opsbot binary to run (make loadtest builds it)")
	flag.StringVar(&o.db, "db", "", "OPSBOT_DB for opsbot; default a SQLite file in a temporary directory")
	flag.IntVar(&o.events, "events", 4000, "PagerDuty events per server per round")
	flag.IntVar(&o.conns, "conns", 32, "connections sending PagerDuty events")
	flag.IntVar(&o.commands, "commands", 3000, "slash commands per server per round")
	flag.IntVar(&o.cmdConns, "cmd-conns", 64, "connections sending slash commands")
	flag.StringVar(&o.command, "command", "/ops servers", "the slash command sent (command and text)")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each runs both servers, alternating which goes first")
	flag.IntVar(&o.slices, "slices", 4, "each round's requests go in this many slices, alternating between the servers")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write opsbot's CPU profile of the whole run to this file (go tool pprof FILE)")
	flag.StringVar(&o.config, "config", "", "opsbot's config file; default the sandbox's sample config of this build (an older opsbot may refuse a newer one's keys)")
	flag.StringVar(&o.only, "only", "", "run one half only: pagerduty or slash (to profile it alone)")
	flag.BoolVar(&o.insert, "insert", true, "also time the reference durable insert (bare + one SQLite INSERT per event) in the PagerDuty rounds")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (opsbot's log and database)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}
