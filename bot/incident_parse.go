package bot

import (
	"regexp"
	"strings"
	"time"

	slackout "github.com/opsbot/opsbot/integrations/slack"
	"github.com/opsbot/opsbot/workflows"
)

// IncidentKind names an /incident subcommand.
type IncidentKind string

// The /incident subcommands of CONTRACT.md, plus `postmortem done`.
const (
	IncHelp       IncidentKind = "help"
	IncDeclare    IncidentKind = "declare"
	IncDeclareUI  IncidentKind = "declare (form)"
	IncStatus     IncidentKind = "status"
	IncSeverity   IncidentKind = "severity"
	IncRole       IncidentKind = "role"
	IncUpdate     IncidentKind = "update"
	IncPostmortem IncidentKind = "postmortem"
	IncScheduled  IncidentKind = "postmortem scheduled"
	IncPMDone     IncidentKind = "postmortem done"
	IncAction     IncidentKind = "action"
	IncActionDone IncidentKind = "action done"
	IncAdd        IncidentKind = "add"
	IncCancel     IncidentKind = "cancel"
	IncPMPublish  IncidentKind = "postmortem publish"
)

// Usage lines of /incident.
const (
	UsageDeclare    = "/incident declare [--private] TITLE [sev1|sev2|sev3]"
	UsageStatus     = "/incident status investigating|identified|monitoring|resolved"
	UsageSeverity   = "/incident severity sev1|sev2|sev3"
	UsageRole       = "/incident role commander|comms|scribe @user"
	UsageUpdate     = "/incident update TEXT"
	UsagePostmortem = "/incident postmortem"
	UsageScheduled  = "/incident postmortem scheduled DATE TIME"
	UsagePublish    = "/incident postmortem publish"
	UsageIncHelp    = "/incident help"
	UsageAction     = "/incident action TEXT [@owner] [due YYYY-MM-DD]"
	UsageActionDone = "/incident action done ACTION-ID"
	UsageAdd        = "/incident add @user"
	UsageCancel     = "/incident cancel [REASON]"
)

// IncidentCommand is a parsed /incident command. Incident is set when the
// command named one (inc-7); otherwise the channel implies it.
type IncidentCommand struct {
	Kind     IncidentKind
	Incident string
	Title    string
	Severity workflows.Severity
	Status   workflows.IncidentStatus
	Role     workflows.Role
	Who      string // a Slack user ID or email
	Text     string
	When     string // "2026-11-24 15:00", read in the team's zone
	Due      string // an action item's due date, "2026-12-15"
	Action   string // an action item's ID, "act-3"
	Private  bool   // declare --private
	Team     string // stats, review: the team named (empty: the actor's)
	Days     int    // stats: the window in days (0: the default)
}

var actionID = regexp.MustCompile(`^(?i)act-[0-9]+$`)

var incidentID = regexp.MustCompile(`^(?i)inc-[0-9]+$`)

var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// mention matches what Slack sends for a mention when commands escape
// users: <@U123> or <@U123|name>.
var mention = regexp.MustCompile(`^<@([UW][A-Z0-9]+)(\|[^>]*)?>$`)

