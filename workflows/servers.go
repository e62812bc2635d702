package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// Job kinds of the servers workflow.
const (
	JobProvision = "server.provision" // payload: request ID
	JobAwait     = "server.await"     // payload: request ID
	JobEnd       = "server.end"       // payload: "srv-42 stop|terminate"
	JobRetag     = "server.retag"     // payload: request ID
	JobMessage   = "message"          // payload: a Message as JSON
)

// Servers is the self-service servers workflow: requests, approvals,
// leases and the budget ledger. Every method that changes state does so in
// one store transaction and queues its outside work (launches, messages)
// in the same transaction.
type Servers struct {
	Store       Store
	Clock       Clock
	Catalog     *Catalog
	Estimator   *Estimator
	Provisioner Provisioner
	// CPU reads servers' CPU for the idle check; nil: no idle check.
	CPU CPUSource
	Log *slog.Logger
	// Wake, when set, is nudged after a transaction queues jobs, so the
	// runner starts them at once instead of at its next poll.
	Wake func()
	// DryRun is OPSBOT_DRY_RUN: the Provisioner only checks changes, so
	// the ends of leases and releases are reported, once, and change no
	// record (see dryrun.go).
	DryRun bool
	// Terminated, when set, is called in the transaction that records a
	// server's termination by opsbot or outside it (the server actions
	// release its snapshots there).
	Terminated func(tx Tx, r *ServerRequest, now time.Time) error
}

// RequestInput is what a person asks for.
type RequestInput struct {
	Template string
	Duration time.Duration // zero: the policy's default lease
	Reason   string
	// Again, when set, is the stopped server this request starts again
	// (Start again): refused while one started again from it is still
	// waiting, launching or running, so a double click asks once.
	Again string
}

// RequestResult says what became of a request.
type RequestResult struct {
	Request  *ServerRequest
	Approval *Approval // set when approvers must decide
	Budget   BudgetSummary
}

// Request checks a server request against policy and either approves it
// at once, queues it for approvers, or refuses it with a reason.
func (s *Servers) Request(ctx context.Context, actor Person, in RequestInput) (*RequestResult, error) {
	team, err := s.teamOf(actor)
	if err != nil {
		return nil, err
	}
	tpl, err := s.template(team, in.Template)
	if err != nil {
		return nil, err
	}
	if err := checkPlacement(team, tpl); err != nil {
		return nil, err
	}
	if err := checkIntegration(team, tpl); err != nil {
		return nil, err
	}
	lc := Lifecycle(team, tpl)
	dur := in.Duration
	if dur == 0 {
		dur = lc.DefaultLease
	}
	if dur > lc.MaxLease {
		return nil, Errorf(ERefused, "%s is longer than the longest lease for %s (%s). Ask for %s or less; you can extend it later.",
			FormatDuration(dur), tpl.Name, FormatDuration(lc.MaxLease), FormatDuration(lc.MaxLease))
	}
	quote, err := s.Estimator.Quote(ctx, tpl)
	if err != nil {
		return nil, fmt.Errorf("estimate %s: %w", tpl.Name, err)
	}
	fin := team.Policy.Financial
	res := &RequestResult{}
	err = s.update(ctx, func(tx Tx) error {
		*res = RequestResult{} // a retried transaction starts again
		now := s.Clock.Now()
		if err := refuseDeparted(tx, actor); err != nil {
			return err
		}
		if in.Again != "" {
			if err := startedAgainAlready(tx, actor, in); err != nil {
				return err
			}
		}
		id, err := tx.NextID("srv")
		if err != nil {
			return err
		}
		r := &ServerRequest{
			ID: id, Owner: actor, Team: team.Name, Template: tpl.Name, Reason: in.Reason,
			State: StateRequested, Duration: dur, HourlyRate: quote.Hourly(), Estimate: quote.For(dur),
			CreatedAt: now, UpdatedAt: now,
		}
		r.Spec = Snapshot(r, tpl, team)
		if err := tx.CreateRequest(r); err != nil {
			return err
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: "request.create", Subject: id, Reason: in.Reason,
			Detail: fmt.Sprintf("template=%s duration=%s estimate=%s price=%s", tpl.Name, FormatDuration(dur), r.Estimate, quote.Source)}); err != nil {
			return err
		}
		budget, err := budgetOf(tx, team, now)
		if err != nil {
			return err
		}
		// Open requests hold their estimates: a request fits only in what
		// is neither committed nor reserved.
		over := budget.Overrun(budget.Reserved, r.Estimate)
		fits := over <= 0
		switch {
		case fits && r.Estimate <= fin.AutoApproveBelow:
			if err := s.approveLaunch(tx, team, r, "opsbot", "within the auto-approve ceiling and the budget", now); err != nil {
				return err
			}
		case !fits && fin.OverBudget == OverBudgetDeny:
			reason := fmt.Sprintf("it would take team %s %s over its budget for %s (%s), and the team's policy denies requests over budget",
				team.Name, over.CentsUp(), budget.Month, budget.Numbers(budget.Reserved, budget.Open, r.Estimate, "this request"))
			if err := r.Move(StateDenied, reason, now); err != nil {
				return err
			}
			if err := tx.SaveRequest(r); err != nil {
				return err
			}
			if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "request.deny", Subject: id, Reason: reason}); err != nil {
				return err
			}
		default:
			if n, need := eligibleApprovers(team, actor), RequiredApprovals(team.Policy.Access.Tiers, r.Estimate); n < need {
				return Errorf(ERefused, "%s needs %s, and team %s has only %d approver(s) besides you, so nobody could approve it. Ask for a cheaper template or a shorter lease, or ask the platform team to add approvers.",
					r.Estimate, plural(need, "approval"), team.Name, n)
			}
			a, err := s.openApproval(tx, team, r, actor, ApproveLaunch, 0, in.Reason, r.Estimate, budget, now)
			if err != nil {
				return err
			}
			if err := r.Move(StatePending, "waiting for "+plural(a.Required, "approval"), now); err != nil {
				return err
			}
			if err := tx.SaveRequest(r); err != nil {
				return err
			}
			res.Approval = a
		}
		res.Request = r
		if res.Budget, err = budgetOf(tx, team, now); err != nil {
			return err
		}
		return queueAnswer(ctx, tx, res, now)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Servers) teamOf(actor Person) (*Team, error) {
	team, ok := s.Catalog.TeamOf(actor)
	if !ok {
		who := actor.SlackID
		if actor.Email != "" {
			who += " / " + actor.Email
		}
		return nil, Errorf(EForbidden, "You are not a member of any team in opsbot's config (%s). Ask your platform team to add your Slack user ID or email to a team.", who)
	}
	return team, nil
}

