package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

func (s *Incidents) load(ctx context.Context, id string) (*Incident, error) {
	var inc *Incident
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		inc, err = tx.Incident(id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", id, err)
	}
	return inc, nil
}

// MaxChannelAttempts bounds the suffixes tried when a channel name is taken.
const MaxChannelAttempts = 20

// openChannel makes the incident's one channel, then queues the invites,
// the checklist, the pinned summary and the team's announcement. A channel
// name taken by a channel this bot made earlier for the incident (a retry
// after a crash) is the same channel, so there is never a second.
func (s *Incidents) openChannel(ctx context.Context, j Job) error {
	inc, err := s.load(ctx, j.Payload)
	if err != nil {
		return err
	}
	if inc.ChannelID == "" {
		base := ChannelName(s.policy().ChannelPattern, inc, s.team(inc).Location)
		var ref MessageRef
		name := base
		for n := 2; ; n++ {
			ref, err = s.Channels.CreateChannel(ctx, name, inc.Private)
			if !errors.Is(err, ErrNameTaken) || n > MaxChannelAttempts {
				break
			}
			name = WithSuffix(base, n, 80)
		}
		if err != nil {
			return fmt.Errorf("create channel %s for %s: %w", name, inc.ID, err)
		}
		if err := s.update(ctx, func(tx Tx) error {
			cur, err := tx.Incident(inc.ID)
			if err != nil {
				return err
			}
			if cur.ChannelID != "" {
				return nil
			}
			cur.ChannelID, cur.ChannelName, cur.UpdatedAt = ref.Channel, name, s.Clock.Now()
			if err := tx.SaveIncident(cur); err != nil {
				return err
			}
			return tx.Audit(AuditEntry{At: s.Clock.Now(), Actor: "opsbot", Action: "slack.channel", Subject: inc.ID, Detail: ref.Channel + " #" + name})
		}); err != nil {
			return err
		}
	}
	return s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		inc, err := tx.Incident(j.Payload)
		if err != nil {
			return err
		}
		if err := tx.Enqueue(Job{Kind: JobInvite, Key: JobInvite + ":" + inc.ID, Payload: inc.ID, RunAt: now}); err != nil {
			return err
		}
		fresh, err := tx.MarkSent("incident-opened:"+inc.ID, now)
		if err != nil || !fresh {
			return err
		}
		if err := s.refreshHomes(tx, inc, now); err != nil {
			return err
		}
		for _, m := range s.views(inc, now) {
			if err := enqueueMessage(tx, m, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// invite brings the responders into the channel: PagerDuty's assignees and
// on-call, the team's incident members and the role holders. A private
// incident invites only PagerDuty's responders, the declarer and the role
// holders.
func (s *Incidents) invite(ctx context.Context, j Job) error {
	inc, err := s.load(ctx, j.Payload)
	if err != nil {
		return err
	}
	if inc.ChannelID == "" {
		return nil
	}
	var people []string
	var lookup error
	if s.Pager != nil && inc.PDIncidentID != "" {
		// A failed lookup (the service, on-call, one user) must not
		// invite nobody: invite whom it found, and everyone else known,
		// then fail so the job runs again for the rest.
		emails, err := s.Pager.Responders(ctx, inc.PDIncidentID, inc.PDService)
		if err != nil {
			lookup = fmt.Errorf("responders of %s (invited %d found, will ask again): %w", inc.ID, len(emails), err)
		}
		people = append(people, emails...)
	}
	if !inc.Private { // a private incident invites only whom it must
		people = append(people, s.team(inc).IncidentMembers...)
		if v := s.policy().BySeverity[inc.Severity]; v != nil {
			people = append(people, v.Invite...)
		}
	}
	for _, p := range append([]Person{inc.DeclaredBy, inc.Commander, inc.Comms, inc.Scribe}, inc.Added...) {
		if ref := person(p); ref != "" {
			people = append(people, ref)
		}
	}
	people = dedupe(people)
	if len(people) == 0 {
		return lookup
	}
	missing, err := s.Channels.Invite(ctx, inc.ChannelID, people)
	if err != nil {
		return errors.Join(fmt.Errorf("invite to %s: %w", inc.ChannelName, err), lookup)
	}
	if len(missing) == 0 {
		return lookup
	}
	if err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		fresh, err := tx.MarkSent("incident-missing:"+inc.ID+":"+strings.Join(missing, ","), now)
		if err != nil || !fresh {
			return err
		}
		return enqueueMessage(tx, Message{Channel: inc.ChannelID,
			Text: "opsbot could not find these responders in Slack, so they were not invited: " + strings.Join(missing, ", ") +
				". Their Slack profile email must match their PagerDuty or config email."}, now)
	}); err != nil {
		return err
	}
	return lookup
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range list {
		k := strings.ToLower(x)
		if x == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, x)
	}
	return out
}

