package runbooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var berlin, _ = time.LoadLocation("Europe/Berlin")

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

var secret = []byte("0123456789abcdef-restart")

// fakeCaller answers with the next of its answers (the last repeats);
// an answer with Status 0 is a transport error, -1 blocks until the call's
// context ends (a timeout). Every call's signature is checked.
type fakeCaller struct {
	t       *testing.T
	mu      sync.Mutex
	answers []runbooks.Answer
	calls   []runbooks.Call
	// during runs inside each call, before its answer returns: an
	// endpoint that calls back before opsbot has its 202.
	during func()
}

func (f *fakeCaller) Post(ctx context.Context, c runbooks.Call) (runbooks.Answer, error) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	i := min(len(f.calls)-1, len(f.answers)-1)
	a := f.answers[i]
	during := f.during
	f.mu.Unlock()
	if during != nil {
		during()
	}
	ts := "1"
	if err := runbooks.Verify(c.Secret, ts, runbooks.Sign(c.Secret, ts, c.Body), c.Body, time.Unix(1, 0)); err != nil {
		f.t.Errorf("signature round trip: %v", err)
	}
	switch a.Status {
	case 0:
		return runbooks.Answer{}, errors.New("dial tcp 127.0.0.1:9: connect: connection refused")
	case -1:
		<-ctx.Done()
		return runbooks.Answer{}, ctx.Err()
	}
	return a, nil
}

func (f *fakeCaller) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.Key)
	}
	return out
}

type world struct {
	t      *testing.T
	clock  *workflows.ManualClock
	db     *store.DB
	cat    *workflows.Catalog
	caller *fakeCaller
	svc    *runbooks.Service
	sent   []workflows.Message
}

var (
	dev      = workflows.Person{SlackID: "U0DEV", Email: "dev@example.com"}
	dev2     = workflows.Person{SlackID: "U0DEV2", Email: "dev2@example.com"}
	lead     = workflows.Person{SlackID: "U0LEAD", Email: "lead@example.com"}
	lead2    = workflows.Person{SlackID: "U0LEAD2", Email: "lead2@example.com"}
	ana      = workflows.Person{SlackID: "U0ANA", Email: "ana@example.com"}
	stranger = workflows.Person{SlackID: "U0NOBODY", Email: "nobody@example.com"}
	admin    = workflows.Person{SlackID: "U0ADMIN", Email: "admin@example.com"}
	solo     = workflows.Person{SlackID: "U0SOLO", Email: "solo@example.com"}
)

func one(f float64) *float64 { return &f }

func testRunbooks() []*runbooks.Runbook {
	return []*runbooks.Runbook{
		{Name: "restart-service", Description: "Restart one service", URL: "http://hooks.internal/restart", SecretEnv: "RB_RESTART",
			Teams: []string{"platform"}, RunBy: runbooks.RoleMembers, Timeout: 2 * time.Second, Retries: 2,
			Params: []runbooks.Param{
				{Name: "service", Type: runbooks.TypeChoice, Options: []string{"api", "worker"}, Required: true},
				{Name: "replicas", Type: runbooks.TypeNumber, Min: one(1), Max: one(10), Integer: true, Default: "1"},
				{Name: "drain", Type: runbooks.TypeBool, Default: "true"},
				{Name: "reason", Type: runbooks.TypeString, MaxLength: 40},
				{Name: "token", Type: runbooks.TypeString, Secret: true},
			}},
		{Name: "promote-build", Description: "Promote a build to production", URL: "http://hooks.internal/promote", SecretEnv: "RB_PROMOTE",
			Teams: []string{"platform", "solo"}, RunBy: runbooks.RoleMembers, NeedApprover: true, Retries: 0,
			Params: []runbooks.Param{{Name: "build", Type: runbooks.TypeString, Required: true, MaxLength: 20}}},
		{Name: "rotate-keys", Teams: []string{"*"}, RunBy: runbooks.RoleApprovers, URL: "http://hooks.internal/rotate", SecretEnv: "RB_ROTATE"},
		{Name: "failover", Teams: []string{"platform"}, RunBy: runbooks.RoleAdmins, URL: "http://hooks.internal/failover", SecretEnv: "RB_FAILOVER"},
	}
}

