package workflows

import (
	"context"
	"errors"
	"time"
)

// Provisioner launches and ends cloud instances. The AWS integration
// implements it with EC2; in dry-run mode every change returns ErrDryRun
// after the cloud checked it.
type Provisioner interface {
	// Launch starts an instance. The same ClientToken never launches twice:
	// a retry returns the instance the first call started.
	Launch(ctx context.Context, spec LaunchSpec) (Instance, error)
	// Describe returns the instances with these IDs in a region of an
	// account ("" the default one); IDs the cloud does not know are left
	// out of the result.
	Describe(ctx context.Context, account, region string, ids []string) ([]Instance, error)
	// End stops or terminates want, only after checking that the instance
	// the cloud describes is SameInstance as want; otherwise it returns
	// ErrNotOurs and touches nothing.
	End(ctx context.Context, want Instance, action EndAction) (Instance, error)
	// Retag sets tags on want, with the same guard as End.
	Retag(ctx context.Context, want Instance, tags map[string]string) error
	// Start starts want again after a stop, with the same guard as End.
	// EC2 gives a started instance a new launch time: the Instance
	// returned carries it, and opsbot records it so the guard still knows
	// the instance. An instance already starting or running is returned
	// as it is, with no call; one started since want was recorded (same
	// ID and tags, a later launch time) too.
	Start(ctx context.Context, want Instance) (Instance, error)
}

// PriceSource answers the on-demand hourly price of an instance type.
type PriceSource interface {
	HourlyPrice(ctx context.Context, region, instanceType string) (Money, error)
}

// Notifier delivers messages to people. The Slack integration implements
// it; workflows never call it directly but through the durable outbox.
type Notifier interface {
	// Post sends m as a new message, under parent when parent is set.
	Post(ctx context.Context, m Message, parent MessageRef) (MessageRef, error)
	// Update edits the message at ref to read m. A message deleted in
	// Slack (by a workspace admin) gives ErrMessageGone.
	Update(ctx context.Context, ref MessageRef, m Message) error
	// FindPosted looks for a message already posted for m (by its
	// DeliveryID) where m goes, under parent when set, so a post cut
	// short by a crash is not made twice. A found message is finished
	// (pinned when m.Pin).
	FindPosted(ctx context.Context, m Message, parent MessageRef) (MessageRef, bool, error)
}

// Store runs transactions. Every change of state happens inside one
// Update; if fn returns an error nothing it did is kept.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
}

// Tx is what workflows may read and write within one transaction.
type Tx interface {
	CommonTx
	ServerTx
	IncidentTx
	DueTx
	ReviewTx
	ParkTx
	CostTx
}

// IncidentTx holds incidents and their timelines.
type IncidentTx interface {
	CreateIncident(i *Incident) error
	// Incident, IncidentByPagerDuty and IncidentByChannel return ErrNotFound when there is none.
	Incident(id string) (*Incident, error)
	IncidentByPagerDuty(pdIncidentID string) (*Incident, error)
	IncidentByChannel(channelID string) (*Incident, error)
	SaveIncident(i *Incident) error
	// Incidents lists incidents, newest first; Open limits to unresolved ones.
	Incidents(f IncidentFilter) ([]*Incident, error)
	// AddTimeline records an entry. An entry with a Source and ExternalID already recorded for the incident is not recorded again: it returns false.
	AddTimeline(e TimelineEntry) (bool, error)
	// Timeline returns an incident's entries ordered by time (then insertion).
	Timeline(incidentID string) ([]TimelineEntry, error)
	// SaveAction creates or replaces an action item; Action returns one
	// (ErrNotFound when there is none); Actions lists an incident's, or
	// with an empty ID every open one.
	SaveAction(a *ActionItem) error
	Action(id string) (*ActionItem, error)
	Actions(incidentID string) ([]*ActionItem, error)
}

// IncidentFilter selects incidents; empty fields match all.
type IncidentFilter struct {
	Team       string
	Open       bool      // only incidents whose status is not resolved
	Service    string    // only incidents on this PagerDuty service
	Since      time.Time // only incidents created at or after this
	DeclaredBy Person    // only incidents this person declared (by Slack ID or email)
}

