// Package offboard hands over what a person who left held: their servers
// go to their team (its approvers look after them, with Stop / Release /
// Keep), their requests waiting for approval are withdrawn, approvals
// waiting on them are asked of the other approvers, their incident roles
// are vacated, their EC2 key pairs are listed for revocation, and one
// report goes to the team's approvals channel and the audit log. It runs
// once per person.
package offboard

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// Service offboards people.
type Service struct {
	Store     workflows.Store
	Servers   *workflows.Servers
	Incidents *workflows.Incidents
	Clock     workflows.Clock
	Log       *slog.Logger
	// Keys looks up and deletes EC2 key pairs; nil: key pairs are not
	// checked, and the report says so.
	Keys KeyPairs
	// DryRun: key pairs are deleted with EC2's DryRun flag only.
	DryRun bool
	// Regions lists the accounts and regions to look for key pairs in.
	Regions []Place
	// Wake, when set, tells the job runner that new jobs wait.
	Wake func()
}

// Report is what an offboarding found and did.
type Report struct {
	Person     workflows.Person
	By         workflows.Person // the admin who asked; zero for a Slack deactivation
	Already    bool             // offboarded before: nothing was done again
	Withdrawn  []*workflows.ServerRequest
	Servers    []*workflows.ServerRequest // running or stopped: handed to their team
	Roles      []string                   // "inc-3 commander": roles held in open incidents
	ReRouted   map[string][]workflows.ReRouted
	NoApprover []string // teams left with no other approver
	Teams      []string
}

// Actor is who the audit log says offboarded: the admin, or opsbot
// acting on Slack's deactivation.
func (rep *Report) Actor() string {
	if rep.By == (workflows.Person{}) {
		return "opsbot"
	}
	return rep.By.String()
}

func (rep *Report) reason() string {
	if rep.By == (workflows.Person{}) {
		return "offboarding: " + rep.Person.String() + "'s Slack account was deactivated"
	}
	return "offboarding: " + rep.Person.String() + " left"
}

// Offboard hands over what p held. by is the admin who asked (checked by
// the caller; never p, nor someone offboarded), or zero for Slack's
// deactivation event. Everything is
// done in one transaction; the key pairs are looked up by a job it
// queues. A second call for the same person (the event after the
// command, or the event delivered twice) does nothing and says so.
func (s *Service) Offboard(ctx context.Context, by, p workflows.Person) (*Report, error) {
	var rep *Report
	err := s.Store.Update(ctx, func(tx workflows.Tx) error {
		rep = &Report{Person: p, By: by, ReRouted: map[string][]workflows.ReRouted{}} // a retried transaction starts again
		now := s.Clock.Now()
		keys := workflows.OffboardKeys(p)
		if len(keys) == 0 {
			return workflows.Errorf(workflows.EInvalid, "Name the person to offboard.")
		}
		if by != (workflows.Person{}) {
			// Nobody offboards themselves (nobody could take their
			// decisions back but the database), and an offboarded admin,
			// still named in the config, offboards nobody.
			if workflows.SamePerson(by, p) {
				return workflows.Errorf(workflows.EForbidden, "You cannot offboard yourself; ask another of opsbot's admins. Nothing was changed.")
			}
			byGone, err := workflows.Departed(tx, by)
			if err != nil {
				return err
			}
			if byGone {
				return workflows.DepartedAnswer(by)
			}
		}
		gone, err := workflows.Departed(tx, p)
		if err != nil {
			return err
		}
		if gone {
			rep.Already = true
			return nil
		}
		for _, k := range keys {
			if _, err := tx.MarkSent(k, now); err != nil {
				return err
			}
		}
		actor, why := rep.Actor(), rep.reason()
		mine, err := tx.Requests(workflows.RequestFilter{Owner: p, States: []workflows.State{workflows.StatePending, workflows.StateApproved, workflows.StateProvisioning, workflows.StateRunning, workflows.StateStopped}})
		if err != nil {
			return err
		}
		for _, r := range mine {
			team, _ := s.Servers.Catalog.Team(r.Team)
			if r.State == workflows.StatePending {
				// Withdrawn on their behalf: approval closed, reservation freed.
				if err := s.Servers.Withdraw(tx, r, actor, why, now); err != nil {
					return fmt.Errorf("withdraw %s: %w", r.ID, err)
				}
				rep.Withdrawn = append(rep.Withdrawn, r)
				continue
			}
			if err := s.Servers.HandOver(tx, team, r, actor, why, now); err != nil {
				return fmt.Errorf("hand over %s: %w", r.ID, err)
			}
			rep.Servers = append(rep.Servers, r)
		}
		if s.Incidents != nil {
			if rep.Roles, err = s.Incidents.VacateRoles(tx, p, actor, now); err != nil {
				return err
			}
		}
		for _, t := range s.Servers.Catalog.Teams {
			if !t.HasMember(p) && !t.IsApprover(p) && !hasServer(rep.Servers, t.Name) && !hasServer(rep.Withdrawn, t.Name) {
				continue
			}
			rep.Teams = append(rep.Teams, t.Name)
			if t.IsApprover(p) {
				others := 0
				for _, a := range t.Approvers {
					if !p.Is(a) {
						others++
					}
				}
				if others == 0 {
					rep.NoApprover = append(rep.NoApprover, t.Name)
				}
				rr, err := s.Servers.ReRoute(tx, t, p, now)
				if err != nil {
					return err
				}
				rep.ReRouted[t.Name] = rr
			}
		}
		if err := tx.Audit(workflows.AuditEntry{At: now, Actor: actor, Action: "user.offboard", Subject: p.Ref(), Reason: why,
			Detail: fmt.Sprintf("servers=%d withdrawn=%d roles=%d teams=%s", len(rep.Servers), len(rep.Withdrawn), len(rep.Roles), strings.Join(rep.Teams, ","))}); err != nil {
			return err
		}
		for _, team := range rep.Teams {
			t, _ := s.Servers.Catalog.Team(team)
			for _, m := range reportMessages(t, rep, s.Keys != nil, now) {
				if err := workflows.EnqueueMessage(tx, m, now); err != nil {
					return err
				}
			}
		}
		return s.queueKeyLookup(tx, rep, now)
	})
	if err == nil && !rep.Already && s.Wake != nil {
		s.Wake()
	}
	return rep, err
}

