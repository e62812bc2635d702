package pagerduty_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/opsbot/opsbot/workflows"
)

func TestHasUser_ExactEmailOnly_AcrossPages(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for _, tt := range []struct {
		email string
		want  bool
	}{
		{"dan@example.com", true}, // the fourth user: on the second page of two
		{"DAN@Example.com", true},
		{"an@example.com", false}, // matches "dan@" by substring, not exactly
		{"eve@example.com", false},
		{"", false},
	} {
		got, err := r.pd.HasUser(ctx, tt.email)
		if err != nil || got != tt.want {
			t.Errorf("HasUser(%q) = %v, %v; want %v", tt.email, got, err, tt.want)
		}
	}
}

func TestAssignees_EmailsOfTheIncidentsAssignees(t *testing.T) {
	r := newRig(t)
	in := r.triggered(t, "opsbot-inc-9")
	if err := r.fake.Reassign(in.ID, r.cy.ID, r.ada.ID, r.dan.ID); err != nil {
		t.Fatal(err)
	}
	got, err := r.pd.Assignees(context.Background(), in.ID)
	if err != nil || !slices.Equal(got, []string{"ada@example.com", "dan@example.com"}) {
		t.Fatalf("Assignees = %v, %v", got, err)
	}
}

// TestSetStatus_UnknownFrom_IsARefusal: PagerDuty answers a change from an
// email that is no user of the account with 400 "Requester User Not Found"
// (code 1008); the adapter reports it as a PagerRefusal, not retried.
func TestSetStatus_UnknownFrom_IsARefusal(t *testing.T) {
	r := newRig(t)
	in := r.triggered(t, "opsbot-inc-10")
	err := r.pd.SetStatus(context.Background(), in.ID, workflows.PDResolved, "eve@example.com")
	var refused *workflows.PagerRefusal
	if !errors.As(err, &refused) || refused.Reason != "Requester User Not Found" || !isPermanent(err) {
		t.Fatalf("err = %v, want a permanent PagerRefusal", err)
	}
	if n := len(r.fake.CallsTo("PUT /incidents")); n != 1 {
		t.Errorf("%d PUT calls, want 1 (no retry)", n)
	}
	if got, _ := r.fake.Incident(in.ID); got.Status != "triggered" {
		t.Errorf("status %s", got.Status)
	}
}

// TestAddNote_OncePerContent: a retried note (after a crash between the
// call and its record) is not added twice.
func TestAddNote_OncePerContent(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	in := r.triggered(t, "opsbot-inc-11")
	for range 2 {
		if err := r.pd.AddNote(ctx, in.ID, r.ada.Email, "Cancelled from Slack: declared by mistake."); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := r.fake.Incident(in.ID)
	if len(got.Notes) != 1 {
		t.Fatalf("%d notes, want 1", len(got.Notes))
	}
	if err := r.pd.AddNote(ctx, in.ID, "eve@example.com", "x"); err == nil {
		t.Error("a note from an unknown user was accepted")
	}
}

// TestResponders_OnCallLookupFails_AssigneesStillReturned: one failed
// lookup does not lose the others.
func TestResponders_OnCallLookupFails_AssigneesStillReturned(t *testing.T) {
	r := newRig(t)
	in := r.triggered(t, "opsbot-inc-12")
	if err := r.fake.Reassign(in.ID, r.cy.ID, r.ada.ID); err != nil {
		t.Fatal(err)
	}
	r.fake.FailNext("GET /services/{id}", 503, 3)
	got, err := r.pd.Responders(context.Background(), in.ID, "")
	if err == nil || !slices.Equal(got, []string{"ada@example.com"}) {
		t.Fatalf("Responders = %v, %v; want the assignee and an error", got, err)
	}
}