// CommonTx holds what every workflow shares: identifiers, the audit log,
// the outbox, and records of what was sent.
type CommonTx interface {
	// NextID returns the next human ID for a prefix: "srv" gives "srv-1",
	// then "srv-2".
	NextID(prefix string) (string, error)
	Audit(e AuditEntry) error
	// Enqueue adds a job to the outbox. A job with the same non-empty Key
	// that is still waiting (not running) is replaced: its payload and
	// run time become this one's.
	Enqueue(j Job) error
	// TakeDueJobs removes from the queue, in this transaction, up to
	// limit jobs of kind that wait (unclaimed, without key, not held back
	// by a rate limit) and are due at now, oldest first, and returns
	// them: a BatchHandler does them in the same transaction. On
	// PostgreSQL a job another transaction is taking is passed over.
	TakeDueJobs(kind string, now time.Time, limit int) ([]Job, error)
	// TakeIn records requests as they arrive, with a few statements for
	// all of them (see Arrival); it reports which were fresh.
	TakeIn(arrivals []Arrival) ([]bool, error)
	// MarkSent records that the reminder or warning named key went out.
	// It returns false, and records nothing, when key was recorded before.
	MarkSent(key string, at time.Time) (bool, error)
	// Sent reports whether key was recorded by MarkSent.
	Sent(key string) (bool, error)
	// Forget removes what MarkSent recorded under key.
	Forget(key string) error
	// RecordReminder records the reminder (subject, kind, due) as sent. It
	// returns false, and records nothing, when it was recorded before.
	RecordReminder(subject, kind string, due, at time.Time) (bool, error)
	// LastReminders returns, per kind, the due time of the latest reminder
	// recorded for subject.
	LastReminders(subject string) (map[string]time.Time, error)
	// ForgetBefore removes what MarkSent recorded under keys starting
	// with prefix at a time before before, and says how many it removed.
	ForgetBefore(prefix string, before time.Time) (int64, error)
	// MessageRef returns where the message with this key was posted.
	MessageRef(key string) (MessageRef, bool, error)
	PutMessageRef(key string, ref MessageRef, at time.Time) error
	// CachedPrice returns a price cached at or after notBefore.
	CachedPrice(key string, notBefore time.Time) (Money, bool, error)
	PutPrice(key string, price Money, at time.Time) error
	// CachedName returns a name (a person's real name, a service's name)
	// cached at or after notBefore; an empty value means "none found".
	CachedName(key string, notBefore time.Time) (string, bool, error)
	PutName(key, value string, at time.Time) error
}

// ServerTx holds server requests, leases, approvals and the budget ledger.
type ServerTx interface {
	CreateRequest(r *ServerRequest) error
	// Request returns ErrNotFound when there is no such request.
	Request(id string) (*ServerRequest, error)
	SaveRequest(r *ServerRequest) error
	Requests(f RequestFilter) ([]*ServerRequest, error)
	// LeaseCosts returns the leases f selects with only what CostSoFar
	// reads (state, hourly rate, lease start and end, last update): a
	// budget sums them, and reads no more than it needs.
	LeaseCosts(f RequestFilter) ([]*ServerRequest, error)

	AddExtension(e Extension) error
	Extensions(requestID string) ([]Extension, error)

	CreateApproval(a *Approval) error
	// Approval returns ErrNotFound when there is no such approval.
	Approval(id string) (*Approval, error)
	SaveApproval(a *Approval) error
	Approvals(f ApprovalFilter) ([]*Approval, error)
	// AddDecision records a vote; a second vote by the same approver on the
	// same approval returns ErrDuplicate.
	AddDecision(d Decision) error
	Decisions(approvalID string) ([]Decision, error)

	AddLedger(e LedgerEntry) error
	Ledger(f LedgerFilter) ([]LedgerEntry, error)
}

// ErrDuplicate is returned when a record that must be unique exists.
var ErrDuplicate = errors.New("duplicate")

// ErrMessageGone says a posted message is no longer there to edit:
// someone deleted it.
var ErrMessageGone = errors.New("the message was deleted")

// RequestFilter selects server requests; empty fields match all. Results
// are ordered by creation, oldest first.
type RequestFilter struct {
	Owner  Person // matched on Slack ID or email, like Person.Is
	Team   string
	States []State
	// EndsAfter, when set, keeps only leases ending at or after it: a
	// lease that ended before a month cost nothing in it, and a team's
	// ended leases are history a budget need not read.
	EndsAfter time.Time
	// LiveOrSince, when set, keeps only requests that are not finished
	// (see LiveStates) and finished ones last updated at or after it:
	// /ops servers shows a week of history, not a person's every request.
	LiveOrSince time.Time
	// AnyOrder leaves the order to the caller, who sorts anyway: the
	// store need not sort (on SQLite, a query over both owner indexes
	// sorts in a temporary B-tree).
	AnyOrder bool
}

// ApprovalFilter selects approvals; empty fields match all, ordered by
// creation.
type ApprovalFilter struct {
	Team      string
	RequestID string
	States    []ApprovalState
}

// LedgerFilter selects ledger entries; empty fields match all, ordered by
// time.
type LedgerFilter struct {
	Team      string
	Month     string
	RequestID string
}

// AuditEntry records a decision or an outside action: who did what to
// which subject, why, and when.
type AuditEntry struct {
	ID      int64 // set when read back: the entry's place in the log
	At      time.Time
	Actor   string // a person, or "opsbot" for the bot's own acts
	Action  string // "request.create", "approval.approve", "ec2.launch", ...
	Subject string // "srv-42", "apr-3"
	Reason  string
	Detail  string
}
