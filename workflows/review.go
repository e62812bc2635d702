package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Job kinds of the alert review.
const (
	// JobReviewGather gathers a review's PagerDuty history and posts it;
	// payload: a reviewJob as JSON.
	JobReviewGather = "review.gather"
)

// Action IDs of the review's buttons.
const (
	ActReviewDecide = "review.decide" // value: "rev-3 2 keep"
	ActReviewDone   = "review.done"   // value: "rev-3 2"
)

// NagReviewFollowUp is the reminder of a review decision's owner.
const NagReviewFollowUp = "review-followup"

// reviewMaxResumes bounds how many times a gathering stopped by
// PagerDuty errors is taken up again before the review is given up.
const reviewMaxResumes = 12

// reviewJob is the payload of JobReviewGather: the review, and what was
// gathered so far, so a gathering stopped by an error goes on where it
// stopped.
type reviewJob struct {
	Review    string
	Gathering Gathering
	Resumes   int
}

// reviewHandlers are the alert review's job handlers.
func (s *Incidents) reviewHandlers() map[string]JobHandler {
	return map[string]JobHandler{JobReviewGather: s.gatherReview, JobReviewPage: s.writeReviewPage, JobReviewPageLine: s.writeReviewLine}
}

func (s *Incidents) reviewPolicy() *ReviewPolicy {
	if p := s.policy().Review; p != nil {
		return p
	}
	return DefaultReviewPolicy()
}

// teamServices are the PagerDuty services a team's review looks at: its
// pagerduty_service and the services the incident policy gives it.
func (s *Incidents) teamServices(t *Team) []string {
	var out []string
	if t.PagerDutyService != "" {
		out = append(out, t.PagerDutyService)
	}
	for svc, team := range s.policy().Services {
		if team == t.Name && !slices.Contains(out, svc) {
			out = append(out, svc)
		}
	}
	slices.Sort(out)
	return out
}

// reviewChannel is where a team's review is posted: its announcement
// channel, else its approvals channel.
func reviewChannel(t *Team) string {
	if t.AnnounceChannel != "" {
		return t.AnnounceChannel
	}
	return t.ApprovalsChannel
}

// RequestReview prepares a team's alert review now (/incident review):
// the review is recorded and its gathering queued; it is posted in the
// team's channel when PagerDuty has answered. A second request while one
// is being prepared is told so.
func (s *Incidents) RequestReview(ctx context.Context, actor Person, teamName string) (Message, error) {
	team, err := s.reviewTeam(actor, teamName, "/incident review [TEAM]")
	if err != nil {
		return Message{}, err
	}
	if err := s.reviewable(team); err != nil {
		return Message{}, err
	}
	var rev *AlertReview
	err = s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		if err := refuseDeparted(tx, actor); err != nil {
			return err
		}
		recent, err := tx.Reviews(team.Name, now.Add(-time.Hour))
		if err != nil {
			return err
		}
		for _, r := range recent {
			if r.PostedAt.IsZero() {
				return Errorf(EConflict, "The alert review %s of %s is being prepared already; it will be posted in its channel.", r.ID, team.Name)
			}
		}
		rev, err = s.startReview(tx, team, s.reviewPolicy().windowEnding(now, team.zone()), time.Time{}, actor.String(), now)
		return err
	})
	if err != nil {
		return Message{}, err
	}
	return Message{Text: fmt.Sprintf("Preparing the alert review %s of %s (%s to %s). It will be posted in %s once PagerDuty's history is read.",
		rev.ID, team.Name, team.LocalTime(rev.Window.Start), team.LocalTime(rev.Window.End), Mention(rev.Channel))}, nil
}

// reviewable says why a team cannot have a review, if it cannot.
func (s *Incidents) reviewable(team *Team) error {
	switch {
	case s.History == nil:
		return Errorf(EConflict, "The alert review needs PagerDuty: set PAGERDUTY_API_TOKEN.")
	case len(s.teamServices(team)) == 0:
		return Errorf(EConflict, "%s has no PagerDuty service in opsbot's config (pagerduty_service, or incidents.services): there are no alerts to review.", team.Name)
	case reviewChannel(team) == "":
		return Errorf(EConflict, "%s has no channel to hold its review in: set its announce_channel.", team.Name)
	}
	return nil
}

