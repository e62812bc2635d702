package bot

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/audit"
)

// UsageAudit is the usage line of /ops audit.
const UsageAudit = "/ops audit [SERVER|INCIDENT|RUN|TEAM|EMAIL] [SINCE]"

// OpsAudit reads the audit log.
const OpsAudit OpsKind = "audit"

var (
	subjectID   = regexp.MustCompile(`^(?i)(srv|inc|apr|run)-[0-9]+$`)
	userMention = regexp.MustCompile(`^<@([UW][A-Z0-9]+)(\|[^>]*)?>$`)
	datePattern = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// auditArgs is a parsed `/ops audit`.
type auditArgs struct {
	Subject, Team, User string
	Ago                 time.Duration
	Date                string
}

// parseAudit reads the words after `/ops audit`: at most one subject (a
// server, incident or approval ID, a team name or an @mention) and at
// most one since (a duration back from now, or a date).
func parseAudit(words []string) (auditArgs, error) {
	var a auditArgs
	if len(words) > 2 {
		return a, usageErr(UsageAudit, "`/ops audit` takes at most a subject and a since.")
	}
	for _, w := range words {
		switch {
		case datePattern.MatchString(w) && a.Date == "" && a.Ago == 0:
			if _, err := time.Parse("2006-01-02", w); err != nil {
				return a, usageErr(UsageAudit, "%q is not a date like 2026-11-20.", w)
			}
			a.Date = w
		case durationLike(w) && a.Date == "" && a.Ago == 0:
			d, err := parseDurationArg(w)
			if err != nil {
				return a, usageErr(UsageAudit, "%s", err)
			}
			a.Ago = d
		case subjectID.MatchString(w) && a.Subject == "" && a.Team == "" && a.User == "":
			a.Subject = strings.ToLower(w)
		case userMention.MatchString(w) && a.Subject == "" && a.Team == "" && a.User == "":
			a.User = userMention.FindStringSubmatch(w)[1]
		case strings.HasPrefix(w, "@"):
			return a, usageErr(UsageAudit, "Name the person (%s) by email or Slack member ID, or pick them from Slack's list.", w)
		case (strings.Count(w, "@") == 1 || memberID.MatchString(w)) && a.Subject == "" && a.Team == "" && a.User == "":
			a.User = w // an email, or a Slack member ID typed as is
		case a.Subject == "" && a.Team == "" && a.User == "":
			a.Team = w
		default:
			return a, usageErr(UsageAudit, "%q: give one subject and one since at most.", w)
		}
	}
	return a, nil
}

func (b *Bot) auditCommand(ctx context.Context, actor workflows.Person, words []string) workflows.Reply {
	if b.Audit == nil {
		return textReply("The audit log is not set up in this opsbot.")
	}
	a, err := parseAudit(words)
	if err != nil {
		return errorReply(err)
	}
	now := b.Clock.Now()
	zone := time.UTC
	if t, ok := b.Servers.Catalog.TeamOf(actor); ok && t.Location != nil {
		zone = t.Location
	}
	q := audit.Query{Subject: a.Subject, Team: a.Team}
	switch {
	case strings.Contains(a.User, "@"):
		q.User = workflows.Person{Email: a.User}
	case a.User != "":
		q.User = b.person(ctx, a.User)
	}
	switch {
	case a.Ago > 0:
		q.Since = now.Add(-a.Ago)
	case a.Date != "":
		q.Since, _ = time.ParseInLocation("2006-01-02", a.Date, zone)
	}
	page, err := b.Audit.Read(ctx, actor, q)
	if err != nil {
		return b.failure(err, UsageAudit)
	}
	return workflows.Reply{Message: audit.Message(page)}
}
