package workflows

import (
	"fmt"
	"slices"
	"time"
)

// State is where a server request is in its life.
type State string

// The states of a server request and its lease.
const (
	StateRequested    State = "requested"        // being checked against policy
	StatePending      State = "pending_approval" // waiting for approvers
	StateApproved     State = "approved"         // budget committed, launch queued
	StateProvisioning State = "provisioning"     // launch sent, instance not running yet
	StateRunning      State = "running"
	StateStopped      State = "stopped"
	StateTerminated   State = "terminated"
	StateDenied       State = "denied"
	StateExpired      State = "expired"   // nobody decided before the approval timed out
	StateWithdrawn    State = "withdrawn" // its owner (or an approver) gave it back while it waited
	StateFailed       State = "failed"
)

// transitions lists the legal moves. Anything else is a bug or a race and
// is refused.
var transitions = map[State][]State{
	StateRequested:    {StatePending, StateApproved, StateDenied},
	StatePending:      {StateApproved, StateDenied, StateExpired, StateWithdrawn},
	StateApproved:     {StateProvisioning, StateFailed, StateTerminated},
	StateProvisioning: {StateRunning, StateFailed, StateTerminated},
	StateRunning:      {StateStopped, StateTerminated},
	StateStopped:      {StateRunning, StateTerminated},
	// A failed launch may still have left an instance, which is then
	// terminated.
	StateFailed: {StateTerminated},
}

