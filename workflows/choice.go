package workflows

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Why says why opsbot offers a server's owner the Stop / Release / Keep
// choice. It decides what Keep means: an idle server kept is not flagged
// again for the rest of its lease; a server kept tonight is not stopped
// at tonight's off-hours stop (and only then); kept at offboarding or in
// a cost review, it is recorded as a decision and left running.
type Why string

// The contexts of the choice.
const (
	WhyIdle        Why = "idle"
	WhyOffHours    Why = "offhours"
	WhyOffboarding Why = "offboarding"
	WhyCostReview  Why = "review"
	// WhyManual is a stop a person made outside the choice: the server
	// actions' Stop button, or Stop now on an off-hours warning (a stop
	// the schedule did not make, so its morning start leaves it alone).
	WhyManual Why = "manual"
)

var whys = map[Why]string{
	WhyIdle:        "idle",
	WhyOffHours:    "off-hours schedule",
	WhyOffboarding: "offboarding",
	WhyCostReview:  "cost review",
	WhyManual:      "stopped by hand",
}

// Words says why in a message.
func (w Why) Words() string { return whys[w] }

// Button IDs of the choice (value: a ServerChoice).
const (
	ActServerStop    = "server.stop"
	ActServerRelease = "server.release"
	ActServerKeep    = "server.keep"
)

// ServerChoice is what a Stop, Release or Keep button carries: the
// server, why it was offered, and the instant it was drawn for (the
// off-hours stop it belongs to; for the other contexts the time it was
// drawn), so a Keep from an old message does not keep a later night.
type ServerChoice struct {
	ID       string
	Why      Why
	DrawnFor time.Time
}

// Value is the button value: "srv-42 offhours 1764702000".
func (c ServerChoice) Value() string {
	return c.ID + " " + string(c.Why) + " " + strconv.FormatInt(c.DrawnFor.Unix(), 10)
}

// ParseServerChoice reads a button value made by Value.
func ParseServerChoice(v string) (ServerChoice, error) {
	parts := strings.Fields(v)
	if len(parts) != 3 || !isID(parts[0], "srv") {
		return ServerChoice{}, Errorf(EInvalid, "This button's value %q is not one opsbot made; use the buttons on opsbot's newest message about the server.", truncateRunes(v, 40))
	}
	why := Why(parts[1])
	if _, ok := whys[why]; !ok || why == WhyManual {
		return ServerChoice{}, Errorf(EInvalid, "This button's value %q is not one opsbot made; use the buttons on opsbot's newest message about the server.", truncateRunes(v, 40))
	}
	sec, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || sec <= 0 {
		return ServerChoice{}, Errorf(EInvalid, "This button's value %q is not one opsbot made; use the buttons on opsbot's newest message about the server.", truncateRunes(v, 40))
	}
	return ServerChoice{ID: parts[0], Why: why, DrawnFor: time.Unix(sec, 0).UTC()}, nil
}

// ChoiceActions is the Stop / Release / Keep button set for one server,
// for any message that offers the choice (an idle flag, the off-hours
// warning, offboarding, the cost review).
func ChoiceActions(r *ServerRequest, c ServerChoice) []Action {
	v := c.Value()
	keep := "Keep"
	switch c.Why {
	case WhyIdle:
		keep = "Keep (no more idle flags this lease)"
	case WhyOffHours:
		keep = "Keep running tonight"
	}
	release := ReleaseAction(r)
	release.ID, release.Value = ActServerRelease, v
	return []Action{
		{ID: ActServerStop, Label: "Stop now", Value: v, Confirm: &Confirm{
			Title: "Stop " + r.ID + "?",
			Text:  "It is stopped now; its disk and its lease are kept, so it can be started again until the lease ends. A stopped server costs only its disk.",
			Yes:   "Stop " + r.ID,
			No:    "Cancel",
		}},
		release,
		{ID: ActServerKeep, Label: keep, Value: v, Style: StylePrimary},
	}
}

// ChoiceResult says what a Stop, Release or Keep click did, for the reply.
type ChoiceResult struct {
	Request *ServerRequest
	Text    string
}

