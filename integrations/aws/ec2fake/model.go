package ec2fake

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"time"
)

// State is an EC2 instance state name.
type State string

// The instance states EC2 reports, with their numeric codes below.
const (
	Pending      State = "pending"
	Running      State = "running"
	ShuttingDown State = "shutting-down"
	Terminated   State = "terminated"
	Stopping     State = "stopping"
	Stopped      State = "stopped"
)

// Code is the numeric code EC2 sends beside the state name.
func (s State) Code() int {
	switch s {
	case Pending:
		return 0
	case Running:
		return 16
	case ShuttingDown:
		return 32
	case Terminated:
		return 48
	case Stopping:
		return 64
	case Stopped:
		return 80
	}
	return -1
}

// Instance is a snapshot of one fake instance, for tests and the sandbox
// page to look at what opsbot did.
type Instance struct {
	ID             string
	ReservationID  string
	Region         string
	Type           string
	ImageID        string
	SubnetID       string
	SecurityGroups []string
	KeyName        string
	ClientToken    string
	UserData       string // decoded from base64
	State          State
	LaunchTime     time.Time
	PrivateIP      string
	PrivateDNS     string
	Tags           map[string]string
	RootVolume     Volume
	// PublicIP is set when the launch asked for one (or, with no network
	// interface in the request, for a launch into the default subnet,
	// which maps public addresses on launch).
	PublicIP string
	// HTTPTokens is the instance metadata service's token setting:
	// "required" (IMDSv2 only) or "optional" (EC2's default here).
	HTTPTokens   string
	HTTPEndpoint string // "enabled" (the default) or "disabled"
	// InstanceProfile is the ARN of the IAM instance profile, if any.
	InstanceProfile string
}

// Volume is the root EBS volume of an instance.
type Volume struct {
	ID         string
	DeviceName string
	SizeGB     int
	Tags       map[string]string
	Encrypted  bool
}

// Delays say how long each transitional state lasts on the injected
// clock. A sandbox that fast-forwards its clock sees instances move on.
type Delays struct {
	Launch    time.Duration // pending → running (also after a start)
	Stop      time.Duration // stopping → stopped
	Terminate time.Duration // shutting-down → terminated
}

// DefaultDelays are close to what EC2 takes for a small Linux instance.
var DefaultDelays = Delays{Launch: 20 * time.Second, Stop: 30 * time.Second, Terminate: 30 * time.Second}

type instance struct {
	Instance
	since time.Time // when the current state began
}

type reservation struct {
	id          string
	region      string
	instanceIDs []string
	fingerprint string // the launch parameters, for ClientToken reuse
}

func (in *instance) snapshot() Instance {
	out := in.Instance
	out.SecurityGroups = slices.Clone(in.SecurityGroups)
	out.Tags = maps.Clone(in.Tags)
	out.RootVolume.Tags = maps.Clone(in.RootVolume.Tags)
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	if out.RootVolume.Tags == nil {
		out.RootVolume.Tags = map[string]string{}
	}
	return out
}

// settle moves an instance through the transitional states whose time is
// up at now.
func (in *instance) settle(now time.Time, d Delays) {
	for {
		var next State
		var wait time.Duration
		switch in.State {
		case Pending:
			next, wait = Running, d.Launch
		case Stopping:
			next, wait = Stopped, d.Stop
		case ShuttingDown:
			next, wait = Terminated, d.Terminate
		default:
			return
		}
		at := in.since.Add(wait)
		if now.Before(at) {
			return
		}
		in.State, in.since = next, at
	}
}

func (in *instance) setState(s State, now time.Time) {
	in.State, in.since = s, now
}

// newID makes an EC2-looking identifier that is stable for a given
// sequence number, so runs of the same test see the same IDs.
func newID(prefix string, seq int, width int) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s-%d", prefix, seq)
	s := fmt.Sprintf("%016x", h.Sum64())
	for len(s) < width {
		s += s
	}
	return prefix + "-" + s[:width]
}

// privateAddress returns the nth private IP in 10.0.0.0/16 and its EC2
// DNS name, skipping the addresses AWS reserves in a subnet.
// publicAddress is a documentation-range (TEST-NET-3) address for n.
func publicAddress(n int) string { return fmt.Sprintf("203.0.113.%d", 1+n%250) }

func privateAddress(n int, region string) (string, string) {
	x, y := 1+n/250, 4+n%250
	ip := fmt.Sprintf("10.0.%d.%d", x, y)
	return ip, fmt.Sprintf("ip-10-0-%d-%d.%s.compute.internal", x, y, region)
}