// startReview records a review and queues its gathering. Caller is in a
// transaction.
func (s *Incidents) startReview(tx Tx, team *Team, w Window, slot time.Time, by string, now time.Time) (*AlertReview, error) {
	id, err := tx.NextID("rev")
	if err != nil {
		return nil, err
	}
	rev := &AlertReview{ID: id, Team: team.Name, Window: w, Channel: reviewChannel(team), Slot: slot, RequestedBy: by, CreatedAt: now}
	if err := tx.CreateReview(rev); err != nil {
		return nil, err
	}
	prev := w.Previous(team.zone())
	payload, err := json.Marshal(reviewJob{Review: id, Gathering: Gathering{
		Query: HistoryQuery{Services: s.teamServices(team), Since: prev.Start, Until: w.End},
	}})
	if err != nil {
		return nil, fmt.Errorf("encode review job %s: %w", id, err)
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: cmpOr(by, "opsbot"), Action: "review.start", Subject: id,
		Detail: fmt.Sprintf("team %s, %s to %s", team.Name, w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339))}); err != nil {
		return nil, err
	}
	return rev, tx.Enqueue(Job{Kind: JobReviewGather, Key: JobReviewGather + ":" + id, Payload: string(payload), RunAt: now})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ReviewTick starts each team's scheduled review when its slot has come:
// a function of now and of what was recorded, so a restart, a second
// replica or a clock moved back never starts one twice (the slot is
// marked in the transaction that starts it), and a clock moved forward
// past several slots starts only the latest (older ones are past
// ReviewGrace). It also reminds the owners of review decisions that are
// due.
func (s *Incidents) ReviewTick(ctx context.Context) (int, error) {
	if s.Catalog.Incidents == nil {
		return 0, nil
	}
	started := 0
	pol := s.reviewPolicy()
	for _, team := range s.Catalog.Teams {
		if s.reviewable(team) != nil {
			continue
		}
		now := s.Clock.Now()
		slot := pol.Slot(now, team.zone())
		if slot.IsZero() || now.Sub(slot) > ReviewGrace {
			continue
		}
		began := false // set, not counted, inside: the transaction may run again
		err := s.update(ctx, func(tx Tx) error {
			began = false
			fresh, err := tx.MarkSent(fmt.Sprintf("alert-review:%s:%d", team.Name, slot.Unix()), now)
			if err != nil || !fresh {
				return err
			}
			began = true
			_, err = s.startReview(tx, team, pol.windowEnding(slot, team.zone()), slot, "", now)
			return err
		})
		if err != nil {
			return started, fmt.Errorf("start the alert review of %s: %w", team.Name, err)
		}
		if began {
			started++
		}
	}
	n, err := s.remindFollowUps(ctx)
	return started + n, err
}

// gatherReview reads the review's PagerDuty history, then posts it. A
// PagerDuty error keeps what was gathered: the job is queued again from
// where it stopped, with a growing pause, up to reviewMaxResumes times.
func (s *Incidents) gatherReview(ctx context.Context, j Job) error {
	var p reviewJob
	if err := json.Unmarshal([]byte(j.Payload), &p); err != nil {
		return Permanent(fmt.Errorf("decode review job: %w", err))
	}
	var rev *AlertReview
	if err := s.Store.View(ctx, func(tx Tx) (err error) {
		rev, err = tx.Review(p.Review)
		return err
	}); err != nil {
		return fmt.Errorf("load review %s: %w", p.Review, err)
	}
	if !rev.PostedAt.IsZero() {
		return nil
	}
	if s.History == nil {
		return Permanent(fmt.Errorf("review %s: PagerDuty is not configured", rev.ID))
	}
	gerr := Gather(ctx, s.History, &p.Gathering)
	if gerr != nil {
		if ctx.Err() != nil {
			return gerr
		}
		return s.pauseGathering(ctx, rev, p, gerr)
	}
	return s.postReview(ctx, rev, p.Gathering)
}