// Choose carries out a Stop, Release or Keep click on a server. The
// server's owner, its team's approvers and opsbot's admins may choose;
// anyone else is refused with who may. Stop and Keep act once: a double
// click or a replayed click is answered with what was done already, and
// changes nothing.
func (s *Servers) Choose(ctx context.Context, actor Person, action string, c ServerChoice) (*ChoiceResult, error) {
	switch action {
	case ActServerRelease:
		r, err := s.release(ctx, actor, c.ID, s.choosableRequest)
		if err != nil {
			return nil, err
		}
		return &ChoiceResult{Request: r, Text: fmt.Sprintf("%s is being released: its instance is terminated and the unused budget goes back to team %s.", r.ID, r.Team)}, nil
	case ActServerStop, ActServerKeep:
	default:
		return nil, Errorf(EInvalid, "Unknown choice %q.", action)
	}
	res := &ChoiceResult{}
	err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		r, err := s.choosableRequest(tx, actor, c.ID)
		if err != nil {
			return err
		}
		team, _, err := s.teamAndTemplate(r)
		if err != nil {
			return err
		}
		res.Request = r
		if action == ActServerStop {
			res.Text, err = s.stopByChoice(tx, team, r, actor, c, now)
		} else {
			res.Text, err = s.keepByChoice(tx, team, r, actor, c, now)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// choosableRequest loads a request the actor may stop, release or keep:
// their own, one of a team they approve for, or any for an admin; never
// for someone offboarded.
func (s *Servers) choosableRequest(tx Tx, actor Person, id string) (*ServerRequest, error) {
	// Offboarded: no choices from them, even while the config names them.
	if err := refuseDeparted(tx, actor); err != nil {
		return nil, err
	}
	r, err := s.ownedRequest(tx, actor, id)
	var e *Error
	if errors.As(err, &e) && e.Code == EForbidden && s.Catalog.IsAdmin(actor) {
		return tx.Request(strings.ToLower(strings.TrimSpace(id)))
	}
	if errors.As(err, &e) && e.Code == EForbidden {
		return nil, Errorf(EForbidden, "%s is not yours: only its owner, team %s's approvers or opsbot's admins can stop, release or keep it. Nothing was changed.", strings.ToLower(strings.TrimSpace(id)), requestTeam(tx, id))
	}
	return r, err
}

func requestTeam(tx Tx, id string) string {
	r, err := tx.Request(strings.ToLower(strings.TrimSpace(id)))
	if err != nil {
		return "its"
	}
	return r.Team
}

func (s *Servers) stopByChoice(tx Tx, team *Team, r *ServerRequest, actor Person, c ServerChoice, now time.Time) (string, error) {
	switch {
	case r.State == StateStopped && now.Before(r.LeaseEnd):
		return "", Errorf(EConflict, "%s is stopped already; its lease runs until %s. Nothing was changed.", r.ID, team.LocalTime(r.LeaseEnd))
	case r.State != StateRunning:
		return "", Errorf(EConflict, "%s is %s; only a running server can be stopped. Nothing was changed.", r.ID, r.State.Words())
	case !r.EndingAt.IsZero():
		return "", Errorf(EConflict, "%s's lease has ended and it is being stopped already. Nothing was changed.", r.ID)
	}
	// One stop per run of the instance: its launch time moves at each
	// start, so a double click finds this key taken.
	fresh, err := tx.MarkSent(fmt.Sprintf("stop:%s:%d", r.ID, r.Instance.LaunchTime.Unix()), now)
	if err != nil {
		return "", err
	}
	if !fresh {
		return "", Errorf(EConflict, "%s is being stopped already (Stop was pressed before). Nothing more was changed.", r.ID)
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: "server.stop", Subject: r.ID, Reason: c.Why.Words()}); err != nil {
		return "", err
	}
	why := c.Why
	if why == WhyOffHours {
		// A person's stop, not the schedule's: the morning start of the
		// off-hours schedule does not start it again.
		why = WhyManual
	}
	if err := enqueuePark(tx, r.ID, parkStop, why, r.Instance.LaunchTime, now); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s is being stopped. Its disk and lease are kept: Start again in opsbot's message about it (or on the Home tab) starts it until its lease ends at %s.",
		r.ID, team.LocalTime(r.LeaseEnd)), nil
}

func (s *Servers) keepByChoice(tx Tx, team *Team, r *ServerRequest, actor Person, c ServerChoice, now time.Time) (string, error) {
	if r.State.Final() {
		return "", Errorf(EConflict, "%s is %s; there is nothing to keep. Nothing was changed.", r.ID, r.State.Words())
	}
	var key, done, again string
	switch c.Why {
	case WhyIdle:
		key = "idle-keep:" + r.ID
		done = fmt.Sprintf("%s is kept: opsbot will not flag it as idle again during this lease (until %s).", r.ID, team.LocalTime(r.LeaseEnd))
		again = fmt.Sprintf("%s is kept already: it is not flagged as idle again during this lease.", r.ID)
	case WhyOffHours:
		if !now.Before(c.DrawnFor) {
			return "", Errorf(EConflict, "The off-hours stop this button was for (%s) has passed. Nothing was changed. If %s was stopped, Start again in opsbot's message about it starts it.", team.LocalTime(c.DrawnFor), r.ID)
		}
		key = fmt.Sprintf("offhours-keep:%s:%d", r.ID, c.DrawnFor.Unix())
		done = fmt.Sprintf("%s keeps running tonight: opsbot will not stop it at %s. The off-hours schedule applies again from the next working day.", r.ID, team.LocalTime(c.DrawnFor))
		again = fmt.Sprintf("%s is kept running tonight already.", r.ID)
	default:
		key = fmt.Sprintf("keep:%s:%s:%d", c.Why, r.ID, c.DrawnFor.Unix())
		done = fmt.Sprintf("%s is kept; your choice is recorded for the %s.", r.ID, c.Why.Words())
		again = fmt.Sprintf("%s is kept already for this %s.", r.ID, c.Why.Words())
	}
	fresh, err := tx.MarkSent(key, now)
	if err != nil {
		return "", err
	}
	if !fresh {
		return again + " Nothing more was changed.", nil
	}
	if c.Why == WhyIdle {
		v, ok, err := tx.IdleServer(r.ID)
		if err != nil {
			return "", err
		}
		if !ok {
			v = IdleServer{RequestID: r.ID, Team: r.Team, CheckedAt: now}
		}
		v.KeptAt, v.KeptBy = now, actor.String()
		if err := tx.PutIdle(v); err != nil {
			return "", err
		}
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: "server.keep", Subject: r.ID, Reason: c.Why.Words(),
		Detail: "for " + c.DrawnFor.UTC().Format(time.RFC3339)}); err != nil {
		return "", err
	}
	return done, nil
}

// IdleKept reports whether someone chose to keep r although idle: it is
// then not flagged again during its lease.
func IdleKept(tx Tx, id string) (bool, error) { return tx.Sent("idle-keep:" + id) }

// KeptTonight reports whether someone chose to keep r running through the
// off-hours stop at stopAt.
func KeptTonight(tx Tx, id string, stopAt time.Time) (bool, error) {
	return tx.Sent(fmt.Sprintf("offhours-keep:%s:%d", id, stopAt.Unix()))
}
