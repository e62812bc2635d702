package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/store"
)

// TestSQLite_KilledRightAfterAnsweringLosesNoEvent: one opsbot process
// (this test binary run as `opsbot serve`) on a SQLite file takes a
// burst of PagerDuty triggers at once. The moment the last is answered
// 202 it is killed with SIGKILL: the events are in its intake journal
// (held there while they poured in, store/journal), not in the
// database. Started again, it records them from the journal, and every
// incident gets exactly one channel and its whole set-up.
func TestSQLite_KilledRightAfterAnsweringLosesNoEvent(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "opsbot.db")
	const n, services = 8, 2
	w := newStormWorld(t, "sqlite:"+file, services)
	rep := w.start("solo")

	var reqs []*http.Request
	for i := range n {
		before := len(w.pd.Events())
		if _, err := w.pd.Trigger(stormService(i%services), fmt.Sprintf("Burst %d: errors up", i)); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, w.pd.WebhookRequest(w.pd.Events()[before]))
	}
	var wg sync.WaitGroup
	for _, req := range reqs {
		wg.Go(func() {
			body, _ := io.ReadAll(req.Body)
			out, _ := http.NewRequest(http.MethodPost, "http://"+rep.addr+pdfake.WebhookPath, bytes.NewReader(body))
			out.Header = req.Header.Clone()
			resp, err := http.DefaultClient.Do(out)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Errorf("webhook answered %d, want 202", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	rep.kill()
	if t.Failed() {
		t.FailNow()
	}
	held := journalHeld(t, file+"-intake")
	t.Logf("killed with %d bytes in the intake journal", held)
	if held == 0 {
		// The process moved the burst into the database in the moment
		// between the last answer and the kill: the restart below still
		// proves nothing is done twice, not that the journal is read.
		t.Log("the journal was empty at the kill: this run did not exercise the restart's recording")
	}

	rep = w.restart(rep)
	defer rep.stop()
	db, err := store.Open(context.Background(), "sqlite:"+file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var left []string
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if left = w.unfinished(t, db, n); len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		rep.dumpLog(t)
		t.Fatalf("%d incidents not set up: %s", len(left), strings.Join(left, "; "))
	}
	time.Sleep(2 * time.Second) // anything done twice would show by now
	w.checkOnce(t, db, n)
	if held > 0 && journalHeld(t, file+"-intake") != 0 {
		t.Error("the journal still holds arrivals after the restart recorded them")
	}
}

// journalHeld is how many bytes the intake journal's files hold.
func journalHeld(t *testing.T, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".journal") {
			total += info.Size()
		}
	}
	return total
}
