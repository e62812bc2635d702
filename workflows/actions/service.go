package actions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// JobOp runs one action; payload: the op ID.
const JobOp = "server.op"

// JobSnapshotRelease deletes a released server's snapshots that were not
// kept; payload: the server ID.
const JobSnapshotRelease = "server.snapshots.release"

// Service is the server actions workflow.
type Service struct {
	Store       workflows.Store
	Clock       workflows.Clock
	Catalog     *workflows.Catalog
	Provisioner workflows.Provisioner
	Operator    Operator
	// Starter starts stopped instances; nil: Start is not offered.
	Starter Starter
	// CPU reads the CPU Diagnose shows; nil: not shown.
	CPU  workflows.CPUSource
	Log  *slog.Logger
	Wake func()
}

// View is one server with what the viewer may do to it.
type View struct {
	Request   *workflows.ServerRequest
	Team      *workflows.Team // nil when its team left the config
	Actions   []Button
	Snapshots []*Snapshot
	Recent    []*Op // the last few actions, newest first
	Now       time.Time
	Viewer    workflows.Person
}

// Button is an action the viewer may press, directly or through an
// approver.
type Button struct {
	Action       workflows.ServerAction
	NeedApprover bool
	Value        string
}

// Show returns one server for a person who may act on it: its owner, the
// team's members and approvers, opsbot's admins.
func (s *Service) Show(ctx context.Context, actor workflows.Person, id string) (*View, error) {
	now := s.Clock.Now()
	v := &View{Now: now, Viewer: actor}
	err := s.view(ctx, func(tx Tx) error {
		r, team, err := s.load(tx, id)
		if err != nil {
			return err
		}
		v.Request, v.Team = r, team
		mayView := r.OwnedBy(actor) || s.Catalog.IsAdmin(actor) || (team != nil && team.HasMember(actor))
		if !mayView {
			v := Authorize(s.Catalog, team, r, actor, workflows.ActionDiagnose)
			e := workflows.Errorf(workflows.EForbidden, "%s", v.Refused)
			e.People = v.Ask
			return e
		}
		for _, a := range workflows.ServerActions {
			verdict := Authorize(s.Catalog, team, r, actor, a)
			if (verdict.Allowed || verdict.NeedApprover) && s.applicable(r, a, now) == "" {
				v.Actions = append(v.Actions, Button{Action: a, NeedApprover: verdict.NeedApprover, Value: ButtonValue(r.ID, a, now)})
			}
		}
		if v.Snapshots, err = tx.Snapshots(r.ID); err != nil {
			return err
		}
		ops, err := tx.Ops(r.ID)
		if err != nil {
			return err
		}
		for i := len(ops) - 1; i >= 0 && len(v.Recent) < 5; i-- {
			v.Recent = append(v.Recent, ops[i])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

func (s *Service) load(tx Tx, id string) (*workflows.ServerRequest, *workflows.Team, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	r, err := tx.Request(id)
	if errors.Is(err, workflows.ErrNotFound) {
		return nil, nil, workflows.Errorf(workflows.EInvalid, "There is no server %q. `/ops servers` lists yours.", id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", id, err)
	}
	team, _ := s.Catalog.Team(r.Team)
	return r, team, nil
}

// applicable says why a cannot be done to r as it is now ("" when it can).
func (s *Service) applicable(r *workflows.ServerRequest, a workflows.ServerAction, now time.Time) string {
	if r.Instance.ID == "" {
		return fmt.Sprintf("%s has no instance (it is %s).", r.ID, r.State.Words())
	}
	if !r.EndingAt.IsZero() {
		return fmt.Sprintf("%s is being ended.", r.ID)
	}
	switch a {
	case workflows.ActionStart:
		if s.Starter == nil {
			return "Starting servers is not available in this opsbot yet."
		}
		if r.State != workflows.StateStopped {
			return fmt.Sprintf("%s is %s; only a stopped server can be started.", r.ID, r.State.Words())
		}
		if !now.Before(r.LeaseEnd) {
			var team *workflows.Team
			if s.Catalog != nil {
				team, _ = s.Catalog.Team(r.Team)
			}
			return fmt.Sprintf("%s's lease ended at %s; Start works within the lease. Use Start again (a new lease) in the message about its stop.", r.ID, localTime(team, r.LeaseEnd))
		}
	case workflows.ActionStop, workflows.ActionReboot:
		if r.State != workflows.StateRunning {
			return fmt.Sprintf("%s is %s; only a running server can be %s.", r.ID, r.State.Words(), past(a))
		}
	default:
		if r.State != workflows.StateRunning && r.State != workflows.StateStopped {
			return fmt.Sprintf("%s is %s; there is nothing to %s.", r.ID, r.State.Words(), verb(a))
		}
	}
	return ""
}

func past(a workflows.ServerAction) string {
	switch a {
	case workflows.ActionStop:
		return "stopped"
	case workflows.ActionStart:
		return "started"
	case workflows.ActionReboot:
		return "rebooted"
	case workflows.ActionSnapshot:
		return "snapshotted"
	}
	return "diagnosed"
}

// ParseButton reads a ButtonValue.
func ParseButton(v string) (server string, a workflows.ServerAction, drawn time.Time, err error) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return "", "", time.Time{}, workflows.Errorf(workflows.EInvalid, "This button is not one opsbot drew (%q).", v)
	}
	sec, err := strconv.ParseInt(f[2], 10, 64)
	a = workflows.ServerAction(f[1])
	if err != nil || !knownAction(a) {
		return "", "", time.Time{}, workflows.Errorf(workflows.EInvalid, "This button is not one opsbot drew (%q).", v)
	}
	return f[0], a, time.Unix(sec, 0), nil
}

func knownAction(a workflows.ServerAction) bool {
	for _, k := range workflows.ServerActions {
		if k == a {
			return true
		}
	}
	return false
}

// ButtonMaxAge is how long a drawn button stays good: older ones are
// refused (the server may have changed hands), and `/ops server` draws
// fresh ones.
const ButtonMaxAge = 24 * time.Hour

// Result says what became of an action asked for.
type Result struct {
	Op      *Op
	Request *workflows.ServerRequest
	Team    *workflows.Team
}

// Run asks for action a on a server from a button drawn at drawn: run at
// once (queued) when policy allows, sent to the team's approvers when it
// needs one, refused with the reason otherwise. Refusals are audited too.
func (s *Service) Run(ctx context.Context, actor workflows.Person, button string) (*Result, error) {
	id, a, drawn, err := ParseButton(button)
	if err != nil {
		return nil, err
	}
	var refused error
	res := &Result{}
	err = s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		r, team, err := s.load(tx, id)
		if err != nil {
			return err
		}
		res.Request, res.Team = r, team
		refuse := func(code, reason string, ask []string) error {
			e := workflows.Errorf(code, "%s", reason)
			e.People = ask
			refused = e
			return tx.Audit(workflows.AuditEntry{At: now, Actor: actor.String(), Action: "action.refuse", Subject: r.ID, Reason: reason, Detail: string(a)})
		}
		v := Authorize(s.Catalog, team, r, actor, a)
		if gone, err := workflows.Departed(tx, actor); err != nil || gone {
			if err != nil {
				return err
			}
			v = Verdict{Refused: workflows.DepartedAnswer(actor).Message}
		}
		if v.Refused != "" {
			return refuse(workflows.EForbidden, v.Refused, v.Ask)
		}
		if why := s.applicable(r, a, now); why != "" {
			return refuse(workflows.EConflict, why, nil)
		}
		if drawn.After(now.Add(time.Minute)) || now.Sub(drawn) > ButtonMaxAge {
			return refuse(workflows.EConflict, fmt.Sprintf("This button is older than %s; nothing was done. `/ops server %s` shows fresh buttons.", workflows.FormatDuration(ButtonMaxAge), r.ID), nil)
		}
		ops, err := tx.Ops(r.ID)
		if err != nil {
			return err
		}
		press := button + " " + actor.String()
		for _, o := range ops {
			if o.Button == press {
				return refuse(workflows.EConflict, fmt.Sprintf("This %s button was pressed already (%s); nothing more was done. `/ops server %s` shows fresh buttons.", a, o.ID, r.ID), nil)
			}
		}
		for _, o := range ops {
			if o.Action == a && (o.State == OpQueued || o.State == OpPending) {
				return refuse(workflows.EConflict, fmt.Sprintf("A %s of %s is already under way (%s, %s); nothing more was done.", a, r.ID, o.ID, o.State.words()), nil)
			}
		}
		opID, err := tx.NextID("op")
		if err != nil {
			return err
		}
		// One press of one person's button acts once: the same button
		// drawn for two people at the same second is two buttons.
		o := &Op{ID: opID, Server: r.ID, Action: a, Actor: actor, State: OpQueued, Button: press, CreatedAt: now, UpdatedAt: now}
		if v.NeedApprover {
			o.State = OpPending
		}
		if err := tx.CreateOp(o); errors.Is(err, workflows.ErrDuplicate) {
			return refuse(workflows.EConflict, fmt.Sprintf("This %s button was pressed already; nothing more was done. `/ops server %s` shows fresh buttons.", a, r.ID), nil)
		} else if err != nil {
			return err
		}
		res.Op = o
		if err := tx.Audit(workflows.AuditEntry{At: now, Actor: actor.String(), Action: "action." + string(a), Subject: r.ID,
			Detail: fmt.Sprintf("%s %s as %s", o.ID, o.State, v.As)}); err != nil {
			return err
		}
		if o.State == OpPending {
			return workflows.EnqueueMessage(tx, approvalMessage(team, r, o, now), now)
		}
		return s.queue(tx, r, team, o, now)
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	return res, nil
}

// queue queues the job that runs o and tells the person who asked.
func (s *Service) queue(tx Tx, r *workflows.ServerRequest, team *workflows.Team, o *Op, now time.Time) error {
	if err := tx.Enqueue(workflows.Job{Kind: JobOp, Key: JobOp + ":" + o.ID, Payload: o.ID, RunAt: now}); err != nil {
		return err
	}
	return workflows.EnqueueMessage(tx, opMessage(team, r, o), now)
}

// Decide approves or denies an action waiting for an approver. Only the
// team's approvers decide, never on what they asked for or on their own
// server; a second decision (a double click) changes nothing.
func (s *Service) Decide(ctx context.Context, actor workflows.Person, opID string, approve bool) (*Result, error) {
	res := &Result{}
	var refused error
	err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		o, err := tx.Op(strings.TrimSpace(opID))
		if errors.Is(err, workflows.ErrNotFound) {
			return workflows.Errorf(workflows.EInvalid, "There is no action %q.", opID)
		}
		if err != nil {
			return err
		}
		r, team, err := s.load(tx, o.Server)
		if err != nil {
			return err
		}
		res.Op, res.Request, res.Team = o, r, team
		refuse := func(reason string, ask []string) error {
			e := workflows.Errorf(workflows.EForbidden, "%s", reason)
			e.People = ask
			refused = e
			return tx.Audit(workflows.AuditEntry{At: now, Actor: actor.String(), Action: "action.decide.refuse", Subject: r.ID, Reason: reason, Detail: o.ID})
		}
		gone, err := workflows.Departed(tx, actor)
		if err != nil {
			return err
		}
		switch {
		case gone:
			return refuse(workflows.DepartedAnswer(actor).Message, nil)
		case o.State != OpPending:
			who := ""
			if o.Approver != (workflows.Person{}) {
				who = " by " + workflows.Mention(o.Approver.Ref())
			}
			refused = workflows.Errorf(workflows.EConflict, "%s was %s already%s; nothing was changed.", o.ID, o.State.words(), who)
			return nil
		case team == nil || !team.IsApprover(actor):
			name := r.Team
			var ask []string
			if team != nil {
				ask = team.Approvers
			}
			return refuse(fmt.Sprintf("Only team %s's approvers decide its actions.", name), ask)
		case workflows.SamePerson(o.Actor, actor):
			return refuse(fmt.Sprintf("You asked for %s yourself; another of team %s's approvers must decide.", o.ID, team.Name), nil)
		case r.OwnedBy(actor):
			return refuse(fmt.Sprintf("%s is your server; another of team %s's approvers must decide %s.", r.ID, team.Name, o.ID), nil)
		}
		o.Approver, o.UpdatedAt = actor, now
		action := "action.approve"
		if approve {
			if why := s.applicable(r, o.Action, now); why != "" {
				o.State, o.Result = OpFailed, "It could no longer be done: "+why
				action = "action.void"
			} else {
				o.State = OpQueued
			}
		} else {
			o.State, o.Result, action = OpDenied, "Denied.", "action.deny"
		}
		if err := tx.SaveOp(o); err != nil {
			return err
		}
		if err := tx.Audit(workflows.AuditEntry{At: now, Actor: actor.String(), Action: action, Subject: r.ID, Detail: o.ID + " " + string(o.Action), Reason: o.Result}); err != nil {
			return err
		}
		if err := workflows.EnqueueMessage(tx, approvalMessage(team, r, o, now), now); err != nil {
			return err
		}
		if o.State == OpQueued {
			return s.queue(tx, r, team, o, now)
		}
		return workflows.EnqueueMessage(tx, opMessage(team, r, o), now)
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	return res, nil
}

func (st OpState) words() string {
	switch st {
	case OpPending:
		return "waiting for an approver"
	case OpDryRun:
		return "checked in dry-run mode"
	}
	return string(st)
}

// Keep marks a snapshot to be kept when its server is released. The
// server's owner, the team's approvers and admins may keep one.
func (s *Service) Keep(ctx context.Context, actor workflows.Person, snapID string) (*Snapshot, error) {
	var out *Snapshot
	err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		snapID = strings.TrimSpace(snapID)
		sn, err := tx.SnapshotByID(snapID)
		if errors.Is(err, workflows.ErrNotFound) {
			return workflows.Errorf(workflows.EInvalid, "There is no snapshot %q made by opsbot.", snapID)
		}
		if err != nil {
			return err
		}
		out = sn
		r, team, err := s.load(tx, sn.Server)
		if err != nil {
			return err
		}
		if !r.OwnedBy(actor) && !s.Catalog.IsAdmin(actor) && (team == nil || !team.IsApprover(actor)) {
			return workflows.Errorf(workflows.EForbidden, "Only %s's owner, team %s's approvers and opsbot's admins can keep its snapshots.", r.ID, r.Team)
		}
		if out.Deleted {
			return workflows.Errorf(workflows.EConflict, "%s was deleted already.", out.ID)
		}
		if out.Kept {
			return nil
		}
		out.Kept, out.UpdatedAt = true, now
		if err := tx.SaveSnapshot(out); err != nil {
			return err
		}
		return tx.Audit(workflows.AuditEntry{At: now, Actor: actor.String(), Action: "snapshot.keep", Subject: r.ID, Detail: out.ID})
	})
	return out, err
}