func (s *Servers) template(team *Team, name string) (*Template, error) {
	allowed := s.Catalog.TemplatesFor(team)
	var names []string
	for _, t := range allowed {
		names = append(names, t.Name)
	}
	list := "none"
	if len(names) > 0 {
		list = strings.Join(names, ", ")
	}
	tpl, ok := s.Catalog.Template(name)
	if !ok {
		return nil, Errorf(EInvalid, "There is no server template %q. Templates team %s can use: %s.", name, team.Name, list)
	}
	if !allowsTemplate(team, tpl) {
		return nil, Errorf(EForbidden, "Team %s may not use the template %s. Templates it can use: %s.", team.Name, tpl.Name, list)
	}
	return tpl, nil
}

// MaxUserData is the most user data EC2 accepts, before base64.
const MaxUserData = 16 * 1024

// checkPlacement applies the team's placement policy to a template at
// request time. config validate checks the same, but the template and the
// team's policy a request meets may come from different reloads, so
// nothing is launched on the strength of an earlier check.
func checkPlacement(team *Team, tpl *Template) error {
	p := team.Policy.Placement
	if len(p.Regions) > 0 && !matchAny(p.Regions, tpl.Region) {
		return Errorf(ERefused, "Team %s may not run servers in %s (allowed: %s), where the template %s runs them.",
			team.Name, tpl.Region, strings.Join(p.Regions, ", "), tpl.Name)
	}
	if !matchAny(p.InstanceTypes, tpl.InstanceType) {
		return Errorf(ERefused, "Team %s may not run %s instances (allowed: %s), which the template %s launches.",
			team.Name, tpl.InstanceType, strings.Join(p.InstanceTypes, ", "), tpl.Name)
	}
	if len(p.Subnets) > 0 && !contains(p.Subnets, tpl.Subnet) {
		where := "subnet " + tpl.Subnet
		if tpl.Subnet == "" {
			where = "the default VPC's subnets"
		}
		return Errorf(ERefused, "Team %s may not launch into %s (allowed: %s), where the template %s launches.",
			team.Name, where, strings.Join(p.Subnets, ", "), tpl.Name)
	}
	return nil
}

