package ec2fake

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

type price struct {
	region, instanceType string
	usd                  float64
}

// SetPrice sets the Linux, shared-tenancy, on-demand hourly price of an
// instance type in a region. GetProducts answers it among decoys (Windows,
// dedicated tenancy, reserved capacity, SQL Server) at other prices, as the
// real Price List does, so a caller that forgets a filter gets a wrong
// answer instead of a lucky one.
func (s *Server) SetPrice(region, instanceType string, usdPerHour float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.prices {
		if p.region == region && p.instanceType == instanceType {
			s.prices[i].usd = usdPerHour
			return
		}
	}
	s.prices = append(s.prices, price{region, instanceType, usdPerHour})
}

type pricingFilter struct {
	Type  string `json:"Type"`
	Field string `json:"Field"`
	Value string `json:"Value"`
}

type getProductsInput struct {
	ServiceCode   string          `json:"ServiceCode"`
	Filters       []pricingFilter `json:"Filters"`
	FormatVersion string          `json:"FormatVersion"`
	MaxResults    int             `json:"MaxResults"`
	NextToken     string          `json:"NextToken"`
}

type getProductsOutput struct {
	PriceList     []string `json:"PriceList"`
	FormatVersion string   `json:"FormatVersion"`
	NextToken     string   `json:"NextToken,omitempty"`
}

var locations = map[string]string{
	"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
	"us-west-1": "US West (N. California)", "us-west-2": "US West (Oregon)",
	"eu-west-1": "EU (Ireland)", "eu-central-1": "EU (Frankfurt)",
	"ap-south-1": "Asia Pacific (Mumbai)", "ap-northeast-1": "Asia Pacific (Tokyo)",
}

// variants of one price: the attributes that differ from the plain Linux
// product, and the factor its price is multiplied by. The plain product
// comes last.
var variants = []struct {
	attrs  map[string]string
	factor float64
}{
	{map[string]string{"operatingSystem": "Windows"}, 1.9},
	{map[string]string{"tenancy": "Dedicated"}, 1.1},
	{map[string]string{"capacitystatus": "UnusedCapacityReservation"}, 1.0},
	{map[string]string{"capacitystatus": "AllocatedCapacityReservation"}, 0},
	{map[string]string{"preInstalledSw": "SQL Web"}, 1.5},
	{map[string]string{"operatingSystem": "RHEL"}, 1.3},
	{nil, 1},
}

