package costs

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// Usage is /ops costs' usage line.
const Usage = "/ops costs [TEAM|all] [MONTH]"

var (
	isoMonth   = regexp.MustCompile(`^(\d{4})-(\d{2})$`)
	monthNames = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
)

// LooksLikeMonth says whether a word of /ops costs names a month rather
// than a team: "2026-11", "nov", "November", "last", "this".
func LooksLikeMonth(w string) bool {
	w = strings.ToLower(w)
	if isoMonth.MatchString(w) || w == "last" || w == "this" || w == "previous" || w == "current" {
		return true
	}
	for _, n := range monthNames {
		if len(w) >= 3 && strings.HasPrefix(n, w) {
			return true
		}
	}
	return false
}

// ParseMonth reads a month as a person types it, relative to now in loc:
// "" or "this" is the current month, "last" the one before, a name the
// latest such month not after this one, "2026-11" itself. Months in the
// future, or before 2000, are refused.
func ParseMonth(text string, now time.Time, loc *time.Location) (Month, error) {
	cur := MonthOf(now, loc)
	w := strings.ToLower(strings.TrimSpace(text))
	switch w {
	case "", "this", "current":
		return cur, nil
	case "last", "previous":
		return cur.Prev(), nil
	}
	if g := isoMonth.FindStringSubmatch(w); g != nil {
		m := Month(w)
		if g[2] < "01" || g[2] > "12" || m.Start(time.UTC).IsZero() {
			return "", workflows.Errorf(workflows.EInvalid, "%q is not a month: write it like 2026-11 or nov.", text)
		}
		if m > cur {
			return "", workflows.Errorf(workflows.EInvalid, "%s has not begun yet.", m.Name())
		}
		if m < "2000-01" {
			return "", workflows.Errorf(workflows.EInvalid, "%s is too long ago.", m.Name())
		}
		return m, nil
	}
	for i, n := range monthNames {
		if len(w) >= 3 && strings.HasPrefix(n, w) {
			y := cur.Start(time.UTC).Year()
			m := Month(fmt.Sprintf("%04d-%02d", y, i+1))
			if m > cur {
				m = Month(fmt.Sprintf("%04d-%02d", y-1, i+1))
			}
			return m, nil
		}
	}
	return "", workflows.Errorf(workflows.EInvalid, "%q is not a month: write it like 2026-11, nov or last.", text)
}

// Show answers /ops costs: a team's month (its members, approvers and
// opsbot's admins only), or with "all" the whole bill (admins only). It
// reads the cache: a Slack command never calls Cost Explorer.
func (s *Service) Show(ctx context.Context, actor workflows.Person, teamName, month string) (workflows.Message, error) {
	if s.Policy == nil {
		return workflows.Message{}, workflows.Errorf(workflows.EConflict, "Costs are not set up in opsbot's config (the costs: section). `/ops budget` shows opsbot's own figures.")
	}
	now := s.Clock.Now()
	home, member := s.Catalog.TeamOf(actor)
	admin := s.Catalog.IsAdmin(actor)
	if !member && !admin {
		return workflows.Message{}, workflows.Errorf(workflows.EForbidden, "You are not in any team in opsbot's config, so you cannot see costs. A team's costs are shown to its members and approvers and to opsbot's admins.")
	}
	// Someone offboarded reads nothing, even while the config names them.
	var gone bool
	if err := s.Store.View(ctx, func(tx workflows.Tx) (err error) {
		gone, err = workflows.Departed(tx, actor)
		return err
	}); err != nil {
		return workflows.Message{}, fmt.Errorf("check whether %s was offboarded: %w", actor, err)
	}
	if gone {
		return workflows.Message{}, workflows.DepartedAnswer(actor)
	}
	if strings.EqualFold(teamName, "all") {
		if !admin {
			return workflows.Message{}, workflows.Errorf(workflows.EForbidden, "The whole bill is shown to opsbot's admins only. `/ops costs` shows your team's.")
		}
		loc := time.UTC
		if s.Policy.Review != nil && s.Policy.Review.Location != nil {
			loc = s.Policy.Review.Location
		}
		m, err := ParseMonth(month, now, loc)
		if err != nil {
			return workflows.Message{}, err
		}
		var rv Review
		err = s.Store.View(ctx, func(tx workflows.Tx) (err error) {
			rv, err = s.review(tx, m, now)
			return err
		})
		if err != nil {
			return workflows.Message{}, err
		}
		msg := reviewMessage(rv, s.Policy)
		msg.Title = "Costs of " + m.Name()
		return msg, nil
	}
	team := home
	if teamName != "" {
		t, ok := s.teamNamed(teamName)
		if !ok {
			var names []string
			for _, t := range s.Catalog.Teams {
				names = append(names, t.Name)
			}
			return workflows.Message{}, workflows.Errorf(workflows.EInvalid, "There is no team %q. Teams: %s.", teamName, strings.Join(names, ", "))
		}
		team = t
	}
	if team == nil {
		return workflows.Message{}, workflows.Errorf(workflows.EInvalid, "You are in no team: name one, like `/ops costs platform`.")
	}
	if !team.HasMember(actor) && !admin {
		e := workflows.Errorf(workflows.EForbidden, "Team %s's costs are shown only to its members and approvers and to opsbot's admins. Ask one of its approvers:", team.Name)
		e.People = team.Approvers
		return workflows.Message{}, e
	}
	m, err := ParseMonth(month, now, team.Location)
	if err != nil {
		return workflows.Message{}, err
	}
	var tm, prev TeamMonth
	var refreshed time.Time
	err = s.Store.View(ctx, func(tx workflows.Tx) (err error) {
		if tm, err = s.teamMonth(tx, team, m, now); err != nil {
			return err
		}
		if prev, err = s.teamMonth(tx, team, m.Prev(), now); err != nil {
			return err
		}
		refreshed, _, err = tx.CostRefresh(ViewTeamService)
		return err
	})
	if err != nil {
		return workflows.Message{}, fmt.Errorf("read the costs of %s for %s: %w", team.Name, m, err)
	}
	return teamMessage(tm, prev, s.Policy, refreshed, now), nil
}

