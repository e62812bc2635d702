package audit

import (
	"fmt"
	"strings"

	"github.com/opsbot/opsbot/workflows"
)

// MaxText is the most text one answer carries: Slack cuts a section at
// 3,000 characters.
const MaxText = 2900

// maxDetail bounds an entry's reason and detail in a line.
const maxDetail = 140

// Message renders a page for the person who asked, newest first, as many
// entries as fit; the note says how many were left out and how to see
// them all.
func Message(p *Page) workflows.Message {
	what := "everything you may see"
	switch {
	case p.Query.Subject != "":
		what = p.Query.Subject
	case p.Query.Team != "":
		what = "team " + p.Query.Team
	}
	if p.Query.User != (workflows.Person{}) {
		what += " by " + workflows.Mention(p.Query.User.Ref())
	}
	since := p.Query.Since.In(p.Zone)
	layout := "Mon 2 Jan 15:04 MST"
	if since.Year() != p.Now.In(p.Zone).Year() {
		layout = "Mon 2 Jan 2006 15:04 MST"
	}
	m := workflows.Message{Title: fmt.Sprintf("Audit log: %s, since %s", what, since.Format(layout))}
	if len(p.Entries) == 0 {
		m.Text = "Nothing was recorded."
		m.Note = "Times in " + p.Zone.String()
		return m
	}
	var b strings.Builder
	shown := 0
	for _, e := range p.Entries {
		line := Line(e, p) + "\n"
		if b.Len()+len(line) > MaxText {
			break
		}
		b.WriteString(line)
		shown++
	}
	m.Text = strings.TrimRight(b.String(), "\n")
	m.Note = fmt.Sprintf("%d entries, newest first · times in %s", shown, p.Zone)
	if shown < len(p.Entries) || p.Scanned {
		more := "more"
		if !p.Scanned {
			more = fmt.Sprintf("%d more", len(p.Entries)-shown)
		}
		m.Note = fmt.Sprintf("%d shown, newest first; %s not shown: name a server, team or person, or a later since, or run `opsbot audit export` · times in %s", shown, more, p.Zone)
	}
	return m
}

// Line is one entry as a person reads it: when, who (a mention, shown
// as a name), what, on what, why.
func Line(e workflows.AuditEntry, p *Page) string {
	who := e.Actor
	if a := ActorPerson(e.Actor); a.Ref() != "" {
		who = workflows.Mention(a.Ref())
	}
	s := fmt.Sprintf("%s · %s · %s %s", e.At.In(p.Zone).Format("Mon 2 Jan 15:04 MST"), who, e.Action, e.Subject)
	if e.Reason != "" {
		s += " · " + workflows.UserText(cut(e.Reason))
	}
	if e.Detail != "" {
		s += " · " + workflows.UserText(cut(e.Detail))
	}
	return s
}

func cut(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxDetail {
		return string(r[:maxDetail]) + "…"
	}
	return s
}
