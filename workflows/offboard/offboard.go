// Package offboard hands over what a person who left held: their servers
// go to their team's approvers with Stop / Release / Keep, their requests
// waiting for approval are withdrawn, and one report goes to the team's
// approvals channel and the audit log. It runs once per person.
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
	Store   workflows.Store
	Servers *workflows.Servers
	Clock   workflows.Clock
	Log     *slog.Logger
}

// Report is what an offboarding found and did, per team.
type Report struct {
	Person     workflows.Person
	By         string // who asked: an admin, or "slack" for a deactivation
	Already    bool   // offboarded before: nothing was done again
	Withdrawn  []*workflows.ServerRequest
	Servers    []*workflows.ServerRequest // running or stopped: handed to the team's approvers
	Roles      []string                   // "inc-3 commander": roles held in open incidents
	NoApprover []string                   // teams left with no other approver
	Teams      []string
}

// Offboard hands over what p held. by is the admin who asked (checked by
// the caller) or "slack". A second call for the same person (the event
// after the command, or the event delivered twice) does nothing and
// says so.
func (s *Service) Offboard(ctx context.Context, by string, p workflows.Person) (*Report, error) {
	rep := &Report{Person: p, By: by}
	var pending []*workflows.ServerRequest
	err := s.Store.Update(ctx, func(tx workflows.Tx) error {
		now := s.Clock.Now()
		// Marked under the Slack ID and the email both: the command may
		// name the person one way and the event the other.
		var keys []string
		for _, k := range []string{p.SlackID, p.Email} {
			if k != "" {
				keys = append(keys, "offboard:"+strings.ToLower(k))
			}
		}
		if len(keys) == 0 {
			return workflows.Errorf(workflows.EInvalid, "Name the person to offboard.")
		}
		for _, k := range keys {
			done, err := tx.Sent(k)
			if err != nil {
				return err
			}
			if done {
				rep.Already = true
				return nil
			}
		}
		for _, k := range keys {
			if _, err := tx.MarkSent(k, now); err != nil {
				return err
			}
		}
		mine, err := tx.Requests(workflows.RequestFilter{Owner: p, States: []workflows.State{workflows.StatePending, workflows.StateApproved, workflows.StateProvisioning, workflows.StateRunning, workflows.StateStopped}})
		if err != nil {
			return err
		}
		for _, r := range mine {
			if r.State == workflows.StatePending {
				pending = append(pending, r)
			} else {
				rep.Servers = append(rep.Servers, r)
			}
		}
		open, err := tx.Incidents(workflows.IncidentFilter{Open: true})
		if err != nil {
			return err
		}
		for _, inc := range open {
			var held []string
			for _, role := range []workflows.Role{workflows.RoleCommander, workflows.RoleComms, workflows.RoleScribe} {
				if workflows.SamePerson(inc.RoleHolder(role), p) {
					inc.SetRole(role, workflows.Person{})
					held = append(held, string(role))
					rep.Roles = append(rep.Roles, inc.ID+" "+string(role))
				}
			}
			if len(held) == 0 {
				continue
			}
			// Vacated, with a note in the incident's channel.
			if err := tx.SaveIncident(inc); err != nil {
				return err
			}
			if err := tx.Audit(workflows.AuditEntry{At: now, Actor: by, Action: "incident.role", Subject: inc.ID, Reason: "offboarding",
				Detail: strings.Join(held, ",") + ": vacated (" + p.String() + " left)"}); err != nil {
				return err
			}
			if inc.ChannelID != "" {
				if err := workflows.EnqueueMessage(tx, workflows.Message{Channel: inc.ChannelID,
					Text: fmt.Sprintf("%s left the organisation: the %s role is vacant now. Name someone with `/incident role ROLE @user`.",
						workflows.Mention(p.Ref()), strings.Join(held, " and "))}, now); err != nil {
					return err
				}
			}
		}
		for _, t := range s.Servers.Catalog.Teams {
			if !t.HasMember(p) && !hasServer(rep.Servers, t.Name) && !hasServer(pending, t.Name) {
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
			}
		}
		if err := tx.Audit(workflows.AuditEntry{At: now, Actor: by, Action: "user.offboard", Subject: p.Ref(),
			Detail: fmt.Sprintf("servers=%d pending=%d roles=%d teams=%s", len(rep.Servers), len(pending), len(rep.Roles), strings.Join(rep.Teams, ","))}); err != nil {
			return err
		}
		for _, team := range rep.Teams {
			t, _ := s.Servers.Catalog.Team(team)
			if err := workflows.EnqueueMessage(tx, reportMessage(t, rep, pending, now), now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || rep.Already {
		return rep, err
	}
	// Requests still waiting for approval are withdrawn, their
	// reservations freed and their approvals closed (each in its own
	// transaction, as their owner could have done).
	for _, r := range pending {
		if _, err := s.Servers.Release(ctx, r.Owner, r.ID); err != nil {
			s.Log.Warn("offboarding: could not withdraw a request", "request", r.ID, "err", err)
			continue
		}
		rep.Withdrawn = append(rep.Withdrawn, r)
	}
	return rep, nil
}

func hasServer(rs []*workflows.ServerRequest, team string) bool {
	for _, r := range rs {
		if r.Team == team {
			return true
		}
	}
	return false
}

// reportMessage is the hand-over report in a team's approvals channel.
func reportMessage(t *workflows.Team, rep *Report, pending []*workflows.ServerRequest, now time.Time) workflows.Message {
	m := workflows.Message{Key: "offboard:" + strings.ToLower(rep.Person.Ref()) + ":" + t.Name, Channel: t.ApprovalsChannel,
		Title:   "Offboarding: " + workflows.Mention(rep.Person.Ref()) + " left",
		Mention: t.Approvers}
	var lines []string
	for _, r := range rep.Servers {
		if r.Team != t.Name {
			continue
		}
		lines = append(lines, fmt.Sprintf("%s (%s, %s, %s): handed to the team's approvers; choose below", r.ID, r.Template, r.Instance.ID, r.State.Words()))
		m.Actions = append(m.Actions, workflows.ChoiceActions(r, workflows.ServerChoice{ID: r.ID, Why: workflows.WhyOffboarding, DrawnFor: now})...)
	}
	for _, r := range pending {
		if r.Team == t.Name {
			lines = append(lines, fmt.Sprintf("%s (%s): waiting for approval, withdrawn and its reservation freed", r.ID, r.Template))
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
	by := rep.By
	if by == "slack" {
		by = "their Slack account was deactivated"
	} else {
		by = "asked by " + workflows.Mention(workflows.Person{SlackID: by}.Ref())
	}
	m.Note = "Offboarded " + t.LocalTime(now) + ", " + by + " · EC2 key pairs are not checked yet: revoke theirs in EC2 · in the audit log as user.offboard"
	return m
}
