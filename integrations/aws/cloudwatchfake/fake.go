// Package cloudwatchfake is a stateful fake of CloudWatch's GetMetricData
// for EC2 CPUUtilization, speaking the protocol aws-sdk-go-v2's
// service/cloudwatch v1.75 uses: Smithy RPC v2 CBOR (POST
// /service/GraniteServiceVersion20100801/operation/GetMetricData,
// Content-Type application/cbor, header Smithy-Protocol: rpc-v2-cbor;
// timestamps as CBOR tag 1 epoch seconds; errors as a CBOR map with
// __type and message plus X-Amzn-Query-Error, since the service is
// awsQuery-compatible). Older SDK versions spoke awsQuery (form-encoded,
// XML); this fake does not.
//
// Limits as CloudWatch documents them: 1 to 500 queries per call, Ids
// that start with a lowercase letter and are unique, a Period that is a
// multiple of 60, at most MaxDatapoints (default 100,800) datapoints per
// page, the rest behind an opaque NextToken.
package cloudwatchfake

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// Path is where the SDK posts GetMetricData.
const Path = "/service/GraniteServiceVersion20100801/operation/GetMetricData"

// MaxQueries and DefaultMaxDatapoints are CloudWatch's limits.
const (
	MaxQueries           = 500
	DefaultMaxDatapoints = 100800
)

// Server is the fake. Each instance's CPU is a step function set with
// SetCPU: from an instant on, every datapoint reads that level.
type Server struct {
	mu    sync.Mutex
	now   func() time.Time
	steps map[string][]step // instance ID → levels, by time
	def   *float64          // the level of instances with no steps
	calls []Call
	// owner names the account of an instance set with SetCPUIn: only a
	// caller signing as that account sees its metrics (CloudWatch's
	// metrics are per account and region, like the instances).
	owner map[string]string
	// keyAccount says which account an access key belongs to (STS's
	// temporary keys); keys it does not know are DefaultAccount's.
	keyAccount func(accessKey string) (string, bool)
}

// DefaultAccount is the account of callers whose key KeyAccounts does
// not know (opsbot's own credentials).
const DefaultAccount = "default"

