// Package ec2fake is a stateful fake of the EC2 Query API and of the AWS
// Price List GetProducts call. It speaks the real wire protocols, so the
// real aws-sdk-go-v2 clients talk to it through an endpoint override; tests
// use it behind httptest and the sandbox serves it to the whole bot.
//
// Time comes from an injected clock: instances go pending → running,
// stopping → stopped and shutting-down → terminated when that clock has
// moved far enough, so a fast-forwarded clock makes them move.
package ec2fake

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/opsbot/opsbot/internal/faults"
)

// maxBody bounds a request body; EC2 rejects much smaller ones already.
const maxBody = 1 << 20

// Call is one request the fake answered, for tests to assert on.
type Call struct {
	At     time.Time
	Action string // "RunInstances", ..., or "GetProducts"
	Region string
	DryRun bool
	// Params holds the form parameters (EC2) without Action and Version,
	// or the JSON body (pricing) under the key "Body".
	Params url.Values
	// Error is the error code the fake answered with, empty on success.
	Error string
	// AccessKey is the access key ID the request was signed with (from
	// its SigV4 Authorization header): which account's role made it.
	AccessKey string
}

type fault struct {
	action string
	left   int
	code   string
	status int
}

// Server is the fake. The zero value is not usable; call New.
type Server struct {
	now func() time.Time

	mu           sync.Mutex
	delays       Delays
	denied       map[string]bool // actions the caller may not perform
	instances    map[string]*instance
	order        []string // instance IDs in launch order
	reservations map[string]*reservation
	tokens       map[string]string // region + "/" + ClientToken → reservation ID
	images       map[string]string // AMI ID → root device name
	strict       bool              // only declared AMIs, subnets and groups exist
	subnets      map[string]string // subnet ID → region
	groups       map[string]string // security group ID → region
	identity     Identity          // what STS GetCallerIdentity answers
	prices       []price
	faults       []*fault
	inject       *faults.Injector
	metrics      http.Handler // CloudWatch fake on the same endpoint, when set
	calls        []Call
	seq          int
	extra        *opsState // snapshots, key pairs, console (ops.go)
}

// New returns an empty fake whose clock is now.
func New(now func() time.Time) *Server {
	return &Server{
		now:          now,
		delays:       DefaultDelays,
		denied:       map[string]bool{},
		instances:    map[string]*instance{},
		reservations: map[string]*reservation{},
		tokens:       map[string]string{},
		images:       map[string]string{},
		subnets:      map[string]string{},
		groups:       map[string]string{},
	}
}

// SetDelays changes how long the transitional states last.
func (s *Server) SetDelays(d Delays) {
	s.mu.Lock()
	s.delays = d
	s.mu.Unlock()
}

// SetPermission allows or denies an action (e.g. "TerminateInstances").
// A denied action, dry run or not, answers 403 UnauthorizedOperation, as
// EC2 does when IAM says no.
func (s *Server) SetPermission(action string, allowed bool) {
	s.mu.Lock()
	s.denied[action] = !allowed
	s.mu.Unlock()
}

// SetImage declares an AMI and its root device name. AMIs that were not
// declared exist too, with the root device /dev/xvda of Amazon Linux.
func (s *Server) SetImage(imageID, rootDeviceName string) {
	s.mu.Lock()
	s.images[imageID] = rootDeviceName
	s.mu.Unlock()
}

// FailNext makes the next n calls of action (or of any action, for "*")
// fail with code and HTTP status, before doing anything. Use
// ("DescribeInstances", 1, "RequestLimitExceeded", 503) for throttling
// and ("RunInstances", 1, "InternalError", 500) for a server fault.
func (s *Server) FailNext(action string, n int, code string, status int) {
	s.mu.Lock()
	s.faults = append(s.faults, &fault{action: action, left: n, code: code, status: status})
	s.mu.Unlock()
}

// Throttle makes the next n calls of action fail with EC2's throttling
// error, RequestLimitExceeded (HTTP 503).
func (s *Server) Throttle(action string, n int) {
	s.FailNext(action, n, "RequestLimitExceeded", http.StatusServiceUnavailable)
}

