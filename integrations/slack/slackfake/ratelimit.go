package slackfake

import "time"

// Tier is a Slack Web API rate-limit tier.
type Tier int

// Slack's tiers. The per-minute numbers are the documented floors ("20+
// per minute"), which is what an app must plan for.
const (
	TierNone Tier = iota // not limited
	Tier1                // 1 per minute
	Tier2                // 20 per minute
	Tier3                // 50 per minute
	Tier4                // 100 per minute
	// TierPostMessage is chat.postMessage's special limit: one message per
	// second per channel, with a short burst allowed.
	TierPostMessage
)

// perMinute is each tier's allowance in a sliding one-minute window.
var perMinute = map[Tier]int{Tier1: 1, Tier2: 20, Tier3: 50, Tier4: 100}

// postBurst is how many messages a channel takes at once before the
// one-per-second pace applies.
const postBurst = 3

// defaultTiers maps methods to their documented tiers.
var defaultTiers = map[string]Tier{
	"auth.test":                    Tier4, // "special" in the docs; generous
	"chat.postMessage":             TierPostMessage,
	"chat.update":                  Tier3,
	"chat.delete":                  Tier3,
	"chat.postEphemeral":           Tier4,
	"chat.getPermalink":            Tier4,
	"conversations.open":           Tier3,
	"conversations.create":         Tier2,
	"conversations.invite":         Tier3,
	"conversations.info":           Tier3,
	"conversations.history":        Tier3,
	"conversations.replies":        Tier3,
	"conversations.setTopic":       Tier2,
	"conversations.setPurpose":     Tier2,
	"conversations.list":           Tier2,
	"pins.add":                     Tier2,
	"pins.list":                    Tier2,
	"reactions.add":                Tier3,
	"users.info":                   Tier4,
	"users.lookupByEmail":          Tier3,
	"users.list":                   Tier2,
	"views.open":                   Tier4,
	"views.update":                 Tier4,
	"views.publish":                Tier4,
	"apps.connections.open":        Tier1,
	"files.getUploadURLExternal":   Tier4,
	"files.completeUploadExternal": Tier4,
}

// limiter applies the tiers on the injected clock: a sliding one-minute
// window per method, and a token bucket per channel for chat.postMessage.
// Rejected calls do not count.
type limiter struct {
	on      bool
	tiers   map[string]Tier
	windows map[string][]time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(on bool) *limiter {
	tiers := make(map[string]Tier, len(defaultTiers))
	for k, v := range defaultTiers {
		tiers[k] = v
	}
	return &limiter{on: on, tiers: tiers, windows: map[string][]time.Time{}, buckets: map[string]*bucket{}}
}

// allow records a call of method under key at now, or says how long to
// wait before one would be accepted.
func (l *limiter) allow(method, key string, now time.Time) (time.Duration, bool) {
	if !l.on {
		return 0, true
	}
	tier := l.tiers[method]
	switch tier {
	case TierNone:
		return 0, true
	case TierPostMessage:
		b := l.buckets[key]
		if b == nil {
			b = &bucket{tokens: postBurst, at: now}
			l.buckets[key] = b
		}
		if el := now.Sub(b.at); el > 0 {
			b.tokens = min(postBurst, b.tokens+el.Seconds())
			b.at = now
		}
		if b.tokens < 1 {
			return time.Duration((1 - b.tokens) * float64(time.Second)), false
		}
		b.tokens--
		return 0, true
	}
	limit := perMinute[tier]
	w := l.windows[key]
	cut := 0
	for cut < len(w) && !w[cut].After(now.Add(-time.Minute)) {
		cut++
	}
	w = w[cut:]
	if len(w) >= limit {
		l.windows[key] = w
		return w[0].Add(time.Minute).Sub(now), false
	}
	l.windows[key] = append(w, now)
	return 0, true
}
