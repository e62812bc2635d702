package bot

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	slackout "github.com/opsbot/opsbot/integrations/slack"
	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/costs"
)

// OpsKind names an /ops subcommand.
type OpsKind string

// The /ops subcommands of CONTRACT.md.
const (
	OpsHelp      OpsKind = "help"
	OpsRequest   OpsKind = "server request"
	OpsRequestUI OpsKind = "server request (form)"
	OpsServers   OpsKind = "servers"
	OpsExtend    OpsKind = "lease extend"
	OpsExtendUI  OpsKind = "lease extend (form)"
	OpsRelease   OpsKind = "lease release"
	OpsBudget    OpsKind = "budget"
	OpsApprovals OpsKind = "approvals"
	OpsServer    OpsKind = "server"
	OpsCosts     OpsKind = "costs"
	OpsRun       OpsKind = "run"
)

// Usage lines, shown in help and with every mistake.
const (
	UsageRequest   = "/ops server request TEMPLATE [for DURATION] [REASON...]"
	UsageServers   = "/ops servers"
	UsageExtend    = "/ops lease extend SERVER DURATION [REASON...]"
	UsageRelease   = "/ops lease release SERVER"
	UsageBudget    = "/ops budget [TEAM]"
	UsageApprovals = "/ops approvals"
	UsageCosts     = costs.Usage
	UsageHelp      = "/ops help"
	UsageServer    = "/ops server SERVER"
)

// OpsCommand is a parsed /ops command.
type OpsCommand struct {
	Kind     OpsKind
	Template string
	Duration time.Duration
	Reason   string
	Server   string
	Team     string
	Rest     string // the words after the subcommand, for those that parse their own
	Month    string // /ops costs: as typed, read by workflows/costs
}

// UsageError is a mistake in a command: what was wrong and the usage line
// that shows how to say it.
type UsageError struct {
	Problem string
	Usage   string
}

func (e *UsageError) Error() string { return e.Problem + "\nUsage: `" + e.Usage + "`" }

func usageErr(usage, format string, args ...any) error {
	return &UsageError{Problem: workflows.Errorf(workflows.EInvalid, format, args...).Message, Usage: usage}
}

// ParseOps reads the text after /ops.
func ParseOps(text string) (OpsCommand, error) {
	words := typedWords(text)
	if len(words) == 0 {
		return OpsCommand{Kind: OpsHelp}, nil
	}
	verb, rest := strings.ToLower(words[0]), words[1:]
	switch verb {
	case "help":
		return OpsCommand{Kind: OpsHelp}, nil
	case "servers":
		if len(rest) > 0 {
			return OpsCommand{}, usageErr(UsageServers, "`/ops servers` takes no arguments.")
		}
		return OpsCommand{Kind: OpsServers}, nil
	case "approvals":
		if len(rest) > 0 {
			return OpsCommand{}, usageErr(UsageApprovals, "`/ops approvals` takes no arguments.")
		}
		return OpsCommand{Kind: OpsApprovals}, nil
	case "budget":
		if len(rest) > 1 {
			return OpsCommand{}, usageErr(UsageBudget, "`/ops budget` takes at most one team name.")
		}
		c := OpsCommand{Kind: OpsBudget}
		if len(rest) == 1 {
			c.Team = rest[0]
		}
		return c, nil
	case "costs", "cost":
		return parseCosts(rest)
	case "server":
		return parseServer(rest)
	case "offboard":
		return parseOffboard(rest)
	case "audit":
		if _, err := parseAudit(rest); err != nil {
			return OpsCommand{}, err
		}
		return OpsCommand{Kind: OpsAudit, Rest: strings.Join(rest, " ")}, nil
	case "lease":
		return parseLease(rest)
	case "run":
		if len(rest) > 1 {
			return OpsCommand{}, usageErr(UsageRun, "Name one runbook: its parameters are asked in a form.")
		}
		return OpsCommand{Kind: OpsRun, Rest: strings.Join(rest, " ")}, nil
	}
	return OpsCommand{}, usageErr(UsageHelp, "`%s` is not an /ops command. Try `/ops help` for the list.", words[0])
}

// linkRef matches a word Slack made a link of (should_escape): an email
// as <mailto:a@b.com|a@b.com>, a name that looks like a domain (a
// template or runbook called api.dev) as <http://api.dev|api.dev>, a URL
// as <https://…>.
var linkRef = regexp.MustCompile(`^<((?:https?|mailto):[^|<>]*)(?:\|([^<>]*))?>$`)

