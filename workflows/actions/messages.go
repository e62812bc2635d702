package actions

import (
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// ConsoleLines is how many of the console's last lines Diagnose shows.
const ConsoleLines = 20

func localTime(team *workflows.Team, t time.Time) string {
	if team == nil {
		return t.UTC().Format("Mon 2 Jan 15:04 MST")
	}
	return team.LocalTime(t)
}

func person(p workflows.Person) string { return p.Ref() }

// ViewMessage renders one server with the viewer's buttons, for `/ops
// server SRV` and the Actions button.
func ViewMessage(v *View) workflows.Message {
	r := v.Request
	m := workflows.Message{Title: fmt.Sprintf("%s (%s) is %s", r.ID, r.Template, r.State.Words())}
	owner := workflows.Field{Label: "Owner", Person: person(r.Owner)}
	if r.Owner.Ref() == "" {
		owner = workflows.Field{Label: "Owner", Value: "team " + r.Team}
	}
	if r.TeamOwned() && v.Team != nil {
		owner.Value = fmt.Sprintf("team %s, since %s left (%s)", r.Team, workflows.Mention(r.HandedFrom.Ref()), v.Team.LocalTime(r.HandedAt))
	}
	m.Fields = append(m.Fields, owner, workflows.Field{Label: "Team", Value: r.Team})
	if v.Team != nil {
		m.Fields = append(m.Fields, workflows.ServerFields(v.Team, r, v.Now)...)
	}
	var live []string
	var keep []*Snapshot
	for _, sn := range v.Snapshots {
		if sn.Deleted {
			continue
		}
		line := sn.ID + " (" + localTime(v.Team, sn.CreatedAt)
		if sn.Kept {
			line += ", kept"
		} else {
			keep = append(keep, sn)
		}
		live = append(live, line+")")
	}
	if len(live) > 0 {
		m.Fields = append(m.Fields, workflows.Field{Label: "Snapshots", Value: strings.Join(live, "\n")})
	}
	if len(v.Recent) > 0 {
		var lines []string
		for _, o := range v.Recent {
			lines = append(lines, fmt.Sprintf("%s %s: %s, by %s", o.ID, o.Action, o.State.words(), workflows.Mention(person(o.Actor))))
		}
		m.Fields = append(m.Fields, workflows.Field{Label: "Recent actions", Value: strings.Join(lines, "\n")})
	}
	for _, b := range v.Actions {
		a := workflows.Action{ID: workflows.ActServerAction, Label: Label(b.Action), Value: b.Value}
		if b.NeedApprover {
			a.Label = "Ask to " + strings.ToLower(Label(b.Action))
		}
		switch b.Action {
		case workflows.ActionStart:
			a.Style = workflows.StylePrimary
		case workflows.ActionStop, workflows.ActionReboot:
			a.Style = workflows.StyleDanger
			a.Confirm = &workflows.Confirm{Title: Label(b.Action) + " " + r.ID + "?",
				Text: fmt.Sprintf("%s will be %s now; whoever is working on it loses what is not saved.", r.Instance.ID, past(b.Action)),
				Yes:  Label(b.Action) + " " + r.ID, No: "Cancel"}
		}
		m.Actions = append(m.Actions, a)
	}
	for i, sn := range keep {
		if i == 3 {
			break
		}
		m.Actions = append(m.Actions, workflows.Action{ID: workflows.ActSnapshotKeep, Label: "Keep " + sn.ID, Value: sn.ID})
	}
	switch {
	case len(v.Actions) == 0 && v.Team != nil:
		m.Note = "Nothing you may do to it as it is now. Team " + r.Team + "'s policy says who may run which action (docs/actions.md)."
	default:
		m.Note = "Buttons act once and stay good for " + workflows.FormatDuration(ButtonMaxAge) + " · every action is in the audit log"
	}
	return m
}

func opTitle(r *workflows.ServerRequest, o *Op) string {
	switch o.State {
	case OpPending:
		return fmt.Sprintf("%s: %s waits for an approver", r.ID, o.Action)
	case OpQueued:
		return fmt.Sprintf("%s: %s under way", r.ID, o.Action)
	case OpDone:
		return fmt.Sprintf("%s: %s", r.ID, map[workflows.ServerAction]string{
			workflows.ActionStart: "started", workflows.ActionStop: "stopped", workflows.ActionReboot: "rebooted",
			workflows.ActionSnapshot: "snapshot started", workflows.ActionDiagnose: "diagnosis",
		}[o.Action])
	case OpDryRun:
		return fmt.Sprintf("%s: %s checked (dry run)", r.ID, o.Action)
	case OpDenied:
		return fmt.Sprintf("%s: %s denied", r.ID, o.Action)
	}
	return fmt.Sprintf("%s: %s failed", r.ID, o.Action)
}

// opMessage is the message about one action, to the person who asked for
// it, kept current in place; details go in its thread.
func opMessage(team *workflows.Team, r *workflows.ServerRequest, o *Op) workflows.Message {
	m := workflows.Message{Key: "op:" + o.ID, User: person(o.Actor), Title: opTitle(r, o), Text: o.Result}
	if o.State == OpQueued {
		m.Text = "opsbot is on it; the result will be here."
	}
	if o.State == OpPending {
		m.Text = "Team " + r.Team + "'s approvers were asked in their channel; you will hear here."
	}
	m.Fields = []workflows.Field{{Label: "Server", Value: r.ID + " (" + r.Template + ")"}}
	if r.Instance.ID != "" {
		m.Fields = append(m.Fields, workflows.Field{Label: "Instance", Value: r.Instance.ID + " (" + r.Instance.Region + ")"})
	}
	if o.Approver != (workflows.Person{}) {
		label := "Approved by"
		if o.State == OpDenied {
			label = "Denied by"
		}
		m.Fields = append(m.Fields, workflows.Field{Label: label, Person: person(o.Approver)})
	}
	m.Note = o.ID + " · " + localTime(team, o.UpdatedAt)
	return m
}

// detailMessage is the result in the op message's thread: the diagnosis.
func detailMessage(team *workflows.Team, r *workflows.ServerRequest, o *Op) workflows.Message {
	return workflows.Message{Key: "op-detail:" + o.ID, Thread: "op:" + o.ID, User: person(o.Actor),
		Title: fmt.Sprintf("Diagnosis of %s (%s)", r.ID, r.Instance.ID), Text: o.Detail,
		Note: "as of " + localTime(team, o.UpdatedAt)}
}

// ownerNotice tells a server's owner what someone else did to it.
func ownerNotice(team *workflows.Team, r *workflows.ServerRequest, o *Op) workflows.Message {
	return workflows.Message{User: person(r.Owner), Title: fmt.Sprintf("%s: %s by someone else", r.ID, o.Action),
		Text: fmt.Sprintf("%s ran %s on your server %s. %s", workflows.Mention(person(o.Actor)), o.Action, r.ID, o.Result),
		Note: o.ID + " · " + localTime(team, o.UpdatedAt)}
}

// approvalMessage asks the team's approvers to decide an action, in
// their channel, and is edited to show the decision.
func approvalMessage(team *workflows.Team, r *workflows.ServerRequest, o *Op, now time.Time) workflows.Message {
	ch := ""
	if team != nil {
		ch = team.ApprovalsChannel
	}
	m := workflows.Message{Key: "op-approval:" + o.ID, Channel: ch}
	switch o.State {
	case OpPending:
		m.Title = fmt.Sprintf("%s: %s needs an approver", r.ID, Label(o.Action))
	case OpDenied:
		m.Title = fmt.Sprintf("%s: %s denied", r.ID, Label(o.Action))
	case OpFailed:
		m.Title = fmt.Sprintf("%s: %s closed", r.ID, Label(o.Action))
	default:
		m.Title = fmt.Sprintf("%s: %s approved", r.ID, Label(o.Action))
	}
	m.Fields = []workflows.Field{{Label: "Asked by", Person: person(o.Actor)}}
	if r.Owner.Ref() != "" && !workflows.SamePerson(r.Owner, o.Actor) {
		m.Fields = append(m.Fields, workflows.Field{Label: "Server owner", Person: person(r.Owner)})
	}
	m.Fields = append(m.Fields, workflows.Field{Label: "Server", Value: r.ID + " (" + r.Template + ")"})
	if r.Instance.ID != "" {
		m.Fields = append(m.Fields, workflows.Field{Label: "Instance", Value: r.Instance.ID + " (" + r.Instance.Region + ")"})
	}
	if o.State == OpPending {
		m.Actions = []workflows.Action{
			{ID: workflows.ActOpApprove, Label: "Approve", Value: o.ID, Style: workflows.StylePrimary},
			{ID: workflows.ActOpDeny, Label: "Deny", Value: o.ID, Style: workflows.StyleDanger},
		}
		m.Note = fmt.Sprintf("%s · asked %s · the person asking and the server's owner cannot approve it", o.ID, localTime(team, o.CreatedAt))
		return m
	}
	if o.Approver != (workflows.Person{}) {
		m.Fields = append(m.Fields, workflows.Field{Label: "Decided by", Person: person(o.Approver)})
	}
	m.Note = o.ID + " · " + localTime(team, now)
	if o.State == OpFailed {
		m.Note += " · " + o.Result
	}
	return m
}

func diagnosisHeadline(d Diagnosis) string {
	switch {
	case d.State != workflows.InstanceRunning:
		return fmt.Sprintf("The instance is %s; status checks apply only to running instances. The console output is in the thread.", d.State)
	case len(d.Failed) > 0:
		return fmt.Sprintf("Status checks: system %s, instance %s (failed: %s). Details and the console output are in the thread.", d.SystemStatus, d.InstanceStatus, strings.Join(d.Failed, ", "))
	}
	return fmt.Sprintf("Status checks: system %s, instance %s. Details and the console output are in the thread.", d.SystemStatus, d.InstanceStatus)
}

// diagnosisText is the thread reply: checks, then the console's last
// lines, shown literally (they are the instance's, not opsbot's).
func diagnosisText(d Diagnosis) string {
	var b strings.Builder
	fmt.Fprintf(&b, "State: %s\nSystem status check: %s\nInstance status check: %s\n", d.State, orDash(d.SystemStatus), orDash(d.InstanceStatus))
	b.WriteString(cpuLine(d) + "\n")
	if len(d.Console) == 0 {
		b.WriteString("Console output: none yet (EC2 has it a few minutes after a boot).")
		return b.String()
	}
	fmt.Fprintf(&b, "Console output, last %d lines:\n", len(d.Console))
	b.WriteString(workflows.UserText(strings.Join(d.Console, "\n")))
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// LastLines returns the last n non-empty-trailing lines of console text.
func LastLines(text string, n int) []string {
	text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n ")
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 300 {
			lines[i] = l[:300] + "…"
		}
	}
	return lines
}
