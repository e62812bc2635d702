package workflows

import "time"

// ApprovalKind says what an approval decides.
type ApprovalKind string

// What approvers can be asked to decide.
const (
	ApproveLaunch    ApprovalKind = "launch"    // a new server request
	ApproveExtension ApprovalKind = "extension" // a lease extension beyond self-service
)

// ApprovalState is where an approval is.
type ApprovalState string

// The states of an approval. Only pending changes.
const (
	ApprovalPending  ApprovalState = "pending"
	ApprovalApproved ApprovalState = "approved"
	ApprovalDenied   ApprovalState = "denied"
	ApprovalExpired  ApprovalState = "expired"
)

// Approval is a question put to a team's approvers.
type Approval struct {
	ID        string // "apr-7"
	RequestID string
	Kind      ApprovalKind
	Team      string
	Requester Person // the server's owner
	// Initiator is who asked: the owner for a new server, whoever extended
	// for an extension (an approver may extend someone else's lease).
	// Neither the owner nor the initiator may vote. Zero on approvals
	// recorded before it was kept: the owner then.
	Initiator Person
	Extend    time.Duration // for extensions: how much longer
	Reason    string        // the requester's reason
	Cost      Money         // what approving commits
	// Overrun is how far approving would take the team past its budget,
	// as computed when the approval was opened; zero if it fits.
	Overrun   Money
	Required  int // distinct approvals needed
	State     ApprovalState
	DecidedBy []Person // who approved, or the one who denied
	Note      string   // the denial reason
	CreatedAt time.Time
	ExpiresAt time.Time
	DecidedAt time.Time
	// RemindedAt is when approvers were last reminded.
	RemindedAt time.Time
}

// Decision is one approver's vote.
type Decision struct {
	ApprovalID string
	Approver   Person
	Approve    bool
	Reason     string
	At         time.Time
}

// RequiredApprovals returns how many distinct approvals cost needs under
// the tiers (at least one).
func RequiredApprovals(tiers []ApprovalTier, cost Money) int {
	n := 1
	for _, t := range tiers {
		if cost > t.Above && t.Approvals > n {
			n = t.Approvals
		}
	}
	return n
}

// Tally applies a new vote to an approval given the votes already cast and
// returns the approval's new state. A single deny decides; approvals are
// counted per distinct approver.
func Tally(a *Approval, votes []Decision) ApprovalState {
	var seen []Person
	for _, v := range votes {
		if !v.Approve {
			return ApprovalDenied
		}
		dup := false
		for _, p := range seen {
			dup = dup || samePerson(p, v.Approver)
		}
		if !dup {
			seen = append(seen, v.Approver)
		}
	}
	approvals := len(seen)
	if approvals >= a.Required {
		return ApprovalApproved
	}
	return ApprovalPending
}
