package runbooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// JobCall makes one attempt of a run's call; payload: the run ID. Its
// key carries the attempt ("runbook.call:run-3:2"), so a retry is a job
// of its own, due when the backoff says.
const JobCall = "runbook.call"

// Service is the runbooks workflow.
type Service struct {
	Store    workflows.Store
	Clock    workflows.Clock
	Catalog  *workflows.Catalog
	Runbooks []*Runbook
	// Secrets are the HMAC secrets by runbook name, read from the
	// environment variables the config names.
	Secrets map[string][]byte
	Caller  Caller
	// CallbackURL is opsbot's callback route as the endpoints reach it
	// (sent in every call's body); empty: not sent.
	CallbackURL string
	// DryRun is OPSBOT_DRY_RUN: runs are asked, decided and recorded as
	// usual, but no endpoint is called (an endpoint has no dry run to
	// check a change with, and dry run makes none).
	DryRun bool
	Log    *slog.Logger
	Wake   func()
}

// Runbook returns the runbook with that name (case-insensitive).
func (s *Service) Runbook(name string) (*Runbook, bool) {
	for _, rb := range s.Runbooks {
		if strings.EqualFold(rb.Name, name) {
			return rb, true
		}
	}
	return nil, false
}

// Usage is the command's usage line.
const Usage = "/ops run [RUNBOOK]"

// Available returns the runbooks p may run, for `/ops run` and App Home.
func (s *Service) Available(p workflows.Person) []*Runbook {
	return Visible(s.Catalog, s.Runbooks, p)
}

// Form returns the runbook p asked to run, to draw its form, or the
// reason p may not (audited).
func (s *Service) Form(ctx context.Context, p workflows.Person, name string) (*Runbook, error) {
	rb, ok := s.Runbook(strings.TrimSpace(name))
	if !ok {
		return nil, workflows.Errorf(workflows.EInvalid, "There is no runbook %q. `/ops run` lists the ones you may run.", name)
	}
	v := Authorize(s.Catalog, rb, p)
	if v.Refused == "" {
		// Offboarded: no runs from them, even while the config names them.
		var gone bool
		if err := s.view(ctx, func(tx Tx) (err error) {
			gone, err = workflows.Departed(tx, p)
			return err
		}); err != nil {
			return nil, fmt.Errorf("check whether %s was offboarded: %w", p, err)
		}
		if gone {
			v = Verdict{Refused: workflows.DepartedAnswer(p).Message}
		}
	}
	if v.Refused != "" {
		return nil, s.refuse(ctx, p, rb, v)
	}
	return rb, nil
}

func (s *Service) refuse(ctx context.Context, p workflows.Person, rb *Runbook, v Verdict) error {
	e := workflows.Errorf(workflows.EForbidden, "%s", v.Refused)
	e.People = v.Ask
	if err := s.Store.Update(ctx, func(tx workflows.Tx) error {
		return tx.Audit(workflows.AuditEntry{At: s.Clock.Now(), Actor: p.String(), Action: "runbook.refuse", Subject: rb.Name, Reason: v.Refused})
	}); err != nil {
		return fmt.Errorf("audit refusal of %s: %w", rb.Name, err)
	}
	return e
}

// FormError is a form with wrong values: one problem per parameter name.
// Nothing was recorded.
type FormError struct{ Fields map[string]string }

func (e *FormError) Error() string {
	var parts []string
	for k, v := range e.Fields {
		parts = append(parts, k+": "+v)
	}
	return "wrong form values: " + strings.Join(parts, "; ")
}

// Start asks for a run of runbook name with the form's raw values:
// queued at once when policy allows, sent to the approvers when it needs
// one, refused (and audited) otherwise. reason (why, as typed) goes to
// the audit log. trigger names the submission
// (the modal's view ID): a second one with the same trigger is refused.
func (s *Service) Start(ctx context.Context, p workflows.Person, name string, raw map[string]string, reason, trigger string) (*Run, error) {
	rb, err := s.Form(ctx, p, name)
	if err != nil {
		return nil, err
	}
	values, problems := rb.Validate(raw)
	if problems != nil {
		return nil, &FormError{Fields: problems}
	}
	params, err := json.Marshal(values)
	if err != nil {
		return nil, fmt.Errorf("encode parameters of %s: %w", rb.Name, err)
	}
	var out *Run
	var refused error
	err = s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		v := Authorize(s.Catalog, rb, p)
		if v.Refused != "" { // the config cannot change within a process; kept for safety
			refused = workflows.Errorf(workflows.EForbidden, "%s", v.Refused)
			return nil
		}
		id, err := tx.NextID("run")
		if err != nil {
			return err
		}
		r := &Run{ID: id, Runbook: rb.Name, Actor: p, Params: string(params), State: StateQueued,
			Key: fmt.Sprintf("opsbot-%s-%d", id, now.UnixNano()), Trigger: trigger, CreatedAt: now, UpdatedAt: now}
		if v.Team != nil {
			r.Team = v.Team.Name
		}
		if r.Trigger == "" {
			r.Trigger = "run:" + id
		}
		if v.NeedApprover {
			r.State = StatePending
		}
		if err := tx.CreateRun(r); errors.Is(err, workflows.ErrDuplicate) {
			refused = workflows.Errorf(workflows.EConflict, "This form was submitted already; nothing more was done.")
			return nil
		} else if err != nil {
			return err
		}
		out = r
		if err := tx.Audit(workflows.AuditEntry{At: now, Actor: p.String(), Action: "runbook.run", Subject: r.ID, Reason: reason,
			Detail: fmt.Sprintf("%s (%s) as %s, %s", rb.Name, rb.Shown(values), v.As, r.State)}); err != nil {
			return err
		}
		if err := workflows.EnqueueMessage(tx, runMessage(s.Catalog, rb, r), now); err != nil {
			return err
		}
		if r.State == StatePending {
			return workflows.EnqueueMessage(tx, approvalMessage(s.Catalog, rb, r, p), now)
		}
		return queueCall(tx, r, 1, now)
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	return out, nil
}