// KeyAccounts tells the fake which account each access key signs for
// (stsfake.Server.KeyAccount), so metrics set with SetCPUIn answer only
// to that account's callers.
func (s *Server) KeyAccounts(f func(accessKey string) (string, bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyAccount = f
}

// SetCPUIn is SetCPU for an instance of account (an account ID, or
// DefaultAccount): a caller signing for another account gets no
// datapoints for it, as from CloudWatch in the wrong account.
func (s *Server) SetCPUIn(account, id string, from time.Time, pct float64) {
	s.mu.Lock()
	if s.owner == nil {
		s.owner = map[string]string{}
	}
	s.owner[id] = account
	s.mu.Unlock()
	s.SetCPU(id, from, pct)
}

type step struct {
	from time.Time
	pct  float64
}

// Call is one GetMetricData request as received.
type Call struct {
	Queries   int
	NextToken string
	// AccessKey and Region are from the request's SigV4 Authorization
	// header (Credential=KEY/DATE/REGION/monitoring/aws4_request).
	AccessKey string
	Region    string
}

// New makes a fake that reads the time from now (datapoints after it do
// not exist yet).
func New(now func() time.Time) *Server {
	return &Server{now: now, steps: map[string][]step{}}
}

// SetCPU makes instance id's CPUUtilization read pct from from on.
func (s *Server) SetCPU(id string, from time.Time, pct float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := append(s.steps[id], step{from, pct})
	sort.SliceStable(st, func(i, j int) bool { return st[i].from.Before(st[j].from) })
	s.steps[id] = st
}

// SetDefault makes every instance with no level of its own read pct at
// all times (the sandbox: every server idles).
func (s *Server) SetDefault(pct float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.def = &pct
}

// Calls returns the requests received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// level is id's CPU at t, and whether there is data then.
func (s *Server) level(id string, t time.Time) (float64, bool) {
	if _, own := s.steps[id]; !own && s.def != nil {
		return *s.def, true
	}
	pct, ok := 0.0, false
	for _, st := range s.steps[id] {
		if st.from.After(t) {
			break
		}
		pct, ok = st.pct, true
	}
	return pct, ok && pct >= 0 // a negative level: no data (stopped)
}

type apiError struct {
	status int
	typ    string // the Smithy shape name
	query  string // awsQuery code, for X-Amzn-Query-Error
	msg    string
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != Path {
		http.Error(w, "unknown operation", http.StatusNotFound)
		return
	}
	if r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" || r.Header.Get("Content-Type") != "application/cbor" {
		writeError(w, &apiError{http.StatusBadRequest, "SerializationException", "SerializationException", "expected Smithy-Protocol: rpc-v2-cbor and Content-Type: application/cbor"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		writeError(w, &apiError{http.StatusBadRequest, "SerializationException", "SerializationException", "unreadable body"})
		return
	}
	v, err := cbor.Decode(body)
	in, ok := v.(cbor.Map)
	if err != nil || !ok {
		writeError(w, &apiError{http.StatusBadRequest, "SerializationException", "SerializationException", "the body is not a CBOR map"})
		return
	}
	key, region := credentialScope(r.Header.Get("Authorization"))
	s.mu.Lock()
	defer s.mu.Unlock()
	out, e := s.getMetricData(in, key, region)
	if e != nil {
		writeError(w, e)
		return
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.WriteHeader(http.StatusOK)
	w.Write(cbor.Encode(out))
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("X-Amzn-Query-Error", e.query+";Sender")
	w.WriteHeader(e.status)
	w.Write(cbor.Encode(cbor.Map{"__type": cbor.String("com.amazonaws.cloudwatch#" + e.typ), "message": cbor.String(e.msg)}))
}

func invalid(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidParameterValueException", "InvalidParameterValue", fmt.Sprintf(format, args...)}
}

var idPattern = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

type query struct {
	id, instance string
	period       time.Duration
	stat         string
	cpu          bool // AWS/EC2 CPUUtilization by InstanceId
}

// credentialScope reads the access key and region of a SigV4
// Authorization header.
func credentialScope(auth string) (key, region string) {
	_, rest, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return "", ""
	}
	rest, _, _ = strings.Cut(rest, ",")
	parts := strings.Split(rest, "/")
	if len(parts) < 3 {
		return parts[0], ""
	}
	return parts[0], parts[2]
}

// visible says whether a caller signing with key sees instance's metrics.
func (s *Server) visible(instance, key string) bool {
	owner, ok := s.owner[instance]
	if !ok {
		return true
	}
	account := DefaultAccount
	if s.keyAccount != nil {
		if a, ok := s.keyAccount(key); ok {
			account = a
		}
	}
	return owner == account
}

func (s *Server) getMetricData(in cbor.Map, key, region string) (cbor.Map, *apiError) {
	start, ok1 := timestamp(in["StartTime"])
	end, ok2 := timestamp(in["EndTime"])
	if !ok1 || !ok2 {
		return nil, &apiError{http.StatusBadRequest, "MissingRequiredParameterException", "MissingParameter", "StartTime and EndTime are required"}
	}
	if !start.Before(end) {
		return nil, invalid("The parameter StartTime must be less than the parameter EndTime.")
	}
	list, _ := in["MetricDataQueries"].(cbor.List)
	token, _ := in["NextToken"].(cbor.String)
	s.calls = append(s.calls, Call{Queries: len(list), NextToken: string(token), AccessKey: key, Region: region})
	if len(list) == 0 {
		return nil, &apiError{http.StatusBadRequest, "MissingRequiredParameterException", "MissingParameter", "The parameter MetricDataQueries is required."}
	}
	if len(list) > MaxQueries {
		return nil, invalid("The collection MetricDataQueries must not have a size greater than %d.", MaxQueries)
	}
	maxPoints := DefaultMaxDatapoints
	if n, ok := number(in["MaxDatapoints"]); ok {
		if n < 1 {
			return nil, invalid("The parameter MaxDatapoints must be greater than 0.")
		}
		maxPoints = int(n)
	}
	descending := true
	if sb, ok := in["ScanBy"].(cbor.String); ok {
		switch sb {
		case "TimestampAscending":
			descending = false
		case "TimestampDescending":
		default:
			return nil, invalid("The value %s for parameter ScanBy is not valid.", sb)
		}
	}
	var qs []query
	seen := map[string]bool{}
	for _, item := range list {
		q, e := parseQuery(item)
		if e != nil {
			return nil, e
		}
		if seen[q.id] {
			return nil, invalid("The value %s for field Id in MetricDataQueries is not unique.", q.id)
		}
		seen[q.id] = true
		qs = append(qs, q)
	}
	// The series, in the order the queries came, then by time.
	type series struct {
		q      query
		times  []time.Time
		values []float64
	}
	now := s.now()
	var all []series
	for _, q := range qs {
		sr := series{q: q}
		if q.cpu && s.visible(q.instance, key) {
			first := start.Truncate(q.period)
			if first.Before(start) {
				first = first.Add(q.period)
			}
			for t := first; t.Before(end) && !t.Add(q.period).After(now); t = t.Add(q.period) {
				if v, ok := s.stat(q, t); ok {
					sr.times, sr.values = append(sr.times, t), append(sr.values, v)
				}
			}
		}
		if descending {
			for i, j := 0, len(sr.times)-1; i < j; i, j = i+1, j-1 {
				sr.times[i], sr.times[j] = sr.times[j], sr.times[i]
				sr.values[i], sr.values[j] = sr.values[j], sr.values[i]
			}
		}
		all = append(all, sr)
	}
	// The token is the count of datapoints already returned.
	skip := 0
	if token != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(string(token), "cwf-"))
		if err != nil || !strings.HasPrefix(string(token), "cwf-") || n < 0 {
			return nil, &apiError{http.StatusBadRequest, "InvalidNextToken", "InvalidNextToken", "The service returned an invalid NextToken."}
		}
		skip = n
	}
	var results cbor.List
	room, pos, more := maxPoints, 0, false
	for _, sr := range all {
		var ts, vs cbor.List
		status := "Complete"
		for i := range sr.times {
			if pos < skip {
				pos++
				continue
			}
			if room == 0 {
				more, status = true, "PartialData"
				break
			}
			ts = append(ts, cbor.Tag{ID: 1, Value: cbor.Float64(float64(sr.times[i].UnixNano()) / 1e9)})
			vs = append(vs, cbor.Float64(sr.values[i]))
			room--
			pos++
		}
		results = append(results, cbor.Map{
			"Id": cbor.String(sr.q.id), "Label": cbor.String("CPUUtilization"),
			"Timestamps": orEmpty(ts), "Values": orEmpty(vs), "StatusCode": cbor.String(status),
		})
	}
	out := cbor.Map{"MetricDataResults": results, "Messages": cbor.List{}}
	if more {
		out["NextToken"] = cbor.String("cwf-" + strconv.Itoa(pos))
	}
	return out, nil
}

