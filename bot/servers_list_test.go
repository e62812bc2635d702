package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// /ops servers lists the person's live servers and those finished in
// the last week, newest first (same instant: by ID, as the store's old
// order had them), whether they are matched by Slack ID or by email;
// older finished ones and other people's are left out. The store now
// filters and leaves the sorting to MyServers.
func TestServersCommand_ListsLiveAndLastWeekNewestFirst(t *testing.T) {
	e := newReadEnv(t, true)
	now := e.clock.Now()
	dir := blockingDirectory{release: make(chan struct{})}
	close(dir.release) // U1's email: u1@example.com
	e.bot.Directory = dir
	me := workflows.Person{SlackID: "U1"}
	mk := func(id string, owner workflows.Person, st workflows.State, created, updated time.Duration) *workflows.ServerRequest {
		return &workflows.ServerRequest{ID: id, Owner: owner, Team: "platform", Template: "small", State: st,
			CreatedAt: now.Add(-created), UpdatedAt: now.Add(-updated)}
	}
	day := 24 * time.Hour
	rs := []*workflows.ServerRequest{
		mk("srv-1", me, workflows.StateRunning, 30*day, 30*day),
		mk("srv-2", me, workflows.StateTerminated, 20*day, 8*day), // finished over a week ago
		mk("srv-3", me, workflows.StateTerminated, 10*day, 6*day), // finished this week
		mk("srv-9", me, workflows.StatePending, 2*day, 2*day),
		mk("srv-10", me, workflows.StateRunning, 2*day, 2*day), // same instant as srv-9
		mk("srv-11", workflows.Person{Email: "U1@example.com"}, workflows.StateStopped, day, day),
		mk("srv-12", workflows.Person{SlackID: "U2"}, workflows.StateRunning, day, day),
		mk("srv-13", me, workflows.StateDenied, 9*day, 9*day),
	}
	if err := e.db.Update(context.Background(), func(tx workflows.Tx) error {
		for _, r := range rs {
			if err := tx.CreateRequest(r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	w := e.send(e.command("/ops", "servers", "U1", "t1"))
	body := w.Body.String()
	var order []int
	for _, id := range []string{"srv-11", "srv-10", "srv-9", "srv-3", "srv-1"} {
		i := strings.Index(body, id+" ·")
		if i < 0 {
			t.Fatalf("%s missing from %s", id, body)
		}
		order = append(order, i)
	}
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			t.Errorf("not newest first (same instant by ID): %s", body)
		}
	}
	for _, id := range []string{"srv-2 ", "srv-12", "srv-13"} {
		if strings.Contains(body, id) {
			t.Errorf("%s listed: %s", id, body)
		}
	}
	if !strings.Contains(body, "Your servers (5)") {
		t.Errorf("title: %s", body)
	}
}
