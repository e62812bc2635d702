package runbooks

import (
	"context"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// State is where a run is.
type State string

// The states of a run.
const (
	StatePending  State = "pending_approval"
	StateQueued   State = "queued"   // the call is to be made (or retried)
	StateAccepted State = "accepted" // the endpoint took it (202) and reports back
	StateDone     State = "done"
	StateFailed   State = "failed"
	StateDenied   State = "denied"
)

// Final reports a state that no longer changes.
func (s State) Final() bool { return s == StateDone || s == StateFailed || s == StateDenied }

// Run is one run of a runbook.
type Run struct {
	ID      string // "run-3"
	Runbook string
	Team    string // the team it is for ("" for an admin outside its teams)
	Actor   workflows.Person
	// Params as JSON, typed (Values); secrets included, since the
	// endpoint needs them: never shown or audited.
	Params   string
	State    State
	Approver workflows.Person
	// Key is the idempotency key: the same for every attempt of the run.
	Key string
	// Trigger names what asked for it (the modal view): a second
	// submission of the same form is refused.
	Trigger  string
	Attempts int
	Status   int    // the last HTTP status, 0 when none came
	Result   string // what happened, in a sentence
	Body     string // the start of the last answer's body
	// Seq is the highest progress number recorded from callbacks.
	Seq       int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Tx is what runbooks read and write besides the kernel's records. The
// store's transaction implements it.
type Tx interface {
	workflows.Tx
	// CreateRun records a new run; one with the same ID or Trigger
	// returns workflows.ErrDuplicate.
	CreateRun(r *Run) error
	// RunbookRun returns workflows.ErrNotFound when there is none.
	RunbookRun(id string) (*Run, error)
	SaveRun(r *Run) error
}

func txOf(tx workflows.Tx) (Tx, error) { return workflows.TxAs[Tx](tx, "runbook runs") }

// Call is one signed POST to a runbook's endpoint.
type Call struct {
	URL     string
	Secret  []byte
	Key     string // the Idempotency-Key header
	Body    []byte // JSON
	At      time.Time
	Timeout time.Duration
}

// Answer is what the endpoint said.
type Answer struct {
	Status     int
	Body       string // at most BodyLimit bytes
	RetryAfter time.Duration
}

// Caller makes the HTTP call. An error is a transport error (no answer:
// connection refused, timeout); any answer, whatever its status, is an
// Answer.
type Caller interface {
	Post(ctx context.Context, c Call) (Answer, error)
}

// BodyLimit is how much of an answer's body is kept.
const BodyLimit = 4096