// pauseGathering queues the gathering again from where it stopped.
func (s *Incidents) pauseGathering(ctx context.Context, rev *AlertReview, p reviewJob, cause error) error {
	p.Resumes++
	now := s.Clock.Now()
	if p.Resumes > reviewMaxResumes || IsPermanent(cause) {
		s.Log.ErrorContext(ctx, "alert review given up", "review", rev.ID, "gathered", len(p.Gathering.Incidents), "err", cause)
		err := s.update(ctx, func(tx Tx) error {
			rev.PostedAt = now
			if err := tx.SaveReview(rev); err != nil {
				return err
			}
			return enqueueMessage(tx, Message{Key: "alert-review:" + rev.ID, Channel: rev.Channel,
				Text: fmt.Sprintf("The alert review %s of %s could not be prepared: PagerDuty kept failing (%d incidents read before it did). Run /incident review to try again.",
					rev.ID, rev.Team, len(p.Gathering.Incidents))}, now)
		})
		if err != nil {
			return err
		}
		return Permanent(fmt.Errorf("review %s: %w", rev.ID, cause))
	}
	wait := min(time.Duration(p.Resumes)*time.Minute, 15*time.Minute)
	s.Log.WarnContext(ctx, "alert review paused, PagerDuty failing", "review", rev.ID, "gathered", len(p.Gathering.Incidents),
		"next_offset", p.Gathering.Next, "resume_in", wait, "err", cause)
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode review job %s: %w", rev.ID, err)
	}
	return s.update(ctx, func(tx Tx) error {
		return tx.Enqueue(Job{Kind: JobReviewGather, Key: fmt.Sprintf("%s:%s:%d", JobReviewGather, rev.ID, p.Resumes),
			Payload: string(b), RunAt: now.Add(wait)})
	})
}

// postReview summarizes what was gathered, picks what the meeting
// decides about, records it and posts it, in one transaction.
func (s *Incidents) postReview(ctx context.Context, rev *AlertReview, g Gathering) error {
	team, ok := s.Catalog.Team(rev.Team)
	if !ok {
		return Permanent(fmt.Errorf("review %s: team %s is no longer in the config", rev.ID, rev.Team))
	}
	var hours *BusinessHours
	if bh := s.policy().BusinessHours; bh != nil {
		hours = bh
	}
	d := Summarize(rev.Window, g.Incidents, hours, team.zone())
	pol := s.reviewPolicy()
	return s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		cur, err := tx.Review(rev.ID)
		if err != nil || !cur.PostedAt.IsZero() {
			return err
		}
		covered, err := s.coveredAlerts(tx, team.Name, rev.ID, now)
		if err != nil {
			return err
		}
		agenda := PickAgenda(d, covered, pol.criticalMax(), pol.nonCritical())
		ins, err := statsInputs(tx, team.Name, rev.Window.Start)
		if err != nil {
			return err
		}
		header := reviewHeader(rev, team, d, agenda)
		st := ComputeStats(now, team.Name, rev.Window, team.zone(), ins)
		reviewStats(&header, st)
		// The header first: the chart and the items are replies in its
		// thread.
		if err := enqueueMessage(tx, header, now); err != nil {
			return err
		}
		if f := reviewChart(rev, team, g.Incidents); f != nil {
			if err := EnqueueUpload(tx, *f, now); err != nil {
				return err
			}
		}
		for i, g := range agenda.Items {
			it := &ReviewItem{ReviewID: rev.ID, N: i + 1, GroupKey: g.Key, Label: g.Label, ServiceName: g.ServiceName,
				Critical: g.Critical(), Figures: groupFigures(g)}
			if err := tx.SaveReviewItem(it); err != nil {
				return err
			}
			if err := enqueueMessage(tx, reviewItemMessage(rev, it, team), now); err != nil {
				return err
			}
		}
		cur.PostedAt = now
		if err := tx.SaveReview(cur); err != nil {
			return err
		}
		if err := s.queueReviewPage(tx, cur, team, d, agenda, st, now); err != nil {
			return err
		}
		return tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "review.post", Subject: rev.ID,
			Detail: fmt.Sprintf("%d incidents, %d alerts, %d items, %d pages read", d.Incidents, d.Alerts, len(agenda.Items), g.Calls)})
	})
}

