package workflows

import (
	"encoding/json"
	"fmt"
	"strings"
)

// ValidatePayload checks that a job's payload has the shape its kind
// needs (see the Job* constants), so that a malformed job is refused when
// it is queued and given up at once when it is run, instead of panicking
// in its handler or in GiveUp. Kinds it does not know pass: their
// handlers check their own payloads.
func ValidatePayload(j Job) error {
	check, ok := payloadChecks[j.Kind]
	if !ok {
		return nil
	}
	if err := check(j.Payload); err != nil {
		return fmt.Errorf("%s job %q: %w", j.Kind, truncateRunes(j.Payload, 80), err)
	}
	return nil
}

var payloadChecks = map[string]func(string) error{
	JobProvision:    oneID("srv"),
	JobAwait:        oneID("srv"),
	JobRetag:        oneID("srv"),
	JobEnd:          endPayload,
	JobPark:         parkPayload,
	JobMessage:      messagePayload,
	JobHome:         nonEmpty,
	JobPagerEvent:   pagerEventPayload,
	JobOpenChannel:  oneID("inc"),
	JobInvite:       oneID("inc"),
	JobPage:         oneID("inc"),
	JobPostmortem:   oneID("inc"),
	JobMeetingWrite: oneID("inc"),
	JobPDStatus:     pdStatusPayload,
	JobPDNote:       pdNotePayload,
	JobLink:         oneID("inc"),
	JobUpload:       uploadPayload,
}

// oneID accepts a payload that is one human ID with the given prefix.
func oneID(prefix string) func(string) error {
	return func(p string) error {
		if !isID(p, prefix) {
			return fmt.Errorf("want one %s-N ID", prefix)
		}
		return nil
	}
}

func isID(s, prefix string) bool {
	n, ok := strings.CutPrefix(s, prefix+"-")
	if !ok || n == "" {
		return false
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func endPayload(p string) error {
	f := strings.Fields(p)
	if len(f) != 2 || f[0]+" "+f[1] != p || !isID(f[0], "srv") || (EndAction(f[1]) != EndStop && EndAction(f[1]) != EndTerminate) {
		return fmt.Errorf("want \"srv-N stop|terminate\"")
	}
	return nil
}

func pdStatusPayload(p string) error {
	f := strings.Fields(p)
	if len(f) < 2 || len(f) > 6 || !isID(f[0], "inc") {
		return fmt.Errorf("want \"inc-N STATUS [EMAIL [SLACKID PREVSTATUS PREVPD]]\"")
	}
	return nil
}

func pdNotePayload(p string) error {
	var n pdNote
	if err := json.Unmarshal([]byte(p), &n); err != nil {
		return fmt.Errorf("decode note: %w", err)
	}
	if !isID(n.Incident, "inc") || n.From == "" || strings.TrimSpace(n.Text) == "" {
		return fmt.Errorf("want an incident ID, a From email and text")
	}
	return nil
}

func messagePayload(p string) error {
	m, err := DecodeMessage(p)
	if err != nil {
		return err
	}
	if m.Channel == "" && m.User == "" {
		return fmt.Errorf("message has neither a channel nor a user")
	}
	return nil
}

// pagerEventPayload checks that p is a JSON object: the event as the
// webhook handler encoded it. It does not decode it (the handler does):
// it runs on every event taken in, thousands a second in a storm.
func pagerEventPayload(p string) error {
	if !strings.HasPrefix(p, "{") || !json.Valid([]byte(p)) {
		return fmt.Errorf("decode PagerDuty event: not a JSON object")
	}
	return nil
}

func nonEmpty(p string) error {
	if strings.TrimSpace(p) == "" {
		return fmt.Errorf("empty payload")
	}
	return nil
}

// subject is the ID a job is about: its payload's first word, or "".
func subject(j Job) string {
	f := strings.Fields(j.Payload)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
