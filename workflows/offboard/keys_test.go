package offboard

import (
	"testing"

	"github.com/opsbot/opsbot/workflows"
)

func TestTheirs_TaggedOrNamedAfterThem(t *testing.T) {
	dana := workflows.Person{SlackID: "U0DANA", Email: "dana@example.com"}
	for _, c := range []struct {
		name string
		kp   KeyPair
		want string
	}{
		{"tag with their email, any case", KeyPair{Name: "laptop", Tags: map[string]string{"Owner": "Dana@Example.com"}}, "tagged Owner=Dana@Example.com"},
		{"tag with their Slack ID", KeyPair{Name: "x", Tags: map[string]string{"CreatedBy": "U0DANA"}}, "tagged CreatedBy=U0DANA"},
		{"named as their email", KeyPair{Name: "dana@example.com"}, "named after them"},
		{"named as their local part", KeyPair{Name: "Dana"}, "named after them"},
		{"named local part and a dash", KeyPair{Name: "dana-laptop"}, "named after them"},
		{"named local part and a dot", KeyPair{Name: "dana.old"}, "named after them"},
		{"prefix without separator", KeyPair{Name: "danam"}, ""},
		{"another person's tag", KeyPair{Name: "ci", Tags: map[string]string{"Owner": "sam@example.com"}}, ""},
		{"their name inside another", KeyPair{Name: "old-dana"}, ""},
		{"no tags, other name", KeyPair{Name: "shared"}, ""},
	} {
		if got := Theirs(dana, c.kp); got != c.want {
			t.Errorf("%s: Theirs = %q, want %q", c.name, got, c.want)
		}
	}
	// A short local part does not claim every key that starts with it.
	if got := Theirs(workflows.Person{Email: "al@example.com"}, KeyPair{Name: "al-prod"}); got != "" {
		t.Errorf("two-letter prefix matched: %q", got)
	}
}

// TestMayDelete_OnlyTheirTeamsApprovers is the authorization table of
// the "Delete key pair" button.
func TestMayDelete_OnlyTheirTeamsApprovers(t *testing.T) {
	c := &workflows.Catalog{
		Admins: []string{"admin@example.com"},
		Teams: []*workflows.Team{
			{Name: "platform", Members: []string{"U0DANA", "dev2@example.com"}, Approvers: []string{"U0LEAD", "lead2@example.com"}},
			{Name: "data", Members: []string{"ana@example.com"}, Approvers: []string{"sre@example.com"}},
		},
	}
	k := &Key{ID: "key-1", Name: "dana-laptop", Person: workflows.Person{SlackID: "U0DANA", Email: "dana@example.com"}, Teams: []string{"platform"}}
	for _, tc := range []struct {
		who     string
		p       workflows.Person
		allowed bool
	}{
		{"their team's approver", workflows.Person{SlackID: "U0LEAD"}, true},
		{"their team's approver by email", workflows.Person{SlackID: "U0LEAD2", Email: "lead2@example.com"}, true},
		{"the departed person", workflows.Person{SlackID: "U0DANA"}, false},
		{"the departed person by email", workflows.Person{Email: "DANA@example.com"}, false},
		{"a member of their team", workflows.Person{Email: "dev2@example.com"}, false},
		{"another team's approver", workflows.Person{Email: "sre@example.com"}, false},
		{"an admin who approves nothing", workflows.Person{Email: "admin@example.com"}, false},
		{"someone not in the config", workflows.Person{SlackID: "U0STRANGER"}, false},
	} {
		why := mayDelete(c, k, tc.p)
		if (why == "") != tc.allowed {
			t.Errorf("%s: mayDelete = %q, allowed want %t", tc.who, why, tc.allowed)
		}
	}
	// An approver who is themselves the departed person is refused.
	self := &Key{Person: workflows.Person{SlackID: "U0LEAD"}, Teams: []string{"platform"}}
	if why := mayDelete(c, self, workflows.Person{SlackID: "U0LEAD"}); why == "" {
		t.Errorf("a departed approver may delete their own key pair")
	}
}

func TestPlaces_EveryAccountAndRegionOnce(t *testing.T) {
	c := &workflows.Catalog{
		Templates: []*workflows.Template{{Region: "us-east-1"}, {Region: "eu-west-1", Account: "prod"}, {Region: "us-east-1"}},
		Accounts:  []*workflows.Account{{Name: "prod", Regions: []string{"eu-west-1"}}, {Name: "dev"}},
	}
	got := Places(c)
	want := []Place{{"", "us-east-1"}, {"", "eu-west-1"}, {"prod", "eu-west-1"}, {"dev", "us-east-1"}, {"dev", "eu-west-1"}}
	if len(got) != len(want) {
		t.Fatalf("Places = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Places = %v, want %v", got, want)
		}
	}
}
