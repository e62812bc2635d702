package workflows

import (
	"context"
	"fmt"
	"time"
)

// JobLink tells an incident's channel about an alert-storm newcomer linked
// into it; payload: the newcomer's ID.
const JobLink = "incident.link"

// stormParent returns the incident a new PagerDuty incident on service
// should be linked into, or nil when it gets a channel of its own. During
// an alert storm, when the service already had StormLimit incidents with a
// channel of their own within StormWindow, newcomers go into the newest
// open one's channel: a hundred alerts make at most StormLimit channels
// and announcements per window, not a hundred. n is how many incidents the
// service had in the window.
func (s *Incidents) stormParent(tx Tx, service string, now time.Time) (parent *Incident, n int, err error) {
	p := s.policy()
	if p.StormLimit <= 0 || p.StormWindow <= 0 || service == "" {
		return nil, 0, nil
	}
	recent, err := tx.Incidents(IncidentFilter{Service: service, Since: now.Add(-p.StormWindow)})
	if err != nil {
		return nil, 0, err
	}
	own := 0
	for _, inc := range recent {
		if inc.LinkedTo == "" {
			own++
		}
	}
	if own < p.StormLimit {
		return nil, 0, nil
	}
	open, err := tx.Incidents(IncidentFilter{Service: service, Open: true})
	if err != nil {
		return nil, 0, err
	}
	for _, inc := range open { // newest first; never into a private channel
		if inc.LinkedTo == "" && !inc.Cancelled && !inc.Private {
			return inc, len(recent), nil
		}
	}
	return nil, 0, nil // every one is closed: this one starts afresh
}

// linkInto records inc as linked into parent's channel and queues the
// message there that names it.
func (s *Incidents) linkInto(tx Tx, inc, parent *Incident, n int, at, now time.Time) error {
	p := s.policy()
	why := fmt.Sprintf("alert storm: %d new incidents on this PagerDuty service within %s, more than the %d that get a channel of their own",
		n+1, FormatDuration(p.StormWindow), p.StormLimit)
	if err := s.record(tx, inc, TimelineEntry{At: at, Kind: TLNote, Actor: "opsbot", Text: "Linked into " + parent.ID + "'s channel (" + why + ")"}); err != nil {
		return err
	}
	if err := s.record(tx, parent, TimelineEntry{At: at, Kind: TLNote, Actor: "opsbot", Text: "Linked here: " + inc.ID + " " + inc.Title}); err != nil {
		return err
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "incident.link", Subject: inc.ID, Reason: why, Detail: parent.ID}); err != nil {
		return err
	}
	return tx.Enqueue(Job{Kind: JobLink, Key: JobLink + ":" + inc.ID, Payload: inc.ID, RunAt: now})
}

// announceLink posts, in the channel of the incident a newcomer was
// linked into, the message that names it. It waits (fails, to be retried)
// while that channel is still being opened.
func (s *Incidents) announceLink(ctx context.Context, j Job) error {
	inc, err := s.load(ctx, j.Payload)
	if err != nil {
		return err
	}
	if inc.LinkedTo == "" {
		return nil
	}
	return s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		parent, err := tx.Incident(inc.LinkedTo)
		if err != nil {
			return err
		}
		if parent.ChannelID == "" {
			return fmt.Errorf("link %s: the channel of %s is not open yet", inc.ID, parent.ID)
		}
		text := fmt.Sprintf("Alert storm: %s (%s) is linked into this channel instead of getting one of its own: %s.", inc.ID, UserText(inc.Title), orDefault(inc.PDURL, inc.PDIncidentID))
		text += fmt.Sprintf(" Name it in commands (`/incident status %s resolved`); PagerDuty changes to it are recorded on it.", inc.ID)
		return enqueueMessage(tx, Message{Key: "incident-linked:" + inc.ID, Channel: parent.ChannelID, Text: text}, now)
	})
}