// coveredAlerts are the alert groups the team's recent reviews (other
// than this one) put before it.
func (s *Incidents) coveredAlerts(tx Tx, team, except string, now time.Time) (map[string]bool, error) {
	revs, err := tx.Reviews(team, now.Add(-ReviewCoverage))
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range revs {
		if r.ID == except {
			continue
		}
		items, err := tx.ReviewItems(r.ID)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			out[it.GroupKey] = true
		}
	}
	return out, nil
}

// Agenda is what a meeting decides about.
type Agenda struct {
	Items []*AlertGroup // critical first, then the non-critical picks
	// MoreCritical counts the critical alert groups over the cap, and
	// MoreCriticalAlerts their alerts: listed as a count, not one by one.
	MoreCritical, MoreCriticalAlerts int
	Critical, NonCritical            int // how many of Items are each
}

// PickAgenda chooses the meeting's items: every critical alert group, the
// noisiest first, up to critMax (the rest counted); then the nonCrit
// noisiest non-critical groups that no recent review covered.
func PickAgenda(d *Digest, covered map[string]bool, critMax, nonCrit int) Agenda {
	var a Agenda
	for _, g := range d.Groups() {
		if g.Alerts == 0 {
			continue // only in the previous window
		}
		switch {
		case g.Critical() && a.Critical < critMax:
			a.Items = append(a.Items, g)
			a.Critical++
		case g.Critical():
			a.MoreCritical++
			a.MoreCriticalAlerts += g.Alerts
		}
	}
	var quiet []*AlertGroup
	for _, g := range d.Groups() {
		if !g.Critical() && g.Alerts > 0 && !covered[g.Key] {
			quiet = append(quiet, g)
		}
	}
	slices.SortStableFunc(quiet, func(x, y *AlertGroup) int { return y.Alerts - x.Alerts })
	for _, g := range quiet[:min(nonCrit, len(quiet))] {
		a.Items = append(a.Items, g)
		a.NonCritical++
	}
	return a
}

// Decide records a decision about one item of a review, from its buttons.
// Members of the review's team and opsbot's admins may decide; a decision
// made stands (a second click is told who decided and when), except
// Discuss, which leaves the item open. A decision with work in it gets
// the decider as owner, due by the next review, reminded until done.
func (s *Incidents) Decide(ctx context.Context, actor Person, reviewID string, n int, d ReviewDecision) (*ReviewItem, error) {
	var out *ReviewItem
	err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		rev, it, team, err := s.reviewItem(tx, actor, reviewID, n)
		if err != nil {
			return err
		}
		if err := refuseDeparted(tx, actor); err != nil {
			return err
		}
		allowed := []ReviewDecision{DecideTune, DecideFine, DecideDiscuss}
		if it.Critical {
			allowed = []ReviewDecision{DecideKeep, DecideNonCritical, DecideDiscuss}
		}
		if !slices.Contains(allowed, d) {
			return Errorf(EInvalid, "%q is not a decision for this alert.", d)
		}
		if it.Decision.Final() {
			return Errorf(EConflict, "%s was decided already: %s, by %s on %s.", it.Label, it.Decision.Title(), Mention(it.DecidedBy.Ref()), team.LocalTime(it.DecidedAt))
		}
		it.Decision, it.DecidedBy, it.DecidedAt = d, actor, now
		if d.HasWork() {
			it.Owner, it.Due = actor, s.reviewPolicy().followUpDue(now, team.zone())
		}
		if err := tx.SaveReviewItem(it); err != nil {
			return err
		}
		out = it
		if err := tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: "review.decide", Subject: it.ID(), Detail: string(d) + ": " + it.GroupKey}); err != nil {
			return err
		}
		if err := s.queueReviewLine(tx, it, reviewLineJob{Decision: d, By: actor, At: now}, now); err != nil {
			return err
		}
		return enqueueMessage(tx, reviewItemMessage(rev, it, team), now)
	})
	return out, err
}