// checkIntegration applies the team's integration policy to a template at
// request time: every required tag is set, and the template's user data
// with the policy's still fits in EC2's limit.
func checkIntegration(team *Team, tpl *Template) error {
	var missing []string
	for _, k := range team.Policy.Integration.RequiredTags {
		if _, ok := tpl.Tags[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return Errorf(ERefused, "The template %s lacks tags team %s requires: %s. Ask the platform team to add them.", tpl.Name, team.Name, strings.Join(missing, ", "))
	}
	if size := len(tpl.UserData) + 1 + len(team.Policy.Integration.UserData); size > MaxUserData {
		return Errorf(ERefused, "The template %s's user data with team %s's is %d bytes; EC2 accepts at most %d. Ask the platform team to shorten it.", tpl.Name, team.Name, size, MaxUserData)
	}
	return nil
}

// approveLaunch commits the lease's estimate against the budget and queues
// the launch. The client token is fixed here, before any launch.
func (s *Servers) approveLaunch(tx Tx, team *Team, r *ServerRequest, by, why string, now time.Time) error {
	if err := r.Move(StateApproved, why, now); err != nil {
		return err
	}
	r.ClientToken = ClientToken(r)
	if err := tx.SaveRequest(r); err != nil {
		return err
	}
	if err := tx.AddLedger(LedgerEntry{Team: team.Name, Month: team.Month(now), RequestID: r.ID, Kind: LedgerCommit, Amount: r.Estimate, At: now}); err != nil {
		return err
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: by, Action: "request.approve", Subject: r.ID, Reason: why,
		Detail: "committed " + r.Estimate.String()}); err != nil {
		return err
	}
	return tx.Enqueue(Job{Kind: JobProvision, Key: JobProvision + ":" + r.ID, Payload: r.ID, RunAt: now})
}

// ClientToken derives the EC2 idempotency token from the request, so every
// attempt to launch it, in this process or after a restart, is one launch.
func ClientToken(r *ServerRequest) string {
	return fmt.Sprintf("opsbot-%s-%d", r.ID, r.CreatedAt.UnixNano())
}

// budgetOf sums a team's month as of now.
func budgetOf(tx Tx, team *Team, now time.Time) (BudgetSummary, error) {
	month := team.Month(now)
	entries, err := tx.Ledger(LedgerFilter{Team: team.Name, Month: month})
	if err != nil {
		return BudgetSummary{}, fmt.Errorf("read ledger of %s: %w", team.Name, err)
	}
	b := BudgetSummary{Team: team.Name, Month: month, Budget: team.MonthlyBudget, Committed: Committed(entries)}
	loc := team.zone()
	local := now.In(loc)
	monthStart := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, loc)
	// Only leases that ran into this month cost anything in it: the
	// team's older history is not read (every lease warning shows this).
	reqs, err := tx.LeaseCosts(RequestFilter{Team: team.Name, States: []State{StateProvisioning, StateRunning, StateStopped, StateTerminated}, EndsAfter: monthStart})
	if err != nil {
		return BudgetSummary{}, fmt.Errorf("read servers of %s: %w", team.Name, err)
	}
	for _, r := range reqs {
		b.Spent += r.CostSoFar(now) - r.CostSoFar(monthStart)
	}
	open, err := openApprovals(tx, team, now)
	if err != nil {
		return BudgetSummary{}, err
	}
	for _, a := range open {
		b.Reserved += a.Cost
		b.Open++
	}
	return b, nil
}

// update runs fn in a transaction and wakes the job runner afterwards.
func (s *Servers) update(ctx context.Context, fn func(Tx) error) error {
	err := s.Store.Update(ctx, fn)
	if err == nil && s.Wake != nil {
		s.Wake()
	}
	return err
}

// Budget reports a team's month. With no team name, the actor's team.
// A team's budget is shown to its members and approvers and to the
// config's admins; anyone else is refused, told who may see it.
func (s *Servers) Budget(ctx context.Context, actor Person, teamName string) (BudgetSummary, error) {
	var team *Team
	if teamName == "" {
		t, err := s.teamOf(actor)
		if err != nil {
			return BudgetSummary{}, err
		}
		team = t
	} else {
		t, ok := s.Catalog.teamNamed(teamName)
		if !ok {
			// Only those who may see some team's budget learn which teams
			// exist.
			if _, member := s.Catalog.TeamOf(actor); !member && !s.Catalog.IsAdmin(actor) {
				return BudgetSummary{}, Errorf(EForbidden, "You are not in any team in opsbot's config, so you cannot see budgets. A team's budget is shown to its members and approvers and to opsbot's admins.")
			}
			var names []string
			for _, t := range s.Catalog.Teams {
				names = append(names, t.Name)
			}
			return BudgetSummary{}, Errorf(ENotFound, "There is no team %q. Teams: %s.", teamName, strings.Join(names, ", "))
		}
		team = t
	}
	if !team.HasMember(actor) && !s.Catalog.IsAdmin(actor) {
		e := Errorf(EForbidden, "Team %s's budget is shown only to its members and approvers and to opsbot's admins. Ask one of its approvers:", team.Name)
		e.People = team.Approvers
		return BudgetSummary{}, e
	}
	var b BudgetSummary
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		b, err = budgetOf(tx, team, s.Clock.Now())
		return err
	})
	return b, err
}