// CanMove reports whether a request may go from one state to another.
func CanMove(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Final reports whether no further transition is possible.
func (s State) Final() bool { return len(transitions[s]) == 0 }

// liveStates are the states that are not Final, in a fixed order.
var liveStates = func() []State {
	var out []State
	for s := range transitions {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}()

// LiveStates returns the states that are not Final, sorted (a store's
// query text then stays the same from call to call).
func LiveStates() []State { return slices.Clone(liveStates) }

// Active reports whether the request holds (or is about to hold) an
// instance whose lease opsbot manages.
func (s State) Active() bool {
	return s == StateApproved || s == StateProvisioning || s == StateRunning
}

// ServerRequest is one request for a server and, once approved, its lease.
// Its ID ("srv-42") names it in every message and command.
type ServerRequest struct {
	ID       string
	Owner    Person
	Team     string
	Template string
	Reason   string
	State    State
	// StateReason says why the last transition happened, in words for the
	// owner: a denial reason, a policy refusal, a launch failure.
	StateReason string

	Duration   time.Duration // lease length asked for
	HourlyRate Money         // instance plus root volume, per hour
	Estimate   Money         // cost of the whole lease asked for

	// Spec is the launch as it was asked for and shown to approvers,
	// snapshotted from the template and the team's policy when the request
	// was made: the launch uses it, never the template as it is later. Nil
	// for requests made before snapshots were kept.
	Spec *LaunchSpec

	// ClientToken is derived from the request before the first launch and
	// stored, so a retried or restarted launch is the same launch.
	ClientToken string
	Instance    Instance

	LeaseStart time.Time // when the instance first ran
	LeaseEnd   time.Time
	Extensions int // self-service extensions used

	// EndingAt is set while an end action (stop or terminate) is queued
	// or running, so it is queued once; it is cleared when the action is
	// done, so a later one (release, the maximum lifetime) can follow.
	EndingAt time.Time

	// HandedFrom is the person who owned the server before offboarding
	// handed it to its team (Owner is then empty), and HandedAt when.
	// A team-owned server's messages go to the team's approvals channel.
	HandedFrom Person
	HandedAt   time.Time

	CreatedAt time.Time
	UpdatedAt time.Time

	// Stops are the stops opsbot made within the lease (the off-hours
	// schedule, an idle server's Stop now, the server actions' Stop),
	// oldest first: the store reads them with the request from what
	// AddPark and EndPark recorded; SaveRequest does not write them.
	Stops []Stop
}

// Stop is one stop of a server within its lease: from At until Until
// (zero while it stays stopped).
type Stop struct {
	Why   Why
	At    time.Time
	Until time.Time
}

// OpenStop returns the stop the server is in, if any: it was stopped
// within its lease and not started again.
func (r *ServerRequest) OpenStop() (Stop, bool) {
	for i := len(r.Stops) - 1; i >= 0; i-- {
		if r.Stops[i].Until.IsZero() {
			return r.Stops[i], true
		}
	}
	return Stop{}, false
}

// TeamOwned reports whether r was handed to its team: its owner left and
// nobody owns it personally; the team's approvers look after it.
func (r *ServerRequest) TeamOwned() bool {
	return r.Owner == (Person{}) && r.HandedFrom != (Person{})
}

// Parked reports whether r is stopped within its lease by opsbot (an
// open stop): its lease runs on, with its warnings and its end, and its
// hours are not billed.
func (r *ServerRequest) Parked() bool {
	_, open := r.OpenStop()
	return r.State == StateStopped && open
}

// Move changes the state if the transition is legal.
func (r *ServerRequest) Move(to State, reason string, now time.Time) error {
	if !CanMove(r.State, to) {
		return Errorf(EConflict, "%s is %s and cannot become %s", r.ID, r.State.Words(), to.Words())
	}
	r.State, r.StateReason, r.UpdatedAt = to, reason, now
	return nil
}

// Words says the state as people read it.
func (s State) Words() string {
	switch s {
	case StatePending:
		return "waiting for approval"
	case StateProvisioning:
		return "launching"
	default:
		return string(s)
	}
}

// CostSoFar is what the lease has cost up to now at its hourly rate: the
// hours it ran, from its start to the lease end (or, once it is no longer
// running, its last change), less the hours it spent stopped within the
// lease (Stops): EC2 does not bill a stopped instance's hours. The rate
// includes the root volume, which AWS still bills while the instance is
// stopped; that small part is not counted (docs/costs.md says so).
func (r *ServerRequest) CostSoFar(now time.Time) Money {
	if r.LeaseStart.IsZero() {
		return 0
	}
	end := now
	if !r.LeaseEnd.IsZero() && r.LeaseEnd.Before(end) {
		end = r.LeaseEnd
	}
	if !r.State.Active() && r.UpdatedAt.Before(end) {
		end = r.UpdatedAt
	}
	if end.Before(r.LeaseStart) {
		return 0
	}
	ran := end.Sub(r.LeaseStart)
	for _, st := range r.Stops {
		from, until := maxTime(st.At, r.LeaseStart), end
		if !st.Until.IsZero() && st.Until.Before(until) {
			until = st.Until
		}
		if until.After(from) {
			ran -= until.Sub(from)
		}
	}
	if ran <= 0 {
		return 0
	}
	return r.HourlyRate.For(ran.Hours())
}

// Extension is one change of a lease's end.
type Extension struct {
	RequestID string
	By        Person
	From, To  time.Time
	Reason    string
	Cost      Money
	Approved  bool // decided by approvers rather than self-service
	At        time.Time
}

// InstanceState is EC2's name for an instance's state.
type InstanceState string

// EC2 instance states.
const (
	InstancePending      InstanceState = "pending"
	InstanceRunning      InstanceState = "running"
	InstanceStopping     InstanceState = "stopping"
	InstanceStopped      InstanceState = "stopped"
	InstanceShuttingDown InstanceState = "shutting-down"
	InstanceTerminated   InstanceState = "terminated"
)

// Instance is what opsbot knows of a cloud instance.
type Instance struct {
	ID string
	// Account names the AWS account (config accounts:) the instance runs
	// in; empty is the default account of the SDK's credential chain.
	Account    string
	Region     string
	Type       string
	State      InstanceState
	LaunchTime time.Time
	PrivateIP  string
	PrivateDNS string
	Tags       map[string]string
}

// Tags opsbot puts on every instance it launches and checks before it
// touches one.
const (
	TagManaged   = "opsbot:managed"
	TagRequest   = "opsbot:request"
	TagLeaseEnd  = "opsbot:lease-end"
	TagOwner     = "opsbot:owner"
	TagTeam      = "opsbot:team"
	TagTemplate  = "opsbot:template"
	TagNameValue = "Name"
)

// LaunchSpec is everything a Provisioner needs to start an instance.
type LaunchSpec struct {
	RequestID   string
	ClientToken string
	// Account names the AWS account (config accounts:) to launch in;
	// empty is the default account.
	Account        string
	Region         string
	InstanceType   string
	AMI            string
	Subnet         string
	SecurityGroups []string
	KeyName        string
	RootVolumeGB   int
	UserData       string
	Tags           map[string]string
	// PublicIP asks for a public address on the primary interface; the
	// default is none. IMDSv2 and an encrypted root volume are not
	// options: every launch has them.
	PublicIP bool
	// InstanceProfile is an IAM instance profile name or ARN; empty: none.
	InstanceProfile string
}

// LaunchSpecFor builds the launch of r from its template and team policy.
func LaunchSpecFor(r *ServerRequest, tpl *Template, team *Team, leaseEnd time.Time) LaunchSpec {
	tags := launchTags(r, tpl, leaseEnd)
	userData := tpl.UserData
	if team.Policy.Integration.UserData != "" {
		if userData != "" {
			userData += "\n"
		}
		userData += team.Policy.Integration.UserData
	}
	return LaunchSpec{
		RequestID:       r.ID,
		ClientToken:     r.ClientToken,
		Account:         tpl.Account,
		Region:          tpl.Region,
		InstanceType:    tpl.InstanceType,
		AMI:             tpl.AMI,
		Subnet:          tpl.Subnet,
		SecurityGroups:  tpl.SecurityGroups,
		KeyName:         tpl.KeyName,
		RootVolumeGB:    tpl.RootVolumeGB,
		UserData:        userData,
		Tags:            tags,
		PublicIP:        tpl.PublicIP,
		InstanceProfile: tpl.InstanceProfile,
	}
}

// MaxResourceTags is EC2's limit on the tags of one instance or volume.
const MaxResourceTags = 50

// launchTags are the tags a launch of tpl for r carries: the template's
// and opsbot's own.
func launchTags(r *ServerRequest, tpl *Template, leaseEnd time.Time) map[string]string {
	tags := map[string]string{}
	for k, v := range tpl.Tags {
		tags[k] = v
	}
	tags[TagManaged] = "true"
	tags[TagRequest] = r.ID
	tags[TagLeaseEnd] = leaseEnd.UTC().Format(time.RFC3339)
	tags[TagOwner] = ownerTag(r.Owner)
	tags[TagTeam] = r.Team
	tags[TagTemplate] = tpl.Name
	if _, ok := tags[TagNameValue]; !ok {
		tags[TagNameValue] = fmt.Sprintf("%s-%s", r.ID, tpl.Name)
	}
	return tags
}

// LaunchTagCount is how many tags every server of tpl is launched with:
// the template's and opsbot's own. EC2 refuses more than MaxResourceTags.
func LaunchTagCount(tpl *Template) int {
	return len(launchTags(&ServerRequest{}, tpl, time.Time{}))
}

func ownerTag(p Person) string {
	if p.Email != "" {
		return p.Email
	}
	return p.SlackID
}

// SameInstance reports whether got, as described by the cloud, is the
// instance opsbot recorded as want: same ID, same launch time, and opsbot's
// managed and request tags as recorded. It guards every stop and
// terminate: anything that does not match is never touched.
func SameInstance(want, got Instance) bool {
	if want.ID == "" || got.ID != want.ID {
		return false
	}
	if want.LaunchTime.IsZero() || !got.LaunchTime.Equal(want.LaunchTime) {
		return false
	}
	req := want.Tags[TagRequest]
	return req != "" && got.Tags[TagManaged] == "true" && got.Tags[TagRequest] == req
}
