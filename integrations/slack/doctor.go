package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	slackapi "github.com/slack-go/slack"
)

// Identity is what auth.test says about the bot token: the workspace,
// the bot user, and the OAuth scopes the token was granted (Slack sends
// them in the X-OAuth-Scopes header of every answer).
type Identity struct {
	Team, TeamID, User, UserID, BotID string
	Scopes                            []string
}

// ErrChannelNotFound says a channel does not exist or the bot cannot see
// it (a private channel it is not in looks the same to Slack's API).
var ErrChannelNotFound = errors.New("channel not found or not visible to the bot")

// headerRecorder keeps the last answer's X-OAuth-Scopes header.
type headerRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	got  string
	seen bool
}

func (h *headerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := h.next.RoundTrip(r)
	if err == nil {
		h.mu.Lock()
		h.got, h.seen = resp.Header.Get("X-OAuth-Scopes"), resp.Header.Values("X-OAuth-Scopes") != nil
		h.mu.Unlock()
	}
	return resp, err
}

// WhoAmI calls auth.test and reads the granted scopes from its headers.
// Scopes is nil when Slack sent no X-OAuth-Scopes header at all.
func (c *Client) WhoAmI(ctx context.Context) (Identity, error) {
	base := c.opts.HTTPClient
	rt := base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	rec := &headerRecorder{next: rt}
	hc := *base
	hc.Transport = rec
	opts := []slackapi.Option{slackapi.OptionHTTPClient(&hc)}
	if c.opts.APIURL != "" {
		opts = append(opts, slackapi.OptionAPIURL(c.opts.APIURL))
	}
	api := slackapi.New(c.token, opts...)
	var resp *slackapi.AuthTestResponse
	err := c.call(ctx, "auth.test", func(ctx context.Context) (err error) {
		resp, err = api.AuthTestContext(ctx)
		return err
	})
	if err != nil {
		return Identity{}, fmt.Errorf("auth.test: %w", err)
	}
	id := Identity{Team: resp.Team, TeamID: resp.TeamID, User: resp.User, UserID: resp.UserID, BotID: resp.BotID}
	rec.mu.Lock()
	header, seen := rec.got, rec.seen
	rec.mu.Unlock()
	if seen {
		id.Scopes = []string{}
		for _, s := range strings.Split(header, ",") {
			if s = strings.TrimSpace(s); s != "" {
				id.Scopes = append(id.Scopes, s)
			}
		}
		slices.Sort(id.Scopes)
	}
	return id, nil
}

// ChannelState is what the bot sees of a channel.
type ChannelState struct {
	ID, Name  string
	Private   bool
	Archived  bool
	BotMember bool
}

// Channel finds a channel by ID or "#name" and says whether the bot is in
// it. A channel that does not exist, or a private one the bot was not
// invited to, is ErrChannelNotFound.
func (c *Client) Channel(ctx context.Context, ref string) (ChannelState, error) {
	id, err := c.ChannelID(ctx, ref)
	if errors.Is(err, errNoChannel) {
		return ChannelState{}, fmt.Errorf("%s: %w", ref, ErrChannelNotFound)
	}
	if err != nil {
		return ChannelState{}, err
	}
	var ch *slackapi.Channel
	err = c.call(ctx, "conversations.info", func(ctx context.Context) (err error) {
		ch, err = c.api.GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: id})
		return err
	})
	if SlackError(err) == "channel_not_found" {
		return ChannelState{}, fmt.Errorf("%s: %w", ref, ErrChannelNotFound)
	}
	if err != nil {
		return ChannelState{}, fmt.Errorf("conversations.info %s: %w", ref, err)
	}
	return ChannelState{ID: ch.ID, Name: ch.Name, Private: ch.IsPrivate, Archived: ch.IsArchived, BotMember: ch.IsMember}, nil
}
