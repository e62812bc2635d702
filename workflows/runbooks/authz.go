package runbooks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opsbot/opsbot/workflows"
)

// Verdict is the answer of a runbook's policy for one person.
type Verdict struct {
	Allowed bool
	// NeedApprover: allowed once an approver of Team (or an admin), not
	// the person asking, approves.
	NeedApprover bool
	// Team is the team the run is for: its approvals channel decides it.
	// nil for an admin outside the runbook's teams.
	Team    *workflows.Team
	As      string // "member", "approver", "admin"
	Refused string // why not, for the person
	Ask     []string
}

// Authorize applies a runbook's policy: the members (or, with run_by
// approvers, the approvers) of the teams it lists, and opsbot's admins,
// may run it. When it needs an approver, someone other than the asker
// must be able to approve, or it is refused. A pure function: the table
// tests call it directly.
func Authorize(c *workflows.Catalog, rb *Runbook, p workflows.Person) Verdict {
	admin := c.IsAdmin(p)
	var team *workflows.Team
	var mine []string
	for _, t := range c.Teams {
		if !t.HasMember(p) {
			continue
		}
		mine = append(mine, t.Name)
		if !slices.Contains(rb.Teams, "*") && !slices.Contains(rb.Teams, t.Name) {
			continue
		}
		// The first listed team they are in; for a runbook approvers run,
		// the first where they are an approver.
		if team == nil || (rb.RunBy == RoleApprovers && !team.IsApprover(p) && t.IsApprover(p)) {
			team = t
		}
	}
	v := Verdict{Team: team}
	switch {
	case team == nil && !admin:
		if len(mine) == 0 {
			v.Refused = fmt.Sprintf("You are not in any team in opsbot's config (%s), so you cannot run %s. Ask your platform team to add you.", p, rb.Name)
			return v
		}
		v.Refused = fmt.Sprintf("%s is for team %s; you are in team %s.", rb.Name, strings.Join(rb.Teams, ", "), strings.Join(mine, ", "))
		return v
	case admin:
		v.As = "admin"
	case rb.RunBy == RoleAdmins:
		v.Refused = fmt.Sprintf("Only opsbot's admins may run %s.", rb.Name)
		v.Ask = c.Admins
		return v
	case team.IsApprover(p):
		v.As = "approver"
	case rb.RunBy == RoleApprovers:
		v.Refused = fmt.Sprintf("Only team %s's approvers may run %s. Ask one of them:", team.Name, rb.Name)
		v.Ask = team.Approvers
		return v
	default:
		v.As = "member"
	}
	if !rb.NeedApprover {
		v.Allowed = true
		return v
	}
	if len(Deciders(c, team, p)) == 0 {
		name := "your team"
		if team != nil {
			name = "team " + team.Name
		}
		v.Refused = fmt.Sprintf("%s needs an approver, and %s has none besides you (nor does opsbot have another admin), so nobody could approve it. Ask the platform team to add approvers.", rb.Name, name)
		return v
	}
	v.NeedApprover = true
	return v
}

// Deciders are who may approve a run asked for by p for team: the team's
// approvers and opsbot's admins, never p.
func Deciders(c *workflows.Catalog, team *workflows.Team, p workflows.Person) []string {
	var out []string
	var refs []string
	if team != nil {
		refs = append(refs, team.Approvers...)
	}
	refs = append(refs, c.Admins...)
	for _, ref := range refs {
		if !p.Is(ref) && !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	return out
}

// MayDecide reports whether p may approve or deny run r, and why not.
func MayDecide(c *workflows.Catalog, team *workflows.Team, r *Run, p workflows.Person) string {
	if workflows.SamePerson(r.Actor, p) {
		return fmt.Sprintf("You asked for %s yourself; someone else must decide it.", r.ID)
	}
	if c.IsAdmin(p) || (team != nil && team.IsApprover(p)) {
		return ""
	}
	if team == nil {
		return fmt.Sprintf("Only opsbot's admins decide %s.", r.ID)
	}
	return fmt.Sprintf("Only team %s's approvers (and opsbot's admins) decide %s.", team.Name, r.ID)
}

// Visible lists the runbooks p may run (directly or through an
// approver), in config order.
func Visible(c *workflows.Catalog, rbs []*Runbook, p workflows.Person) []*Runbook {
	var out []*Runbook
	for _, rb := range rbs {
		if v := Authorize(c, rb, p); v.Allowed || v.NeedApprover {
			out = append(out, rb)
		}
	}
	return out
}
