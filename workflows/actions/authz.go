package actions

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opsbot/opsbot/workflows"
)

// Verdict is the action policy's answer for one person, one action, one
// server.
type Verdict struct {
	Allowed bool
	// NeedApprover: allowed once one of the team's approvers (not the
	// person asking, not the server's owner) approves.
	NeedApprover bool
	As           string // "owner", "member", "approver", "admin": in what right
	Refused      string // why not, for the person
	// Ask names whom to ask instead, when refused.
	Ask []string
}

// Authorize applies team's action policy. The team's approvers and
// opsbot's admins may run every action on its servers, except that an
// action that needs an approver, asked for on one's own server, waits for
// another approver. A pure function: the table tests call it directly.
func Authorize(c *workflows.Catalog, team *workflows.Team, r *workflows.ServerRequest, p workflows.Person, a workflows.ServerAction) Verdict {
	admin := c.IsAdmin(p)
	if team == nil {
		if admin {
			return Verdict{Allowed: true, As: "admin"}
		}
		return Verdict{Refused: fmt.Sprintf("Team %s of %s is no longer in opsbot's config; only opsbot's admins can act on it.", r.Team, r.ID)}
	}
	pol := team.Policy.Actions
	owner, approver, member := r.OwnedBy(p), team.IsApprover(p), team.HasMember(p)
	needs := slices.Contains(pol.NeedApprover, a)
	switch {
	case !owner && !member && !admin:
		if other, ok := c.TeamOf(p); ok {
			return Verdict{Refused: fmt.Sprintf("%s belongs to team %s, and you are in team %s: only its owner, team %s's members (as its policy allows) and approvers, and opsbot's admins can act on it.",
				r.ID, team.Name, other.Name, team.Name), Ask: team.Approvers}
		}
		return Verdict{Refused: fmt.Sprintf("You are not in any team in opsbot's config (%s), so you cannot act on %s. Ask your platform team to add you.", p, r.ID)}
	case !owner && (approver || admin):
		as := "approver"
		if !approver {
			as = "admin"
		}
		return Verdict{Allowed: true, As: as}
	case owner:
		if !slices.Contains(pol.Owner, a) && !approver && !admin {
			return Verdict{Refused: fmt.Sprintf("Team %s's policy does not let owners %s their servers. Ask one of its approvers:", team.Name, verb(a)), Ask: team.Approvers}
		}
		if needs {
			return needApprover(team, r, p, a)
		}
		as := "owner"
		if !slices.Contains(pol.Owner, a) {
			as = "approver"
		}
		return Verdict{Allowed: true, As: as}
	}
	// A member of the team, on a teammate's server.
	if !slices.Contains(pol.Members, a) {
		ask := team.Approvers
		if r.Owner.Ref() != "" {
			ask = append([]string{r.Owner.Ref()}, team.Approvers...)
		}
		allowed := "no action"
		if len(pol.Members) > 0 {
			var names []string
			for _, m := range pol.Members {
				names = append(names, string(m))
			}
			allowed = "only " + strings.Join(names, ", ")
		}
		return Verdict{Refused: fmt.Sprintf("%s is not yours, and team %s's policy lets members run %s on the team's servers. Ask its owner or one of the team's approvers:",
			r.ID, team.Name, allowed), Ask: ask}
	}
	if needs {
		return needApprover(team, r, p, a)
	}
	return Verdict{Allowed: true, As: "member"}
}

func needApprover(team *workflows.Team, r *workflows.ServerRequest, p workflows.Person, a workflows.ServerAction) Verdict {
	n := 0
	for _, ref := range team.Approvers {
		if !p.Is(ref) && !r.Owner.Is(ref) {
			n++
		}
	}
	if n == 0 {
		return Verdict{Refused: fmt.Sprintf("To %s %s needs one of team %s's approvers, and it has none besides you and the server's owner, so nobody could approve it. Ask the platform team to add approvers.",
			verb(a), r.ID, team.Name)}
	}
	return Verdict{NeedApprover: true, As: "requester"}
}

// verb says an action as a verb phrase: "reboot", "snapshot".
func verb(a workflows.ServerAction) string {
	switch a {
	case workflows.ActionSnapshot:
		return "snapshot the root volume of"
	case workflows.ActionDiagnose:
		return "diagnose"
	}
	return string(a)
}

// Label is an action's button label.
func Label(a workflows.ServerAction) string {
	switch a {
	case workflows.ActionSnapshot:
		return "Snapshot disk"
	}
	return strings.ToUpper(string(a[:1])) + string(a[1:])
}
