package workflows

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Who may change an incident.
//
// Changing an incident's course — status, severity, roles, acknowledge and
// resolve, cancel, the post-mortem's meeting and done, snoozing its
// reminders, adding people — is for the people responsible for it:
//
//   - the owning team's members (approvers included),
//   - the team's incident_members from the config,
//   - the incident's role holders (commander, comms, scribe),
//   - the people the PagerDuty incident is assigned to (asked of PagerDuty
//     only when nothing else lets the person act),
//   - people one of the above added with /incident add.
//
// Being in the incident channel is not enough: anyone can join a public
// channel. Anyone may still post updates and pin timeline entries, and
// anyone may declare an incident (at most DeclareLimit per DeclareWindow).

// responsible reports whether actor may change inc on what opsbot knows
// itself, without asking PagerDuty.
func (s *Incidents) responsible(inc *Incident, actor Person) bool {
	team := s.team(inc)
	if team.HasMember(actor) || anyIs(actor, team.IncidentMembers) {
		return true
	}
	for _, p := range append([]Person{inc.Commander, inc.Comms, inc.Scribe}, inc.Added...) {
		if samePerson(p, actor) {
			return true
		}
	}
	return false
}

// authorize checks that actor may do `what` ("resolve it", "change its
// severity") to the incident ref names. When opsbot's own rules do not
// let the actor act, it asks PagerDuty whether the incident is assigned to
// them. A refusal is an EForbidden error that says who may act.
func (s *Incidents) authorize(ctx context.Context, actor Person, ref IncidentRef, what string) error {
	var inc *Incident
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		inc, err = s.find(tx, ref)
		return err
	}); err != nil {
		return err
	}
	if s.responsible(inc, actor) {
		return nil
	}
	var assignees []string
	pdNote := ""
	if s.Pager != nil && inc.PDIncidentID != "" {
		var err error
		assignees, err = s.Pager.Assignees(ctx, inc.PDIncidentID)
		if err != nil {
			s.Log.WarnContext(ctx, "ask PagerDuty who is assigned", "incident", inc.ID, "err", err)
			pdNote = " (opsbot could not ask PagerDuty who is assigned just now)"
		}
		for _, email := range assignees {
			if actor.Email != "" && strings.EqualFold(email, actor.Email) {
				return nil
			}
		}
	}
	return s.refusal(inc, what, assignees, pdNote)
}

// maxNamed bounds the people a refusal names.
const maxNamed = 12

// refusal says what was refused and who may do it, naming them (as
// mentions in Slack, never bare IDs): the team's members and incident
// members, the role holders, PagerDuty's assignees, the people added.
func (s *Incidents) refusal(inc *Incident, what string, assignees []string, note string) *Error {
	team := s.team(inc)
	people := append(append(append([]string{}, team.Members...), team.Approvers...), team.IncidentMembers...)
	for _, r := range []Role{RoleCommander, RoleComms, RoleScribe} {
		people = append(people, person(inc.RoleHolder(r)))
	}
	people = append(people, assignees...)
	for _, p := range inc.Added {
		people = append(people, person(p))
	}
	people = dedupe(people)
	more := ""
	if len(people) > maxNamed {
		more = fmt.Sprintf(" (%d of them here, and %d more)", maxNamed, len(people)-maxNamed)
		people = people[:maxNamed]
	}
	e := Errorf(EForbidden, "Only the people responsible for %s may %s: team %s's members and incident members, its role holders, the people PagerDuty assigned it to, and people added to it%s. Being in the channel is not enough: one of them can add you with `/incident add @you`. Who may act%s:",
		inc.ID, what, team.Name, note, more)
	e.People = people
	return e
}

// guarded is change for the actions only responsible people may take.
func (s *Incidents) guarded(ctx context.Context, actor Person, ref IncidentRef, what string, fn func(tx Tx, inc *Incident, now time.Time) error) (*Incident, error) {
	if err := s.authorize(ctx, actor, ref, what); err != nil {
		return nil, err
	}
	return s.change(ctx, ref, fn)
}

