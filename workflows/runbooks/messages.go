package runbooks

import (
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// ShownBody is how much of an answer's body the thread shows.
const ShownBody = 1000

func localTime(c *workflows.Catalog, r *Run, t time.Time) string {
	if team, ok := c.Team(r.Team); ok {
		return team.LocalTime(t)
	}
	if team, ok := c.TeamOf(r.Actor); ok {
		return team.LocalTime(t)
	}
	return t.UTC().Format("Mon 2 Jan 15:04 MST")
}

func runKey(r *Run) string { return "run:" + r.ID }

func runTitle(rb *Runbook, r *Run) string {
	switch r.State {
	case StatePending:
		return fmt.Sprintf("%s: %s waits for an approver", r.ID, rb.Name)
	case StateQueued:
		return fmt.Sprintf("%s: %s under way", r.ID, rb.Name)
	case StateAccepted:
		return fmt.Sprintf("%s: %s accepted, in progress", r.ID, rb.Name)
	case StateDone:
		return fmt.Sprintf("%s: %s done", r.ID, rb.Name)
	case StateDenied:
		return fmt.Sprintf("%s: %s denied", r.ID, rb.Name)
	case StateTimedOut:
		return fmt.Sprintf("%s: %s timed out", r.ID, rb.Name)
	case StateDryRun:
		return fmt.Sprintf("%s: %s not called (dry run)", r.ID, rb.Name)
	}
	return fmt.Sprintf("%s: %s failed", r.ID, rb.Name)
}

// runMessage is the message about one run, to the person who asked,
// kept current in place; the result and progress go in its thread.
func runMessage(c *workflows.Catalog, rb *Runbook, r *Run) workflows.Message {
	m := workflows.Message{Key: runKey(r), User: r.Actor.Ref(), Title: runTitle(rb, r), Text: r.Result}
	if m.Text == "" {
		switch r.State {
		case StatePending:
			m.Text = "An approver was asked; you will hear here."
		case StateQueued:
			m.Text = "opsbot is calling it; the result will be in the thread."
		}
	}
	if lines := progressLines(r); lines != "" {
		m.Text = strings.TrimSpace(m.Text + "\n\n" + lines)
	}
	m.Fields = []workflows.Field{
		{Label: "Runbook", Value: rb.Name},
		{Label: "Parameters", Value: workflows.UserText(rb.Shown(r.values()))},
	}
	if r.Approver != (workflows.Person{}) {
		label := "Approved by"
		if r.State == StateDenied {
			label = "Denied by"
		}
		m.Fields = append(m.Fields, workflows.Field{Label: label, Person: r.Approver.Ref()})
	}
	m.Note = r.ID + " · " + localTime(c, r, r.UpdatedAt)
	return m
}

// shownStepText is how much of each update the run's message shows.
const shownStepText = 150

// progressLines lists the run's last ShownSteps updates, oldest first,
// for its message: "Update 2 (running): canary at 10%".
func progressLines(r *Run) string {
	if len(r.Progress) == 0 {
		return ""
	}
	steps := r.Progress
	var b strings.Builder
	b.WriteString("Progress reported by the endpoint:")
	if n := len(steps) - ShownSteps; n > 0 {
		fmt.Fprintf(&b, " (%d earlier updates are in the thread)", n)
		steps = steps[n:]
	}
	for _, st := range steps {
		fmt.Fprintf(&b, "\nUpdate %d (%s)", st.Seq, st.Status)
		if text := firstLine(st.Text); text != "" {
			if rs := []rune(text); len(rs) > shownStepText {
				text = string(rs[:shownStepText]) + "…"
			}
			b.WriteString(": " + workflows.UserText(text))
		}
	}
	return b.String()
}

// resultMessage is the endpoint's answer, in the run's thread.
func resultMessage(c *workflows.Catalog, rb *Runbook, r *Run, what string, now time.Time) workflows.Message {
	m := workflows.Message{Key: fmt.Sprintf("run-result:%s:%d", r.ID, r.Attempts), Thread: runKey(r), User: r.Actor.Ref(),
		Title: fmt.Sprintf("%s answered: %s", rb.Name, what)}
	if r.Attempts > 1 {
		m.Text = fmt.Sprintf("After %d attempts, all with the idempotency key %s.", r.Attempts, r.Key)
	}
	if body := strings.TrimSpace(r.Body); body != "" {
		if len([]rune(body)) > ShownBody {
			body = string([]rune(body)[:ShownBody]) + "\n… (cut: the first " + fmt.Sprint(ShownBody) + " characters are shown)"
		}
		m.Code = body
	}
	m.Note = r.ID + " · " + localTime(c, r, now)
	return m
}

// progressMessage is one callback from the endpoint, in the run's thread.
func progressMessage(c *workflows.Catalog, r *Run, seq int, status, text string, now time.Time) workflows.Message {
	m := workflows.Message{Key: fmt.Sprintf("run-progress:%s:%d", r.ID, seq), Thread: runKey(r), User: r.Actor.Ref(),
		Title: fmt.Sprintf("%s: %s", r.Runbook, status)}
	if text != "" {
		m.Text = workflows.UserText(text)
	}
	m.Note = fmt.Sprintf("%s · update %d · %s", r.ID, seq, localTime(c, r, now))
	return m
}

// approvalMessage asks the run's team's approvers (or, for a run with no
// team, opsbot's first admin who is not the asker) to decide, and is
// edited to show the decision.
func approvalMessage(c *workflows.Catalog, rb *Runbook, r *Run, asker workflows.Person) workflows.Message {
	m := workflows.Message{Key: "run-approval:" + r.ID}
	if team, ok := c.Team(r.Team); ok && team.ApprovalsChannel != "" {
		m.Channel = team.ApprovalsChannel
	} else if d := Deciders(c, nil, asker); len(d) > 0 {
		m.User = d[0]
	}
	switch r.State {
	case StatePending:
		m.Title = fmt.Sprintf("Runbook %s needs an approver", rb.Name)
	case StateDenied:
		m.Title = fmt.Sprintf("Runbook %s denied", rb.Name)
	default:
		m.Title = fmt.Sprintf("Runbook %s approved", rb.Name)
	}
	m.Text = rb.Description
	m.Fields = []workflows.Field{
		{Label: "Asked by", Person: r.Actor.Ref()},
		{Label: "Parameters", Value: workflows.UserText(rb.Shown(r.values()))},
	}
	if r.State == StatePending {
		m.Actions = []workflows.Action{
			{ID: workflows.ActOpApprove, Label: "Approve", Value: r.ID, Style: workflows.StylePrimary},
			{ID: workflows.ActOpDeny, Label: "Deny", Value: r.ID, Style: workflows.StyleDanger},
		}
		m.Note = fmt.Sprintf("%s · asked %s · the person asking cannot approve it", r.ID, localTime(c, r, r.CreatedAt))
		return m
	}
	m.Fields = append(m.Fields, workflows.Field{Label: "Decided by", Person: r.Approver.Ref()})
	m.Note = r.ID + " · " + localTime(c, r, r.UpdatedAt)
	return m
}

// ListMessage answers `/ops run` with no runbook: what p may run.
func ListMessage(rbs []*Runbook) workflows.Message {
	if len(rbs) == 0 {
		return workflows.Message{Text: "There is no runbook you may run. Runbooks are defined in opsbot's config (docs/actions.md)."}
	}
	m := workflows.Message{Title: "Runbooks you may run"}
	var lines []string
	for _, rb := range rbs {
		line := "• " + rb.Name
		if rb.Description != "" {
			line += ": " + rb.Description
		}
		if rb.NeedApprover {
			line += " (an approver confirms)"
		}
		lines = append(lines, line)
	}
	m.Text = strings.Join(lines, "\n")
	m.Actions = OpenButtons(rbs)
	m.Note = "`" + Usage + "` opens a runbook's form"
	return m
}

// OpenButtons are one button per runbook that opens its form.
func OpenButtons(rbs []*Runbook) []workflows.Action {
	var out []workflows.Action
	for _, rb := range rbs {
		out = append(out, workflows.Action{ID: workflows.ActRunbookOpen, Label: "Run " + rb.Name, Value: rb.Name})
	}
	return out
}

// timeoutMessage tells the asker, once, that opsbot stopped waiting for
// r's endpoint: a message of its own (an edit of the run's message
// notifies nobody), beside the run's message, which shows it too.
func timeoutMessage(c *workflows.Catalog, rb *Runbook, r *Run, now time.Time) workflows.Message {
	name := r.Runbook
	if rb != nil {
		name = rb.Name
	}
	m := workflows.Message{Key: "run-timeout:" + r.ID, User: r.Actor.Ref(), Title: fmt.Sprintf("%s: %s timed out", r.ID, name),
		Text: fmt.Sprintf("Its endpoint accepted it at %s but sent no final report within %s, so opsbot stopped waiting. "+
			"The work may still be going on, or be done: check before you run it again. A report that comes now is refused.",
			localTime(c, r, r.AcceptedAt), workflows.FormatDuration(rb.CallbackWait()))}
	last := "none"
	if n := len(r.Progress); n > 0 {
		st := r.Progress[n-1]
		last = fmt.Sprintf("update %d (%s)", st.Seq, st.Status)
		if text := firstLine(st.Text); text != "" {
			if rs := []rune(text); len(rs) > shownStepText {
				text = string(rs[:shownStepText]) + "…"
			}
			last += ": " + workflows.UserText(text)
		}
	}
	m.Fields = []workflows.Field{{Label: "Runbook", Value: name}, {Label: "Last update", Value: last}}
	m.Note = r.ID + " · " + localTime(c, r, now)
	return m
}
