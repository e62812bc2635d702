package workflows

import (
	"context"
	"time"
)

// Private incidents (`/incident declare --private`) have a private Slack
// channel, no announcement, invite only the declarer, the role holders and
// PagerDuty's responders, and are listed on App Home only to those people.
// Their post-mortem link stays in the private channel until someone allowed
// to change the incident runs `/incident postmortem publish`.

// involves says whether p declared the incident, holds one of its roles
// or was added with /incident add: the people who see a private incident.
func (inc *Incident) involves(p Person) bool {
	for _, q := range append([]Person{inc.DeclaredBy, inc.Commander, inc.Comms, inc.Scribe}, inc.Added...) {
		if q.Ref() != "" && (p.Is(q.SlackID) || p.Is(q.Email)) {
			return true
		}
	}
	return false
}

// VisibleTo says whether p may see the incident listed outside its
// channel (App Home): everyone for a normal incident, only the declarer,
// role holders and people added for a private one.
func (inc *Incident) VisibleTo(p Person) bool {
	return !inc.Private || inc.involves(p)
}

// PostmortemShareable says whether the post-mortem link may be shown
// outside the incident channel.
func (inc *Incident) PostmortemShareable() bool {
	return !inc.Private || inc.PostmortemPublished
}

// PublishPostmortem marks a private incident's post-mortem published:
// from then on its link is shown as a normal incident's is. It is recorded
// in the timeline and the audit log. Only the people who may change the
// incident may (see incident_authz.go).
func (s *Incidents) PublishPostmortem(ctx context.Context, actor Person, ref IncidentRef) (*Incident, error) {
	return s.guarded(ctx, actor, ref, "publish its post-mortem", func(tx Tx, inc *Incident, now time.Time) error {
		if !inc.Private {
			return Errorf(EConflict, "%s is not private: its post-mortem is already visible to everyone.", inc.ID)
		}
		if inc.PostmortemPublished {
			return Errorf(EConflict, "%s's post-mortem is already published.", inc.ID)
		}
		inc.PostmortemPublished = true
		if err := tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: "incident.postmortem.publish", Subject: inc.ID}); err != nil {
			return err
		}
		return s.record(tx, inc, TimelineEntry{At: now, Kind: TLNote, Actor: actor.String(), Text: "Post-mortem published"})
	})
}

// checkOutsider refuses a private incident named from outside its channel
// to whoever may not change it. Anyone in the private channel may post
// updates and action items there, as in any incident channel; outside it,
// naming the incident (`/incident update inc-7 ...`) would let someone who
// cannot read it write into it.
func (s *Incidents) checkOutsider(ctx context.Context, actor Person, ref IncidentRef, what string) error {
	var inc *Incident
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		inc, err = s.find(tx, ref)
		return err
	}); err != nil {
		return err
	}
	if !inc.Private || (ref.Channel != "" && ref.Channel == inc.ChannelID) || inc.involves(actor) {
		return nil
	}
	return s.authorize(ctx, actor, ref, what)
}
