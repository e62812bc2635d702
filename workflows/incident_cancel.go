package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// JobPDNote adds a note to a PagerDuty incident; payload: a pdNote as JSON.
const JobPDNote = "incident.pd-note"

type pdNote struct {
	Incident string `json:"incident"`
	From     string `json:"from"`
	Text     string `json:"text"`
}

// Cancel closes an incident declared by mistake. PagerDuty's incident is
// resolved with a note saying so; there is no post-mortem and there are
// no reminders; the channel, the summary and the announcement say it was
// cancelled and why. Only the people responsible for it may cancel it.
func (s *Incidents) Cancel(ctx context.Context, actor Person, ref IncidentRef, reason string) (*Incident, error) {
	reason = strings.Join(strings.Fields(reason), " ")
	if err := s.authorize(ctx, actor, ref, "cancel it"); err != nil {
		return nil, err
	}
	if err := s.checkPagerUser(ctx, actor, ref, PDResolved, "cancel it"); err != nil {
		return nil, err
	}
	return s.change(ctx, ref, func(tx Tx, inc *Incident, now time.Time) error {
		switch {
		case inc.Cancelled:
			return Errorf(EConflict, "%s is already cancelled.", inc.ID)
		case !inc.Open():
			return Errorf(EConflict, "%s is already resolved: cancel is for an open incident declared by mistake.", inc.ID)
		}
		prevStatus, prevPD := inc.Status, inc.PDStatus
		inc.Cancelled, inc.homesStale = true, true
		inc.Status, inc.ResolvedAt, inc.LastUpdateAt, inc.PostmortemDue = StatusResolved, now, now, time.Time{}
		why := "declared by mistake"
		if reason != "" {
			why += ": " + reason
		}
		if inc.PDIncidentID != "" && s.Pager != nil && actor.Email != "" && inc.PDStatus != PDResolved {
			// PagerDuty's readers know people by email, not by Slack ID.
			b, err := json.Marshal(pdNote{Incident: inc.ID, From: actor.Email, Text: fmt.Sprintf("Cancelled from Slack by %s (%s): %s.", actor.Email, inc.ID, why)})
			if err != nil {
				return err
			}
			if err := tx.Enqueue(Job{Kind: JobPDNote, Key: JobPDNote + ":cancel:" + inc.ID, Payload: string(b), RunAt: now}); err != nil {
				return err
			}
		}
		if err := s.pushPD(tx, inc, PDResolved, actor, now, prevStatus, prevPD); err != nil {
			return err
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: "incident.cancel", Subject: inc.ID, Reason: why}); err != nil {
			return err
		}
		if err := s.record(tx, inc, TimelineEntry{At: now, Kind: TLStatus, Actor: actor.String(), Text: "Cancelled: " + why}); err != nil {
			return err
		}
		if inc.ChannelID != "" {
			shown := "declared by mistake"
			if reason != "" {
				shown += ": " + UserText(reason)
			}
			text := fmt.Sprintf("%s is cancelled, %s. There will be no post-mortem and no reminders.", inc.ID, shown)
			if inc.PDIncidentID != "" {
				text += " The PagerDuty incident is resolved with a note saying so."
			}
			text += " Cancelled by:"
			if err := enqueueMessage(tx, Message{Key: "incident-cancelled:" + inc.ID, Channel: inc.ChannelID, Text: text, Mention: []string{person(actor)}}, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// addPDNote writes a queued note on the PagerDuty incident.
func (s *Incidents) addPDNote(ctx context.Context, j Job) error {
	var n pdNote
	if err := json.Unmarshal([]byte(j.Payload), &n); err != nil {
		return Permanent(fmt.Errorf("decode note job: %w", err))
	}
	inc, err := s.load(ctx, n.Incident)
	if err != nil {
		return err
	}
	if s.Pager == nil || inc.PDIncidentID == "" {
		return nil
	}
	if err := s.Pager.AddNote(ctx, inc.PDIncidentID, n.From, n.Text); err != nil {
		return fmt.Errorf("note on %s in PagerDuty: %w", inc.ID, err)
	}
	return nil
}