func (s *Service) teamNamed(name string) (*workflows.Team, bool) {
	for _, t := range s.Catalog.Teams {
		if strings.EqualFold(t.Name, name) {
			return t, true
		}
	}
	return nil, false
}

// teamMessage is a team's month as /ops costs and the review show it.
func teamMessage(tm, prev TeamMonth, p *Policy, refreshed, now time.Time) workflows.Message {
	team := tm.Team
	m := workflows.Message{Title: fmt.Sprintf("Costs of %s — %s", team.Name, tm.Month.Name()), Fields: monthFields(tm)}
	if tm.Budget > 0 {
		m.Text = fmt.Sprintf("%s of the %s budget used (the higher of committed and actual).", ShareOf(tm.Spend(), tm.Budget), tm.Budget)
	}
	if tm.HasActual && prev.HasActual {
		m.Fields = append(m.Fields, workflows.Field{Label: "vs " + prev.Month.Name(),
			Value: fmt.Sprintf("%s → %s (%s)", prev.Actual, tm.Actual, Percent(tm.Actual-prev.Actual, prev.Actual))})
	}
	if len(tm.Services) > 0 {
		m.Fields = append(m.Fields, workflows.Field{Label: "By service", Value: amountLines(tm.Services, 6, "")})
	}
	if tm.HasActual {
		m.Fields = append(m.Fields, workflows.Field{Label: "On opsbot's servers", Value: fmt.Sprintf("%s (%s of the team's bill)", tm.Opsbot, ShareOf(tm.Opsbot, tm.Actual))})
	}
	switch {
	case !p.CostExplorer:
		m.Note = "Cost Explorer is off in opsbot's config: these are opsbot's own figures (the ledger and its estimates), not the bill."
	case !tm.HasActual:
		m.Note = "Cost Explorer has no data for this month yet (it is read once a day, about a day behind): committed and estimated are opsbot's own figures."
	default:
		m.Note = fmt.Sprintf("Actual: Cost Explorer's %s by the %q tag, UTC days; read once a day, last on %s.", metricName(p.metric()), p.teamTag(), team.LocalTime(refreshed))
	}
	return m
}

func metricName(metric string) string {
	if metric == MetricAmortized {
		return "amortized cost"
	}
	return "unblended cost"
}

// amountLines lists amounts one per line, the first n, then the rest
// summed. An empty name reads as empty.
func amountLines(as []Amount, n int, empty string) string {
	var ls []string
	var rest workflows.Money
	for i, a := range as {
		if i >= n {
			rest += a.Amount
			continue
		}
		name := a.Name
		if name == "" {
			name = empty
		}
		ls = append(ls, fmt.Sprintf("%s: %s", name, a.Amount))
	}
	if len(as) > n {
		ls = append(ls, fmt.Sprintf("%d others: %s", len(as)-n, rest))
	}
	return strings.Join(ls, "\n")
}
