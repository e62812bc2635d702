package costs

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// Crossed lists the thresholds spend has reached, ascending.
func Crossed(thresholds []int, spend, budget workflows.Money) []int {
	if budget <= 0 {
		return nil
	}
	var out []int
	for _, t := range thresholds {
		if int64(spend)*100 >= int64(budget)*int64(t) {
			out = append(out, t)
		}
	}
	sort.Ints(out)
	return out
}

// budgetAlerts tells each team's approvers and channel when its month
// crosses a threshold of its budget, once per threshold per month. When
// several are crossed at once (a big approval, a clock jump), one alert
// names the highest and the lower ones are marked told.
func (s *Service) budgetAlerts(ctx context.Context) (int, error) {
	sent := 0
	for _, team := range s.Catalog.Teams {
		if team.MonthlyBudget <= 0 {
			continue
		}
		err := s.update(ctx, func(tx workflows.Tx) error {
			now := s.Clock.Now()
			m := MonthOf(now, team.Location)
			tm, err := s.teamMonth(tx, team, m, now)
			if err != nil {
				return err
			}
			crossed := Crossed(s.Policy.thresholds(), tm.Spend(), tm.Budget)
			if len(crossed) == 0 {
				return nil
			}
			top := crossed[len(crossed)-1]
			fresh, err := tx.MarkSent(monthKey("budget", team.Name, string(m), fmt.Sprint(top)), now)
			if err != nil || !fresh {
				return err
			}
			for _, t := range crossed[:len(crossed)-1] {
				if _, err := tx.MarkSent(monthKey("budget", team.Name, string(m), fmt.Sprint(t)), now); err != nil {
					return err
				}
			}
			drivers, err := s.drivers(tx, team, m, tm)
			if err != nil {
				return err
			}
			sent++
			return workflows.EnqueueMessage(tx, budgetMessage(tm, top, drivers, s.Policy.thresholds()), now)
		})
		if err != nil {
			return sent, fmt.Errorf("budget alerts of %s: %w", team.Name, err)
		}
	}
	return sent, nil
}

// drivers says what drives a team's month: its biggest services on the
// bill and its biggest commitments in opsbot.
func (s *Service) drivers(tx workflows.Tx, team *workflows.Team, m Month, tm TeamMonth) ([]string, error) {
	var out []string
	for i, a := range tm.Services {
		if i == 3 || a.Amount <= 0 {
			break
		}
		out = append(out, fmt.Sprintf("%s: %s on the bill", a.Name, a.Amount))
	}
	entries, err := tx.Ledger(workflows.LedgerFilter{Team: team.Name, Month: string(m)})
	if err != nil {
		return nil, err
	}
	byReq := map[string]workflows.Money{}
	for _, e := range entries {
		byReq[e.RequestID] += e.Amount
	}
	for i, a := range sorted(byReq) {
		if i == 3 || a.Amount <= 0 {
			break
		}
		what := a.Name
		if r, err := tx.Request(a.Name); err == nil {
			owner := r.Owner.Ref()
			if r.TeamOwned() {
				owner = "team " + r.Team
			}
			what = fmt.Sprintf("%s (%s, %s)", r.ID, r.Template, owner)
		}
		out = append(out, fmt.Sprintf("%s: %s committed", what, a.Amount))
	}
	return out, nil
}

func budgetMessage(tm TeamMonth, top int, drivers []string, thresholds []int) workflows.Message {
	team := tm.Team
	pct := int64(tm.Spend()) * 100 / int64(tm.Budget)
	title := fmt.Sprintf("Team %s has used %d%% of its %s budget", team.Name, pct, tm.Month.Name())
	if top >= 100 {
		title = fmt.Sprintf("Team %s is over its %s budget (%d%%)", team.Name, tm.Month.Name(), pct)
	}
	basis := "committed in opsbot"
	if tm.HasActual && tm.Actual > tm.Committed {
		basis = "actual spend from Cost Explorer"
	}
	m := workflows.Message{
		Channel: team.ApprovalsChannel,
		Title:   title,
		Text: fmt.Sprintf("%s of %s, by %s (the higher of committed and actual). This is the %d%% alert; opsbot sends each of %s once a month.",
			tm.Spend(), tm.Budget, basis, top, percents(thresholds)),
		Fields:  monthFields(tm),
		Mention: team.Approvers,
	}
	if len(drivers) > 0 {
		m.Fields = append(m.Fields, workflows.Field{Label: "What drives it", Value: strings.Join(drivers, "\n")})
	}
	return m
}

