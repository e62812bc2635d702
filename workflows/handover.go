package workflows

import (
	"fmt"
	"strings"
	"time"
)

// Offboarding's part of the kernel (workflows/offboard uses it): a
// departed person's servers handed to their team, their waiting requests
// withdrawn, and whether someone was offboarded.

// toOwner addresses m, a message for r's owner, to whoever looks after r:
// its owner in a direct message, or, once r was handed to its team, the
// team's approvals channel with its approvers mentioned. A keyed message
// gets a key of its own there, so the departed person's old direct
// message is never edited into the channel's.
func toOwner(team *Team, r *ServerRequest, m Message) Message {
	if !r.TeamOwned() || team == nil || team.ApprovalsChannel == "" {
		m.User = person(r.Owner)
		return m
	}
	m.User, m.Channel = "", team.ApprovalsChannel
	if m.Key != "" {
		m.Key += ":team"
	}
	m.Mention = append(append([]string(nil), m.Mention...), team.Approvers...)
	if m.Note == "" {
		m.Note = OwnerWords(r) + "."
	} else {
		m.Note = OwnerWords(r) + " · " + m.Note
	}
	return m
}

// ownerMessage is toOwner with r's team looked up in the catalog.
func (s *Servers) ownerMessage(r *ServerRequest, m Message) Message {
	team, _ := s.Catalog.Team(r.Team)
	return toOwner(team, r, m)
}

// OwnerWords says who owns r, for a message: "Owned by team platform
// since Dana left" for a server handed over.
func OwnerWords(r *ServerRequest) string {
	if r.TeamOwned() {
		return fmt.Sprintf("Owned by team %s since %s left", r.Team, Mention(r.HandedFrom.Ref()))
	}
	return "Owned by " + Mention(r.Owner.Ref())
}

// HandOver gives r, a server of a person who left, to its team: nobody
// owns it personally any more, its messages go to the team's approvals
// channel, and the team's approvers extend, stop or release it. An
// extension they asked for that still waits is closed. by is who
// offboarded them, as recorded in the audit log.
func (s *Servers) HandOver(tx Tx, team *Team, r *ServerRequest, by, reason string, now time.Time) error {
	if r.TeamOwned() {
		return nil
	}
	from := r.Owner
	r.HandedFrom, r.HandedAt, r.Owner, r.UpdatedAt = from, now, Person{}, now
	if err := tx.SaveRequest(r); err != nil {
		return err
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: by, Action: "server.handover", Subject: r.ID, Reason: reason,
		Detail: fmt.Sprintf("owner %s → team %s", from, r.Team)}); err != nil {
		return err
	}
	if team != nil {
		pending, err := tx.Approvals(ApprovalFilter{RequestID: r.ID, States: []ApprovalState{ApprovalPending}})
		if err != nil {
			return err
		}
		for _, a := range pending {
			if samePerson(a.Requester, from) && (a.Initiator == (Person{}) || samePerson(a.Initiator, from)) {
				if err := s.void(tx, team, a, r, "its requester left and the server was handed to team "+team.Name, now); err != nil {
					return err
				}
			}
		}
	}
	people := []string{person(from)}
	if team != nil {
		people = append(people, team.Approvers...)
	}
	return RefreshHome(tx, now, people...)
}

// Withdraw withdraws r, a request still waiting for approval, on behalf
// of someone else than its owner (offboarding): its approval is closed
// and its reservation freed, in tx, audited as request.withdraw by by.
func (s *Servers) Withdraw(tx Tx, r *ServerRequest, by, reason string, now time.Time) error {
	if r.State != StatePending {
		return Errorf(EConflict, "%s is %s; only a request waiting for approval is withdrawn.", r.ID, r.State.Words())
	}
	team, _, err := s.teamAndTemplate(r)
	if err != nil {
		return err
	}
	if err := r.Move(StateWithdrawn, "withdrawn: "+reason, now); err != nil {
		return err
	}
	if err := tx.SaveRequest(r); err != nil {
		return err
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: by, Action: "request.withdraw", Subject: r.ID, Reason: reason,
		Detail: "owner " + r.Owner.String()}); err != nil {
		return err
	}
	pending, err := tx.Approvals(ApprovalFilter{RequestID: r.ID, States: []ApprovalState{ApprovalPending}})
	if err != nil {
		return err
	}
	for _, a := range pending {
		if err := s.void(tx, team, a, r, "the request was withdrawn: "+reason, now); err != nil {
			return err
		}
	}
	return refundUnused(tx, team, r, now)
}

// OffboardKeys are the marks an offboarding leaves for p, under the
// Slack ID and the email both: the command may name the person one way
// and the event the other.
func OffboardKeys(p Person) []string {
	var keys []string
	for _, k := range []string{p.SlackID, p.Email} {
		if k != "" {
			keys = append(keys, "offboard:"+strings.ToLower(k))
		}
	}
	return keys
}

// Departed reports whether p was offboarded: they decide nothing and
// press no button any more, even while the config still names them.
func Departed(tx Tx, p Person) (bool, error) {
	for _, k := range OffboardKeys(p) {
		done, err := tx.Sent(k)
		if err != nil || done {
			return done, err
		}
	}
	return false, nil
}

