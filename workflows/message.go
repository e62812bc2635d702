package workflows

// Message is something opsbot tells people, in neutral terms. Workflows
// produce messages; the Slack integration renders them as Block Kit. All
// text is plain: the renderer escapes it, so nothing a user typed can
// become a mention or a link. Within it, UserText marks what a person
// typed (shown literally, never formatted) and Mention marks a person to
// mention in place.
type Message struct {
	// Key identifies the message across time: a later message with the
	// same key edits the first in place instead of posting again. Empty
	// means a new message every time.
	Key string
	// ID names one message of no Key, for delivery: enqueueMessage sets
	// it. See DeliveryID.
	ID string `json:",omitempty"`
	// Channel is a Slack channel ID or name; User is a person (Slack user
	// ID or email) to message directly. One of the two is set.
	Channel string
	User    string
	// Thread is the key of an earlier message to reply under.
	Thread string

	Title string // bold first line
	Text  string // the body
	// Code is preformatted text from an outside system (an endpoint's
	// answer), shown literally in a code block under the body.
	Code    string `json:",omitempty"`
	Fields  []Field
	Actions []Action
	Note    string   // small print under the message
	Mention []string // people (Slack user IDs or emails) to mention, or channel IDs to link
	Pin     bool     // pin the message when first posted
}

// DeliveryID names the message so that it is posted once: the Slack
// integration marks the posted message with it (in Slack's message
// metadata) and looks for it before posting again after a crash. A keyed
// message is named by its Key; any other by the ID it was queued with.
func (m Message) DeliveryID() string {
	if m.Key != "" {
		return m.Key
	}
	return m.ID
}

// Field is a labelled value shown in a grid.
type Field struct {
	Label string
	Value string
	// Person and People, when set, are Slack user IDs or emails that the
	// renderer shows as mentions, before Value when it is set too.
	Person string
	People []string `json:",omitempty"`
}

// ActionStyle colours a button.
type ActionStyle string

// Button styles.
const (
	StyleDefault ActionStyle = ""
	StylePrimary ActionStyle = "primary"
	StyleDanger  ActionStyle = "danger"
)

// Action is a button. ID names what it does (see the Act* constants);
// Value carries its subject.
type Action struct {
	ID    string
	Label string
	Value string
	Style ActionStyle
	// Confirm, when set, asks the person once more before the click is
	// sent: for actions that cannot be undone.
	Confirm *Confirm
}

// Confirm is the question asked before an action takes effect. Slack
// shows it as a dialog (its confirmation object: title at most 100
// characters, text 300, buttons 30); only Yes sends the click.
type Confirm struct {
	Title string
	Text  string
	Yes   string
	No    string
}

// Action IDs, shared by the renderer (which puts them on buttons) and the
// bot (which routes clicks back to workflows).
const (
	ActApprove      = "approval.approve"
	ActDeny         = "approval.deny"
	ActLeaseExtend  = "lease.extend"  // value: "srv-42 1d 1764000000", see ExtendValue
	ActLeaseRelease = "lease.release" // value: "srv-42"
	ActStartAgain   = "lease.again"   // value: "srv-42", a stopped server
	// Server actions (workflows/actions).
	ActServerShow   = "server.show"   // value: "srv-42": its actions, privately
	ActServerAction = "server.action" // value: "srv-42 reboot 1764000000", see actions.ButtonValue
	ActOpApprove    = "op.approve"    // value: "op-3"
	ActOpDeny       = "op.deny"       // value: "op-3"
	ActSnapshotKeep = "snapshot.keep" // value: "snap-0123…"
	// Runbooks (workflows/runbooks). Their runs are approved and denied
	// with ActOpApprove/ActOpDeny, value "run-3".
	ActRunbookOpen = "runbook.open" // value: the runbook's name: its form
)

// MessageRef is where a posted message lives, so it can be edited.
type MessageRef struct {
	Channel string
	TS      string
}

// Reply is what a command answers to the person who typed it, privately.
type Reply struct {
	Message
	// Public makes the reply visible to the channel instead of only to the
	// person.
	Public bool
}
