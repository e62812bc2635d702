package store

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func TestNextID_CountsPerPrefix(t *testing.T) { forEachDB(t, testNextID_CountsPerPrefix) }

func testNextID_CountsPerPrefix(t *testing.T, db *DB) {
	var got []string
	update(t, db, func(tx workflows.Tx) error {
		for _, p := range []string{"srv", "srv", "inc", "srv", "inc"} {
			id, err := tx.NextID(p)
			if err != nil {
				return err
			}
			got = append(got, id)
		}
		return nil
	})
	update(t, db, func(tx workflows.Tx) error {
		id, err := tx.NextID("srv")
		got = append(got, id)
		return err
	})
	want := []string{"srv-1", "srv-2", "inc-1", "srv-3", "inc-2", "srv-4"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ids = %v, want %v", got, want)
	}
	err := db.Update(context.Background(), func(tx workflows.Tx) error { _, err := tx.NextID("#jobs"); return err })
	if err == nil {
		t.Fatal("NextID(#jobs) succeeded; internal sequences must not be reachable")
	}
}

func TestNextID_ConcurrentUpdatesNeverRepeat(t *testing.T) {
	forEachDB(t, testNextID_ConcurrentUpdatesNeverRepeat)
}

func testNextID_ConcurrentUpdatesNeverRepeat(t *testing.T, db *DB) {
	const workers, each = 20, 10
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := db.Update(context.Background(), func(tx workflows.Tx) error {
					id, err := tx.NextID("srv")
					if err != nil {
						return err
					}
					mu.Lock()
					defer mu.Unlock()
					if seen[id] {
						return fmt.Errorf("%s handed out twice", id)
					}
					seen[id] = true
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for i := 1; i <= workers*each; i++ {
		if !seen[fmt.Sprintf("srv-%d", i)] {
			t.Fatalf("srv-%d never handed out (got %d ids)", i, len(seen))
		}
	}
}

func TestAudit_RoundTrip(t *testing.T) { forEachDB(t, testAudit_RoundTrip) }

func testAudit_RoundTrip(t *testing.T, db *DB) {
	a := workflows.AuditEntry{At: t0, Actor: "U1 <a@x.io>", Action: "request.create", Subject: "srv-1", Reason: "load test", Detail: `{"template":"small"}`}
	b := workflows.AuditEntry{At: t0.Add(time.Second), Actor: "opsbot", Action: "ec2.launch", Subject: "srv-1", Detail: "i-123"}
	other := workflows.AuditEntry{At: t0, Actor: "opsbot", Action: "ec2.launch", Subject: "srv-2"}
	update(t, db, func(tx workflows.Tx) error {
		for _, e := range []workflows.AuditEntry{b, other, a} {
			if err := tx.Audit(e); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := db.AuditLog(context.Background(), "srv-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []workflows.AuditEntry{a, b}; !reflect.DeepEqual(got, want) {
		t.Fatalf("audit log = %+v, want %+v", got, want)
	}
	all, err := db.AuditLog(context.Background(), "")
	if err != nil || len(all) != 3 {
		t.Fatalf("whole audit log = %d entries, %v; want 3", len(all), err)
	}
}

func TestMarkSent_SecondTimeIsFalse(t *testing.T) { forEachDB(t, testMarkSent_SecondTimeIsFalse) }

func testMarkSent_SecondTimeIsFalse(t *testing.T, db *DB) {
	var first, second, other bool
	update(t, db, func(tx workflows.Tx) (err error) {
		first, err = tx.MarkSent("remind:srv-1:24h", t0)
		return err
	})
	update(t, db, func(tx workflows.Tx) (err error) {
		if second, err = tx.MarkSent("remind:srv-1:24h", t0.Add(time.Hour)); err != nil {
			return err
		}
		other, err = tx.MarkSent("remind:srv-1:1h", t0)
		return err
	})
	if !first || second || !other {
		t.Fatalf("MarkSent = %v, %v, %v; want true, false, true", first, second, other)
	}
	var at int64
	db.read.QueryRow("SELECT at FROM sent WHERE sent_key = 'remind:srv-1:24h'").Scan(&at)
	if fromNanos(at) != t0 {
		t.Fatalf("the second MarkSent changed the time to %v", fromNanos(at))
	}
}

func TestMessageRef_PutGetReplace(t *testing.T) { forEachDB(t, testMessageRef_PutGetReplace) }

func testMessageRef_PutGetReplace(t *testing.T, db *DB) {
	view(t, db, func(tx workflows.Tx) error {
		if _, ok, err := tx.MessageRef("apr-1"); ok || err != nil {
			t.Errorf("MessageRef of nothing = %v, %v", ok, err)
		}
		return nil
	})
	update(t, db, func(tx workflows.Tx) error {
		return tx.PutMessageRef("apr-1", workflows.MessageRef{Channel: "C1", TS: "1700000000.000100"}, t0)
	})
	update(t, db, func(tx workflows.Tx) error {
		return tx.PutMessageRef("apr-1", workflows.MessageRef{Channel: "C2", TS: "1700000001.000200"}, t0)
	})
	view(t, db, func(tx workflows.Tx) error {
		ref, ok, err := tx.MessageRef("apr-1")
		if want := (workflows.MessageRef{Channel: "C2", TS: "1700000001.000200"}); !ok || err != nil || ref != want {
			t.Errorf("MessageRef = %+v, %v, %v; want %+v", ref, ok, err, want)
		}
		return nil
	})
}

func TestCachedPrice_OnlyWhenFreshEnough(t *testing.T) {
	forEachDB(t, testCachedPrice_OnlyWhenFreshEnough)
}

func testCachedPrice_OnlyWhenFreshEnough(t *testing.T, db *DB) {
	key := "us-east-1/t3.small"
	update(t, db, func(tx workflows.Tx) error { return tx.PutPrice(key, workflows.USD(0.0208), t0) })
	view(t, db, func(tx workflows.Tx) error {
		for _, c := range []struct {
			notBefore time.Time
			ok        bool
		}{{t0.Add(-time.Hour), true}, {t0, true}, {t0.Add(time.Nanosecond), false}} {
			p, ok, err := tx.CachedPrice(key, c.notBefore)
			if err != nil || ok != c.ok || (ok && p != workflows.USD(0.0208)) {
				t.Errorf("CachedPrice(notBefore %v) = %v, %v, %v; want ok=%v", c.notBefore, p, ok, err, c.ok)
			}
		}
		if _, ok, _ := tx.CachedPrice("nope", time.Time{}); ok {
			t.Error("CachedPrice of an unknown key is ok")
		}
		return nil
	})
	update(t, db, func(tx workflows.Tx) error { return tx.PutPrice(key, workflows.USD(0.03), t0.Add(time.Hour)) })
	view(t, db, func(tx workflows.Tx) error {
		if p, ok, _ := tx.CachedPrice(key, t0.Add(time.Minute)); !ok || p != workflows.USD(0.03) {
			t.Errorf("after replace CachedPrice = %v, %v", p, ok)
		}
		return nil
	})
}