// page opens the PagerDuty incident for an incident declared in Slack.
func (s *Incidents) page(ctx context.Context, j Job) error {
	inc, err := s.load(ctx, j.Payload)
	if err != nil {
		return err
	}
	if inc.PDIncidentID != "" || s.Pager == nil || inc.PDService == "" {
		return nil
	}
	urgency := "low"
	if inc.Severity != Sev3 {
		urgency = "high"
	}
	pd, err := s.Pager.Trigger(ctx, PageRequest{Key: "opsbot-" + inc.ID, Service: inc.PDService, Title: inc.Title, Urgency: urgency,
		From: inc.DeclaredBy.Email, Details: fmt.Sprintf("Declared in Slack by %s as %s (%s).", inc.DeclaredBy, inc.ID, inc.Severity)})
	if err != nil {
		return fmt.Errorf("page PagerDuty for %s: %w", inc.ID, err)
	}
	return s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		cur, err := tx.Incident(inc.ID)
		if err != nil {
			return err
		}
		return s.recordPaged(tx, cur, pd, now)
	})
}

// recordPaged records the PagerDuty incident opened for an incident
// declared in Slack, with its "Paged on-call" timeline entry at the time
// PagerDuty opened it. Either the page job records it, or the webhook
// about the new PagerDuty incident when it is handled first (after a
// crash between the page and its record): the entry is keyed by the
// PagerDuty ID, so it is there once, and its time is PagerDuty's, so
// PagerDuty's log entry of the trigger is known as the same event.
func (s *Incidents) recordPaged(tx Tx, cur *Incident, pd PDIncident, now time.Time) error {
	cur.PDIncidentID, cur.UpdatedAt = pd.ID, now
	if pd.URL != "" {
		cur.PDURL = pd.URL
	}
	if pd.ServiceName != "" {
		cur.PDServiceName = pd.ServiceName
	}
	if cur.PDStatus == "" {
		cur.PDStatus = orDefault(pd.Status, PDTriggered)
	}
	if err := tx.SaveIncident(cur); err != nil {
		return err
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "pagerduty.trigger", Subject: cur.ID, Detail: pd.ID}); err != nil {
		return err
	}
	at := pd.CreatedAt
	if at.IsZero() {
		at = now
	}
	if err := s.record(tx, cur, TimelineEntry{At: at, Kind: TLPagerDuty, Actor: "opsbot", Text: "Paged on-call in PagerDuty", Source: "opsbot", ExternalID: "page:" + pd.ID, Action: "incident.triggered"}); err != nil {
		return err
	}
	if cur.ChannelID != "" {
		if err := tx.Enqueue(Job{Kind: JobInvite, Key: JobInvite + ":" + cur.ID, Payload: cur.ID, RunAt: now}); err != nil {
			return err
		}
	}
	return s.refresh(tx, cur, now)
}

// statusJob is a JobPDStatus payload: "inc-7 resolved EMAIL SLACKID
// PREVSTATUS PREVPD", "-" for an empty field. Jobs queued before the
// previous states were carried have only the first three fields.
type statusJob struct {
	id, status, from, slackID string
	prevStatus                IncidentStatus
	prevPD                    string
}

func parseStatusJob(payload string) (statusJob, bool) {
	f := strings.Fields(payload)
	if len(f) < 2 {
		return statusJob{}, false
	}
	for len(f) < 6 {
		f = append(f, "-")
	}
	for i := range f {
		if f[i] == "-" {
			f[i] = ""
		}
	}
	return statusJob{id: f[0], status: f[1], from: f[2], slackID: f[3], prevStatus: IncidentStatus(f[4]), prevPD: f[5]}, true
}

// pushStatus tells PagerDuty about an acknowledgement or resolution made
// in Slack, as the person who clicked. PagerDuty refusing it (an unknown
// From user) takes opsbot's record back and tells the channel why: the
// two must not disagree. Asking again after a crash is harmless: setting
// a status PagerDuty already has succeeds.
func (s *Incidents) pushStatus(ctx context.Context, j Job) error {
	sj, ok := parseStatusJob(j.Payload)
	if !ok {
		return Permanent(fmt.Errorf("bad status job %q", j.Payload))
	}
	inc, err := s.load(ctx, sj.id)
	if err != nil {
		return err
	}
	if s.Pager == nil || inc.PDIncidentID == "" {
		return nil
	}
	if err := s.Pager.SetStatus(ctx, inc.PDIncidentID, sj.status, sj.from); err != nil {
		var refused *PagerRefusal
		if errors.As(err, &refused) {
			return s.takeBack(ctx, j, sj, "PagerDuty refused it: "+refused.Reason)
		}
		return fmt.Errorf("%s %s in PagerDuty: %w", sj.status, inc.ID, err)
	}
	return s.update(ctx, func(tx Tx) error {
		return tx.Audit(AuditEntry{At: s.Clock.Now(), Actor: orDefault(sj.from, "opsbot"), Action: "pagerduty." + sj.status, Subject: inc.ID, Detail: inc.PDIncidentID})
	})
}

