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
	// StateTimedOut: accepted, but no final callback came by its
	// deadline (Deadline); opsbot stopped waiting.
	StateTimedOut State = "timed_out"
	// StateDryRun: opsbot runs in dry run (OPSBOT_DRY_RUN), which makes
	// no outside change, so the endpoint was not called.
	StateDryRun State = "dry_run"
)

// Final reports a state that no longer changes.
func (s State) Final() bool {
	return s == StateDone || s == StateFailed || s == StateDenied || s == StateTimedOut || s == StateDryRun
}

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
	Seq int
	// Progress is every callback recorded, in seq order (its text cut
	// at StepText): the run's message shows the last ShownSteps, so its
	// final version carries the progress however late the thread's
	// replies are posted, and a seq is a replay only if it is here.
	Progress []Step
	// AcceptedAt is when opsbot recorded the endpoint's 202 (zero until
	// then): the final callback is due by AcceptedAt + CallbackWait.
	AcceptedAt time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
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

// Step is one recorded callback.
type Step struct {
	Seq    int       `json:"seq"`
	Status string    `json:"status"`
	Text   string    `json:"text,omitempty"`
	At     time.Time `json:"at"`
}

// Limits of recorded progress.
const (
	// MaxSteps is how many callbacks one run records; more are refused.
	MaxSteps = 200
	// StepText is how much of a callback's text the record keeps (the
	// thread's reply shows up to 2,000 characters).
	StepText = 300
	// ShownSteps is how many of the last steps the run's message shows.
	ShownSteps = 10
)

// step returns the recorded callback numbered seq.
func (r *Run) step(seq int) (Step, bool) {
	for _, st := range r.Progress {
		if st.Seq == seq {
			return st, true
		}
	}
	return Step{}, false
}

// finalStep returns the recorded callback that ended the run, if one did.
func (r *Run) finalStep() (Step, bool) {
	for _, st := range r.Progress {
		if st.Status != "running" {
			return st, true
		}
	}
	return Step{}, false
}

// record adds a callback in seq order.
func (r *Run) record(st Step) {
	if rs := []rune(st.Text); len(rs) > StepText {
		st.Text = string(rs[:StepText]) + "…"
	}
	i := len(r.Progress)
	for i > 0 && r.Progress[i-1].Seq > st.Seq {
		i--
	}
	r.Progress = append(r.Progress, Step{})
	copy(r.Progress[i+1:], r.Progress[i:])
	r.Progress[i] = st
	r.Seq = max(r.Seq, st.Seq)
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