// monthFields are a team's month as fields.
func monthFields(tm TeamMonth) []workflows.Field {
	actual := "no Cost Explorer data yet"
	if tm.HasActual {
		actual = tm.Actual.String() + throughText(tm.Through)
	}
	return []workflows.Field{
		{Label: "Budget", Value: tm.Budget.String()},
		{Label: "Committed (opsbot)", Value: tm.Committed.String()},
		{Label: "Estimated so far (opsbot's servers)", Value: tm.Estimated.String()},
		{Label: "Actual (Cost Explorer)", Value: actual},
	}
}

// throughText is " through 27 Nov" for a month not complete in the
// bill yet.
func throughText(through string) string {
	if through == "" {
		return ""
	}
	t, err := time.Parse(dayLayout, through)
	if err != nil {
		return ""
	}
	return " through " + t.AddDate(0, 0, -1).Format("2 Jan")
}

// Drifted says whether actual is off estimate by more than pct percent,
// and by how much (signed percent). An estimate under a dollar is too
// small to judge.
func Drifted(actual, estimate workflows.Money, pct int) (bool, float64) {
	if estimate < workflows.Dollar {
		return false, 0
	}
	d := float64(actual-estimate) / float64(estimate) * 100
	return d > float64(pct) || d < -float64(pct), d
}

// driftAlerts flags to its approvers, once a month, a team whose actual
// spend on opsbot's servers drifted from opsbot's estimate. The estimate
// is cut where Cost Explorer's data ends, so both cover the same days.
func (s *Service) driftAlerts(ctx context.Context) (int, error) {
	sent := 0
	for _, team := range s.Catalog.Teams {
		err := s.update(ctx, func(tx workflows.Tx) error {
			now := s.Clock.Now()
			m := MonthOf(now, team.Location)
			_, through, err := tx.CostRefresh(ViewOpsbotService)
			if err != nil || through == "" {
				return err
			}
			cut, err := time.Parse(dayLayout, through)
			if err != nil {
				return fmt.Errorf("read the refresh day %q: %w", through, err)
			}
			if now.Before(cut) {
				cut = now
			}
			tm, err := s.teamMonth(tx, team, m, cut)
			if err != nil || !tm.HasActual {
				return err
			}
			off, d := Drifted(tm.Opsbot, tm.Estimated, s.Policy.drift())
			if !off {
				return nil
			}
			fresh, err := tx.MarkSent(monthKey("drift", team.Name, string(m)), now)
			if err != nil || !fresh {
				return err
			}
			sent++
			for _, a := range team.Approvers {
				msg := driftMessage(tm, d, s.Policy.drift())
				msg.User = a
				if err := workflows.EnqueueMessage(tx, msg, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return sent, fmt.Errorf("drift of %s: %w", team.Name, err)
		}
	}
	return sent, nil
}

func driftMessage(tm TeamMonth, d float64, pct int) workflows.Message {
	return workflows.Message{
		Title: fmt.Sprintf("Team %s: the bill for opsbot's servers is %+.0f%% off opsbot's estimate", tm.Team.Name, d),
		Text: fmt.Sprintf("In %s Cost Explorer reports %s%s for the servers opsbot launched for %s (tag %s), where opsbot estimated %s from hourly prices. opsbot flags a difference over %d%%, once a month.",
			tm.Month.Name(), tm.Opsbot, throughText(tm.Through), tm.Team.Name, workflows.TagTeam, tm.Estimated, pct),
		Note: "Usual causes: volumes, snapshots or data transfer the estimate leaves out; Savings Plans or Reserved Instances; instances tagged opsbot:team outside opsbot; or the tag not activated for cost allocation.",
	}
}

// percents lists thresholds as people read them: "50%, 80% and 100%".
func percents(ts []int) string {
	var ps []string
	for _, t := range ts {
		ps = append(ps, fmt.Sprintf("%d%%", t))
	}
	if len(ps) < 2 {
		return strings.Join(ps, "")
	}
	return strings.Join(ps[:len(ps)-1], ", ") + " and " + ps[len(ps)-1]
}
