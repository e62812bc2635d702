// Package cefake is a stateful fake of AWS Cost Explorer's
// GetCostAndUsage. It speaks Cost Explorer's real protocol (awsJson1_1:
// a POST with Content-Type application/x-amz-json-1.1 and X-Amz-Target
// AWSInsightsIndexService.GetCostAndUsage, JSON answers, errors with
// X-Amzn-ErrorType and a {"__type","Message"} body), so the real
// aws-sdk-go-v2 costexplorer client talks to it through an endpoint
// override; tests use it behind httptest and the sandbox serves it.
//
// It holds cost records (a day, an account, a service, tags, an amount)
// and answers with their sums by day or month, grouped by at most two
// of LINKED_ACCOUNT, SERVICE and tag keys (tag groups come back as
// "key$value", "key$" when untagged), a page of PageSize periods at a
// time with NextPageToken. Its errors are Cost Explorer's:
// AccessDeniedException (Deny), DataUnavailableException (periods
// before DataFrom), LimitExceededException (FailNext), ValidationException
// and InvalidNextTokenException.
package cefake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Target is the X-Amz-Target of GetCostAndUsage.
const Target = "AWSInsightsIndexService.GetCostAndUsage"

const dayLayout = "2006-01-02"

// Record is one day's cost of one resource group.
type Record struct {
	Day       string // "2006-01-02"
	Account   string // 12 digits
	Service   string // "Amazon Elastic Compute Cloud - Compute"
	Tags      map[string]string
	Unblended float64
	Amortized float64 // default: Unblended
}

// Call is one request answered.
type Call struct {
	At        time.Time
	Start     string
	End       string
	Monthly   bool
	GroupBy   []string // "DIMENSION:SERVICE", "TAG:team"
	Metrics   []string
	PageToken string
	Error     string
}

// Server is the fake. Use New.
type Server struct {
	now func() time.Time

	mu       sync.Mutex
	records  []Record
	source   func(day time.Time) []Record
	accounts map[string]string // ID → description
	denied   bool
	dataFrom string
	pageSize int
	fails    []fail
	calls    []Call
}

type fail struct {
	code string
	left int
}

// New returns an empty fake on the clock now.
func New(now func() time.Time) *Server {
	return &Server{now: now, accounts: map[string]string{}, pageSize: 31}
}

// Add records costs.
func (s *Server) Add(rs ...Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, rs...)
}

// SetSource adds to what Add recorded the records src gives for each
// day asked about (src is called with UTC midnights, once per day of a
// request, under the fake's lock): a bill without end, made on demand.
func (s *Server) SetSource(src func(day time.Time) []Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.source = src
}

// NameAccount gives a linked account the description Cost Explorer shows
// for it (its name in AWS Organizations).
func (s *Server) NameAccount(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[id] = name
}

// Deny makes every call answer AccessDeniedException (IAM says no, or
// Cost Explorer is not enabled), or lifts that.
func (s *Server) Deny(denied bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied = denied
}

// SetDataFrom makes periods starting before day answer
// DataUnavailableException; "" lifts it.
func (s *Server) SetDataFrom(day string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dataFrom = day
}

// SetPageSize sets how many periods one page holds (default 31).
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = max(n, 1)
}

// FailNext makes the next n calls answer code (LimitExceededException,
// or any other Cost Explorer error code).
func (s *Server) FailNext(code string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = append(s.fails, fail{code, n})
}

// Calls returns every request answered, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

type dateInterval struct {
	Start string `json:"Start"`
	End   string `json:"End"`
}

type groupDef struct {
	Type string `json:"Type"`
	Key  string `json:"Key"`
}

type request struct {
	TimePeriod    *dateInterval    `json:"TimePeriod"`
	Granularity   string           `json:"Granularity"`
	Metrics       []string         `json:"Metrics"`
	GroupBy       []groupDef       `json:"GroupBy"`
	NextPageToken string           `json:"NextPageToken"`
	Filter        *json.RawMessage `json:"Filter"`
}

type metricValue struct {
	Amount string `json:"Amount"`
	Unit   string `json:"Unit"`
}

type group struct {
	Keys    []string               `json:"Keys"`
	Metrics map[string]metricValue `json:"Metrics"`
}

type resultByTime struct {
	TimePeriod dateInterval           `json:"TimePeriod"`
	Total      map[string]metricValue `json:"Total"`
	Groups     []group                `json:"Groups"`
	Estimated  bool                   `json:"Estimated"`
}

