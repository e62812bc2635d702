package notion_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/notion/notionfake"
	"github.com/opsbot/opsbot/workflows"
)

// peopleRig is a rig whose Commander property is of type people, in a
// workspace of 150 people (two pages of GET /v1/users) with Ada the
// 121st, so finding her needs the second page.
func peopleRig(t *testing.T) (*rig, string) {
	t.Helper()
	r := newRig(t, notion.Options{Props: notion.Props{Commander: "Lead"}})
	if err := r.fake.AddProperty(r.db.ID, "Commander", "people"); err != nil {
		t.Fatal(err)
	}
	var ada string
	for i := range 150 {
		id := r.fake.AddUser(fmt.Sprintf("Person %d", i), fmt.Sprintf("p%d@example.com", i))
		if i == 120 {
			ada = r.fake.AddUser("Ada Lovelace", "ada@example.com")
		}
		_ = id
	}
	r.c = r.client(r.fake.Token(), notion.Options{})
	return r, ada
}

func commanderOf(t *testing.T, r *rig, pageID string) notionfake.Value {
	t.Helper()
	p, ok := r.fake.Page(pageID)
	if !ok {
		t.Fatalf("no page %s", pageID)
	}
	return p.Properties["Commander"]
}

func TestPeople_CommanderInNotionFillsThePeopleProperty(t *testing.T) {
	r, ada := peopleRig(t)
	setup, err := r.c.CheckSetup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !setup.OK() || len(setup.Skipped) != 0 {
		t.Fatalf("setup = %s, want a people Commander accepted", setup)
	}
	doc := postmortem("inc-1")
	doc.CommanderEmail = " ADA@example.com" // Slack's spelling may differ in case
	ref, err := r.c.WritePostmortem(t.Context(), doc)
	if err != nil {
		t.Fatal(err)
	}
	if got := commanderOf(t, r, ref.PageID); got.Type != "people" || len(got.People) != 1 || got.People[0] != ada {
		t.Fatalf("Commander = %+v, want Ada (%s)", got, ada)
	}
	if n := count(r.fake.Requests(), "GET", "/v1/users"); n != 2 {
		t.Errorf("GET /v1/users = %d, want 2 (151 users, 100 a page)", n)
	}

	// Another page within the hour asks Notion nothing more about users.
	r.clock.Advance(30 * time.Minute)
	if _, err := r.c.WritePostmortem(t.Context(), postmortemBy("inc-2", "Ada Lovelace", "ada@example.com")); err != nil {
		t.Fatal(err)
	}
	if n := count(r.fake.Requests(), "GET", "/v1/users"); n != 2 {
		t.Errorf("GET /v1/users = %d after a second page, want still 2 (cached)", n)
	}
	// A person who joined Notion since is found once the hour is over.
	grace := r.fake.AddUser("Grace Hopper", "grace@example.com")
	r.clock.Advance(31 * time.Minute)
	ref3, err := r.c.WritePostmortem(t.Context(), postmortemBy("inc-3", "Grace Hopper", "grace@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if got := commanderOf(t, r, ref3.PageID); len(got.People) != 1 || got.People[0] != grace {
		t.Errorf("Commander = %+v, want Grace (%s)", got, grace)
	}
	checkLimits(t, r.fake.Requests())
}

func TestPeople_KeptInStepWhenTheCommanderChanges(t *testing.T) {
	r, ada := peopleRig(t)
	grace := r.fake.AddUser("Grace Hopper", "grace@example.com")
	ref, err := r.c.WritePostmortem(t.Context(), postmortemBy("inc-1", "Ada Lovelace", "ada@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if got := commanderOf(t, r, ref.PageID); len(got.People) != 1 || got.People[0] != ada {
		t.Fatalf("Commander = %+v, want Ada", got)
	}
	// A fresh client (after a restart) has read no schema yet.
	c := r.client(r.fake.Token(), notion.Options{})
	if err := c.UpdatePostmortem(t.Context(), ref, postmortemBy("inc-1", "Grace Hopper", "grace@example.com")); err != nil {
		t.Fatal(err)
	}
	if got := commanderOf(t, r, ref.PageID); len(got.People) != 1 || got.People[0] != grace {
		t.Errorf("Commander = %+v after the update, want Grace (%s)", got, grace)
	}
}

func TestPeople_CommanderNotFoundNeverFailsThePostmortem(t *testing.T) {
	for _, tc := range []struct {
		name  string
		email string
		prep  func(r *rig)
	}{
		{"not in Notion", "nobody@example.com", nil},
		{"no e-mail known", "", nil},
		{"e-mails hidden (no capability)", "ada@example.com", func(r *rig) { r.fake.HideEmails(true) }},
		{"users refused (403)", "ada@example.com", func(r *rig) {
			r.fake.FailNext(notionfake.Fault{Match: "GET /v1/users", Status: 403, Count: 10})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := peopleRig(t)
			if tc.prep != nil {
				tc.prep(r)
			}
			ref, err := r.c.WritePostmortem(t.Context(), postmortemBy("inc-1", "Ada Lovelace", tc.email))
			if err != nil {
				t.Fatalf("post-mortem failed: %v", err)
			}
			if got := commanderOf(t, r, ref.PageID); got.Type != "people" || len(got.People) != 0 {
				t.Errorf("Commander = %+v, want an empty people property", got)
			}
			checkBody(t, r.fake, ref.PageID, postmortem("inc-1").Body)
			// A second page does not ask again within the hour.
			before := count(r.fake.Requests(), "GET", "/v1/users")
			if _, err := r.c.WritePostmortem(t.Context(), postmortemBy("inc-2", "Ada Lovelace", tc.email)); err != nil {
				t.Fatal(err)
			}
			if after := count(r.fake.Requests(), "GET", "/v1/users"); after != before {
				t.Errorf("GET /v1/users %d → %d for a second page, want no new call", before, after)
			}
		})
	}
}

func TestPeople_TextCommanderGetsTheRealNameAndNoUsersCall(t *testing.T) {
	r := newRig(t, notion.Options{})
	r.fake.AddUser("Ada Lovelace", "ada@example.com")
	ref, err := r.c.WritePostmortem(t.Context(), postmortemBy("inc-1", "Ada Lovelace", "ada@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if got := commanderOf(t, r, ref.PageID); got.Type != "rich_text" || got.Text != "Ada Lovelace" {
		t.Errorf("Commander = %+v, want the text Ada Lovelace", got)
	}
	if n := count(r.fake.Requests(), "GET", "/v1/users"); n != 0 {
		t.Errorf("GET /v1/users = %d, want none for a text property", n)
	}
}

func postmortemBy(id, name, email string) workflows.Postmortem {
	doc := postmortem(id)
	doc.Commander, doc.CommanderEmail = name, email
	return doc
}