func (s *Server) servePricing(w http.ResponseWriter, r *http.Request) {
	target := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSPriceListService.")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	call := Call{Action: target, Region: regionOf(r), Params: url.Values{"Body": {string(body)}}}
	s.mu.Lock()
	defer s.mu.Unlock()
	call.At = s.now()
	fail := func(status int, code, msg string) {
		call.Error = code
		s.calls = append(s.calls, call)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"__type": code, "Message": msg})
	}
	switch {
	case r.Header.Get("Authorization") == "":
		fail(http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token")
		return
	case err != nil:
		fail(http.StatusBadRequest, "SerializationException", "reading the body: "+err.Error())
		return
	}
	if e := s.injectedFault(target); e != nil {
		fail(e.Status, e.Code, e.Message)
		return
	}
	if target != "GetProducts" {
		fail(http.StatusBadRequest, "UnknownOperationException", "the fake answers GetProducts only")
		return
	}
	var in getProductsInput
	if err := json.Unmarshal(body, &in); err != nil {
		fail(http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if in.ServiceCode == "" {
		fail(http.StatusBadRequest, "InvalidParameterException", "ServiceCode is required")
		return
	}
	docs := []string{}
	if in.ServiceCode == "AmazonEC2" {
		for _, p := range s.prices {
			for _, v := range variants {
				attrs := productAttributes(p, v.attrs)
				if pricingMatch(attrs, in.Filters) {
					docs = append(docs, priceDocument(attrs, p.usd*v.factor))
				}
			}
		}
	}
	out := getProductsOutput{FormatVersion: "aws_v1"}
	start, _ := strconv.Atoi(in.NextToken)
	size := in.MaxResults
	if size <= 0 || size > 100 {
		size = 100
	}
	if start < len(docs) {
		end := min(start+size, len(docs))
		out.PriceList = docs[start:end]
		if end < len(docs) {
			out.NextToken = strconv.Itoa(end)
		}
	}
	if out.PriceList == nil {
		out.PriceList = []string{}
	}
	s.calls = append(s.calls, call)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
}

func productAttributes(p price, over map[string]string) map[string]string {
	loc := locations[p.region]
	if loc == "" {
		loc = p.region
	}
	a := map[string]string{
		"servicecode": "AmazonEC2", "servicename": "Amazon Elastic Compute Cloud",
		"instanceType": p.instanceType, "instanceFamily": "General purpose",
		"regionCode": p.region, "location": loc, "locationType": "AWS Region",
		"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
		"capacitystatus": "Used", "licenseModel": "No License required",
		"usagetype": "BoxUsage:" + p.instanceType, "operation": "RunInstances",
		"marketoption": "OnDemand",
	}
	for k, v := range over {
		a[k] = v
	}
	return a
}

func pricingMatch(attrs map[string]string, fs []pricingFilter) bool {
	for _, f := range fs {
		var v string
		for k, av := range attrs {
			if strings.EqualFold(k, f.Field) {
				v = av
			}
		}
		var ok bool
		switch strings.ToUpper(f.Type) {
		case "", "TERM_MATCH", "EQUALS":
			ok = strings.EqualFold(v, f.Value)
		case "CONTAINS":
			ok = strings.Contains(strings.ToLower(v), strings.ToLower(f.Value))
		case "ANY_OF", "NONE_OF":
			for _, one := range strings.Split(f.Value, ",") {
				ok = ok || strings.EqualFold(strings.TrimSpace(one), v)
			}
			if strings.ToUpper(f.Type) == "NONE_OF" {
				ok = !ok
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// sku makes a stable, SKU-looking code from the product attributes.
func sku(attrs map[string]string) string {
	h := fnv.New64a()
	for _, k := range []string{"regionCode", "instanceType", "operatingSystem", "tenancy", "capacitystatus", "preInstalledSw"} {
		fmt.Fprintf(h, "%s=%s;", k, attrs[k])
	}
	const alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
	n := h.Sum64()
	b := make([]byte, 16)
	for i := range b {
		b[i] = alphabet[n%uint64(len(alphabet))]
		n = n/uint64(len(alphabet)) + uint64(i)*7919
	}
	return string(b)
}

// priceDocument writes one Price List product as the JSON string that
// GetProducts puts in PriceList: product, serviceCode, terms.OnDemand with
// one offer term holding one hourly price dimension.
func priceDocument(attrs map[string]string, usd float64) string {
	code := sku(attrs)
	const offer, rate = "JRTCKXETXF", "6YS6EN2CT7"
	doc := map[string]any{
		"product": map[string]any{
			"productFamily": "Compute Instance",
			"attributes":    attrs,
			"sku":           code,
		},
		"serviceCode":     "AmazonEC2",
		"version":         "20250101000000",
		"publicationDate": "2025-01-01T00:00:00Z",
		"terms": map[string]any{
			"OnDemand": map[string]any{
				code + "." + offer: map[string]any{
					"offerTermCode":  offer,
					"sku":            code,
					"effectiveDate":  "2025-01-01T00:00:00Z",
					"termAttributes": map[string]string{},
					"priceDimensions": map[string]any{
						code + "." + offer + "." + rate: map[string]any{
							"unit":         "Hrs",
							"beginRange":   "0",
							"endRange":     "Inf",
							"rateCode":     code + "." + offer + "." + rate,
							"appliesTo":    []string{},
							"description":  fmt.Sprintf("$%.4f per On Demand %s %s Instance Hour", usd, attrs["operatingSystem"], attrs["instanceType"]),
							"pricePerUnit": map[string]string{"USD": strconv.FormatFloat(usd, 'f', 10, 64)},
						},
					},
				},
			},
		},
	}
	b, _ := json.Marshal(doc)
	return string(b)
}
