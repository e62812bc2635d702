package slack

import (
	"slices"
	"time"

	"github.com/opsbot/opsbot/internal/gcra"
)

// Tier is a Slack Web API rate-limit tier. Slack documents each method's
// tier; the client paces itself by it so it rarely meets a 429.
type Tier int

// Slack's tiers. The per-minute figures are the documented floors ("20+
// per minute"): pacing to them keeps opsbot inside the limit on every
// workspace.
const (
	TierNone Tier = iota // not limited (Slack calls these "special")
	Tier1                // ~1 per minute
	Tier2                // ~20 per minute
	Tier3                // ~50 per minute
	Tier4                // ~100 per minute
	// TierPost is chat.postMessage: ~1 per second per channel, with a
	// short burst allowed.
	TierPost
)

// Limit is a pace: one call every Every, with up to Burst calls at once
// after a quiet spell (a token bucket).
type Limit = gcra.Limit

// DefaultLimits are the paces used for each tier: each tier's documented
// floor per sliding minute (Slack counts per method, per workspace, per
// app) with a small burst, the interval chosen so that burst and pace
// together never put more calls in any minute than the floor, even when
// calls reach Slack up to SlotLate after their slots
// (gcra.PerMinuteLate). chat.postMessage: one a second per channel after
// a burst of three.
var DefaultLimits = map[Tier]Limit{
	Tier1:    gcra.PerMinuteLate(1, 1, SlotLate),    // 62s apart
	Tier2:    gcra.PerMinuteLate(20, 3, SlotLate),   // 3.44s apart after 3
	Tier3:    gcra.PerMinuteLate(50, 5, SlotLate),   // 1.35s apart after 5
	Tier4:    gcra.PerMinuteLate(100, 10, SlotLate), // 0.68s apart after 10
	TierPost: {Every: time.Second, Burst: 3},
}

// method is what opsbot knows about a Web API method it calls: its rate
// tier and the bot scopes it needs.
type method struct {
	tier   Tier
	scopes []string
}

// sendOnce are the methods that a second call after an unknown outcome
// (a 5xx, a timeout: Slack may have done it) would do twice. The client
// does not send them again: the caller (the outbox job) finds out what
// happened first (Deliver looks for the posted message). Every other
// method opsbot calls is safe to repeat: updates and publishes overwrite,
// opens and lookups read, an upload URL shares nothing until the
// upload is completed, a repeated create, pin or invite is answered
// name_taken, already_pinned or already_in_channel, which are handled.
var sendOnce = map[string]bool{"chat.postMessage": true, "files.completeUploadExternal": true}

// methods lists every Web API method the client calls. It is the source
// of the app manifest's bot scopes (RequiredScopes) and of pacing; a test
// checks that every c.call in this package names a method listed here and
// that every method listed is called.
var methods = map[string]method{
	"auth.test":           {TierNone, nil},
	"chat.postMessage":    {TierPost, []string{"chat:write"}},
	"chat.update":         {Tier3, []string{"chat:write"}},
	"pins.add":            {Tier2, []string{"pins:write"}},
	"users.info":          {Tier4, []string{"users:read", "users:read.email"}},
	"users.lookupByEmail": {Tier3, []string{"users:read.email"}},
	"conversations.open":  {Tier3, []string{"im:write"}},
	// ChannelID lists public and private channels.
	"conversations.list":    {Tier2, []string{"channels:read", "groups:read"}},
	"conversations.info":    {Tier3, []string{"channels:read"}},
	"conversations.create":  {Tier2, []string{"channels:manage"}},
	"conversations.invite":  {Tier3, []string{"channels:manage"}},
	"conversations.history": {Tier3, []string{"channels:history"}}, // Message, for timeline reactions
	"conversations.replies": {Tier3, []string{"channels:history"}}, // Message, for replies in threads
	"views.open":            {Tier4, nil},
	"views.publish":         {Tier4, nil},
	// Upload: a chart picture in a review or report.
	"files.getUploadURLExternal":   {Tier4, []string{"files:write"}},
	"files.completeUploadExternal": {Tier4, []string{"files:write"}},
}

// RequiredScopes returns the bot scopes the client's Web API calls need,
// sorted: exactly what the app manifest must request for them.
func RequiredScopes() []string {
	var out []string
	for _, m := range methods {
		for _, s := range m.scopes {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Methods returns the Web API methods the client calls, sorted.
func Methods() []string {
	out := make([]string, 0, len(methods))
	for name := range methods {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// limitFor returns the pace of a method; an unknown one is paced as Tier
// 3. A method Slack does not limit gets no interval: only a Retry-After
// holds it back.
func (c *Client) limitFor(name string) Limit {
	m, ok := methods[name]
	if !ok {
		m.tier = Tier3
	}
	if m.tier == TierNone {
		return Limit{Burst: 1}
	}
	if l, ok := c.opts.Limits[m.tier]; ok {
		return l
	}
	return DefaultLimits[m.tier]
}
