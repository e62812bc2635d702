package runbooks_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/opsbot/opsbot/workflows/runbooks"
)

// callback sends one signed progress report of run-1 at the world's now.
func (w *world) callback(seq int, status, text string) runbooks.CallbackOutcome {
	w.t.Helper()
	body := fmt.Sprintf(`{"run_id":"run-1","seq":%d,"status":%q,"text":%q}`, seq, status, text)
	ts, sig := signed(secret, w.clock.Now(), body)
	out, err := w.svc.Callback(context.Background(), []byte(body), ts, sig)
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

func seqs(r *runbooks.Run) []int {
	var out []int
	for _, st := range r.Progress {
		out = append(out, st.Seq)
	}
	return out
}

// The endpoint reports before opsbot has recorded its 202, and its
// updates overtake each other: every one is recorded, and the run's
// final message carries them all in order, whenever the thread's replies
// get posted (Slack paces posts in a channel to about one a second; the
// message's edit is not held back behind them).
func TestCallbacks_EarlyAndOutOfOrderProgressIsKept(t *testing.T) {
	w := newWorld(t)
	w.caller.answers = []runbooks.Answer{{Status: 202, Body: `{"accepted":true}`}}
	var codes []int
	w.caller.during = func() {
		for _, c := range []struct {
			seq          int
			status, text string
		}{
			{2, "running", "canary: 10% of traffic"},
			{1, "running", "copying b-1042 to the registry"},
			{3, "succeeded", "b-1042 is live"},
		} {
			codes = append(codes, w.callback(c.seq, c.status, c.text).Code)
		}
	}
	start(t, w, dev, "restart-service", map[string]string{"service": "api"}, "")
	w.drain()
	if !slices.Equal(codes, []int{200, 200, 200}) {
		t.Fatalf("callbacks before the 202 answered %v, want all 200", codes)
	}
	got := w.run("run-1")
	if got.State != runbooks.StateDone || !slices.Equal(seqs(got), []int{1, 2, 3}) || got.Seq != 3 {
		t.Fatalf("run %+v", got)
	}
	ms := w.messages()
	final := byKey(t, ms, "run:")
	if !strings.Contains(final.Text, "copying b-1042") || !strings.Contains(final.Text, "canary: 10%") ||
		strings.Index(final.Text, "copying") > strings.Index(final.Text, "canary") {
		t.Fatalf("the final message lacks the progress, in order:\n%s", final.Text)
	}
	golden(t, "run_succeeded_progress", final)
	if m := byKey(t, ms, "run-result:"); m.Thread != "run:run-1" {
		t.Fatalf("the 202 after the end: %+v", m)
	}
	// Replays and updates after the end change nothing.
	for _, c := range []struct {
		seq          int
		status, text string
	}{{1, "running", "copying b-1042 to the registry"}, {3, "failed", "x"}, {4, "running", "more"}, {4, "failed", "late"}} {
		if out := w.callback(c.seq, c.status, c.text); out.Code != 409 {
			t.Errorf("seq %d %s after the end: %+v, want 409", c.seq, c.status, out)
		}
	}
	w.drain()
	if ms := w.messages(); len(ms) != 0 {
		t.Fatalf("a refused callback said something:\n%s", titles(ms))
	}
	if after := w.run("run-1"); after.State != runbooks.StateDone || !slices.Equal(seqs(after), []int{1, 2, 3}) {
		t.Fatalf("a refused callback changed the run: %+v", after)
	}
}

// An update the endpoint sent again (its answer was lost) after the one
// that ended the run is recorded, and changes nothing else.
func TestCallbacks_RunningUpdateBeforeTheEndArrivingAfterIt(t *testing.T) {
	w := newWorld(t)
	w.caller.answers = []runbooks.Answer{{Status: 202}}
	start(t, w, dev, "restart-service", map[string]string{"service": "api"}, "")
	w.drain()
	w.messages()
	w.callback(1, "running", "draining")
	w.callback(3, "succeeded", "restarted")
	done := w.run("run-1")
	w.clock.Advance(time.Minute)
	if out := w.callback(2, "running", "starting"); out.Code != 200 {
		t.Fatalf("late update: %+v", out)
	}
	w.drain()
	got := w.run("run-1")
	if got.State != runbooks.StateDone || got.Result != done.Result || !got.UpdatedAt.Equal(done.UpdatedAt) || !slices.Equal(seqs(got), []int{1, 2, 3}) {
		t.Fatalf("run after the late update: %+v", got)
	}
	if m := byKey(t, w.messages(), "run:"); !strings.Contains(m.Text, "Update 2 (running)") || !strings.Contains(m.Text, "starting") {
		t.Fatalf("message: %s", m.Text)
	}
	if out := w.callback(2, "running", "starting"); out.Code != 409 {
		t.Fatalf("its replay: %+v", out)
	}
}

// A chatty endpoint is bounded: the record keeps MaxSteps updates and
// the message shows the last ShownSteps.
func TestCallbacks_Bounded(t *testing.T) {
	w := newWorld(t)
	w.caller.answers = []runbooks.Answer{{Status: 202}}
	start(t, w, dev, "restart-service", map[string]string{"service": "api"}, "")
	w.drain()
	long := strings.Repeat("x", 2500)
	for i := 1; i <= runbooks.MaxSteps; i++ {
		if out := w.callback(i, "running", long); out.Code != 200 {
			t.Fatalf("update %d: %+v", i, out)
		}
	}
	if out := w.callback(runbooks.MaxSteps+1, "succeeded", "done"); out.Code != 409 {
		t.Fatalf("update past the bound: %+v", out)
	}
	got := w.run("run-1")
	if len(got.Progress) != runbooks.MaxSteps || len([]rune(got.Progress[0].Text)) != runbooks.StepText+1 {
		t.Fatalf("%d steps, first %d characters", len(got.Progress), len([]rune(got.Progress[0].Text)))
	}
	w.messages()
	w.drain()
	m := byKey(t, w.messages(), "run:")
	if n := strings.Count(m.Text, "\nUpdate "); n != runbooks.ShownSteps || !strings.Contains(m.Text, "(190 earlier updates are in the thread)") || len(m.Text) > 2500 {
		t.Fatalf("%d updates shown, %d bytes:\n%.300s", n, len(m.Text), m.Text)
	}
}

// TestCallbacks_LongTextInAnotherScriptIsCutByCharacters attacks the
// text limits with a callback in Cyrillic (two bytes a character): the
// thread's reply shows 2,000 characters (not 2,000 bytes), and neither it
// nor the run's result (a final report's first line, up to 200
// characters) is cut in the middle of a character. Cut by bytes, as it
// was, the reply showed 1,000 characters and the result 99 and a broken
// character (U+FFFD).
func TestCallbacks_LongTextInAnotherScriptIsCutByCharacters(t *testing.T) {
	w := newWorld(t)
	w.caller.answers = []runbooks.Answer{{Status: 202}}
	start(t, w, dev, "restart-service", map[string]string{"service": "api"}, "")
	w.drain()
	w.messages()
	long := strings.Repeat("ж", 2500)
	if out := w.callback(1, "running", long); out.Code != 200 {
		t.Fatalf("progress: %+v", out)
	}
	if out := w.callback(2, "failed", "x"+long); out.Code != 200 {
		t.Fatalf("final: %+v", out)
	}
	w.drain()
	ms := w.messages()
	for _, m := range ms {
		if !utf8.ValidString(m.Text) || !utf8.ValidString(m.Title) {
			t.Errorf("message %s carries invalid UTF-8", m.Key)
		}
	}
	p := byKey(t, ms, "run-progress:run-1:1")
	if n := strings.Count(p.Text, "ж"); n != 2000 {
		t.Errorf("the thread's reply shows %d characters, want 2000", n)
	}
	got := w.run("run-1")
	if got.State != runbooks.StateFailed || !utf8.ValidString(got.Result) {
		t.Errorf("run %s, result valid UTF-8: %v", got.State, utf8.ValidString(got.Result))
	}
	if n := strings.Count(got.Result, "ж"); n != 199 {
		t.Errorf("result shows %d characters of the first line, want 199 (200 with the x)", n)
	}
}

// TestCallbacks_ForARunNeverCalledChangeNothing attacks the callback
// route with a correctly signed report for a run opsbot never called:
// one still waiting for an approver (a "succeeded" would skip the
// approval) and one denied. Both are refused with 409 and the run,
// its messages and the audit log stay as they were.
func TestCallbacks_ForARunNeverCalledChangeNothing(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	promote := []byte("0123456789abcdef-promote")
	pending := start(t, w, dev, "promote-build", map[string]string{"build": "b-1"}, "view:V1")
	denied := start(t, w, dev, "promote-build", map[string]string{"build": "b-2"}, "view:V2")
	if _, err := w.svc.Decide(ctx, lead, denied.ID, false); err != nil {
		t.Fatal(err)
	}
	w.drain()
	w.messages()
	before := len(w.audit())
	for _, id := range []string{pending.ID, denied.ID} {
		body := fmt.Sprintf(`{"run_id":%q,"seq":1,"status":"succeeded","text":"promoted"}`, id)
		ts, sig := signed(promote, w.clock.Now(), body)
		out, err := w.svc.Callback(ctx, []byte(body), ts, sig)
		if err != nil || out.Code != 409 {
			t.Errorf("%s: %+v %v, want 409", id, out, err)
		}
	}
	w.drain()
	if ms := w.messages(); len(ms) != 0 || len(w.caller.calls) != 0 {
		t.Fatalf("a refused callback said something or called:\n%s", titles(ms))
	}
	if got := w.run(pending.ID); got.State != runbooks.StatePending || len(got.Progress) != 0 {
		t.Errorf("pending run changed: %+v", got)
	}
	if got := w.run(denied.ID); got.State != runbooks.StateDenied || len(got.Progress) != 0 {
		t.Errorf("denied run changed: %+v", got)
	}
	if n := len(w.audit()); n != before {
		t.Errorf("%d audit entries added", n-before)
	}
}

// TestCallbacks_NULBytesAreNotRecorded attacks the run's record with NUL
// characters, from an endpoint that answers with a binary body and from
// a callback whose text has "\u0000": PostgreSQL refuses NUL in text, so
// recording them would fail the transaction every time (the answer never
// recorded, the callback answered 503 forever). They are dropped.
func TestCallbacks_NULBytesAreNotRecorded(t *testing.T) {
	w := newWorld(t)
	w.caller.answers = []runbooks.Answer{{Status: 202, Body: "acc\x00epted\x00"}}
	start(t, w, dev, "restart-service", map[string]string{"service": "api"}, "")
	w.drain()
	for _, body := range []string{`{"run_id":"run-1","seq":1,"status":"running","text":"half\u0000way"}`,
		`{"run_id":"run-1","seq":2,"status":"succeeded","text":"do\u0000ne"}`} {
		ts, sig := signed(secret, w.clock.Now(), body)
		if out, err := w.svc.Callback(context.Background(), []byte(body), ts, sig); err != nil || out.Code != 200 {
			t.Fatalf("callback %s: %+v %v", body, out, err)
		}
	}
	w.drain()
	got := w.run("run-1")
	all := got.Body + got.Result
	for _, st := range got.Progress {
		all += st.Text
	}
	for _, m := range w.messages() {
		all += m.Text + m.Title
	}
	if strings.Contains(all, "\x00") {
		t.Errorf("a NUL was recorded or shown: %q", all)
	}
	if got.State != runbooks.StateDone || !strings.Contains(got.Body, "accepted") || !strings.Contains(got.Result, "done") {
		t.Errorf("run %s, body %q, result %q", got.State, got.Body, got.Result)
	}
}