// Calls returns every request answered so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		c.Params = cloneValues(c.Params)
		out[i] = c
	}
	return out
}

// CallsOf returns the calls of one action.
func (s *Server) CallsOf(action string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

// Instances returns a snapshot of every instance, in launch order, with
// states settled at the clock's current time.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	out := make([]Instance, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.instances[id].snapshot())
	}
	return out
}

// Instance returns a snapshot of one instance.
func (s *Server) Instance(id string) (Instance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	in, ok := s.instances[id]
	if !ok {
		return Instance{}, false
	}
	return in.snapshot(), true
}

// ServeHTTP answers EC2 Query requests and Price List JSON requests
// (told apart by the X-Amz-Target header).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	in, metrics := s.inject, s.metrics
	s.mu.Unlock()
	if metrics != nil && strings.HasPrefix(r.URL.Path, "/service/") {
		// CloudWatch's Smithy RPC v2 paths: the sandbox and the tests
		// serve it at the same endpoint (see SetMetrics).
		metrics.ServeHTTP(w, r)
		return
	}
	if in == nil || r.Method != http.MethodPost || strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AWSPriceListService.") {
		s.serve(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		s.serve(w, r)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	action := form.Get("Action")
	in.Serve(w, r, action, http.HandlerFunc(s.serve), func(w http.ResponseWriter, status int, _ time.Duration) {
		// EC2 throttles with 503 RequestLimitExceeded and no Retry-After.
		e := errorf(http.StatusInternalServerError, "InternalError", "An internal error has occurred.")
		switch status {
		case http.StatusTooManyRequests:
			e = errorf(http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.")
		case http.StatusServiceUnavailable:
			e = errorf(status, "Unavailable", "The server is overloaded and can't handle the request.")
		}
		reqID := s.requestID()
		s.mu.Lock()
		s.calls = append(s.calls, Call{At: s.now(), Action: action, Error: e.Code})
		s.mu.Unlock()
		writeError(w, e, reqID)
	})
}

// SetMetrics serves h (a CloudWatch fake) on this server's endpoint for
// the Smithy RPC v2 paths (/service/...), so one endpoint answers EC2,
// the Price List API and CloudWatch, as AWS_ENDPOINT_URL does.
func (s *Server) SetMetrics(h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metrics = h
}

// SetFaults makes EC2 Query calls fail as in's plan says (nil: none),
// each Action a method ("RunInstances"): refused with RequestLimitExceeded
// or Unavailable, or done and then unanswered or answered InternalError.
// Price List calls are left alone.
func (s *Server) SetFaults(in *faults.Injector) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inject = in
}

