// Package audit makes opsbot's audit log visible: `/ops audit` for
// admins and teams' approvers, and the JSON lines export for a SIEM.
package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

// Filter selects audit entries. Empty fields match all.
type Filter struct {
	Subjects []string
	Since    time.Time
	Until    time.Time // exclusive
	// AfterID, when set, returns entries with a larger ID only (an
	// export resuming where it stopped).
	AfterID int64
	Limit   int // 0: no limit
	// Oldest first when true; newest first otherwise.
	Ascending bool
}

// Reader reads the audit log; the store implements it.
type Reader interface {
	AuditEntries(ctx context.Context, f Filter) ([]workflows.AuditEntry, error)
}

// Query is what a person asked to see.
type Query struct {
	Subject string           // "srv-42", "inc-7", "apr-3", "run-12": entries about it
	Team    string           // a team: entries about its servers, approvals, incidents
	User    workflows.Person // entries by this person
	Since   time.Time
}

// epoch is the oldest since a query reads from: nothing was recorded
// before it.
var epoch = time.Unix(0, 0).UTC()

// DefaultSince is how far back `/ops audit` looks when no since is given.
const DefaultSince = 7 * 24 * time.Hour

// MaxScan bounds the entries one `/ops audit` reads; older ones are for
// the export.
const MaxScan = 5000

// Service answers audit queries.
type Service struct {
	Store   workflows.Store
	Log     Reader
	Catalog *workflows.Catalog
	Clock   workflows.Clock
}

// Page is the answer to a query.
type Page struct {
	Query   Query
	Entries []workflows.AuditEntry // newest first
	Scanned bool                   // MaxScan entries were read: there may be older ones
	Zone    *time.Location
	Now     time.Time
}

