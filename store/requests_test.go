package store

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// sampleRequest has every field set to something other than its zero.
func sampleRequest(id string) *workflows.ServerRequest {
	return &workflows.ServerRequest{
		ID:          id,
		Owner:       workflows.Person{SlackID: "U123", Email: "Ada@Example.com"},
		Team:        "platform",
		Template:    "small",
		Reason:      "load test; it's \"big\"",
		State:       workflows.StateRunning,
		StateReason: "launched",
		Duration:    48*time.Hour + 30*time.Minute,
		HourlyRate:  workflows.USD(0.0208),
		Estimate:    workflows.USD(1.0088),
		ClientToken: "opsbot-" + id + "-1",
		Instance: workflows.Instance{
			ID: "i-0abc", Region: "eu-west-1", Type: "t3.small", State: workflows.InstanceRunning,
			LaunchTime: t0.Add(time.Minute), PrivateIP: "10.0.0.7", PrivateDNS: "ip-10-0-0-7.internal",
			Tags: map[string]string{workflows.TagManaged: "true", workflows.TagRequest: id, "Name": "ü ✓"},
		},
		Spec: &workflows.LaunchSpec{
			RequestID: id, Region: "eu-west-1", InstanceType: "t3.small", AMI: "ami-0123", Subnet: "subnet-1",
			SecurityGroups: []string{"sg-1", "sg-2"}, KeyName: "dev", RootVolumeGB: 20, UserData: "#!/bin/sh\necho ✓\n",
			Tags: map[string]string{"cost-center": "platform", workflows.TagRequest: id},
		},
		LeaseStart: t0.Add(2 * time.Minute),
		LeaseEnd:   t0.Add(50 * time.Hour),
		Extensions: 2,
		EndingAt:   t0.Add(49 * time.Hour),
		CreatedAt:  t0,
		UpdatedAt:  t0.Add(3 * time.Minute),
	}
}

func TestRequest_RoundTripsEveryField(t *testing.T) { forEachDB(t, testRequest_RoundTripsEveryField) }

func testRequest_RoundTripsEveryField(t *testing.T, db *DB) {
	want := sampleRequest("srv-1")
	bare := &workflows.ServerRequest{ID: "srv-2", State: workflows.StateRequested}
	update(t, db, func(tx workflows.Tx) error {
		if err := tx.CreateRequest(want); err != nil {
			return err
		}
		return tx.CreateRequest(bare)
	})
	view(t, db, func(tx workflows.Tx) error {
		got, err := tx.Request("srv-1")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("request =\n%+v\nwant\n%+v", got, want)
		}
		got, err = tx.Request("srv-2")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, bare) {
			t.Errorf("bare request =\n%+v\nwant\n%+v", got, bare)
		}
		return nil
	})
}

func TestRequest_NotFoundAndDuplicate(t *testing.T) { forEachDB(t, testRequest_NotFoundAndDuplicate) }

func testRequest_NotFoundAndDuplicate(t *testing.T, db *DB) {
	update(t, db, func(tx workflows.Tx) error {
		if _, err := tx.Request("srv-9"); !errors.Is(err, workflows.ErrNotFound) {
			t.Errorf("Request(missing) = %v, want ErrNotFound", err)
		}
		if err := tx.SaveRequest(sampleRequest("srv-9")); !errors.Is(err, workflows.ErrNotFound) {
			t.Errorf("SaveRequest(missing) = %v, want ErrNotFound", err)
		}
		if err := tx.CreateRequest(sampleRequest("srv-1")); err != nil {
			return err
		}
		if err := tx.CreateRequest(sampleRequest("srv-1")); !errors.Is(err, workflows.ErrDuplicate) {
			t.Errorf("CreateRequest twice = %v, want ErrDuplicate", err)
		}
		return nil
	})
}

func TestSaveRequest_WritesEveryField(t *testing.T) { forEachDB(t, testSaveRequest_WritesEveryField) }