type dimensionValue struct {
	Value      string            `json:"Value"`
	Attributes map[string]string `json:"Attributes"`
}

type response struct {
	GroupDefinitions         []groupDef       `json:"GroupDefinitions,omitempty"`
	ResultsByTime            []resultByTime   `json:"ResultsByTime"`
	DimensionValueAttributes []dimensionValue `json:"DimensionValueAttributes"`
	NextPageToken            string           `json:"NextPageToken,omitempty"`
}

// ServeHTTP answers Cost Explorer requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusBadRequest, "ValidationException", "Cost Explorer requests are POSTed")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1") {
		writeError(w, http.StatusBadRequest, "SerializationException", "expected Content-Type application/x-amz-json-1.1")
		return
	}
	if !strings.Contains(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
		writeError(w, http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token")
		return
	}
	if t := r.Header.Get("X-Amz-Target"); t != Target {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "unknown operation "+t)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "could not read the body")
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	call := Call{At: s.now(), Monthly: req.Granularity == "MONTHLY", Metrics: req.Metrics, PageToken: req.NextPageToken}
	if req.TimePeriod != nil {
		call.Start, call.End = req.TimePeriod.Start, req.TimePeriod.End
	}
	for _, g := range req.GroupBy {
		call.GroupBy = append(call.GroupBy, g.Type+":"+g.Key)
	}
	resp, status, code, msg := s.answer(req)
	if code != "" {
		call.Error = code
		s.calls = append(s.calls, call)
		writeError(w, status, code, msg)
		return
	}
	s.calls = append(s.calls, call)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("ce-%d", len(s.calls)))
	json.NewEncoder(w).Encode(resp)
}