func queueCall(tx Tx, r *Run, attempt int, at time.Time) error {
	return tx.Enqueue(workflows.Job{Kind: JobCall, Key: fmt.Sprintf("%s:%s:%d", JobCall, r.ID, attempt), Payload: r.ID, RunAt: at})
}

// Decide approves or denies a run waiting for an approver: the team's
// approvers and opsbot's admins decide, never the asker; a second
// decision (a double click) changes nothing.
func (s *Service) Decide(ctx context.Context, p workflows.Person, id string, approve bool) (*Run, error) {
	var out *Run
	var refused error
	err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		r, err := tx.RunbookRun(strings.TrimSpace(id))
		if errors.Is(err, workflows.ErrNotFound) {
			return workflows.Errorf(workflows.EInvalid, "There is no runbook run %q.", id)
		}
		if err != nil {
			return err
		}
		out = r
		rb, ok := s.Runbook(r.Runbook)
		if !ok {
			refused = workflows.Errorf(workflows.EConflict, "Runbook %s is no longer in opsbot's config; %s cannot run.", r.Runbook, r.ID)
			return nil
		}
		if r.State != StatePending {
			who := ""
			if r.Approver != (workflows.Person{}) {
				who = " by " + workflows.Mention(r.Approver.Ref())
			}
			refused = workflows.Errorf(workflows.EConflict, "%s was %s already%s; nothing was changed.", r.ID, r.State.words(), who)
			return nil
		}
		team, _ := s.Catalog.Team(r.Team)
		why := MayDecide(s.Catalog, team, r, p)
		if gone, err := workflows.Departed(tx, p); err != nil {
			return err
		} else if gone && why == "" {
			why = workflows.DepartedAnswer(p).Message
		}
		if why == "" && approve {
			// Nothing runs on behalf of someone who left.
			if gone, err := workflows.Departed(tx, r.Actor); err != nil {
				return err
			} else if gone {
				refused = workflows.Errorf(workflows.EConflict, "%s was asked for by %s, who was offboarded since: it will not run on their behalf. Deny it to close it; nothing was changed.", r.ID, workflows.Mention(r.Actor.Ref()))
				return nil
			}
		}
		if why != "" {
			refused = workflows.Errorf(workflows.EForbidden, "%s", why)
			return tx.Audit(workflows.AuditEntry{At: now, Actor: p.String(), Action: "runbook.decide.refuse", Subject: r.ID, Reason: why})
		}
		r.Approver, r.UpdatedAt = p, now
		action := "runbook.approve"
		if approve {
			r.State = StateQueued
		} else {
			r.State, r.Result, action = StateDenied, "Denied.", "runbook.deny"
		}
		if err := tx.SaveRun(r); err != nil {
			return err
		}
		if err := tx.Audit(workflows.AuditEntry{At: now, Actor: p.String(), Action: action, Subject: r.ID, Detail: r.Runbook}); err != nil {
			return err
		}
		if err := workflows.EnqueueMessage(tx, approvalMessage(s.Catalog, rb, r, r.Actor), now); err != nil {
			return err
		}
		if err := workflows.EnqueueMessage(tx, runMessage(s.Catalog, rb, r), now); err != nil {
			return err
		}
		if r.State == StateQueued {
			return queueCall(tx, r, 1, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	return out, nil
}

func (st State) words() string {
	switch st {
	case StatePending:
		return "waiting for an approver"
	case StateQueued:
		return "approved and under way"
	case StateAccepted:
		return "accepted by its endpoint"
	case StateTimedOut:
		return "timed out waiting for its endpoint"
	}
	return string(st)
}

func (s *Service) update(ctx context.Context, fn func(Tx) error) error {
	return workflows.UpdateAs(ctx, s.Store, "runbook runs", s.Wake, fn)
}

func (s *Service) view(ctx context.Context, fn func(Tx) error) error {
	return workflows.ViewAs(ctx, s.Store, "runbook runs", fn)
}

// values decodes a run's parameters.
func (r *Run) values() Values {
	v := Values{}
	_ = json.Unmarshal([]byte(r.Params), &v)
	return v
}