// DepartedAnswer is what a departed person is told when they press.
func DepartedAnswer(p Person) *Error {
	return Errorf(EForbidden, "%s was offboarded: opsbot takes no decisions or actions from them any more.", Mention(p.Ref()))
}

// VacateRoles empties the roles p holds in open incidents, in tx: each is
// audited as incident.role by by, noted in the incident's channel and on
// its timeline, and the pinned summary, checklist and announcement are
// edited to show the roles as they are now. It returns "inc-3 commander"
// for each role vacated.
func (s *Incidents) VacateRoles(tx Tx, p Person, by string, now time.Time) ([]string, error) {
	open, err := tx.Incidents(IncidentFilter{Open: true})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, inc := range open {
		var held []string
		for _, role := range []Role{RoleCommander, RoleComms, RoleScribe} {
			if samePerson(inc.RoleHolder(role), p) {
				inc.SetRole(role, Person{})
				held = append(held, string(role))
				out = append(out, inc.ID+" "+string(role))
			}
		}
		if len(held) == 0 {
			continue
		}
		inc.UpdatedAt = now
		if err := tx.SaveIncident(inc); err != nil {
			return nil, err
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: by, Action: "incident.role", Subject: inc.ID, Reason: "offboarding",
			Detail: strings.Join(held, ",") + ": vacated (" + p.String() + " left)"}); err != nil {
			return nil, err
		}
		if err := s.line(tx, inc, fmt.Sprintf("%s left the organisation: the %s role is vacant now. Name someone with `/incident role ROLE @user`.",
			Mention(p.Ref()), strings.Join(held, " and ")), now); err != nil {
			return nil, err
		}
		if err := s.record(tx, inc, TimelineEntry{At: now, Kind: TLRole, Actor: by, Text: strings.Join(held, ", ") + ": vacated, " + p.String() + " left"}); err != nil {
			return nil, err
		}
		if err := s.refreshHomes(tx, inc, now); err != nil {
			return nil, err
		}
		if err := s.queueDocSync(tx, inc, now); err != nil {
			return nil, err
		}
		if err := s.refresh(tx, inc, now); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReRouted is what offboarding did to an approval that waited on a
// departed approver.
type ReRouted struct {
	Approval *Approval
	// Left are the approvers who can still decide it; Stuck is set when
	// they are too few for the approvals it needs.
	Left  []string
	Stuck bool
}

// ReRoute turns the approvals of team that wait for a decision away from
// p, an approver who left: each is asked again of the other approvers
// (a reply under its message mentions them; their Home tabs show it), or
// flagged when too few approvers are left to decide it. p's votes
// already cast stand.
func (s *Servers) ReRoute(tx Tx, team *Team, p Person, now time.Time) ([]ReRouted, error) {
	if !team.IsApprover(p) {
		return nil, nil
	}
	pending, err := tx.Approvals(ApprovalFilter{Team: team.Name, States: []ApprovalState{ApprovalPending}})
	if err != nil {
		return nil, err
	}
	var out []ReRouted
	for _, a := range pending {
		if !mayVote(a, p) {
			continue // it never waited on them
		}
		votes, err := tx.Decisions(a.ID)
		if err != nil {
			return nil, err
		}
		if votedBy(votes, p) {
			continue // they decided their part before leaving
		}
		rr := ReRouted{Approval: a}
		for _, ref := range team.Approvers {
			if p.Is(ref) || samePersonRef(a.interested(), ref) || votedByRef(votes, ref) {
				continue
			}
			rr.Left = append(rr.Left, ref)
		}
		approvals := 0
		for _, v := range votes {
			if v.Approve {
				approvals++
			}
		}
		rr.Stuck = len(rr.Left) < a.Required-approvals
		text := fmt.Sprintf("%s left, so %s waits on the team's other approvers now:", Mention(p.Ref()), approvalWhat(a))
		if rr.Stuck {
			text = fmt.Sprintf("%s left: %s needs %s more, and team %s has %s left who may decide it. Add an approver in opsbot's config, or it expires %s.",
				Mention(p.Ref()), approvalWhat(a), plural(a.Required-approvals, "approval"), team.Name, plural(len(rr.Left), "approver"), team.LocalTime(a.ExpiresAt))
		}
		if err := enqueueMessage(tx, Message{Key: "reroute:" + a.ID, Channel: team.ApprovalsChannel, Thread: "approval:" + a.ID, Text: text, Mention: rr.Left}, now); err != nil {
			return nil, err
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "approval.reroute", Subject: a.ID, Reason: p.String() + " left",
			Detail: fmt.Sprintf("%s; approvers left: %s; stuck=%t", a.RequestID, strings.Join(rr.Left, ","), rr.Stuck)}); err != nil {
			return nil, err
		}
		if err := RefreshHome(tx, now, rr.Left...); err != nil {
			return nil, err
		}
		out = append(out, rr)
	}
	return out, nil
}

func samePersonRef(ps []Person, ref string) bool {
	for _, p := range ps {
		if p.Is(ref) {
			return true
		}
	}
	return false
}

func votedByRef(votes []Decision, ref string) bool {
	for _, v := range votes {
		if v.Approver.Is(ref) {
			return true
		}
	}
	return false
}