// answer works out one request. Caller holds s.mu.
func (s *Server) answer(req request) (*response, int, string, string) {
	bad := func(msg string) (*response, int, string, string) {
		return nil, http.StatusBadRequest, "ValidationException", msg
	}
	for i := range s.fails {
		if s.fails[i].left > 0 {
			s.fails[i].left--
			return nil, http.StatusBadRequest, s.fails[i].code, "Rate exceeded"
		}
	}
	if s.denied {
		return nil, http.StatusBadRequest, "AccessDeniedException", "User: arn:aws:iam::999988887777:user/opsbot is not authorized to perform: ce:GetCostAndUsage on resource: arn:aws:ce:us-east-1:999988887777:/GetCostAndUsage"
	}
	if req.TimePeriod == nil {
		return bad("1 validation error detected: Value null at 'timePeriod' failed to satisfy constraint: Member must not be null")
	}
	start, err1 := time.Parse(dayLayout, req.TimePeriod.Start)
	end, err2 := time.Parse(dayLayout, req.TimePeriod.End)
	if err1 != nil || err2 != nil {
		return bad("Start and End must be dates like 2006-01-02")
	}
	if !start.Before(end) {
		return bad("Start date (" + req.TimePeriod.Start + ") must be before the end date (" + req.TimePeriod.End + ")")
	}
	if len(req.Metrics) == 0 {
		return bad("Metrics must not be empty")
	}
	for _, m := range req.Metrics {
		if m != "UnblendedCost" && m != "AmortizedCost" && m != "BlendedCost" && m != "NetUnblendedCost" && m != "NetAmortizedCost" && m != "UsageQuantity" && m != "NormalizedUsageAmount" {
			return bad("Invalid metric " + m)
		}
	}
	switch req.Granularity {
	case "DAILY", "MONTHLY":
	case "HOURLY":
		return bad("Hourly granularity needs hourly data enabled")
	default:
		return bad("Granularity must be one of DAILY, MONTHLY, HOURLY")
	}
	if len(req.GroupBy) > 2 {
		return bad("GroupBy: at most 2 group-by definitions are allowed")
	}
	for _, g := range req.GroupBy {
		switch {
		case g.Type == "DIMENSION" && (g.Key == "SERVICE" || g.Key == "LINKED_ACCOUNT"):
		case g.Type == "TAG" && g.Key != "":
		case g.Type == "DIMENSION":
			return bad("the fake groups by SERVICE and LINKED_ACCOUNT dimensions only, not " + g.Key)
		default:
			return bad("GroupBy type must be DIMENSION, TAG or COST_CATEGORY")
		}
	}
	if s.dataFrom != "" && req.TimePeriod.Start < s.dataFrom {
		return nil, http.StatusBadRequest, "DataUnavailableException", "Data is not available. Please try to adjust the time period."
	}
	periods := s.periods(start, end, req.Granularity == "MONTHLY")
	first := 0
	if req.NextPageToken != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(req.NextPageToken, "page-"))
		if err != nil || !strings.HasPrefix(req.NextPageToken, "page-") || n <= 0 || n >= len(periods) {
			return nil, http.StatusBadRequest, "InvalidNextTokenException", "The pagination token is invalid."
		}
		first = n
	}
	last := min(first+s.pageSize, len(periods))
	resp := &response{ResultsByTime: []resultByTime{}, DimensionValueAttributes: []dimensionValue{}, GroupDefinitions: req.GroupBy}
	if last < len(periods) {
		resp.NextPageToken = fmt.Sprintf("page-%d", last)
	}
	seenAcct := map[string]bool{}
	monthStart := time.Date(s.now().Year(), s.now().Month(), 1, 0, 0, 0, 0, time.UTC)
	for _, p := range periods[first:last] {
		rb := resultByTime{TimePeriod: dateInterval{p[0].Format(dayLayout), p[1].Format(dayLayout)}, Total: map[string]metricValue{}, Groups: []group{}}
		rb.Estimated = !p[1].Before(monthStart.AddDate(0, 0, 1)) // this month's data is not final
		sums := map[string][]float64{}
		var order []string
		totals := make([]float64, len(req.Metrics))
		for _, rec := range s.recordsIn(p[0], p[1]) {
			var keys []string
			for _, g := range req.GroupBy {
				switch {
				case g.Key == "SERVICE" && g.Type == "DIMENSION":
					keys = append(keys, rec.Service)
				case g.Key == "LINKED_ACCOUNT" && g.Type == "DIMENSION":
					keys = append(keys, rec.Account)
					if !seenAcct[rec.Account] {
						seenAcct[rec.Account] = true
					}
				default:
					keys = append(keys, g.Key+"$"+rec.Tags[g.Key])
				}
			}
			k := strings.Join(keys, "\x00")
			if _, ok := sums[k]; !ok {
				sums[k] = make([]float64, len(req.Metrics))
				order = append(order, k)
			}
			for i, m := range req.Metrics {
				v := rec.Unblended
				if strings.Contains(m, "Amortized") && rec.Amortized != 0 {
					v = rec.Amortized
				}
				sums[k][i] += v
				totals[i] += v
			}
		}
		sort.Strings(order)
		if len(req.GroupBy) == 0 {
			for i, m := range req.Metrics {
				rb.Total[m] = metricValue{Amount: amount(totals[i]), Unit: "USD"}
			}
		}
		for _, k := range order {
			g := group{Keys: strings.Split(k, "\x00"), Metrics: map[string]metricValue{}}
			for i, m := range req.Metrics {
				g.Metrics[m] = metricValue{Amount: amount(sums[k][i]), Unit: "USD"}
			}
			rb.Groups = append(rb.Groups, g)
		}
		resp.ResultsByTime = append(resp.ResultsByTime, rb)
	}
	ids := make([]string, 0, len(seenAcct))
	for id := range seenAcct {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		resp.DimensionValueAttributes = append(resp.DimensionValueAttributes, dimensionValue{Value: id, Attributes: map[string]string{"description": s.accounts[id]}})
	}
	return resp, 0, "", ""
}

// recordsIn lists the records of the days in [from, to). Caller holds
// s.mu.
func (s *Server) recordsIn(from, to time.Time) []Record {
	var out []Record
	lo, hi := from.Format(dayLayout), to.Format(dayLayout)
	for _, rec := range s.records {
		if rec.Day >= lo && rec.Day < hi {
			out = append(out, rec)
		}
	}
	if s.source != nil {
		for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
			out = append(out, s.source(d)...)
		}
	}
	return out
}

// periods splits [start, end) into days or calendar months (the first
// and last months cut at start and end, as Cost Explorer does).
func (s *Server) periods(start, end time.Time, monthly bool) [][2]time.Time {
	var out [][2]time.Time
	for t := start; t.Before(end); {
		next := t.AddDate(0, 0, 1)
		if monthly {
			next = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		}
		if next.After(end) {
			next = end
		}
		out = append(out, [2]time.Time{t, next})
		t = next
	}
	return out
}

func amount(f float64) string { return strconv.FormatFloat(f, 'f', 10, 64) }

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code+":http://internal.amazon.com/coral/com.amazon.awsinsightsindexservice/")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.awsinsightsindexservice#" + code, "Message": msg})
}
