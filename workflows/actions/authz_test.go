package actions

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

func TestAuthorize_Table(t *testing.T) {
	pol := &workflows.Policy{Actions: workflows.ActionPolicy{
		Owner:        []workflows.ServerAction{workflows.ActionStart, workflows.ActionStop, workflows.ActionReboot, workflows.ActionSnapshot, workflows.ActionDiagnose},
		Members:      []workflows.ServerAction{workflows.ActionDiagnose},
		NeedApprover: []workflows.ServerAction{workflows.ActionSnapshot},
	}}
	platform := &workflows.Team{Name: "platform", Members: []string{"U1", "U2"}, Approvers: []string{"UA", "ub@example.com"}, Policy: pol}
	lonely := &workflows.Team{Name: "lonely", Members: []string{"U9"}, Approvers: []string{"UL"}, Policy: pol}
	data := &workflows.Team{Name: "data", Members: []string{"UD"}, Approvers: []string{"UA"}, Policy: pol}
	c := &workflows.Catalog{Teams: []*workflows.Team{platform, lonely, data}, Admins: []string{"admin@example.com"}}
	srv := &workflows.ServerRequest{ID: "srv-1", Team: "platform", Owner: workflows.Person{SlackID: "U1"}}
	approverSrv := &workflows.ServerRequest{ID: "srv-2", Team: "platform", Owner: workflows.Person{SlackID: "UA"}}
	lonelySrv := &workflows.ServerRequest{ID: "srv-3", Team: "lonely", Owner: workflows.Person{SlackID: "UL"}}
	p := func(id string) workflows.Person { return workflows.Person{SlackID: id} }
	for _, c2 := range []struct {
		name    string
		team    *workflows.Team
		r       *workflows.ServerRequest
		who     workflows.Person
		a       workflows.ServerAction
		allowed bool
		need    bool
		as      string
	}{
		{"owner reboots", platform, srv, p("U1"), workflows.ActionReboot, true, false, "owner"},
		{"owner snapshot needs an approver", platform, srv, p("U1"), workflows.ActionSnapshot, false, true, ""},
		{"member diagnoses", platform, srv, p("U2"), workflows.ActionDiagnose, true, false, "member"},
		{"member may not stop", platform, srv, p("U2"), workflows.ActionStop, false, false, ""},
		{"approver of the team stops", platform, srv, p("UA"), workflows.ActionStop, true, false, "approver"},
		{"approver by email snapshots at once", platform, srv, workflows.Person{Email: "UB@example.com"}, workflows.ActionSnapshot, true, false, "approver"},
		{"approver's own server needs another approver", platform, approverSrv, p("UA"), workflows.ActionSnapshot, false, true, ""},
		{"approver's own server, no other approver", lonely, lonelySrv, p("UL"), workflows.ActionSnapshot, false, false, ""},
		{"other team's member", platform, srv, p("UD"), workflows.ActionDiagnose, false, false, ""},
		{"absent from config", platform, srv, p("UX"), workflows.ActionDiagnose, false, false, ""},
		{"admin", platform, srv, workflows.Person{SlackID: "UZ", Email: "admin@example.com"}, workflows.ActionStop, true, false, "admin"},
		{"team gone, admin", nil, srv, workflows.Person{Email: "admin@example.com"}, workflows.ActionStop, true, false, "admin"},
		{"team gone, owner", nil, srv, p("U1"), workflows.ActionStop, false, false, ""},
	} {
		v := Authorize(c, c2.team, c2.r, c2.who, c2.a)
		if v.Allowed != c2.allowed || v.NeedApprover != c2.need || (c2.as != "" && v.As != c2.as) {
			t.Errorf("%s: %+v", c2.name, v)
		}
		if !v.Allowed && !v.NeedApprover && v.Refused == "" {
			t.Errorf("%s: refused without a reason", c2.name)
		}
	}
}

func TestApplicable_StartOnlyWithinTheLease(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := &Service{Starter: startFunc(nil)}
	r := &workflows.ServerRequest{ID: "srv-1", State: workflows.StateStopped, Instance: workflows.Instance{ID: "i-1"}, LeaseEnd: at.Add(time.Hour)}
	if why := s.applicable(r, workflows.ActionStart, at); why != "" {
		t.Errorf("within the lease: %s", why)
	}
	if why := s.applicable(r, workflows.ActionStart, at.Add(2*time.Hour)); why == "" {
		t.Error("past the lease end: Start allowed")
	}
	if why := s.applicable(r, workflows.ActionReboot, at); why == "" {
		t.Error("a stopped server can be rebooted")
	}
	r.EndingAt = at
	if why := s.applicable(r, workflows.ActionDiagnose, at); why == "" {
		t.Error("a server being ended can be acted on")
	}
}

type startFunc func()

func (startFunc) Start(_ context.Context, want workflows.Instance) (workflows.Instance, error) {
	return want, nil
}

// Start refused past the lease end tells the lease end in the team's
// zone, like every other time a person reads, not as a UTC timestamp.
func TestApplicable_StartPastTheLeaseSaysTheEndInTheTeamsZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := &Service{Starter: startFunc(nil), Catalog: &workflows.Catalog{Teams: []*workflows.Team{{Name: "platform", Location: berlin}}}}
	r := &workflows.ServerRequest{ID: "srv-1", Team: "platform", State: workflows.StateStopped, Instance: workflows.Instance{ID: "i-1"}, LeaseEnd: at.Add(time.Hour)}
	why := s.applicable(r, workflows.ActionStart, at.Add(2*time.Hour))
	if !strings.Contains(why, "Tue 1 Dec 12:00 CET") || strings.Contains(why, "T11:00:00Z") {
		t.Errorf("refusal %q, want the lease end as Tue 1 Dec 12:00 CET", why)
	}
}