// FollowUpDone marks the work of a decision done: its owner, or a member
// of the team or an admin, may.
func (s *Incidents) FollowUpDone(ctx context.Context, actor Person, reviewID string, n int) (*ReviewItem, error) {
	var out *ReviewItem
	err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		rev, it, team, err := s.reviewItem(tx, actor, reviewID, n)
		owner := it != nil && (actor.Is(it.Owner.SlackID) || actor.Is(it.Owner.Email))
		if err != nil && (ErrorCode(err) != EForbidden || !owner) {
			return err
		}
		if err := refuseDeparted(tx, actor); err != nil {
			return err
		}
		switch {
		case !it.Decision.HasWork():
			return Errorf(EConflict, "%s has nothing to do: it was decided %q.", it.Label, it.Decision.Title())
		case !it.DoneAt.IsZero():
			return Errorf(EConflict, "%s was marked done already, on %s.", it.Label, team.LocalTime(it.DoneAt))
		}
		it.DoneAt = now
		if err := tx.SaveReviewItem(it); err != nil {
			return err
		}
		out = it
		if err := tx.Audit(AuditEntry{At: now, Actor: actor.String(), Action: "review.done", Subject: it.ID(), Detail: it.GroupKey}); err != nil {
			return err
		}
		if err := s.queueReviewLine(tx, it, reviewLineJob{Done: true, By: actor, At: now}, now); err != nil {
			return err
		}
		return enqueueMessage(tx, reviewItemMessage(rev, it, team), now)
	})
	return out, err
}

// refuseDeparted refuses an offboarded person's decision, even while
// the config still names them.
func refuseDeparted(tx Tx, actor Person) error {
	gone, err := Departed(tx, actor)
	if err != nil {
		return err
	}
	if gone {
		return DepartedAnswer(actor)
	}
	return nil
}

// reviewItem loads one item and checks that actor may decide about it.
// On a refusal it still returns what it loaded.
func (s *Incidents) reviewItem(tx Tx, actor Person, reviewID string, n int) (*AlertReview, *ReviewItem, *Team, error) {
	rev, err := tx.Review(strings.ToLower(reviewID))
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil, Errorf(ENotFound, "There is no alert review %s.", reviewID)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	items, err := tx.ReviewItems(rev.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	if n < 1 || n > len(items) {
		return nil, nil, nil, Errorf(ENotFound, "The alert review %s has no item %d.", rev.ID, n)
	}
	it := items[n-1]
	team, ok := s.Catalog.Team(rev.Team)
	if !ok {
		team = &Team{Name: rev.Team}
	}
	if !team.HasMember(actor) && !s.Catalog.IsAdmin(actor) {
		return rev, it, team, &Error{Code: EForbidden, Message: fmt.Sprintf("Only members of %s and opsbot's admins decide about its alerts.", rev.Team)}
	}
	return rev, it, team, nil
}

// ParseReviewValue reads a review button's value: "rev-3 2 keep" or "rev-3 2".
func ParseReviewValue(v string) (id string, n int, d ReviewDecision, ok bool) {
	f := strings.Fields(v)
	if len(f) < 2 || len(f) > 3 {
		return "", 0, "", false
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return "", 0, "", false
	}
	if len(f) == 3 {
		d = ReviewDecision(f[2])
	}
	return f[0], n, d, true
}

// remindFollowUps reminds the owners of review decisions past their due
// time, daily, once per due time, until the work is marked done.
func (s *Incidents) remindFollowUps(ctx context.Context) (int, error) {
	sent := 0
	err := s.update(ctx, func(tx Tx) error {
		sent = 0 // a retried transaction counts again from nothing
		now := s.Clock.Now()
		items, err := tx.FollowUps()
		if err != nil {
			return err
		}
		for _, it := range items {
			if it.Due.After(now) || person(it.Owner) == "" {
				continue
			}
			last, err := tx.LastReminders(it.ID())
			if err != nil {
				return err
			}
			rev, err := tx.Review(it.ReviewID)
			if err != nil {
				return err
			}
			team, ok := s.Catalog.Team(rev.Team)
			if !ok {
				team = &Team{Name: rev.Team}
			}
			// Daily at the due time's clock time in the team's zone.
			due, ok := Repeat{First: it.Due, Every: 24 * time.Hour, Loc: team.zone()}.Due(now, last[NagReviewFollowUp])
			if !ok {
				continue
			}
			fresh, err := tx.RecordReminder(it.ID(), NagReviewFollowUp, due, now)
			if err != nil || !fresh {
				return err
			}
			sent++
			if err := enqueueMessage(tx, followUpReminder(rev, it, team, due, now), now); err != nil {
				return err
			}
		}
		return nil
	})
	return sent, err
}
