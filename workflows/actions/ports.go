// Package actions is the server actions workflow: Start, Stop, Reboot,
// Snapshot and Diagnose on one opsbot server, from Slack, under the
// team's action policy. Each action is recorded (an Op), audited, run
// once through the durable job queue, and reported in a thread.
package actions

import (
	"context"
	"fmt"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// Operator does what the actions need from the cloud beyond the
// Provisioner. Every call that changes something first checks that the
// cloud describes the instance opsbot recorded (workflows.SameInstance)
// and returns workflows.ErrNotOurs otherwise; in dry-run mode changes
// return workflows.ErrDryRun.
type Operator interface {
	Reboot(ctx context.Context, want workflows.Instance) error
	// Snapshot snapshots want's root volume, tagged with tags. A snapshot
	// already tagged with opsbot:op = tags[TagOp] is returned instead of
	// a second one, so a retried job makes one snapshot.
	Snapshot(ctx context.Context, want workflows.Instance, tags map[string]string) (SnapshotInfo, error)
	// DeleteSnapshot deletes a snapshot opsbot made (tagged
	// opsbot:managed); one that is gone already is not an error.
	DeleteSnapshot(ctx context.Context, account, region, id string) error
	Diagnose(ctx context.Context, want workflows.Instance) (Diagnosis, error)
}

// Starter starts a stopped instance with the same guard as End and
// returns it as the cloud describes it after the start (its launch time
// moves).
type Starter interface {
	Start(ctx context.Context, want workflows.Instance) (workflows.Instance, error)
}

// Tags on snapshots.
const (
	TagOp       = "opsbot:op"
	TagSnapshot = "opsbot:snapshot-of"
)

// SnapshotInfo is a snapshot as the cloud reports it.
type SnapshotInfo struct {
	ID       string
	VolumeID string
	State    string
}

// Diagnosis is what Diagnose found.
type Diagnosis struct {
	State          workflows.InstanceState
	SystemStatus   string // ok, impaired, initializing, not-applicable, …
	InstanceStatus string
	Failed         []string // names of failed checks ("reachability")
	Console        []string // the last lines of the console output
	ConsoleAt      time.Time
	CPU            []workflows.CPUPoint // the last hour, 5-minute maxima, oldest first
	CPUNote        string               // why CPU is not shown, when it is not
}

// OpState is where an action is.
type OpState string

// The states of an action.
const (
	OpPending OpState = "pending_approval"
	OpQueued  OpState = "queued"
	OpDone    OpState = "done"
	OpDryRun  OpState = "dry_run"
	OpFailed  OpState = "failed"
	OpDenied  OpState = "denied"
)

// Op is one action asked for on one server.
type Op struct {
	ID       string // "op-3"
	Server   string // "srv-42"
	Action   workflows.ServerAction
	Actor    workflows.Person
	State    OpState
	Approver workflows.Person // who approved or denied, when one had to
	Result   string           // what happened, in a sentence
	Detail   string           // the diagnosis, for the thread
	// Button is the button press that asked for it ("srv-42 reboot
	// 1764000000"): a second press of the same button is refused.
	Button    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Snapshot is a root-volume snapshot opsbot made of a server.
type Snapshot struct {
	ID        string // EC2's snap-…
	Server    string
	Region    string
	VolumeID  string
	Op        string
	Kept      bool // kept when the server is released
	Deleted   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Tx is what actions read and write, besides the kernel's records. The
// store's transaction implements it.
type Tx interface {
	workflows.Tx
	// CreateOp records a new action; an op with the same Button returns
	// workflows.ErrDuplicate.
	CreateOp(o *Op) error
	// Op returns workflows.ErrNotFound when there is none.
	Op(id string) (*Op, error)
	SaveOp(o *Op) error
	// Ops lists a server's actions, oldest first.
	Ops(server string) ([]*Op, error)
	SaveSnapshot(s *Snapshot) error
	// Snapshots lists a server's snapshots, oldest first, deleted ones too.
	Snapshots(server string) ([]*Snapshot, error)
	// SnapshotByID returns workflows.ErrNotFound when opsbot made none.
	SnapshotByID(id string) (*Snapshot, error)
}

// txOf gives the actions' view of a kernel transaction.
func txOf(tx workflows.Tx) (Tx, error) { return workflows.TxAs[Tx](tx, "server actions") }

func (s *Service) update(ctx context.Context, fn func(Tx) error) error {
	return workflows.UpdateAs(ctx, s.Store, "server actions", s.Wake, fn)
}

func (s *Service) view(ctx context.Context, fn func(Tx) error) error {
	return workflows.ViewAs(ctx, s.Store, "server actions", fn)
}

// ButtonValue is the value of an action's button: the server, the action
// and when the button was drawn, so one button acts once.
func ButtonValue(server string, a workflows.ServerAction, drawn time.Time) string {
	return fmt.Sprintf("%s %s %d", server, a, drawn.Unix())
}
