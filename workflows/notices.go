package workflows

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// enqueueMessage queues m for delivery in the same transaction as the
// change it reports.
func enqueueMessage(tx Tx, m Message, now time.Time) error {
	if m.Key == "" && m.ID == "" {
		m.ID = newMessageID()
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode message %s: %w", m.Key, err)
	}
	key := ""
	if m.Key != "" {
		key = JobMessage + ":" + m.Key
	}
	if err := tx.Enqueue(Job{Kind: JobMessage, Key: key, Payload: string(b), RunAt: now}); err != nil {
		return err
	}
	// What a person is told about usually changes their Home tab too.
	return RefreshHome(tx, now, m.User)
}

// newMessageID names an unkeyed message for delivery. It is random, not
// a counter, so it stays unique across databases that post into the same
// Slack workspace (a restored backup, the sandbox after a reset).
func newMessageID() string {
	return "m-" + rand.Text()
}

// person is the reference renderers mention: the Slack ID when known.
func person(p Person) string { return p.Ref() }

// Ref is the reference renderers mention: the Slack ID when known, else
// the email.
func (p Person) Ref() string {
	if p.SlackID != "" {
		return p.SlackID
	}
	return p.Email
}

// refs lists people's references, for a field of mentions.
func refs(ps []Person) []string {
	var out []string
	for _, p := range ps {
		if r := p.Ref(); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// mentions marks people for mentioning in text: "<@U1>, <@U2>" in Slack.
func mentions(ps []Person) string {
	var out []string
	for _, r := range refs(ps) {
		out = append(out, Mention(r))
	}
	return strings.Join(out, ", ")
}

func approvalMessage(team *Team, r *ServerRequest, a *Approval, votes []Decision, budget BudgetSummary, now time.Time) Message {
	m := Message{Key: "approval:" + a.ID, Channel: team.ApprovalsChannel}
	what := "a new " + r.Template + " server"
	if a.Kind == ApproveExtension {
		what = "extending " + r.ID + " by " + FormatDuration(a.Extend)
	}
	switch a.State {
	case ApprovalPending:
		m.Title = fmt.Sprintf("%s: approval needed for %s", r.ID, what)
	case ApprovalApproved:
		m.Title = fmt.Sprintf("%s: approved (%s)", r.ID, what)
	case ApprovalDenied:
		m.Title = fmt.Sprintf("%s: denied (%s)", r.ID, what)
	case ApprovalExpired:
		m.Title = fmt.Sprintf("%s: expired undecided (%s)", r.ID, what)
		if a.Note != "" {
			m.Title = fmt.Sprintf("%s: closed (%s)", r.ID, what)
		}
	}
	m.Fields = []Field{{Label: "Requested by", Person: person(r.Owner)}}
	if a.Initiator != (Person{}) && !samePerson(a.Initiator, r.Owner) {
		m.Fields = []Field{{Label: "Requested by", Person: person(a.Initiator)}, {Label: "Server owner", Person: person(r.Owner)}}
	}
	if r.TeamOwned() {
		m.Fields = []Field{{Label: "Requested by", Person: person(a.Initiator)}, {Label: "Server owner", Value: "team " + r.Team + " (handed over from " + Mention(r.HandedFrom.Ref()) + ")"}}
	}
	m.Fields = append(m.Fields, Field{Label: "Template", Value: r.Template})
	if r.Spec != nil {
		// What approving launches: the snapshot, not the template as it
		// may read later.
		m.Fields = append(m.Fields, Field{Label: "Launches", Value: fmt.Sprintf("%s in %s", r.Spec.InstanceType, r.Spec.Region)})
	}
	if a.Kind == ApproveExtension {
		m.Fields = append(m.Fields, Field{Label: "Extend by", Value: FormatDuration(a.Extend)},
			Field{Label: "Lease ends now", Value: team.LocalTime(r.LeaseEnd)})
	} else {
		m.Fields = append(m.Fields, Field{Label: "Duration", Value: FormatDuration(r.Duration)})
	}
	m.Fields = append(m.Fields, Field{Label: "Estimate", Value: fmt.Sprintf("%s (%s/h)", a.Cost, r.HourlyRate.Rate())})
	if a.State == ApprovalPending {
		// budget holds this approval's reservation already: what is left
		// after approving it is what is left now.
		left := fmt.Sprintf("%s of %s (%s)", budget.Remaining(), budget.Budget, budget.Month)
		if others := budget.Reserved - a.Cost; others > 0 && budget.Open > 1 {
			left += fmt.Sprintf(", with %s reserved by %s", others, plural(budget.Open-1, "other open request"))
		}
		m.Fields = append(m.Fields, Field{Label: "Budget left after", Value: left})
	} else {
		m.Fields = append(m.Fields, Field{Label: "Budget left", Value: fmt.Sprintf("%s of %s (%s)", budget.Remaining(), budget.Budget, budget.Month)})
	}
	if a.Overrun > 0 {
		m.Fields = append(m.Fields, Field{Label: "Over budget by", Value: a.Overrun.CentsUp().String()})
	}
	reason := "(none given)"
	if a.Reason != "" {
		reason = UserText(a.Reason)
	}
	m.Fields = append(m.Fields, Field{Label: "Reason", Value: reason})
	if a.Required > 1 {
		m.Fields = append(m.Fields, Field{Label: "Approvals", Value: fmt.Sprintf("%d of %d", approvalsIn(votes), a.Required)})
	}
	switch a.State {
	case ApprovalPending:
		m.Actions = []Action{
			{ID: ActApprove, Label: "Approve", Value: a.ID, Style: StylePrimary},
			{ID: ActDeny, Label: "Deny", Value: a.ID, Style: StyleDanger},
		}
		m.Note = fmt.Sprintf("%s · expires %s", a.ID, team.LocalTime(a.ExpiresAt))
		if a.Note != "" {
			m.Note = "Needs an approver because " + a.Note + " · " + m.Note
		}
	case ApprovalApproved:
		m.Fields = append(m.Fields, Field{Label: "Approved by", People: refs(a.DecidedBy)})
		m.Note = "Approved " + team.LocalTime(a.DecidedAt)
	case ApprovalDenied:
		m.Fields = append(m.Fields, Field{Label: "Denied by", People: refs(a.DecidedBy)})
		m.Note = "Denied " + team.LocalTime(a.DecidedAt)
		if a.Note != "" {
			m.Note += ": " + UserText(a.Note)
		}
	case ApprovalExpired:
		m.Note = fmt.Sprintf("Expired at %s; nobody decided.", team.LocalTime(a.DecidedAt))
		if a.Note != "" {
			m.Note = fmt.Sprintf("Closed at %s: %s.", team.LocalTime(a.DecidedAt), a.Note)
		}
	}
	return m
}

func decisionDM(team *Team, r *ServerRequest, a *Approval, budget BudgetSummary) Message {
	m := Message{User: person(r.Owner)}
	subject := "Your request " + r.ID + " (" + r.Template + ")"
	if a.Kind == ApproveExtension {
		subject = "Extending " + r.ID + " by " + FormatDuration(a.Extend)
	}
	switch a.State {
	case ApprovalApproved:
		m.Title = subject + " was approved"
		if a.Kind == ApproveLaunch {
			m.Text = "It is launching now; you will hear when it is running."
		} else {
			m.Text = "The lease now ends " + team.LocalTime(r.LeaseEnd) + "."
		}
		m.Note = "Approved by " + mentions(a.DecidedBy)
	case ApprovalDenied:
		m.Title = subject + " was denied"
		m.Text = "Reason: " + UserText(a.Note)
		if a.Note == "" {
			m.Text = "No reason was given."
		}
		m.Note = "Denied by " + mentions(a.DecidedBy)
	case ApprovalExpired:
		m.Title = subject + " expired"
		m.Text = "None of team " + team.Name + "'s approvers decided in time. You can ask again."
		if a.Note != "" {
			m.Title = subject + " was closed"
			m.Text = "It could no longer take effect: " + a.Note + "."
		}
	}
	m.Fields = []Field{{Label: "Estimate", Value: a.Cost.String()}, {Label: "Team budget left", Value: budget.Remaining().String()}}
	return toOwner(team, r, m)
}

// leaseMessage is the owner's DM about a server, kept current in place.
func leaseMessage(team *Team, r *ServerRequest, budget BudgetSummary, headline string, now time.Time) Message {
	m := Message{Key: "lease:" + r.ID, User: person(r.Owner)}
	m.Title = fmt.Sprintf("%s (%s) is %s", r.ID, r.Template, r.State.Words())
	m.Text = headline
	m.Fields = serverFields(team, r, now)
	m.Fields = append(m.Fields, Field{Label: "Team budget left", Value: fmt.Sprintf("%s of %s", budget.Remaining(), budget.Budget)})
	if r.State == StateRunning && r.EndingAt.IsZero() {
		m.Actions = leaseActions(r)
	}
	if r.State == StateStopped && r.EndingAt.IsZero() && now.Before(r.LeaseEnd) {
		// Stopped within its lease: Start again starts it in place;
		// Actions has the rest (snapshot, diagnose).
		m.Actions = []Action{StoppedActions(r)[0], ServerShowAction(r), ReleaseAction(r)}
	}
	return toOwner(team, r, m)
}

func leaseActions(r *ServerRequest) []Action {
	return []Action{
		{ID: ActLeaseExtend, Label: "Extend 1 day", Value: ExtendValue(r, "1d"), Style: StylePrimary},
		ServerShowAction(r),
		ReleaseAction(r),
	}
}

// ServerShowAction is the "Actions" button: the server with the actions
// the person who presses it may run (stop, reboot, snapshot, ...).
func ServerShowAction(r *ServerRequest) Action {
	return Action{ID: ActServerShow, Label: "Actions", Value: r.ID}
}

// ReleaseAction is the "Release now" button. Release terminates at once
// and cannot be undone, so it asks first.
func ReleaseAction(r *ServerRequest) Action {
	what := "Its instance"
	if r.Instance.ID != "" {
		what = "Its instance " + r.Instance.ID
	}
	return Action{ID: ActLeaseRelease, Label: "Release now", Value: r.ID, Style: StyleDanger, Confirm: &Confirm{
		Title: "Release " + r.ID + "?",
		Text:  what + " will be terminated now and its disk deleted; this cannot be undone. The unused budget goes back to team " + r.Team + ".",
		Yes:   "Release " + r.ID,
		No:    "Keep it",
	}}
}

func serverFields(team *Team, r *ServerRequest, now time.Time) []Field {
	f := []Field{}
	if r.Instance.ID != "" {
		f = append(f, Field{Label: "Instance", Value: r.Instance.ID + " (" + r.Instance.Region + ")"})
	}
	if r.Instance.PrivateIP != "" {
		f = append(f, Field{Label: "Private address", Value: r.Instance.PrivateIP + " / " + r.Instance.PrivateDNS})
	}
	if !r.LeaseEnd.IsZero() {
		f = append(f, Field{Label: "Lease ends", Value: team.LocalTime(r.LeaseEnd)})
	}
	f = append(f, Field{Label: "Cost so far", Value: fmt.Sprintf("%s of %s estimated", r.CostSoFar(now), r.Estimate)})
	return f
}

func warningMessage(team *Team, r *ServerRequest, lc LifecyclePolicy, budget BudgetSummary, now time.Time) Message {
	left := r.LeaseEnd.Sub(now)
	action := "stopped"
	if lc.EndAction == EndTerminate {
		action = "terminated"
	}
	text := fmt.Sprintf("At %s (plus %s grace) it will be %s. Extend it if you still need it, or release it now to give the budget back.",
		team.LocalTime(r.LeaseEnd), FormatDuration(lc.Grace), action)
	if st, ok := r.OpenStop(); ok && r.State == StateStopped {
		// Stopped within its lease: the end comes all the same.
		then := "it stays stopped, and starting it again takes a new lease"
		if lc.EndAction == EndTerminate {
			then = "it will be terminated and its disk deleted"
		}
		text = fmt.Sprintf("It is stopped (since %s, %s), but its lease still ends: at %s (plus %s grace) %s. Extend it if you still need it, or release it now to give the budget back.",
			team.LocalTime(st.At), st.Why.Words(), team.LocalTime(r.LeaseEnd), FormatDuration(lc.Grace), then)
	}
	title := fmt.Sprintf("%s's lease ends in %s", r.ID, FormatDuration(left))
	if left <= 0 {
		// In the grace after the end: the warning before it was missed
		// (opsbot was not running), and the end action is what comes.
		endAt := r.LeaseEnd.Add(lc.Grace)
		title = fmt.Sprintf("%s's lease ended: it will be %s in %s", r.ID, action, FormatDuration(endAt.Sub(now)))
		text = fmt.Sprintf("Its lease ended at %s; at %s, when its %s grace runs out, it will be %s. Extend it if you still need it, or release it now to give the budget back.",
			team.LocalTime(r.LeaseEnd), team.LocalTime(endAt), FormatDuration(lc.Grace), action)
		if _, ok := r.OpenStop(); ok && r.State == StateStopped {
			title = fmt.Sprintf("%s's lease ended: its end comes in %s", r.ID, FormatDuration(endAt.Sub(now)))
			then := "it stays stopped, and starting it again takes a new lease"
			if lc.EndAction == EndTerminate {
				then = "it will be terminated and its disk deleted"
			}
			text = fmt.Sprintf("It is stopped, and its lease ended at %s; at %s, when its %s grace runs out, %s. Extend it if you still need it, or release it now to give the budget back.",
				team.LocalTime(r.LeaseEnd), team.LocalTime(endAt), FormatDuration(lc.Grace), then)
		}
	}
	return toOwner(team, r, Message{
		Title: title,
		Text:  text,
		Fields: append(serverFields(team, r, now),
			Field{Label: "Extending 1 day costs", Value: r.HourlyRate.For(24).String()},
			Field{Label: "Team budget left", Value: fmt.Sprintf("%s of %s", budget.Remaining(), budget.Budget)}),
		Actions: leaseActions(r),
	})
}

// DecodeMessage reads a queued message.
func DecodeMessage(payload string) (Message, error) {
	var m Message
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return m, fmt.Errorf("decode queued message: %w", err)
	}
	return m, nil
}

// Send queues a message for delivery on its own, outside any workflow
// transaction: a private answer that could not be given inline.
func Send(ctx context.Context, store Store, m Message, now time.Time) error {
	return store.Update(ctx, func(tx Tx) error { return enqueueMessage(tx, m, now) })
}

// JobLane is the lane of a job: messages to one channel or person share
// one (MessageLane); other jobs have none. The job runner runs a lane's
// jobs one after another, and the store keeps a lane's later jobs waiting
// while an earlier one is deferred for a rate limit's slot.
func JobLane(j Job) string { return MessageLane(j) }

// MessageLane puts messages to one channel or person in one lane, so they
// are delivered in the order they were queued; and the stops and starts
// of one server within its lease (each under its own key, see
// enqueuePark) in one lane, so a second stop runs after the first and
// finds the server stopped instead of racing it to EC2.
func MessageLane(j Job) string {
	if j.Kind == JobPark {
		id, _, _ := strings.Cut(j.Payload, " ")
		return "server:" + id
	}
	if j.Kind == JobUpload {
		// A file shares its channel's lane: a chart follows the message
		// queued before it.
		var f File
		if json.Unmarshal([]byte(j.Payload), &f) != nil || f.Channel == "" {
			return ""
		}
		return "channel:" + f.Channel
	}
	if j.Kind != JobMessage {
		return ""
	}
	m, err := DecodeMessage(j.Payload)
	if err != nil {
		return ""
	}
	if m.Channel != "" {
		return "channel:" + m.Channel
	}
	return "user:" + strings.ToLower(m.User)
}

// StoppedActions are the ways on from a server stopped at its lease end:
// start again (a new lease from the same template, through the normal
// request path) or release it for good.
func StoppedActions(r *ServerRequest) []Action {
	return []Action{
		{ID: ActStartAgain, Label: "Start again", Value: r.ID, Style: StylePrimary},
		ReleaseAction(r),
	}
}

// stoppedMessage is the new DM at the stop that ends a lease, so the
// owner is not left with an edited old message and a dead Extend button.
func stoppedMessage(team *Team, r *ServerRequest, budget BudgetSummary, now time.Time) Message {
	return toOwner(team, r, Message{
		// Keyed: a lease end run again after a crash edits this message
		// instead of posting a second one.
		Key:   "stopped:" + r.ID,
		Title: fmt.Sprintf("%s's lease ended: %s is stopped", r.ID, r.Instance.ID),
		Text: fmt.Sprintf("Its disk is kept while it is stopped. Start again asks for a new %s lease of %s from the template %s, through the same policy, budget and approval as any request; Release terminates it and gives the unused budget back.",
			FormatDuration(r.Duration), r.ID, r.Template),
		Fields:  append(serverFields(team, r, now), Field{Label: "Team budget left", Value: fmt.Sprintf("%s of %s", budget.Remaining(), budget.Budget)}),
		Actions: StoppedActions(r),
	})
}