func testSaveRequest_WritesEveryField(t *testing.T, db *DB) {
	update(t, db, func(tx workflows.Tx) error {
		return tx.CreateRequest(&workflows.ServerRequest{ID: "srv-1", State: workflows.StateRequested, CreatedAt: t0})
	})
	want := sampleRequest("srv-1")
	update(t, db, func(tx workflows.Tx) error { return tx.SaveRequest(want) })
	want2 := sampleRequest("srv-1")
	want2.Instance.Tags = nil
	want2.State, want2.EndingAt = workflows.StateTerminated, time.Time{}
	update(t, db, func(tx workflows.Tx) error { return tx.SaveRequest(want2) })
	view(t, db, func(tx workflows.Tx) error {
		got, err := tx.Request("srv-1")
		if err == nil && !reflect.DeepEqual(got, want2) {
			t.Errorf("saved request =\n%+v\nwant\n%+v", got, want2)
		}
		return err
	})
}

func TestRequests_Filters(t *testing.T) { forEachDB(t, testRequests_Filters) }

func testRequests_Filters(t *testing.T, db *DB) {
	mk := func(id string, owner workflows.Person, team string, st workflows.State, created time.Time) *workflows.ServerRequest {
		return &workflows.ServerRequest{ID: id, Owner: owner, Team: team, State: st, CreatedAt: created}
	}
	ada := workflows.Person{SlackID: "U1", Email: "ada@example.com"}
	adaMail := workflows.Person{Email: "ADA@example.COM"} // same person, seen by email only
	bob := workflows.Person{SlackID: "U2", Email: "bob@example.com"}
	rs := []*workflows.ServerRequest{
		mk("srv-1", ada, "platform", workflows.StateRunning, t0.Add(3*time.Hour)),
		mk("srv-2", bob, "platform", workflows.StatePending, t0.Add(1*time.Hour)),
		mk("srv-3", adaMail, "data", workflows.StateTerminated, t0.Add(2*time.Hour)),
		mk("srv-4", workflows.Person{SlackID: "U1"}, "data", workflows.StateStopped, t0.Add(2*time.Hour)),
		mk("srv-10", bob, "data", workflows.StateRunning, t0.Add(2*time.Hour)),
	}
	update(t, db, func(tx workflows.Tx) error {
		for _, r := range rs {
			if err := tx.CreateRequest(r); err != nil {
				return err
			}
		}
		return nil
	})
	cases := []struct {
		name string
		f    workflows.RequestFilter
		want []string
	}{
		{"all, by creation then id", workflows.RequestFilter{}, []string{"srv-2", "srv-10", "srv-3", "srv-4", "srv-1"}},
		{"owner by slack and email", workflows.RequestFilter{Owner: ada}, []string{"srv-3", "srv-4", "srv-1"}},
		{"owner by email, any case", workflows.RequestFilter{Owner: workflows.Person{Email: "Ada@Example.com"}}, []string{"srv-3", "srv-1"}},
		{"owner by slack only", workflows.RequestFilter{Owner: workflows.Person{SlackID: "U1"}}, []string{"srv-4", "srv-1"}},
		{"team", workflows.RequestFilter{Team: "data"}, []string{"srv-10", "srv-3", "srv-4"}},
		{"states", workflows.RequestFilter{States: []workflows.State{workflows.StateRunning, workflows.StateStopped}}, []string{"srv-10", "srv-4", "srv-1"}},
		{"all three", workflows.RequestFilter{Owner: ada, Team: "data", States: []workflows.State{workflows.StateTerminated}}, []string{"srv-3"}},
		{"nothing", workflows.RequestFilter{Owner: workflows.Person{SlackID: "U9"}}, nil},
	}
	view(t, db, func(tx workflows.Tx) error {
		for _, c := range cases {
			got, err := tx.Requests(c.f)
			if err != nil {
				return err
			}
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			if !reflect.DeepEqual(ids, c.want) {
				t.Errorf("%s: ids = %v, want %v", c.name, ids, c.want)
			}
		}
		return nil
	})
}

// LiveOrSince keeps what /ops servers shows: requests not finished,
// whenever they changed, and finished ones updated since; AnyOrder the
// same rows unsorted. An unknown state counts as finished, as
// State.Final has it.
func TestRequests_LiveOrSince(t *testing.T) { forEachDB(t, testRequests_LiveOrSince) }