// typedWords splits a command's text into words, each word Slack made a
// link of read back as typed (still &-escaped: free text is unescaped
// once, by slackout.Unformat).
func typedWords(text string) []string {
	words := strings.Fields(text)
	for i, w := range words {
		if m := linkRef.FindStringSubmatch(w); m != nil {
			if m[2] != "" {
				words[i] = m[2]
			} else {
				words[i] = strings.TrimPrefix(m[1], "mailto:")
			}
		}
	}
	return words
}

// serverID matches a server's ID as typed: srv-42.
var serverID = regexp.MustCompile(`^(?i)srv-[0-9]+$`)

func parseServer(words []string) (OpsCommand, error) {
	if len(words) > 0 && serverID.MatchString(words[0]) {
		if len(words) > 1 {
			return OpsCommand{}, usageErr(UsageServer, "`/ops server %s` takes nothing after the server: its actions are buttons.", words[0])
		}
		return OpsCommand{Kind: OpsServer, Server: strings.ToLower(words[0])}, nil
	}
	if len(words) == 0 || strings.ToLower(words[0]) != "request" {
		hint := ""
		if len(words) > 0 && strings.HasPrefix(strings.ToLower(words[0]), "list") {
			hint = " To list your servers: `/ops servers`."
		}
		return OpsCommand{}, usageErr(UsageRequest, "Say what to do with a server: `/ops server request TEMPLATE`, or `/ops server srv-42` to see one with its actions.%s", hint)
	}
	words = words[1:]
	if len(words) == 0 {
		return OpsCommand{Kind: OpsRequestUI}, nil
	}
	if durationLike(words[0]) || strings.EqualFold(words[0], "for") {
		return OpsCommand{}, usageErr(UsageRequest, "Name the template first, then the duration, like `/ops server request test-small for 2d`.")
	}
	c := OpsCommand{Kind: OpsRequest, Template: words[0]}
	words = words[1:]
	// The duration comes right after the template, with or without `for`.
	// A word there that looks like a duration but is not a valid one is a
	// mistake, never the start of the reason.
	switch {
	case len(words) > 0 && strings.EqualFold(words[0], "for"):
		if len(words) < 2 {
			return OpsCommand{}, usageErr(UsageRequest, "`for` needs a duration after it, like `for 2d`.")
		}
		d, err := parseDurationArg(words[1])
		if err != nil {
			return OpsCommand{}, usageErr(UsageRequest, "%s", err)
		}
		c.Duration, words = d, words[2:]
	case len(words) > 0 && durationLike(words[0]):
		d, err := parseDurationArg(words[0])
		if err != nil {
			return OpsCommand{}, usageErr(UsageRequest, "%s", err)
		}
		c.Duration, words = d, words[1:]
	}
	// A duration later in the text is ambiguous: the lease or the reason?
	// Say so rather than guess.
	if c.Duration == 0 {
		for i, w := range words {
			if durationLike(w) {
				return OpsCommand{}, usageErr(UsageRequest, "%q in the reason looks like a duration. Put the duration right after the template (`/ops server request %s for %s ...`), or write the reason without it.", w, c.Template, w)
			}
			if strings.EqualFold(w, "for") && i+1 < len(words) && durationLike(words[i+1]) {
				return OpsCommand{}, usageErr(UsageRequest, "Put `for %s` right after the template, before the reason.", words[i+1])
			}
		}
	} else if i := slices.IndexFunc(words, func(w string) bool { return strings.EqualFold(w, "for") }); i >= 0 && i+1 < len(words) && durationLike(words[i+1]) {
		return OpsCommand{}, usageErr(UsageRequest, "Two durations: %s and %s. Give one.", workflows.FormatDuration(c.Duration), words[i+1])
	}
	c.Reason = slackout.Unformat(strings.Join(words, " "))
	return c, nil
}