func newWorld(t *testing.T) *world {
	t.Helper()
	clock := workflows.NewManualClock(t0)
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "opsbot.db"), store.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cat := &workflows.Catalog{
		Admins: []string{"admin@example.com"},
		Teams: []*workflows.Team{
			{Name: "platform", ApprovalsChannel: "#platform-approvals", Members: []string{"U0DEV", "dev2@example.com"}, Approvers: []string{"U0LEAD", "U0LEAD2"}, Location: berlin},
			{Name: "data", ApprovalsChannel: "#data-approvals", Members: []string{"ana@example.com"}, Approvers: []string{"U0DLEAD"}, Location: time.UTC},
			{Name: "solo", ApprovalsChannel: "#solo", Approvers: []string{"U0SOLO"}, Location: time.UTC},
		},
	}
	w := &world{t: t, clock: clock, db: db, cat: cat, caller: &fakeCaller{t: t, answers: []runbooks.Answer{{Status: 200, Body: `{"restarted":"api"}`}}}}
	w.svc = &runbooks.Service{Store: db, Clock: clock, Catalog: cat, Runbooks: testRunbooks(), Caller: w.caller,
		Secrets:     map[string][]byte{"restart-service": secret, "promote-build": []byte("0123456789abcdef-promote"), "rotate-keys": secret, "failover": secret},
		CallbackURL: "https://opsbot.example.com/runbooks/callback"}
	return w
}

// drain runs every due job: messages are collected in w.sent, the
// runbooks jobs run through the service's handlers.
func (w *world) drain() {
	w.t.Helper()
	ctx := context.Background()
	hs := w.svc.Handlers()
	for range 20 {
		js, err := w.db.Claim(ctx, w.clock.Now(), "test", time.Minute, 100)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(js) == 0 {
			return
		}
		for _, j := range js {
			switch {
			case j.Kind == workflows.JobMessage:
				m, err := workflows.DecodeMessage(j.Payload)
				if err != nil {
					w.t.Fatal(err)
				}
				w.sent = append(w.sent, m)
			case hs[j.Kind] != nil:
				if err := hs[j.Kind](ctx, j); err != nil {
					w.t.Fatalf("job %s: %v", j.Kind, err)
				}
			}
			if err := w.db.Done(ctx, j, w.clock.Now()); err != nil && !errors.Is(err, workflows.ErrLeaseLost) {
				w.t.Fatal(err)
			}
		}
	}
}

func (w *world) messages() []workflows.Message {
	out := w.sent
	w.sent = nil
	return out
}

func (w *world) run(id string) *runbooks.Run {
	w.t.Helper()
	var r *runbooks.Run
	err := w.db.View(context.Background(), func(tx workflows.Tx) (err error) {
		r, err = tx.(runbooks.Tx).RunbookRun(id)
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

func (w *world) audit() []string {
	w.t.Helper()
	es, err := w.db.AuditLog(context.Background(), "")
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Actor+" "+e.Action+" "+e.Subject+" "+e.Detail)
	}
	return out
}

func golden(t *testing.T, name string, v any) {
	t.Helper()
	if m, ok := v.(workflows.Message); ok {
		m.ID = ""
		v = m
	}
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".json")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden %s (run with -update): %v", path, err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the golden file (run with -update and review the diff):\n%s", name, got)
	}
}

func titles(ms []workflows.Message) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Channel+m.User+"|"+m.Thread+": "+m.Title)
	}
	return strings.Join(out, "\n")
}

func byKey(t *testing.T, ms []workflows.Message, prefix string) workflows.Message {
	t.Helper()
	for i := len(ms) - 1; i >= 0; i-- {
		if strings.HasPrefix(ms[i].Key, prefix) {
			return ms[i]
		}
	}
	t.Fatalf("no message with key %s* in:\n%s", prefix, titles(ms))
	return workflows.Message{}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
