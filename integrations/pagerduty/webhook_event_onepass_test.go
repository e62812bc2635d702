package pagerduty

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParseEvent_OnePassAgreesWithTwo: the one-pass read of an event
// (ParseEvent's fast way) gives exactly what the two passes give, value
// and error alike, for any body: recorded events, malformed ones, and
// what the fuzzer makes of them.
func FuzzParseEvent_OnePassAgreesWithTwo(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"event":{"id":"E1","event_type":"incident.triggered","data":null}}`,
		`{"event":{"id":"E1","event_type":"incident.resolved","data":{"number":"forty-two"}}}`,
		`{"event":{"id":"E1","event_type":"incident.annotated","data":[1]}}`,
		`{"event":{"id":"E1","event_type":"incident.triggered","data":{"incident":"x","id":"Q1"}}}`,
		`{"event":{"id":"E1","event_type":"incident.annotated","data":{"number":7,"content":"c"}}}`,
		`{"event":{"id":"","event_type":"incident.triggered","data":{}}}`,
		`{"event":{"id":"E1","event_type":"incident.triggered","occurred_at":"yesterday","data":{}}}`,
		`{"event":{"id":"E1","event_type":"incident.triggered","data":{},"data":null}}`,
		`{"event":{"id":"E1","event_type":"incident.triggered","data":{"ID":"upper","Title":"t"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		one, oneErr := ParseEvent(body)
		two, twoErr := parseTwoPasses(body)
		if (oneErr == nil) != (twoErr == nil) {
			t.Fatalf("one pass: %v; two passes: %v", oneErr, twoErr)
		}
		if !reflect.DeepEqual(one, two) {
			t.Fatalf("one pass\n%+v\ntwo passes\n%+v", one, two)
		}
	})
}
