package workflows

import (
	"context"
	"regexp"
	"strings"
	"time"
)

// Directory tells people's real names, for documents read by people
// outside Slack (the post-mortem), where a Slack ID means nothing. The
// Slack integration implements it with users.info.
type Directory interface {
	// RealName returns the name Slack shows for a user.
	RealName(ctx context.Context, slackID string) (string, error)
}

// NameTTL is how long a looked-up name is trusted before it is looked up
// again (people change their display names).
const NameTTL = 24 * time.Hour

// actorPattern reads a Person as recorded on the timeline and the audit
// log by Person.String: "U123 <ada@example.com>", "U123" or an email.
var actorPattern = regexp.MustCompile(`^([UW][A-Z0-9]{2,})(?: <([^<>\s]+@[^<>\s]+)>)?$`)

// ParseActor reads a recorded actor back into a Person; ok is false for
// anything else (a PagerDuty agent's name, "opsbot").
func ParseActor(s string) (Person, bool) {
	s = strings.TrimSpace(s)
	if m := actorPattern.FindStringSubmatch(s); m != nil {
		return Person{SlackID: m[1], Email: m[2]}, true
	}
	if strings.Count(s, "@") == 1 && !strings.ContainsAny(s, " <>") {
		return Person{Email: s}, true
	}
	return Person{}, false
}

// nameBook finds people's real names, through the store's cache (refreshed
// after NameTTL) and the Directory. A lookup that fails falls back to the
// person's email: a post-mortem is never held up by a name.
type nameBook struct {
	s    *Incidents
	ctx  context.Context
	memo map[string]string
}

func (s *Incidents) names(ctx context.Context) *nameBook {
	return &nameBook{s: s, ctx: ctx, memo: map[string]string{}}
}

// of returns how a person reads in a document: their real name, else
// their email, else "someone".
func (n *nameBook) of(p Person) string {
	if p.SlackID == "" {
		return orDefault(p.Email, "")
	}
	if v, ok := n.memo[p.SlackID]; ok {
		return v
	}
	name := n.lookup(p.SlackID)
	if name == "" {
		name = orDefault(p.Email, "a Slack user")
	}
	n.memo[p.SlackID] = name
	return name
}

// actor is of for a recorded actor; other actors (PagerDuty's names,
// "opsbot") are shown as recorded.
func (n *nameBook) actor(s string) string {
	if p, ok := ParseActor(s); ok {
		return n.of(p)
	}
	return s
}

// embeddedActor finds people recorded inside opsbot's own timeline text
// ("Scribe: U123 <ada@example.com>").
var embeddedActor = regexp.MustCompile(`\b[UW][A-Z0-9]{2,}(?: <[^<>\s]+@[^<>\s]+>)?`)

// text names the people inside a timeline entry's text opsbot wrote;
// text people typed (updates, pinned messages) is left as typed.
func (n *nameBook) text(e TimelineEntry) string {
	switch e.Kind {
	case TLUpdate, TLPinned, TLPagerDuty:
		return e.Text
	}
	return embeddedActor.ReplaceAllStringFunc(e.Text, n.actor)
}

func (n *nameBook) lookup(id string) string {
	key := "slack-name:" + id
	now := n.s.Clock.Now()
	var cached string
	var hit bool
	if err := n.s.Store.View(n.ctx, func(tx Tx) (err error) {
		cached, hit, err = tx.CachedName(key, now.Add(-NameTTL))
		return err
	}); err != nil {
		n.s.Log.Warn("read cached name", "user", id, "err", err)
	}
	if hit || n.s.Directory == nil {
		return cached
	}
	name, err := n.s.Directory.RealName(n.ctx, id)
	if err != nil {
		n.s.Log.Warn("look up real name", "user", id, "err", err)
		return ""
	}
	if err := n.s.Store.Update(n.ctx, func(tx Tx) error { return tx.PutName(key, name, now) }); err != nil {
		n.s.Log.Warn("cache name", "user", id, "err", err)
	}
	return name
}