func testRequests_LiveOrSince(t *testing.T, db *DB) {
	ada := workflows.Person{SlackID: "U1", Email: "ada@example.com"}
	since := t0.Add(10 * time.Hour)
	mk := func(id string, owner workflows.Person, st workflows.State, updated time.Time) *workflows.ServerRequest {
		return &workflows.ServerRequest{ID: id, Owner: owner, Team: "platform", State: st, CreatedAt: t0, UpdatedAt: updated}
	}
	rs := []*workflows.ServerRequest{
		mk("srv-1", ada, workflows.StateRunning, t0),                                        // live, old: kept
		mk("srv-2", ada, workflows.StatePending, t0),                                        // live: kept
		mk("srv-3", ada, workflows.StateTerminated, t0),                                     // finished long ago
		mk("srv-4", ada, workflows.StateTerminated, since),                                  // finished at since: kept
		mk("srv-5", ada, workflows.StateDenied, since.Add(time.Hour)),                       // finished since: kept
		mk("srv-6", workflows.Person{Email: "ADA@example.com"}, workflows.StateStopped, t0), // by email: kept
		mk("srv-7", workflows.Person{SlackID: "U2"}, workflows.StateRunning, t0),            // someone else
		mk("srv-8", ada, workflows.State("lost"), t0),                                       // unknown: finished
	}
	update(t, db, func(tx workflows.Tx) error {
		for _, r := range rs {
			if err := tx.CreateRequest(r); err != nil {
				return err
			}
		}
		return nil
	})
	want := []string{"srv-1", "srv-2", "srv-4", "srv-5", "srv-6"}
	for _, anyOrder := range []bool{false, true} {
		view(t, db, func(tx workflows.Tx) error {
			got, err := tx.Requests(workflows.RequestFilter{Owner: ada, LiveOrSince: since, AnyOrder: anyOrder})
			if err != nil {
				return err
			}
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ID)
				if r.State.Final() && r.UpdatedAt.Before(since) {
					t.Errorf("%s (%s, updated %v) was read", r.ID, r.State, r.UpdatedAt)
				}
			}
			slices.Sort(ids)
			if !reflect.DeepEqual(ids, want) {
				t.Errorf("any order %v: ids = %v, want %v", anyOrder, ids, want)
			}
			return nil
		})
	}
}

func TestExtensions_RoundTripInOrder(t *testing.T) { forEachDB(t, testExtensions_RoundTripInOrder) }

func testExtensions_RoundTripInOrder(t *testing.T, db *DB) {
	e1 := workflows.Extension{RequestID: "srv-1", By: workflows.Person{SlackID: "U1", Email: "a@x.io"},
		From: t0, To: t0.Add(24 * time.Hour), Reason: "more", Cost: workflows.USD(12.5), Approved: true, At: t0.Add(time.Hour)}
	e2 := workflows.Extension{RequestID: "srv-1", By: workflows.Person{Email: "b@x.io"},
		From: t0.Add(24 * time.Hour), To: t0.Add(48 * time.Hour), Cost: workflows.USD(1), At: t0.Add(2 * time.Hour)}
	update(t, db, func(tx workflows.Tx) error {
		for _, id := range []string{"srv-1", "srv-2"} {
			if err := tx.CreateRequest(sampleRequest(id)); err != nil {
				return err
			}
		}
		for _, e := range []workflows.Extension{e2, e1, {RequestID: "srv-2", At: t0}} {
			if err := tx.AddExtension(e); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, db, func(tx workflows.Tx) error {
		got, err := tx.Extensions("srv-1")
		if want := []workflows.Extension{e1, e2}; err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("extensions =\n%+v\nwant\n%+v", got, want)
		}
		return err
	})
	// An extension of a request that does not exist is refused at commit.
	if err := db.Update(t.Context(), func(tx workflows.Tx) error {
		return tx.AddExtension(workflows.Extension{RequestID: "srv-404", At: t0})
	}); err == nil {
		t.Fatal("extension of a missing request was stored")
	}
}
