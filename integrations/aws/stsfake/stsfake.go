// Package stsfake is a stateful fake of AWS STS's AssumeRole. It speaks
// STS's real protocol (awsQuery: a form-encoded POST with Action and
// Version=2011-06-15, XML answers in the STS namespace, errors as
// <ErrorResponse><Error><Type/><Code/><Message/></Error>), so the real
// aws-sdk-go-v2 STS client, and stscreds on top of it, talk to it through
// an endpoint override.
//
// Roles are declared with AddRole (ARN, the external ID its trust policy
// requires, the account it is in); assuming any other role, or with a
// wrong external ID, answers 403 AccessDenied as STS does. Each
// AssumeRole issues new temporary credentials (ASIA… keys) that expire
// after DurationSeconds (default 3600) on the fake's clock; KeyAccount
// tells which account a key was issued for, so another fake (EC2) can
// check which role signed a call.
package stsfake

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Namespace is STS's XML namespace.
const Namespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// Role is a role the fake lets callers assume.
type Role struct {
	ARN        string
	ExternalID string // required when set, as a trust policy's sts:ExternalId condition
	Account    string // the 12-digit account the role is in
}

// Call is one AssumeRole (or other action) the fake answered.
type Call struct {
	At          time.Time
	Action      string
	RoleARN     string
	ExternalID  string
	SessionName string
	Error       string // the error code answered, "" on success
}

// Server is the fake. Use New.
type Server struct {
	now func() time.Time

	mu    sync.Mutex
	roles map[string]Role
	keys  map[string]string // access key ID → account
	calls []Call
	seq   int
}

// New returns a fake with no roles, on the clock now.
func New(now func() time.Time) *Server {
	return &Server{now: now, roles: map[string]Role{}, keys: map[string]string{}}
}

// AddRole declares a role that may be assumed.
func (s *Server) AddRole(r Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[r.ARN] = r
}

// RemoveRole makes a role unassumable (its trust policy no longer lets
// the caller in): the next AssumeRole answers AccessDenied.
func (s *Server) RemoveRole(arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.roles, arn)
}

// KeyAccount returns the account a temporary access key was issued for.
func (s *Server) KeyAccount(accessKeyID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.keys[accessKeyID]
	return a, ok
}

// Calls returns every request answered, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// roleARN is the shape STS checks before anything else.
var roleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)

// sessionName is RoleSessionName's pattern: 2 to 64 characters.
var sessionName = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// ServeHTTP answers STS Query requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := s.requestID()
	if r.Method != http.MethodPost {
		writeError(w, http.StatusBadRequest, "Sender", "InvalidAction", "STS Query requests are POSTed", reqID)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Sender", "InvalidRequest", "the request body could not be read", reqID)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Sender", "MalformedQueryString", err.Error(), reqID)
		return
	}
	if !strings.Contains(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
		writeError(w, http.StatusForbidden, "Sender", "MissingAuthenticationToken", "Request is missing Authentication Token", reqID)
		return
	}
	if form.Get("Version") != "2011-06-15" {
		writeError(w, http.StatusBadRequest, "Sender", "InvalidParameterValue", "unsupported Version "+form.Get("Version"), reqID)
		return
	}
	switch form.Get("Action") {
	case "AssumeRole":
		s.assumeRole(w, form, reqID)
	default:
		writeError(w, http.StatusBadRequest, "Sender", "InvalidAction", fmt.Sprintf("Could not find operation %s for version 2011-06-15", form.Get("Action")), reqID)
	}
}

func (s *Server) assumeRole(w http.ResponseWriter, form url.Values, reqID string) {
	call := Call{Action: "AssumeRole", RoleARN: form.Get("RoleArn"), ExternalID: form.Get("ExternalId"), SessionName: form.Get("RoleSessionName")}
	s.mu.Lock()
	defer s.mu.Unlock()
	call.At = s.now()
	fail := func(status int, code, msg string) {
		call.Error = code
		s.calls = append(s.calls, call)
		writeError(w, status, "Sender", code, msg, reqID)
	}
	switch {
	case call.RoleARN == "" || call.SessionName == "":
		fail(http.StatusBadRequest, "MissingParameter", "RoleArn and RoleSessionName are required")
		return
	case !roleARN.MatchString(call.RoleARN):
		fail(http.StatusBadRequest, "ValidationError", "1 validation error detected: Value at 'roleArn' failed to satisfy constraint")
		return
	case !sessionName.MatchString(call.SessionName):
		fail(http.StatusBadRequest, "ValidationError", "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint")
		return
	}
	dur := 3600
	if v := form.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 900 || n > 43200 {
			fail(http.StatusBadRequest, "ValidationError", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200")
			return
		}
		dur = n
	}
	role, ok := s.roles[call.RoleARN]
	if !ok || (role.ExternalID != "" && role.ExternalID != call.ExternalID) {
		fail(http.StatusForbidden, "AccessDenied", "User: arn:aws:iam::000000000000:user/opsbot is not authorized to perform: sts:AssumeRole on resource: "+call.RoleARN)
		return
	}
	s.seq++
	key := fmt.Sprintf("ASIAFAKE%012d", s.seq)
	s.keys[key] = role.Account
	s.calls = append(s.calls, call)
	roleName := call.RoleARN[strings.LastIndex(call.RoleARN, "/")+1:]
	resp := assumeRoleResponse{
		Xmlns: Namespace,
		Result: assumeRoleResult{
			Credentials: credentials{
				AccessKeyID: key, SecretAccessKey: fmt.Sprintf("fakesecret%d", s.seq),
				SessionToken: fmt.Sprintf("FwoGZXIvYXdzEFAKE%d", s.seq),
				Expiration:   call.At.Add(time.Duration(dur) * time.Second).UTC().Format(time.RFC3339),
			},
			AssumedRoleUser: assumedRoleUser{
				AssumedRoleID: fmt.Sprintf("AROAFAKE%06d:%s", s.seq, call.SessionName),
				Arn:           fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", role.Account, roleName, call.SessionName),
			},
		},
		Metadata: metadata{RequestID: reqID},
	}
	writeXML(w, http.StatusOK, resp)
}

func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("c6104cbe-af31-11e0-8154-%012d", s.seq)
}

type assumeRoleResponse struct {
	XMLName  xml.Name         `xml:"AssumeRoleResponse"`
	Xmlns    string           `xml:"xmlns,attr"`
	Result   assumeRoleResult `xml:"AssumeRoleResult"`
	Metadata metadata         `xml:"ResponseMetadata"`
}

type assumeRoleResult struct {
	Credentials     credentials     `xml:"Credentials"`
	AssumedRoleUser assumedRoleUser `xml:"AssumedRoleUser"`
}

type credentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumedRoleUser struct {
	AssumedRoleID string `xml:"AssumedRoleId"`
	Arn           string `xml:"Arn"`
}

type metadata struct {
	RequestID string `xml:"RequestId"`
}

type errorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Error     errBody  `xml:"Error"`
	RequestID string   `xml:"RequestId"`
}

type errBody struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func writeError(w http.ResponseWriter, status int, typ, code, msg, reqID string) {
	writeXML(w, status, errorResponse{Xmlns: Namespace, Error: errBody{Type: typ, Code: code, Message: msg}, RequestID: reqID})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(b)
}

// AccessKeyOf reads the access key ID from a SigV4 Authorization header
// ("AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, ...").
func AccessKeyOf(authorization string) string {
	_, rest, ok := strings.Cut(authorization, "Credential=")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(rest, "/")
	return key
}
