package slack

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
)

// cache is a small string map whose entries expire on an injected clock.
type cache struct {
	mu  sync.Mutex
	ttl time.Duration
	now func() time.Time
	m   map[string]cacheEntry
}

type cacheEntry struct {
	v  string
	at time.Time
}

func newCache(ttl time.Duration, now func() time.Time) *cache {
	return &cache{ttl: ttl, now: now, m: map[string]cacheEntry{}}
}

func (c *cache) get(k string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || c.now().Sub(e.at) >= c.ttl {
		delete(c.m, k)
		return "", false
	}
	return e.v, true
}

func (c *cache) put(k, v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = cacheEntry{v: v, at: c.now()}
}

func (c *cache) forget(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}

// userIDPattern matches Slack user IDs (U... or, on Enterprise Grid, W...).
var userIDPattern = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// channelIDPattern matches conversation IDs: channels, legacy private
// groups, IMs.
var channelIDPattern = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)

// IsUserID reports whether s looks like a Slack user ID rather than an
// email or a name.
func IsUserID(s string) bool { return userIDPattern.MatchString(s) }

// UserEmail returns a user's email (users.info, needs users:read.email),
// cached for Options.CacheTTL.
func (c *Client) UserEmail(ctx context.Context, userID string) (string, error) {
	if v, ok := c.emails.get(userID); ok {
		return v, nil
	}
	var u *slackapi.User
	err := c.call(ctx, "users.info", func(ctx context.Context) (err error) {
		u, err = c.api.GetUserInfoContext(ctx, userID)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("look up email of %s: %w", userID, err)
	}
	if u.Profile.Email == "" {
		return "", fmt.Errorf("look up email of %s: Slack returned none (is the users:read.email scope granted?)", userID)
	}
	c.emails.put(userID, u.Profile.Email)
	c.userIDs.put(strings.ToLower(u.Profile.Email), userID)
	return u.Profile.Email, nil
}

// RealName returns the name a user goes by (users.info): their profile's
// real name, else their display name, else their username. Not cached
// here: workflows caches names in its store.
func (c *Client) RealName(ctx context.Context, userID string) (string, error) {
	var u *slackapi.User
	err := c.call(ctx, "users.info", func(ctx context.Context) (err error) {
		u, err = c.api.GetUserInfoContext(ctx, userID)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("look up name of %s: %w", userID, err)
	}
	for _, n := range []string{u.Profile.RealName, u.RealName, u.Profile.DisplayName, u.Name} {
		if n = strings.TrimSpace(n); n != "" {
			return n, nil
		}
	}
	return "", fmt.Errorf("look up name of %s: Slack returned none", userID)
}

// UserID returns the Slack user with this email (users.lookupByEmail),
// cached for Options.CacheTTL. An unknown email gives an error whose
// SlackError is "users_not_found".
func (c *Client) UserID(ctx context.Context, email string) (string, error) {
	key := strings.ToLower(strings.TrimSpace(email))
	if v, ok := c.userIDs.get(key); ok {
		return v, nil
	}
	var u *slackapi.User
	err := c.call(ctx, "users.lookupByEmail", func(ctx context.Context) (err error) {
		u, err = c.api.GetUserByEmailContext(ctx, email)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("look up Slack user for %s: %w", email, err)
	}
	c.userIDs.put(key, u.ID)
	c.emails.put(u.ID, u.Profile.Email)
	return u.ID, nil
}

// resolveUser turns a person reference (user ID or email) into a user ID.
func (c *Client) resolveUser(ctx context.Context, ref string) (string, error) {
	if IsUserID(ref) {
		return ref, nil
	}
	if strings.Contains(ref, "@") {
		return c.UserID(ctx, ref)
	}
	return "", fmt.Errorf("%q is neither a Slack user ID nor an email", ref)
}

// dmChannel opens (or finds) the bot's IM with a user.
func (c *Client) dmChannel(ctx context.Context, userID string) (string, error) {
	if v, ok := c.dms.get(userID); ok {
		return v, nil
	}
	var ch *slackapi.Channel
	err := c.call(ctx, "conversations.open", func(ctx context.Context) (err error) {
		ch, _, _, err = c.api.OpenConversationContext(ctx, &slackapi.OpenConversationParameters{Users: []string{userID}})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("open DM with %s: %w", userID, err)
	}
	c.dms.put(userID, ch.ID)
	return ch.ID, nil
}

// errNoChannel says no live channel visible to the bot has the name.
var errNoChannel = errors.New("no such channel visible to the bot")

// ChannelID resolves a channel reference: an ID is returned as is, a name
// ("#ops" or "ops") is looked up with conversations.list and cached.
func (c *Client) ChannelID(ctx context.Context, ref string) (string, error) {
	if channelIDPattern.MatchString(ref) {
		return ref, nil
	}
	name := strings.TrimPrefix(ref, "#")
	if v, ok := c.channels.get(name); ok {
		return v, nil
	}
	cursor := ""
	for {
		var chans []slackapi.Channel
		var next string
		err := c.call(ctx, "conversations.list", func(ctx context.Context) (err error) {
			chans, next, err = c.api.GetConversationsContext(ctx, &slackapi.GetConversationsParameters{
				Cursor: cursor, Limit: 200, ExcludeArchived: true,
				Types: []string{"public_channel", "private_channel"},
			})
			return err
		})
		if err != nil {
			return "", fmt.Errorf("find channel #%s: %w", name, err)
		}
		found := ""
		for _, ch := range chans {
			c.channels.put(ch.Name, ch.ID) // remember the whole page
			if ch.Name == name {
				found = ch.ID
			}
		}
		if found != "" {
			return found, nil
		}
		if next == "" {
			return "", fmt.Errorf("find channel #%s: %w", name, errNoChannel)
		}
		cursor = next
	}
}
