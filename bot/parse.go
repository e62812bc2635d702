package bot

import (
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
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
)

// Usage lines, shown in help and with every mistake.
const (
	UsageRequest   = "/ops server request TEMPLATE [for DURATION] [REASON...]"
	UsageServers   = "/ops servers"
	UsageExtend    = "/ops lease extend SERVER DURATION [REASON...]"
	UsageRelease   = "/ops lease release SERVER"
	UsageBudget    = "/ops budget [TEAM]"
	UsageApprovals = "/ops approvals"
	UsageHelp      = "/ops help"
)

// OpsCommand is a parsed /ops command.
type OpsCommand struct {
	Kind     OpsKind
	Template string
	Duration time.Duration
	Reason   string
	Server   string
	Team     string
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
	words := strings.Fields(text)
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
	case "server":
		return parseServer(rest)
	case "lease":
		return parseLease(rest)
	}
	return OpsCommand{}, usageErr(UsageHelp, "`%s` is not an /ops command. Try `/ops help` for the list.", words[0])
}

func parseServer(words []string) (OpsCommand, error) {
	if len(words) == 0 || strings.ToLower(words[0]) != "request" {
		return OpsCommand{}, usageErr(UsageRequest, "Say what to do with a server: `/ops server request TEMPLATE`.")
	}
	words = words[1:]
	if len(words) == 0 {
		return OpsCommand{Kind: OpsRequestUI}, nil
	}
	c := OpsCommand{Kind: OpsRequest, Template: words[0]}
	words = words[1:]
	if len(words) > 0 && strings.ToLower(words[0]) == "for" {
		if len(words) < 2 {
			return OpsCommand{}, usageErr(UsageRequest, "`for` needs a duration after it, like `for 2d`.")
		}
		d, err := workflows.ParseDuration(words[1])
		if err != nil {
			return OpsCommand{}, usageErr(UsageRequest, "%s", workflows.ErrorMessage(err))
		}
		c.Duration = d
		words = words[2:]
	}
	c.Reason = strings.Join(words, " ")
	return c, nil
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
		if len(words) < 3 {
			return OpsCommand{}, usageErr(UsageExtend, "Name the server and how much longer, like `/ops lease extend srv-42 1d`.")
		}
		d, err := workflows.ParseDuration(words[2])
		if err != nil {
			return OpsCommand{}, usageErr(UsageExtend, "%s", workflows.ErrorMessage(err))
		}
		return OpsCommand{Kind: OpsExtend, Server: strings.ToLower(words[1]), Duration: d, Reason: strings.Join(words[3:], " ")}, nil
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
	"`" + UsageExtend + "` — give a server more time (no arguments: a form)",
	"`" + UsageRelease + "` — give it back now",
	"`" + UsageBudget + "` — budget, committed, spent, remaining",
	"`" + UsageApprovals + "` — what waits for you to decide",
	"DURATION is like `90m`, `4h` or `2d`.",
}, "\n")