// takeBack undoes what opsbot recorded for a status PagerDuty did not
// take, when the record still shows it, and tells the channel why. It runs
// once per job: after it the record no longer shows the status.
func (s *Incidents) takeBack(ctx context.Context, j Job, sj statusJob, why string) error {
	return s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		inc, err := tx.Incident(sj.id)
		if err != nil {
			return err
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: orDefault(sj.from, "opsbot"), Action: "pagerduty.refused", Subject: inc.ID, Reason: why, Detail: sj.status}); err != nil {
			return err
		}
		if inc.PDStatus != sj.status {
			return nil // changed since (a webhook): nothing of ours to take back
		}
		inc.PDStatus = orDefault(sj.prevPD, PDTriggered)
		verb := "acknowledged"
		state := "still " + inc.PDStatus + " in PagerDuty"
		if sj.status == PDResolved {
			verb = "resolved"
			if sj.prevStatus != "" && sj.prevStatus != StatusResolved && inc.Status == StatusResolved {
				inc.Status, inc.ResolvedAt, inc.PostmortemDue, inc.LastUpdateAt = sj.prevStatus, time.Time{}, time.Time{}, now
				inc.homesStale = true
				if inc.Cancelled {
					verb, inc.Cancelled = "cancelled", false
				}
				state = fmt.Sprintf("open again (%s) in opsbot, and %s in PagerDuty", inc.Status, inc.PDStatus)
			}
		}
		inc.UpdatedAt = now
		if err := tx.SaveIncident(inc); err != nil {
			return err
		}
		if inc.homesStale {
			if err := s.refreshHomes(tx, inc, now); err != nil {
				return err
			}
		}
		text := fmt.Sprintf("%s was %s from Slack, but %s. %s is %s: do it in PagerDuty (%s), or ask someone with a PagerDuty account.",
			inc.ID, verb, why, inc.ID, state, inc.PDURL)
		var by []string
		if who := person(Person{SlackID: sj.slackID, Email: sj.from}); who != "" {
			text += " It was done from Slack by:"
			by = []string{who}
		}
		if err := s.record(tx, inc, TimelineEntry{At: now, Kind: TLPagerDuty, Actor: "opsbot", Text: "Taken back: " + why, Source: "opsbot", ExternalID: fmt.Sprintf("refused:%d", j.ID)}); err != nil {
			return err
		}
		if inc.ChannelID != "" {
			if err := enqueueMessage(tx, Message{Key: fmt.Sprintf("incident-pd-refused:%s:%d", inc.ID, j.ID), Channel: inc.ChannelID, Text: text, Mention: by}, now); err != nil {
				return err
			}
		}
		return s.refresh(tx, inc, now)
	})
}

func severityMark(s Severity) string {
	switch s {
	case Sev1:
		return "🔴"
	case Sev2:
		return "🟠"
	}
	return "🟡"
}

// earliest returns the earlier non-zero time.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// SetupRetryEvery is how often a post-mortem waiting for the Notion
// database to be fixed is tried, once the job runner's own retries are
// spent.
const SetupRetryEvery = time.Hour

// GiveUp tells the incident channel about outside work that failed for
// good, so people know to do it by hand. A post-mortem waiting for the
// Notion database to be fixed is not given up: it is tried again.
func (s *Incidents) GiveUp(ctx context.Context, j Job, cause error) {
	var setup *DocSetupError
	if j.Kind == JobPostmortem && errors.As(cause, &setup) {
		// The channel was told what to fix; keep trying, hourly, until
		// the database is right: a post-mortem is never dropped for it.
		err := s.update(ctx, func(tx Tx) error {
			return tx.Enqueue(Job{Kind: JobPostmortem, Key: JobPostmortem + ":" + j.Payload, Payload: j.Payload, RunAt: s.Clock.Now().Add(SetupRetryEvery)})
		})
		if err != nil {
			s.Log.ErrorContext(ctx, "requeue post-mortem", "incident", j.Payload, "err", err)
		}
		return
	}
	var what string
	switch j.Kind {
	case JobPage:
		what = "opsbot could not page PagerDuty for this incident"
	case JobPDStatus:
		// Our record must not say what PagerDuty does not: take it back.
		if sj, ok := parseStatusJob(j.Payload); ok {
			s.Log.ErrorContext(ctx, "PagerDuty status given up", "job", j.ID, "err", cause)
			if err := s.takeBack(ctx, j, sj, "opsbot could not reach PagerDuty after several tries (the details are in its log)"); err != nil {
				s.Log.ErrorContext(ctx, "take back a status PagerDuty did not get", "job", j.ID, "err", err)
			}
			return
		}
		what = "opsbot could not update the PagerDuty incident"
	case JobPostmortem:
		what = "opsbot could not write the post-mortem in Notion"
	case JobInvite:
		what = "opsbot could not invite the responders"
	default:
		return
	}
	id := subject(j)
	if id == "" {
		return // ValidatePayload refused it; nothing to record it against
	}
	err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "incident.failed", Subject: id, Reason: what, Detail: cause.Error()}); err != nil {
			return err
		}
		if inc.ChannelID == "" {
			return nil
		}
		return enqueueMessage(tx, Message{Channel: inc.ChannelID, Text: what + " (the details are in opsbot's audit log). Please do it by hand."}, now)
	})
	if err != nil {
		s.Log.ErrorContext(ctx, "report failed incident job", "incident", id, "err", err)
	}
}