// serve answers one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AWSPriceListService.") {
		s.servePricing(w, r)
		return
	}
	reqID := s.requestID()
	if r.Method != http.MethodPost {
		writeError(w, errorf(http.StatusBadRequest, "InvalidAction", "EC2 Query requests are POSTed here"), reqID)
		return
	}
	if r.Header.Get("Authorization") == "" {
		writeError(w, errorf(http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials"), reqID)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeError(w, errorf(http.StatusBadRequest, "InvalidRequest", "the request body is missing or too large"), reqID)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, "InvalidRequest", "the request body is not form-encoded: "+err.Error()), reqID)
		return
	}
	action := form.Get("Action")
	params := cloneValues(form)
	params.Del("Action")
	params.Del("Version")
	call := Call{Action: action, Region: regionOf(r), DryRun: form.Get("DryRun") == "true", Params: params, AccessKey: accessKeyOf(r.Header.Get("Authorization"))}

	s.mu.Lock()
	defer s.mu.Unlock()
	call.At = s.now()
	if action == "GetCallerIdentity" {
		s.serveSTS(w, call, reqID)
		return
	}
	s.settle()
	reply, aerr := s.dispatch(call)
	if aerr != nil {
		call.Error = aerr.Code
		s.calls = append(s.calls, call)
		writeError(w, aerr, reqID)
		return
	}
	s.calls = append(s.calls, call)
	setRequestID(reply, reqID)
	writeXML(w, http.StatusOK, reply)
}

type handler func(s *Server, c Call) (any, *apiError)

var handlers = map[string]handler{
	"RunInstances":       (*Server).runInstances,
	"DescribeInstances":  (*Server).describeInstances,
	"StopInstances":      (*Server).stopInstances,
	"StartInstances":     (*Server).startInstances,
	"TerminateInstances": (*Server).terminateInstances,
	"CreateTags":         (*Server).createTags,
	"DescribeImages":     (*Server).describeImages,

	"RebootInstances":        (*Server).rebootInstances,
	"CreateSnapshot":         (*Server).createSnapshot,
	"DescribeSnapshots":      (*Server).describeSnapshots,
	"DeleteSnapshot":         (*Server).deleteSnapshot,
	"DescribeInstanceStatus": (*Server).describeInstanceStatus,
	"GetConsoleOutput":       (*Server).getConsoleOutput,
	"DescribeKeyPairs":       (*Server).describeKeyPairs,
	"DeleteKeyPair":          (*Server).deleteKeyPair,
	"DescribeSubnets":        (*Server).describeSubnets,
	"DescribeSecurityGroups": (*Server).describeSecurityGroups,
}

// mutating lists the actions that honour DryRun by answering
// DryRunOperation instead of acting.
var mutating = map[string]bool{
	"RunInstances": true, "StopInstances": true, "StartInstances": true,
	"TerminateInstances": true, "CreateTags": true,
	"RebootInstances": true, "CreateSnapshot": true,
}

func (s *Server) dispatch(c Call) (any, *apiError) {
	if e := s.injectedFault(c.Action); e != nil {
		return nil, e
	}
	h, ok := handlers[c.Action]
	if !ok {
		return nil, errorf(http.StatusBadRequest, "InvalidAction", fmt.Sprintf("The action %s is not valid for this web service.", c.Action))
	}
	if s.denied[c.Action] {
		return nil, errorf(http.StatusForbidden, "UnauthorizedOperation", "You are not authorized to perform this operation.")
	}
	if c.DryRun && mutating[c.Action] {
		// Validate first, as EC2 does: a dry run of a malformed request
		// fails with the real error, not DryRunOperation.
		if e := s.validate(c); e != nil {
			return nil, e
		}
		return nil, errorf(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	return h(s, c)
}

func (s *Server) injectedFault(action string) *apiError {
	for i, f := range s.faults {
		if f.action != action && f.action != "*" {
			continue
		}
		f.left--
		if f.left <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return errorf(f.status, f.code, "injected by the fake")
	}
	return nil
}

// settle moves every instance on to the state the clock says it is in.
// Callers hold s.mu.
func (s *Server) settle() {
	now := s.now()
	for _, in := range s.instances {
		in.settle(now, s.delays)
	}
}

func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	h := newID("req", s.seq, 32)[4:]
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func setRequestID(reply any, id string) {
	switch r := reply.(type) {
	case *runInstancesResponse:
		r.RequestID = id
	case *describeInstancesResponse:
		r.RequestID = id
	case *stateChangeResponse:
		r.RequestID = id
	case *returnResponse:
		r.RequestID = id
	case *describeImagesResponse:
		r.RequestID = id
	case *createSnapshotResponse:
		r.RequestID = id
	case *describeSnapshotsResponse:
		r.RequestID = id
	case *describeInstanceStatusResponse:
		r.RequestID = id
	case *consoleOutputResponse:
		r.RequestID = id
	case *describeKeyPairsResponse:
		r.RequestID = id
	case *deleteKeyPairResponse:
		r.RequestID = id
	case *describeSubnetsResponse:
		r.RequestID = id
	case *describeGroupsResponse:
		r.RequestID = id
	}
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// accessKeyOf reads the access key ID from a SigV4 Authorization header
// ("AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, ...").
func accessKeyOf(authorization string) string {
	_, rest, ok := strings.Cut(authorization, "Credential=")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(rest, "/")
	return key
}