// AddMember gives who the right to change the incident, at the request of
// someone who has it. It is stored, audited, put on the timeline, and the
// person is invited to the channel and told.
func (s *Incidents) AddMember(ctx context.Context, actor Person, ref IncidentRef, who Person) (*Incident, error) {
	if who.SlackID == "" && who.Email == "" {
		return nil, Errorf(EInvalid, "Name the person to add, like `/incident add @ana`.")
	}
	return s.guarded(ctx, actor, ref, "add people to it", func(tx Tx, inc *Incident, now time.Time) error {
		if s.responsible(inc, who) {
			return Errorf(EConflict, "%s may already change %s.", s.plainName(who), inc.ID)
		}
		inc.Added = append(inc.Added, who)
		if err := tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: "incident.add", Subject: inc.ID, Detail: who.String()}); err != nil {
			return err
		}
		if err := s.record(tx, inc, TimelineEntry{At: now, Kind: TLNote, Actor: actor.String(), Text: "Added " + who.String() + " to the response"}); err != nil {
			return err
		}
		if inc.ChannelID == "" {
			return nil
		}
		if err := tx.Enqueue(Job{Kind: JobInvite, Key: JobInvite + ":" + inc.ID, Payload: inc.ID, RunAt: now}); err != nil {
			return err
		}
		return enqueueMessage(tx, Message{Key: "incident-added:" + inc.ID + ":" + person(who), Channel: inc.ChannelID, Mention: []string{person(who)},
			Text: fmt.Sprintf("Added to %s by %s: may now change its status, severity and roles.", inc.ID, Mention(actor.Ref()))}, now)
	})
}

// plainName names a person in message text, where mentions cannot go
// (the renderer escapes text): the email when known, else the Slack ID.
func (s *Incidents) plainName(p Person) string {
	if p.Email != "" {
		return p.Email
	}
	return p.SlackID
}

// checkDeclareLimit refuses a declaration beyond the policy's limit per
// person, saying when the person can declare again.
func (s *Incidents) checkDeclareLimit(tx Tx, actor Person, team *Team, now time.Time) error {
	p := s.policy()
	if p.DeclareLimit <= 0 || p.DeclareWindow <= 0 || (actor.SlackID == "" && actor.Email == "") {
		return nil
	}
	// A declaration leaves the window exactly DeclareWindow after it was
	// made, when the refusal says the person can declare again.
	recent, err := tx.Incidents(IncidentFilter{DeclaredBy: actor, Since: now.Add(-p.DeclareWindow + time.Nanosecond)})
	if err != nil {
		return err
	}
	if len(recent) < p.DeclareLimit {
		return nil
	}
	// Newest first: the declaration that frees a slot is the limit-th newest.
	times := make([]time.Time, len(recent))
	for i, inc := range recent {
		times[i] = inc.CreatedAt
	}
	slices.SortFunc(times, func(a, b time.Time) int { return b.Compare(a) })
	again := times[p.DeclareLimit-1].Add(p.DeclareWindow)
	return Errorf(EForbidden, "You have declared %d incidents in the last %s, the most opsbot takes from one person. You can declare again at %s (in %s). If this is real, ask a teammate to declare it, or page on-call in PagerDuty.",
		len(recent), FormatDuration(p.DeclareWindow), team.LocalTime(again), FormatDuration(again.Sub(now).Round(time.Minute)))
}

// checkPagerUser refuses, before anything is recorded, an acknowledgement
// or resolution that PagerDuty would refuse because it has no user with
// the actor's email: opsbot's record must not say "resolved" while
// PagerDuty says triggered. A failed lookup lets the change go ahead; if
// PagerDuty then refuses it, the record is taken back (see pushStatus).
func (s *Incidents) checkPagerUser(ctx context.Context, actor Person, ref IncidentRef, status, what string) error {
	if s.Pager == nil {
		return nil
	}
	var inc *Incident
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		inc, err = s.find(tx, ref)
		return err
	}); err != nil {
		return err
	}
	if inc.PDIncidentID == "" || inc.PDStatus == status || inc.PDStatus == PDResolved {
		return nil
	}
	if actor.Email == "" {
		return Errorf(EForbidden, "PagerDuty needs your email to record who did it, and Slack did not give opsbot yours, so opsbot cannot %s. Do it in PagerDuty: %s", what, inc.PDURL)
	}
	ok, err := s.Pager.HasUser(ctx, actor.Email)
	if err != nil {
		s.Log.WarnContext(ctx, "look up PagerDuty user", "email", actor.Email, "err", err)
		return nil
	}
	if !ok {
		return Errorf(EForbidden, "PagerDuty has no user with your email (%s), so it would refuse it: opsbot cannot %s for you. Do it in PagerDuty with your own account (%s), or ask someone with a PagerDuty account.", actor.Email, what, inc.PDURL)
	}
	return nil
}
