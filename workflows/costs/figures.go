package costs

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// Month is a calendar month, "2006-01".
type Month string

// MonthOf is the month of t in loc.
func MonthOf(t time.Time, loc *time.Location) Month {
	if loc == nil {
		loc = time.UTC
	}
	return Month(t.In(loc).Format("2006-01"))
}

// Start is the month's first day in loc.
func (m Month) Start(loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	t, err := time.ParseInLocation("2006-01", string(m), loc)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Days is the month's range of UTC dates, [first, first of next).
func (m Month) Days() (string, string) {
	s := m.Start(time.UTC)
	return s.Format(dayLayout), s.AddDate(0, 1, 0).Format(dayLayout)
}

// Prev is the month before.
func (m Month) Prev() Month { return Month(m.Start(time.UTC).AddDate(0, -1, 0).Format("2006-01")) }

// Name is the month as people read it: "November 2026".
func (m Month) Name() string { return m.Start(time.UTC).Format("January 2006") }

// Amount is a named sum.
type Amount struct {
	Name   string
	Amount workflows.Money
}

// sorted returns sums by name as Amounts, largest first (then by name).
func sorted(sums map[string]workflows.Money) []Amount {
	out := make([]Amount, 0, len(sums))
	for k, v := range sums {
		out = append(out, Amount{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Amount != out[j].Amount {
			return out[i].Amount > out[j].Amount
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func total(as []Amount) workflows.Money {
	var t workflows.Money
	for _, a := range as {
		t += a.Amount
	}
	return t
}

// TeamMonth is one team's month: what opsbot committed and estimated,
// and what the bill says.
type TeamMonth struct {
	Team      *workflows.Team
	Month     Month
	Budget    workflows.Money
	Committed workflows.Money // the ledger
	Estimated workflows.Money // opsbot's servers, hourly price × hours, so far
	// Actual is the team's spend by the team tag; Opsbot the part of it
	// on opsbot's servers (the opsbot:team tag). HasActual is false when
	// Cost Explorer has nothing for the month (off, failing, too early).
	Actual, Opsbot workflows.Money
	HasActual      bool
	Through        string // the first day Cost Explorer has no data for yet
	Services       []Amount
}

// Spend is what the budget is measured against: the higher of committed
// and actual.
func (t TeamMonth) Spend() workflows.Money { return max(t.Committed, t.Actual) }

// teamMonth reads a team's month as of now. Caller is in a transaction.
func (s *Service) teamMonth(tx workflows.Tx, team *workflows.Team, m Month, now time.Time) (TeamMonth, error) {
	tm := TeamMonth{Team: team, Month: m, Budget: team.MonthlyBudget}
	entries, err := tx.Ledger(workflows.LedgerFilter{Team: team.Name, Month: string(m)})
	if err != nil {
		return tm, fmt.Errorf("read the ledger of %s for %s: %w", team.Name, m, err)
	}
	tm.Committed = workflows.Committed(entries)
	loc := team.Location
	start := m.Start(loc)
	end := start.AddDate(0, 1, 0)
	upTo := now
	if end.Before(upTo) {
		upTo = end
	}
	if start.Before(upTo) {
		reqs, err := tx.LeaseCosts(workflows.RequestFilter{Team: team.Name, EndsAfter: start,
			States: []workflows.State{workflows.StateProvisioning, workflows.StateRunning, workflows.StateStopped, workflows.StateTerminated}})
		if err != nil {
			return tm, fmt.Errorf("read the servers of %s: %w", team.Name, err)
		}
		for _, r := range reqs {
			tm.Estimated += r.CostSoFar(upTo) - r.CostSoFar(start)
		}
	}
	if !s.Policy.CostExplorer {
		return tm, nil
	}
	from, to := m.Days()
	_, through, err := tx.CostRefresh(ViewTeamService)
	if err != nil {
		return tm, err
	}
	if through <= from {
		return tm, nil // nothing of this month read yet
	}
	tm.HasActual = true
	if through < to {
		tm.Through = through
	}
	byService := map[string]workflows.Money{}
	lines, err := tx.Costs(ViewTeamService, from, to)
	if err != nil {
		return tm, err
	}
	for _, l := range lines {
		if l.Key1 == team.Name {
			tm.Actual += l.Amount
			byService[l.Key2] += l.Amount
		}
	}
	tm.Services = sorted(byService)
	ops, err := tx.Costs(ViewOpsbotService, from, to)
	if err != nil {
		return tm, err
	}
	for _, l := range ops {
		if l.Key1 == team.Name {
			tm.Opsbot += l.Amount
		}
	}
	return tm, nil
}

// OrgMonth is the whole bill of a month, from Cost Explorer.
type OrgMonth struct {
	Month      Month
	HasActual  bool
	Through    string
	Total      workflows.Money
	Accounts   []Amount // by account name
	Services   []Amount
	Teams      []Amount // by the team tag; "" is untagged
	Tags       map[string][]Amount
	Opsbot     workflows.Money // on opsbot's servers
	Estimated  bool            // some of it is not final
	serviceMap map[string]workflows.Money
}

// orgMonth reads the whole bill of m from the cache.
func (s *Service) orgMonth(tx workflows.Tx, m Month) (OrgMonth, error) {
	om := OrgMonth{Month: m, Tags: map[string][]Amount{}, serviceMap: map[string]workflows.Money{}}
	if !s.Policy.CostExplorer {
		return om, nil
	}
	from, to := m.Days()
	_, through, err := tx.CostRefresh(ViewAccountService)
	if err != nil {
		return om, err
	}
	lines, err := tx.Costs(ViewAccountService, from, to)
	if err != nil {
		return om, err
	}
	if through <= from && len(lines) == 0 {
		return om, nil
	}
	om.HasActual = true
	if through != "" && through < to {
		om.Through = through
	}
	accounts := map[string]workflows.Money{}
	for _, l := range lines {
		om.Total += l.Amount
		accounts[l.Key1] += l.Amount
		om.serviceMap[l.Key2] += l.Amount
		om.Estimated = om.Estimated || l.Estimated
	}
	named := map[string]workflows.Money{}
	for id, v := range accounts {
		named[s.accountName(tx, id)] += v
	}
	om.Accounts = sorted(named)
	om.Services = sorted(om.serviceMap)
	read := func(view string) ([]Amount, error) {
		ls, err := tx.Costs(view, from, to)
		if err != nil {
			return nil, err
		}
		sums := map[string]workflows.Money{}
		for _, l := range ls {
			sums[l.Key1] += l.Amount
		}
		return sorted(sums), nil
	}
	if om.Teams, err = read(ViewTeamService); err != nil {
		return om, err
	}
	for _, t := range s.Policy.Tags {
		if om.Tags[t], err = read(TagView(t)); err != nil {
			return om, err
		}
	}
	ops, err := read(ViewOpsbotService)
	if err != nil {
		return om, err
	}
	for _, a := range ops {
		if a.Name != "" {
			om.Opsbot += a.Amount
		}
	}
	return om, nil
}

// accountName names an account: the config's name, else Cost
// Explorer's description, else the ID.
func (s *Service) accountName(tx workflows.Tx, id string) string {
	if n := s.Catalog.AccountName(id); n != id {
		return n
	}
	if n, ok, err := tx.CachedName(accountNameKey(id), time.Time{}); err == nil && ok && n != "" {
		return n
	}
	return id
}

// Mover is a service whose spend changed from one month to the next.
type Mover struct {
	Name        string
	Before, Now workflows.Money
}

// Change is the difference.
func (m Mover) Change() workflows.Money { return m.Now - m.Before }

// Movers are the n services whose spend changed most, in either
// direction, between prev and cur.
func Movers(prev, cur map[string]workflows.Money, n int) []Mover {
	seen := map[string]bool{}
	var out []Mover
	for _, src := range []map[string]workflows.Money{cur, prev} {
		for k := range src {
			if !seen[k] {
				seen[k] = true
				out = append(out, Mover{Name: k, Before: prev[k], Now: cur[k]})
			}
		}
	}
	abs := func(m workflows.Money) workflows.Money {
		if m < 0 {
			return -m
		}
		return m
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := abs(out[i].Change()), abs(out[j].Change())
		if a != b {
			return a > b
		}
		return out[i].Name < out[j].Name
	})
	for len(out) > 0 && out[len(out)-1].Change() == 0 {
		out = out[:len(out)-1]
	}
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// Percent formats change as a share of base: "+12%", "-3%", "new".
func Percent(change, base workflows.Money) string {
	if base == 0 {
		if change == 0 {
			return "0%"
		}
		return "new"
	}
	p := math.Round(float64(change) / float64(base) * 100)
	if p == 0 {
		return "0%" // less than half a percent either way: no "-0%"
	}
	return fmt.Sprintf("%+.0f%%", p)
}

// ShareOf formats part as a percentage of whole: "12.5%".
func ShareOf(part, whole workflows.Money) string {
	if whole <= 0 {
		return "0%"
	}
	return fmt.Sprintf("%.1f%%", float64(part)/float64(whole)*100)
}