// ParseIncident reads the text after /incident.
func ParseIncident(text string) (IncidentCommand, error) {
	words := typedWords(text)
	if len(words) == 0 {
		return IncidentCommand{Kind: IncHelp}, nil
	}
	c := IncidentCommand{}
	verb, rest := strings.ToLower(words[0]), words[1:]
	if verb != "declare" && len(rest) > 0 && incidentID.MatchString(rest[0]) {
		c.Incident, rest = strings.ToLower(rest[0]), rest[1:]
	}
	switch verb {
	case "help":
		c.Kind = IncHelp
	case "declare":
		if len(rest) == 0 {
			c.Kind = IncDeclareUI
			return c, nil
		}
		c.Kind = IncDeclare
		// Options lead the title: --private (or —private, as Slack clients
		// turn "--" into an em dash).
		for len(rest) > 0 && (strings.HasPrefix(rest[0], "--") || strings.HasPrefix(rest[0], "—")) {
			flag := strings.ToLower(strings.TrimLeft(rest[0], "-—"))
			if flag != "private" {
				return c, usageErr(UsageDeclare, "`%s` is not an option of declare: the one option is `--private`.", rest[0])
			}
			c.Private, rest = true, rest[1:]
		}
		// A --private after the title would make a public incident of one
		// meant to be private: refuse rather than guess.
		for _, w := range rest {
			if (strings.HasPrefix(w, "--") || strings.HasPrefix(w, "—")) && strings.EqualFold(strings.TrimLeft(w, "-—"), "private") {
				return c, usageErr(UsageDeclare, "Put `--private` before the title, like `/incident declare --private Payroll export leaked sev2`.")
			}
		}
		if len(rest) == 0 {
			return c, usageErr(UsageDeclare, "An incident needs a title after `--private`.")
		}
		if last := rest[len(rest)-1]; workflows.LooksLikeSeverity(last) {
			sev, ok := workflows.ParseSeverity(last)
			if !ok {
				return c, usageErr(UsageDeclare, "%q is not a severity: use sev1 (worst), sev2 or sev3.", last)
			}
			c.Severity, rest = sev, rest[:len(rest)-1]
		}
		if len(rest) == 0 {
			return c, usageErr(UsageDeclare, "An incident needs a title before the severity.")
		}
		c.Title = slackout.Unformat(strings.Join(rest, " "))
	case "status":
		if len(rest) != 1 {
			return c, usageErr(UsageStatus, "Say one status.")
		}
		st, ok := workflows.ParseStatus(rest[0])
		if !ok {
			return c, usageErr(UsageStatus, "%q is not a status.", rest[0])
		}
		c.Kind, c.Status = IncStatus, st
	case "severity":
		if len(rest) != 1 {
			return c, usageErr(UsageSeverity, "Say one severity.")
		}
		sev, ok := workflows.ParseSeverity(rest[0])
		if !ok {
			return c, usageErr(UsageSeverity, "%q is not a severity: use sev1 (worst), sev2 or sev3.", rest[0])
		}
		c.Kind, c.Severity = IncSeverity, sev
	case "role":
		if len(rest) != 2 {
			return c, usageErr(UsageRole, "Name a role and a person.")
		}
		role, ok := workflows.ParseRole(rest[0])
		if !ok {
			return c, usageErr(UsageRole, "%q is not a role.", rest[0])
		}
		who, ok := personRef(rest[1])
		if !ok {
			return c, usageErr(UsageRole, "%q is not a person: mention them (@name) or give their email.", rest[1])
		}
		c.Kind, c.Role, c.Who = IncRole, role, who
	case "add":
		if len(rest) != 1 {
			return c, usageErr(UsageAdd, "Name one person to add.")
		}
		who, ok := personRef(rest[0])
		if !ok {
			return c, usageErr(UsageAdd, "%q is not a person: mention them (@name) or give their email.", rest[0])
		}
		c.Kind, c.Who = IncAdd, who
	case "cancel":
		c.Kind, c.Text = IncCancel, slackout.Unformat(strings.Join(rest, " "))
	case "update":
		if len(rest) == 0 {
			return c, usageErr(UsageUpdate, "An update needs text.")
		}
		c.Kind, c.Text = IncUpdate, slackout.Unformat(strings.Join(rest, " "))
	case "postmortem":
		// The incident may also follow the word: postmortem publish inc-7.
		if n := len(rest); n > 1 && c.Incident == "" && incidentID.MatchString(rest[n-1]) && !strings.EqualFold(rest[0], "scheduled") {
			c.Incident, rest = strings.ToLower(rest[n-1]), rest[:n-1]
		}
		switch {
		case len(rest) == 0:
			c.Kind = IncPostmortem
		case strings.EqualFold(rest[0], "done") && len(rest) == 1:
			c.Kind = IncPMDone
		case strings.EqualFold(rest[0], "publish") && len(rest) == 1:
			c.Kind = IncPMPublish
		case strings.EqualFold(rest[0], "scheduled"):
			if len(rest) != 3 {
				return c, usageErr(UsageScheduled, "Give the meeting's date and time, like `2026-11-24 15:00`.")
			}
			if _, err := time.Parse("2006-01-02 15:04", rest[1]+" "+rest[2]); err != nil {
				return c, usageErr(UsageScheduled, "%q is not a date and time like 2026-11-24 15:00.", rest[1]+" "+rest[2])
			}
			c.Kind, c.When = IncScheduled, rest[1]+" "+rest[2]
		default:
			return c, usageErr(UsagePostmortem, "`%s` is not a post-mortem command: use `/incident postmortem`, `postmortem scheduled DATE TIME`, `postmortem done` or `postmortem publish`.", rest[0])
		}
	case "action":
		if len(rest) > 0 && strings.EqualFold(rest[0], "done") {
			if len(rest) != 2 || !actionID.MatchString(rest[1]) {
				return c, usageErr(UsageActionDone, "Name the action item, like `act-3`.")
			}
			c.Kind, c.Action = IncActionDone, strings.ToLower(rest[1])
			return c, nil
		}
		if n := len(rest); n >= 2 && strings.EqualFold(rest[n-2], "due") {
			if _, err := time.Parse("2006-01-02", rest[n-1]); err != nil {
				return c, usageErr(UsageAction, "%q is not a date like 2026-12-15.", rest[n-1])
			}
			c.Due, rest = rest[n-1], rest[:n-2]
		}
		if n := len(rest); n >= 1 {
			if who, ok := personRef(rest[n-1]); ok && (mention.MatchString(rest[n-1]) || strings.Contains(who, "@")) {
				c.Who, rest = who, rest[:n-1]
			}
		}
		if len(rest) == 0 {
			return c, usageErr(UsageAction, "An action item needs text.")
		}
		c.Kind, c.Text = IncAction, slackout.Unformat(strings.Join(rest, " "))
	case "stats":
		return parseStats(c, rest)
	case "review":
		return parseReview(c, rest)
	default:
		return c, usageErr(UsageIncHelp, "`%s` is not an /incident command. Try `/incident help`.", words[0])
	}
	return c, nil
}