func orEmpty(l cbor.List) cbor.List {
	if l == nil {
		return cbor.List{}
	}
	return l
}

// stat is the statistic of q's instance over the period starting at t,
// from one-minute samples of its level.
func (s *Server) stat(q query, t time.Time) (float64, bool) {
	var vals []float64
	for m := t; m.Before(t.Add(q.period)); m = m.Add(time.Minute) {
		if v, ok := s.level(q.instance, m); ok {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return 0, false
	}
	out := vals[0]
	sum := 0.0
	for _, v := range vals {
		sum += v
		switch q.stat {
		case "Maximum":
			out = max(out, v)
		case "Minimum":
			out = min(out, v)
		}
	}
	switch q.stat {
	case "Average":
		out = sum / float64(len(vals))
	case "Sum":
		out = sum
	case "SampleCount":
		out = float64(len(vals))
	}
	return out, true
}

func parseQuery(v cbor.Value) (query, *apiError) {
	m, ok := v.(cbor.Map)
	if !ok {
		return query{}, invalid("MetricDataQueries must hold structures.")
	}
	id, _ := m["Id"].(cbor.String)
	if !idPattern.MatchString(string(id)) {
		return query{}, invalid("The value %s for field Id in MetricDataQueries must start with a lowercase letter and contain only letters, numbers and underscores.", id)
	}
	q := query{id: string(id)}
	ms, ok := m["MetricStat"].(cbor.Map)
	if !ok {
		if _, expr := m["Expression"]; expr {
			return q, invalid("The fake supports MetricStat queries only.")
		}
		return q, invalid("Exactly one of MetricStat and Expression must be set for query %s.", id)
	}
	metric, _ := ms["Metric"].(cbor.Map)
	period, ok := number(ms["Period"])
	if !ok || period < 60 || int64(period)%60 != 0 {
		return q, invalid("The parameter MetricDataQueries.member.Period must be a multiple of 60 for query %s.", id)
	}
	q.period = time.Duration(period) * time.Second
	stat, _ := ms["Stat"].(cbor.String)
	switch stat {
	case "Average", "Maximum", "Minimum", "Sum", "SampleCount":
		q.stat = string(stat)
	default:
		return q, invalid("The value %s for parameter Stat is not supported by the fake.", stat)
	}
	ns, _ := metric["Namespace"].(cbor.String)
	name, _ := metric["MetricName"].(cbor.String)
	dims, _ := metric["Dimensions"].(cbor.List)
	if ns == "AWS/EC2" && name == "CPUUtilization" && len(dims) == 1 {
		if d, ok := dims[0].(cbor.Map); ok && d["Name"] == cbor.String("InstanceId") {
			inst, _ := d["Value"].(cbor.String)
			q.instance, q.cpu = string(inst), true
		}
	}
	return q, nil
}

func timestamp(v cbor.Value) (time.Time, bool) {
	t, ok := v.(*cbor.Tag)
	if !ok {
		if tv, ok2 := v.(cbor.Tag); ok2 {
			t, ok = &tv, true
		}
	}
	if !ok || t.ID != 1 {
		return time.Time{}, false
	}
	f, ok := number(t.Value)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, int64(f*1e9)).UTC(), true
}

func number(v cbor.Value) (float64, bool) {
	switch n := v.(type) {
	case cbor.Uint:
		return float64(n), true
	case cbor.NegInt:
		return -float64(n), true
	case cbor.Float64:
		return float64(n), true
	case cbor.Float32:
		return float64(n), true
	}
	return 0, false
}