// myServersHistory is how long a finished server stays in /ops servers.
const myServersHistory = 7 * 24 * time.Hour

// MyServers lists the actor's servers that are not finished, and those
// that finished in the last week, newest first.
func (s *Servers) MyServers(ctx context.Context, actor Person) ([]*ServerRequest, error) {
	var out []*ServerRequest
	now := s.Clock.Now()
	err := s.Store.View(ctx, func(tx Tx) error {
		all, err := tx.Requests(RequestFilter{Owner: actor, LiveOrSince: now.Add(-myServersHistory), AnyOrder: true})
		if err != nil {
			return err
		}
		for _, r := range all {
			if !r.State.Final() || now.Sub(r.UpdatedAt) < myServersHistory {
				out = append(out, r)
			}
		}
		return nil
	})
	// Newest first; requests made at the same instant by ID, as the
	// store's order (created_at, id) had them.
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

// PendingApprovals lists approvals the actor may decide and has not voted
// on yet.
func (s *Servers) PendingApprovals(ctx context.Context, actor Person) ([]*Approval, error) {
	var out []*Approval
	err := s.Store.View(ctx, func(tx Tx) error {
		for _, team := range s.Catalog.Teams {
			if !team.IsApprover(actor) {
				continue
			}
			as, err := tx.Approvals(ApprovalFilter{Team: team.Name, States: []ApprovalState{ApprovalPending}})
			if err != nil {
				return err
			}
			for _, a := range as {
				if !mayVote(a, actor) {
					continue
				}
				votes, err := tx.Decisions(a.ID)
				if err != nil {
					return err
				}
				if !votedBy(votes, actor) {
					out = append(out, a)
				}
			}
		}
		return nil
	})
	return out, err
}

// Server returns one request, for its owner or the owner's team approvers.
func (s *Servers) Server(ctx context.Context, actor Person, id string) (*ServerRequest, error) {
	var r *ServerRequest
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		r, err = s.ownedRequest(tx, actor, id)
		return err
	})
	return r, err
}

// ownedRequest loads a request the actor may act on: their own, or one of
// a team they approve for.
func (s *Servers) ownedRequest(tx Tx, actor Person, id string) (*ServerRequest, error) {
	// Offboarded: nothing from them, even while the config names them.
	if err := refuseDeparted(tx, actor); err != nil {
		return nil, err
	}
	id = strings.ToLower(strings.TrimSpace(id))
	r, err := tx.Request(id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENotFound, "There is no server %s. `/ops servers` lists yours.", id)
	}
	if err != nil {
		return nil, err
	}
	if isOwner(r, actor) {
		return r, nil
	}
	if team, ok := s.Catalog.Team(r.Team); ok && team.IsApprover(actor) {
		return r, nil
	}
	return nil, Errorf(EForbidden, "%s is not yours: only its owner or team %s's approvers can change it.", r.ID, r.Team)
}

func isOwner(r *ServerRequest, p Person) bool {
	return (p.SlackID != "" && r.Owner.Is(p.SlackID)) || (p.Email != "" && r.Owner.Is(p.Email)) ||
		(r.Owner.SlackID != "" && p.Is(r.Owner.SlackID)) || (r.Owner.Email != "" && p.Is(r.Owner.Email))
}

func votedBy(votes []Decision, p Person) bool {
	for _, v := range votes {
		if samePerson(v.Approver, p) {
			return true
		}
	}
	return false
}

func samePerson(a, b Person) bool {
	return (a.SlackID != "" && a.SlackID == b.SlackID) || (a.Email != "" && strings.EqualFold(a.Email, b.Email))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// FirstTime records key and reports whether it was new. Intake uses it to
// handle a replayed or retried request once.
func FirstTime(ctx context.Context, store Store, key string, at time.Time) (bool, error) {
	var fresh bool
	err := store.Update(ctx, func(tx Tx) (err error) {
		fresh, err = tx.MarkSent(key, at)
		return err
	})
	return fresh, err
}

// eligibleApprovers counts the team's approvers other than the people
// given (the owner, whoever asked): nobody decides their own request.
func eligibleApprovers(team *Team, people ...Person) int {
	n := 0
	for _, ref := range team.Approvers {
		mine := false
		for _, p := range people {
			mine = mine || p.Is(ref)
		}
		if !mine {
			n++
		}
	}
	return n
}

// mayVote reports whether p may vote on a: not the owner, not whoever
// asked.
func mayVote(a *Approval, p Person) bool {
	for _, q := range a.interested() {
		if samePerson(q, p) {
			return false
		}
	}
	return true
}