// Read returns the entries the reader may see for q. Admins see every
// entry; a team's approvers see the entries about their teams' servers,
// approvals and incidents. Anyone else is refused.
func (s *Service) Read(ctx context.Context, reader workflows.Person, q Query) (*Page, error) {
	now := s.Clock.Now()
	admin := s.Catalog.IsAdmin(reader)
	approves := map[string]bool{}
	var approvers []string
	for _, t := range s.Catalog.Teams {
		if t.IsApprover(reader) {
			approves[t.Name] = true
		}
		approvers = append(approvers, t.Approvers...)
	}
	if !admin && len(approves) == 0 {
		return nil, workflows.Errorf(workflows.EForbidden, "The audit log is shown to opsbot's admins and to teams' approvers (for their teams). You are neither.")
	}
	// Someone offboarded reads nothing, even while the config names them.
	var gone bool
	if err := s.Store.View(ctx, func(tx workflows.Tx) (err error) {
		gone, err = workflows.Departed(tx, reader)
		return err
	}); err != nil {
		return nil, fmt.Errorf("check whether %s was offboarded: %w", reader, err)
	}
	if gone {
		return nil, workflows.DepartedAnswer(reader)
	}
	if q.Team != "" {
		t, ok := s.teamNamed(q.Team)
		if !ok {
			return nil, workflows.Errorf(workflows.EInvalid, "There is no team, server or incident %q.", q.Team)
		}
		q.Team = t.Name
		if !admin && !approves[t.Name] {
			e := workflows.Errorf(workflows.EForbidden, "Team %s's audit log is shown to its approvers and opsbot's admins. Ask one of them:", t.Name)
			e.People = t.Approvers
			return nil, e
		}
	}
	if q.Since.IsZero() {
		q.Since = now.Add(-DefaultSince)
	}
	zone := time.UTC
	if t, ok := s.Catalog.TeamOf(reader); ok && t.Location != nil {
		zone = t.Location
	}
	switch {
	case q.Since.After(now):
		return nil, workflows.Errorf(workflows.EInvalid, "%s is in the future: give a day that has been (like %s) or an age (like 2d).",
			q.Since.In(zone).Format("2006-01-02"), now.In(zone).AddDate(0, 0, -7).Format("2006-01-02"))
	case q.Since.Before(epoch):
		// Nothing is older, and older times do not fit the store's
		// nanoseconds (they wrap around): the whole log.
		q.Since = epoch
	}
	page := &Page{Query: q, Now: now, Zone: zone}
	f := Filter{Since: q.Since, Limit: MaxScan}
	teams := newResolver()
	err := s.Store.View(ctx, func(tx workflows.Tx) error {
		if q.Subject != "" {
			team, err := teams.of(tx, q.Subject)
			if errors.Is(err, workflows.ErrNotFound) {
				return workflows.Errorf(workflows.EInvalid, "There is no server, approval, incident or runbook run %q.", q.Subject)
			}
			if err != nil {
				return err
			}
			if !admin && team == "" {
				// A run for no team: an admin's outside the runbook's teams.
				return workflows.Errorf(workflows.EForbidden, "%s belongs to no team; its audit log is shown to opsbot's admins.", q.Subject)
			}
			if !admin && teams.hidden(q.Subject, reader) {
				return workflows.Errorf(workflows.EForbidden, "%s is a private incident; its audit log is shown to the people in it and opsbot's admins.", q.Subject)
			}
			if !admin && !approves[team] {
				e := workflows.Errorf(workflows.EForbidden, "%s belongs to team %s; its audit log is shown to that team's approvers and opsbot's admins.", q.Subject, team)
				if t, ok := s.Catalog.Team(team); ok {
					e.People = t.Approvers
				}
				return e
			}
			f.Subjects = []string{q.Subject}
			if strings.HasPrefix(q.Subject, "srv-") {
				// A server's approvals are its story too.
				as, err := tx.Approvals(workflows.ApprovalFilter{RequestID: q.Subject})
				if err != nil {
					return err
				}
				for _, a := range as {
					f.Subjects = append(f.Subjects, a.ID)
				}
			}
		}
		entries, err := s.Log.AuditEntries(ctx, f)
		if err != nil {
			return fmt.Errorf("read the audit log: %w", err)
		}
		page.Scanned = len(entries) == MaxScan
		for _, e := range entries {
			if q.User != (workflows.Person{}) && !ActorIs(e.Actor, q.User) {
				continue
			}
			team, err := teams.of(tx, e.Subject)
			if err != nil && !errors.Is(err, workflows.ErrNotFound) {
				return err
			}
			if q.Team != "" && team != q.Team {
				continue
			}
			if !admin && (!approves[team] || teams.hidden(e.Subject, reader)) {
				continue
			}
			page.Entries = append(page.Entries, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

func (s *Service) teamNamed(name string) (*workflows.Team, bool) {
	for _, t := range s.Catalog.Teams {
		if strings.EqualFold(t.Name, name) {
			return t, true
		}
	}
	return nil, false
}

// resolver finds the team a subject belongs to, once per subject, and
// the private incident it is about, if any.
type resolver struct {
	cache   map[string]string
	private map[string]*workflows.Incident // subject → its private incident
}

func newResolver() *resolver {
	return &resolver{cache: map[string]string{}, private: map[string]*workflows.Incident{}}
}

// hidden says whether subject (resolved by of before) is about a private
// incident reader is not in: only its people and admins read its entries,
// as only they see it listed anywhere else.
func (r *resolver) hidden(subject string, reader workflows.Person) bool {
	inc, ok := r.private[subject]
	return ok && !inc.VisibleTo(reader)
}

// of returns the team of a subject ("srv-42", "apr-3", "inc-7",
// "act-2", "run-12": a runbook run's team, "" for an admin's run outside
// the runbook's teams); workflows.ErrNotFound for one that names nothing opsbot
// keeps (only admins see those entries).
func (r *resolver) of(tx workflows.Tx, subject string) (string, error) {
	if t, ok := r.cache[subject]; ok {
		return t, nil
	}
	prefix, _, _ := strings.Cut(subject, "-")
	var team string
	var err error
	switch prefix {
	case "srv":
		var req *workflows.ServerRequest
		if req, err = tx.Request(subject); err == nil {
			team = req.Team
		}
	case "apr":
		var a *workflows.Approval
		if a, err = tx.Approval(subject); err == nil {
			team = a.Team
		}
	case "inc":
		var inc *workflows.Incident
		if inc, err = tx.Incident(subject); err == nil {
			team = inc.Team
			if inc.Private {
				r.private[subject] = inc
			}
		}
	case "run":
		var rtx runbooks.Tx
		if rtx, err = workflows.TxAs[runbooks.Tx](tx, "runbook runs"); err == nil {
			var run *runbooks.Run
			if run, err = rtx.RunbookRun(subject); err == nil {
				team = run.Team
			}
		}
	case "act":
		var a *workflows.ActionItem
		if a, err = tx.Action(subject); err == nil {
			team, err = r.of(tx, a.IncidentID)
			if inc, ok := r.private[a.IncidentID]; ok {
				r.private[subject] = inc
			}
		}
	default:
		err = workflows.ErrNotFound
	}
	if err != nil && !errors.Is(err, workflows.ErrNotFound) {
		return "", err
	}
	r.cache[subject] = team
	return team, err
}

// ActorIs reports whether an audit entry's actor (as Person.String wrote
// it: "U1", "U1 <a@b.c>", "a@b.c") is p.
func ActorIs(actor string, p workflows.Person) bool {
	a := ActorPerson(actor)
	return workflows.SamePerson(a, p)
}

// ActorPerson reads back the person Person.String wrote; "opsbot" and
// "pagerduty" give an empty Person.
func ActorPerson(actor string) workflows.Person {
	actor = strings.TrimSpace(actor)
	if id, rest, ok := strings.Cut(actor, " <"); ok {
		return workflows.Person{SlackID: id, Email: strings.TrimSuffix(rest, ">")}
	}
	switch {
	case strings.Contains(actor, "@"):
		return workflows.Person{Email: actor}
	case actor == "" || actor == "opsbot" || actor == "pagerduty" || strings.ContainsAny(actor, " :"):
		return workflows.Person{}
	}
	return workflows.Person{SlackID: actor}
}