func hasServer(rs []*workflows.ServerRequest, team string) bool {
	for _, r := range rs {
		if r.Team == team {
			return true
		}
	}
	return false
}

// reportKey is the key of the hand-over report in a team's channel;
// the key pairs are listed in its thread.
func reportKey(person workflows.Person, team string) string {
	return "offboard:" + strings.ToLower(person.Ref()) + ":" + team
}

// maxReportServers is how many servers one message of the hand-over
// report lists, each with its Stop, Release and Keep buttons: one
// section holds 3,000 characters, about 20 such lines. The first ten are
// in the report; the others in its thread, ten a reply.
const maxReportServers = 10

// reportMessages are the hand-over report in a team's approvals channel
// and, when the person held more servers than it lists, the replies in
// its thread that list the others with their buttons.
func reportMessages(t *workflows.Team, rep *Report, keys bool, now time.Time) []workflows.Message {
	var mine []*workflows.ServerRequest
	for _, r := range rep.Servers {
		if r.Team == t.Name {
			mine = append(mine, r)
		}
	}
	first := mine[:min(len(mine), maxReportServers)]
	out := []workflows.Message{reportMessage(t, rep, first, len(mine)-len(first), keys, now)}
	for part := 1; maxReportServers*part < len(mine); part++ {
		i := maxReportServers * part
		batch := mine[i:min(len(mine), i+maxReportServers)]
		m := workflows.Message{Key: fmt.Sprintf("%s:servers:%d", reportKey(rep.Person, t.Name), part), Channel: t.ApprovalsChannel,
			Thread: reportKey(rep.Person, t.Name),
			Title:  fmt.Sprintf("Handed to team %s: servers %d to %d of %d", t.Name, i+1, i+len(batch), len(mine))}
		m.Text = strings.Join(listServers(&m, batch, t, now), "\n")
		out = append(out, m)
	}
	return out
}

// listServers returns a line for each handed-over server and puts its
// Stop, Release and Keep buttons on m.
func listServers(m *workflows.Message, servers []*workflows.ServerRequest, t *workflows.Team, now time.Time) []string {
	var lines []string
	for _, r := range servers {
		lines = append(lines, fmt.Sprintf("%s (%s, %s, %s): handed to team %s; its approvers look after it now (lease messages come here). Choose below",
			r.ID, r.Template, r.Instance.ID, r.State.Words(), t.Name))
		m.Actions = append(m.Actions, workflows.ChoiceActions(r, workflows.ServerChoice{ID: r.ID, Why: workflows.WhyOffboarding, DrawnFor: now})...)
	}
	return lines
}

// reportMessage is the hand-over report itself: the servers listed
// (with their buttons), how many more are listed in its thread, and
// the requests, approvals and roles the person left.
func reportMessage(t *workflows.Team, rep *Report, servers []*workflows.ServerRequest, more int, keys bool, now time.Time) workflows.Message {
	m := workflows.Message{Key: reportKey(rep.Person, t.Name), Channel: t.ApprovalsChannel,
		Title:   "Offboarding: " + workflows.Mention(rep.Person.Ref()) + " left",
		Mention: t.Approvers}
	lines := listServers(&m, servers, t, now)
	if more > 0 {
		lines = append(lines, fmt.Sprintf("%d more handed to team %s the same way: listed in this message's thread, ten a reply, each with its buttons", more, t.Name))
	}
	for _, r := range rep.Withdrawn {
		if r.Team == t.Name {
			lines = append(lines, fmt.Sprintf("%s (%s): waiting for approval, withdrawn and its reservation freed", r.ID, r.Template))
		}
	}
	for _, rr := range rep.ReRouted[t.Name] {
		if rr.Stuck {
			lines = append(lines, fmt.Sprintf("%s (%s): waited on them too, and too few approvers are left to decide it", rr.Approval.ID, rr.Approval.RequestID))
		} else {
			lines = append(lines, fmt.Sprintf("%s (%s): waited on them too; asked of the other approvers", rr.Approval.ID, rr.Approval.RequestID))
		}
	}
	for _, role := range rep.Roles {
		lines = append(lines, fmt.Sprintf("%s: vacated, with a note in the incident's channel", role))
	}
	if len(lines) == 0 {
		lines = append(lines, "They held no servers, requests or incident roles.")
	}
	m.Text = strings.Join(lines, "\n")
	for _, name := range rep.NoApprover {
		if name == t.Name {
			m.Fields = append(m.Fields, workflows.Field{Label: "No approver left", Value: "Team " + t.Name + " has no other approver: add one in opsbot's config, or nobody can approve its requests."})
		}
	}
	by := "their Slack account was deactivated"
	if rep.By != (workflows.Person{}) {
		by = "asked by " + workflows.Mention(rep.By.Ref())
	}
	keyNote := "EC2 key pairs are not checked in this opsbot: revoke theirs in EC2"
	if keys {
		keyNote = "their EC2 key pairs are listed in the thread"
	}
	m.Note = "Offboarded " + t.LocalTime(now) + ", " + by + " · " + keyNote + " · in the audit log as user.offboard"
	return m
}
