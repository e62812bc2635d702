package workflows

import "time"

// What the server actions sub-package (workflows/actions) uses from the
// kernel: its policy, the owner test, and the outbox for messages.

// ServerAction names something a person can do to one server from Slack.
type ServerAction string

// The server actions.
const (
	ActionStart    ServerAction = "start"
	ActionStop     ServerAction = "stop"
	ActionReboot   ServerAction = "reboot"
	ActionSnapshot ServerAction = "snapshot"
	ActionDiagnose ServerAction = "diagnose"
)

// ServerActions lists every server action, in the order buttons show them.
var ServerActions = []ServerAction{ActionStart, ActionStop, ActionReboot, ActionSnapshot, ActionDiagnose}

// ActionPolicy says who may run server actions on a team's servers. The
// team's approvers and opsbot's admins may run every action on its
// servers; nobody approves what they asked for themselves.
type ActionPolicy struct {
	// Owner lists the actions a server's owner may run (default: all).
	Owner []ServerAction
	// Members lists the actions any member of the team may run on the
	// team's servers (default: diagnose).
	Members []ServerAction
	// NeedApprover lists the actions that one of the team's approvers must
	// run or approve; asked for by anyone else (or by an approver on their
	// own server), they wait in the approvals channel (default: none).
	NeedApprover []ServerAction
}

// DefaultActionPolicy is the policy of a config without `actions:`.
func DefaultActionPolicy() ActionPolicy {
	return ActionPolicy{Owner: append([]ServerAction(nil), ServerActions...), Members: []ServerAction{ActionDiagnose}}
}

// OwnedBy reports whether p owns r.
func (r *ServerRequest) OwnedBy(p Person) bool { return isOwner(r, p) }

// SamePerson reports whether a and b name the same person (by Slack ID or
// email).
func SamePerson(a, b Person) bool { return samePerson(a, b) }

// EnqueueMessage queues m for delivery in tx, like every workflow's own
// messages (and refreshes the recipient's Home tab).
func EnqueueMessage(tx Tx, m Message, now time.Time) error { return enqueueMessage(tx, m, now) }

// NotifyLease edits the owner's message about r (its lease DM) to show r
// as it is now, with headline on top.
func NotifyLease(tx Tx, team *Team, r *ServerRequest, headline string, now time.Time) error {
	budget, err := budgetOf(tx, team, now)
	if err != nil {
		return err
	}
	return enqueueMessage(tx, leaseMessage(team, r, budget, headline, now), now)
}

// ServerFields are the fields every message about a server shows.
func ServerFields(team *Team, r *ServerRequest, now time.Time) []Field {
	return serverFields(team, r, now)
}