// durationPattern matches what a person means as a duration, valid or
// not: a number (maybe signed or with a fraction) and a unit, possibly
// repeated ("2d", "1.5d", "-1h", "1h30m", "2days"), or a bare number.
var durationPattern = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?([a-zµ]+[0-9]*(\.[0-9]+)?)*$`)

// unitPattern lists the units durationLike recognises after a number, so
// a word like "2nd" or "4k" in a reason is not mistaken for a duration.
var (
	unitPattern   = regexp.MustCompile(`^(ns|us|µs|ms|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?)$`)
	letters       = regexp.MustCompile(`[a-zµ]+`)
	numberPattern = regexp.MustCompile(`^[0-9]+$`)
)

// durationLike reports whether w reads as a duration, valid or not.
func durationLike(w string) bool {
	w = strings.ToLower(w)
	if !durationPattern.MatchString(w) {
		return false
	}
	for _, u := range letters.FindAllString(w, -1) {
		if !unitPattern.MatchString(u) {
			return false
		}
	}
	return true
}

// parseDurationArg reads a duration given in a command. Leases shorter
// than a minute are a typo, not a request.
func parseDurationArg(w string) (time.Duration, error) {
	d, err := workflows.ParseDuration(w)
	if err != nil {
		msg := workflows.ErrorMessage(err)
		if numberPattern.MatchString(w) {
			msg = fmt.Sprintf("%q has no unit: say %sm, %sh or %sd", w, w, w, w)
		}
		return 0, errors.New(msg)
	}
	if d < time.Minute {
		return 0, fmt.Errorf("%q is shorter than a minute: use minutes, hours or days, like 90m, 4h or 2d", w)
	}
	return d, nil
}

func parseLease(words []string) (OpsCommand, error) {
	if len(words) == 0 {
		return OpsCommand{}, usageErr(UsageExtend, "Say `extend` or `release`: `%s` or `%s`.", UsageExtend, UsageRelease)
	}
	switch strings.ToLower(words[0]) {
	case "extend":
		if len(words) == 1 {
			return OpsCommand{Kind: OpsExtendUI}, nil
		}
		args := words[1:]
		if durationLike(args[0]) || strings.EqualFold(args[0], "for") {
			return OpsCommand{}, usageErr(UsageExtend, "Name the server first, then how much longer, like `/ops lease extend srv-42 1d`.")
		}
		if len(args) > 1 && strings.EqualFold(args[1], "for") {
			args = append(args[:1:1], args[2:]...) // "extend srv-42 for 1d"
		}
		if len(args) < 2 {
			return OpsCommand{}, usageErr(UsageExtend, "Name the server and how much longer, like `/ops lease extend srv-42 1d`.")
		}
		d, err := parseDurationArg(args[1])
		if err != nil {
			return OpsCommand{}, usageErr(UsageExtend, "%s", err)
		}
		return OpsCommand{Kind: OpsExtend, Server: strings.ToLower(args[0]), Duration: d, Reason: slackout.Unformat(strings.Join(args[2:], " "))}, nil
	case "release":
		if len(words) != 2 {
			return OpsCommand{}, usageErr(UsageRelease, "Name one server to release, like `/ops lease release srv-42`.")
		}
		return OpsCommand{Kind: OpsRelease, Server: strings.ToLower(words[1])}, nil
	}
	return OpsCommand{}, usageErr(UsageExtend, "`%s` is not a lease command: use `extend` or `release`.", words[0])
}

// OpsHelpText lists every /ops command.
var OpsHelpText = strings.Join([]string{
	"`" + UsageRequest + "` — ask for a server (no template: a form)",
	"`" + UsageServers + "` — your servers: state, lease end, cost so far",
	"`" + UsageServer + "` — one server with its actions: start, stop, reboot, snapshot, diagnose",
	"`" + UsageExtend + "` — give a server more time (no arguments: a form)",
	"`" + UsageRelease + "` — give it back now",
	"`" + UsageBudget + "` — budget, committed, spent, remaining",
	"`" + UsageApprovals + "` — what waits for you to decide",
	"`" + UsageOffboard + "` — hand over what someone who left held (admins)",
	"`" + UsageAudit + "` — the audit log (admins, and approvers for their teams); SINCE like `2d` or `2026-11-20`, default a week",
	"`" + UsageCosts + "` — a team's month: committed, estimated, the bill (MONTH like `2026-11`, `nov` or `last`)",
	"`" + UsageRun + "` — run a runbook (a form asks its parameters); no name: the ones you may run",
	"DURATION is like `90m`, `4h` or `2d`; it goes right after the template or server, `for` is optional.",
}, "\n")

// parseCosts reads /ops costs [TEAM|all] [MONTH]: a lone word that looks
// like a month is the month.
func parseCosts(words []string) (OpsCommand, error) {
	c := OpsCommand{Kind: OpsCosts}
	switch len(words) {
	case 0:
	case 1:
		if costs.LooksLikeMonth(words[0]) {
			c.Month = words[0]
		} else {
			c.Team = words[0]
		}
	case 2:
		c.Team, c.Month = words[0], words[1]
	default:
		return OpsCommand{}, usageErr(UsageCosts, "`/ops costs` takes a team (or all) and a month, nothing more.")
	}
	return c, nil
}