// personRef reads a mention, a user ID or an email.
func personRef(s string) (string, bool) {
	if m := mention.FindStringSubmatch(s); m != nil {
		return m[1], true
	}
	if slackUserID.MatchString(s) {
		return s, true
	}
	if strings.Contains(s, "@") && !strings.HasPrefix(s, "@") && strings.Contains(s, ".") {
		return strings.ToLower(s), true
	}
	return "", false
}

// IncidentHelpText lists every /incident command.
var IncidentHelpText = strings.Join([]string{
	"`" + UsageDeclare + "` — open an incident (pages on-call when the team has a PagerDuty service); `--private` for a private channel and no announcement",
	"`" + UsageStatus + "`",
	"`" + UsageSeverity + "`",
	"`" + UsageRole + "`",
	"`" + UsageUpdate + "` — a status update (resets the update reminder)",
	"`" + UsagePostmortem + "` — open or link the post-mortem",
	"`" + UsageScheduled + "` — record the review meeting",
	"`/incident postmortem done` — mark the post-mortem finished",
	"`" + UsageAction + "` — an action item: a to-do in the post-mortem; its owner is reminded from the due date until it is done",
	"`" + UsageActionDone + "` — mark an action item done (or check it in the post-mortem)",
	"`" + UsageAdd + "` — let someone outside the team change this incident (status, severity, roles)",
	"`" + UsageCancel + "` — declared by mistake: resolve it in PagerDuty with a note, no post-mortem, no reminders",
	"Status, severity, roles, acknowledge/resolve, cancel and the post-mortem are for the owning team, its incident members, role holders, PagerDuty's assignees and people added; anyone may post updates.",
	"`" + UsagePublish + "` — let a private incident's post-mortem be linked outside its channel",
	"`" + UsageStats + "` — a team's incidents: by severity and service, time to acknowledge and resolve (median, p90), post-mortems and action items",
	"`" + UsageReview + "` — prepare the team's alert review now (it is also posted on the review schedule)",
	"Inside an incident channel the incident is implied; elsewhere name it: `/incident status inc-7 resolved`.",
}, "\n")
