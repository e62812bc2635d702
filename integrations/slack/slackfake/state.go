package slackfake

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// User is a member of the fake workspace.
type User struct {
	ID       string // "U..."; generated when empty
	Name     string // handle, e.g. "alice"
	RealName string
	Email    string
	IsBot    bool
	IsAdmin  bool
	TZ       string // IANA zone; default "UTC"
	Deleted  bool
}

// Channel is a conversation: a public or private channel, or an IM.
type Channel struct {
	ID        string
	Name      string // empty for IMs
	IsPrivate bool
	IsIM      bool
	User      string // for an IM: the person on the other side of the bot
	Members   []string
	Topic     string
	Purpose   string
	Creator   string
	Created   time.Time
	Archived  bool
}

// Edit records who last changed a message and when.
type Edit struct {
	User string
	TS   string
}

// Reaction is an emoji on a message and who added it.
type Reaction struct {
	Name  string
	Users []string
}

// Message is a message in a conversation. Blocks are kept as the raw JSON
// the app sent.
type Message struct {
	Channel   string
	TS        string
	ThreadTS  string // parent's ts for replies (and the parent's own ts once it has replies)
	User      string
	BotID     string
	Text      string
	Blocks    json.RawMessage
	Edited    *Edit
	Reactions []Reaction
	Replies   int
	Pinned    bool
	// Metadata is the message's metadata ({"event_type","event_payload"})
	// as posted; Slack returns it from history only when asked
	// (include_all_metadata).
	Metadata json.RawMessage `json:",omitempty"`
	// Files are the files shared with the message (an upload finished
	// by files.completeUploadExternal).
	Files []File `json:",omitempty"`
}

// IsReply reports whether the message is in a thread under another.
func (m Message) IsReply() bool { return m.ThreadTS != "" && m.ThreadTS != m.TS }

// Pin is a pinned message.
type Pin struct {
	Channel string
	TS      string
	By      string
	At      time.Time
}

// Ephemeral is a message only one user saw, from chat.postEphemeral or a
// response_url answer.
type Ephemeral struct {
	Channel  string
	User     string
	TS       string
	ThreadTS string
	Text     string
	Blocks   json.RawMessage
	Source   string // "chat.postEphemeral", "response_url" or "http_response"
	Deleted  bool   // replaced or deleted by a later response_url answer
}

// AddUser adds a person to the workspace and returns it with its ID.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.addUserLocked(u)
}

func (s *Server) addUserLocked(u User) *User {
	if u.ID == "" {
		u.ID = s.newID("U")
	}
	if u.Name == "" {
		u.Name = strings.ToLower(strings.SplitN(u.Email, "@", 2)[0])
	}
	if u.TZ == "" {
		u.TZ = "UTC"
	}
	if _, ok := s.users[u.ID]; !ok {
		s.userOrder = append(s.userOrder, u.ID)
	}
	cp := u
	s.users[u.ID] = &cp
	return &cp
}

// User returns a user by ID.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// Users returns every user, the bot first.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.userOrder))
	for _, id := range s.userOrder {
		out = append(out, *s.users[id])
	}
	return out
}

// AddChannel adds a channel as if people had made it in Slack (no name
// checks, no rate limit). The bot is a member only if listed in Members.
func (s *Server) AddChannel(c Channel) Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ID == "" {
		c.ID = s.newID("C")
	}
	if c.Created.IsZero() {
		c.Created = s.now()
	}
	c.Name = strings.TrimPrefix(c.Name, "#")
	return *s.putChannel(c)
}

func (s *Server) putChannel(c Channel) *Channel {
	if _, ok := s.channels[c.ID]; !ok {
		s.chanOrder = append(s.chanOrder, c.ID)
	}
	c.Members = slices.Clone(c.Members)
	cp := c
	s.channels[c.ID] = &cp
	return &cp
}

// Channel returns a channel by ID, name or "#name".
func (s *Server) Channel(idOrName string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.lookupChannel(idOrName)
	if c == nil {
		return Channel{}, false
	}
	cp := *c
	cp.Members = slices.Clone(c.Members)
	return cp, true
}

// Channels returns every channel and IM in creation order.
func (s *Server) Channels() []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Channel, 0, len(s.chanOrder))
	for _, id := range s.chanOrder {
		c := *s.channels[id]
		c.Members = slices.Clone(c.Members)
		out = append(out, c)
	}
	return out
}

// lookupChannel finds a channel by ID or (#)name. Caller holds mu.
func (s *Server) lookupChannel(ref string) *Channel {
	if c, ok := s.channels[ref]; ok {
		return c
	}
	name := strings.TrimPrefix(ref, "#")
	if name == "" {
		return nil
	}
	for _, id := range s.chanOrder {
		if c := s.channels[id]; !c.IsIM && c.Name == name {
			return c
		}
	}
	return nil
}

// imWith returns the bot's IM with a user, opening it if needed. Caller
// holds mu.
func (s *Server) imWith(userID string) *Channel {
	for _, id := range s.chanOrder {
		if c := s.channels[id]; c.IsIM && c.User == userID {
			return c
		}
	}
	return s.putChannel(Channel{
		ID: s.newID("D"), IsIM: true, User: userID,
		Members: []string{s.opts.BotUserID, userID}, Created: s.now(), Creator: s.opts.BotUserID,
	})
}

// Messages returns a conversation's messages, thread replies included, in
// ts order. The channel is an ID, a name or "#name".
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.lookupChannel(channel)
	if c == nil {
		return nil
	}
	return copyMessages(s.messages[c.ID])
}

// DMs returns the messages in the bot's IM with a user.
func (s *Server) DMs(userID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.chanOrder {
		if c := s.channels[id]; c.IsIM && c.User == userID {
			return copyMessages(s.messages[c.ID])
		}
	}
	return nil
}

// Thread returns a thread: its parent then its replies.
func (s *Server) Thread(channel, ts string) []Message {
	var out []Message
	for _, m := range s.Messages(channel) {
		if m.TS == ts || m.ThreadTS == ts {
			out = append(out, m)
		}
	}
	return out
}

// Pins returns a channel's pinned messages in the order they were pinned.
func (s *Server) Pins(channel string) []Pin {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.lookupChannel(channel)
	if c == nil {
		return nil
	}
	return slices.Clone(s.pins[c.ID])
}

// Ephemerals returns what only this user was shown, oldest first.
func (s *Server) Ephemerals(userID string) []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ephemerals[userID])
}

func copyMessages(ms []*Message) []Message {
	out := make([]Message, len(ms))
	for i, m := range ms {
		cp := *m
		cp.Reactions = slices.Clone(m.Reactions)
		out[i] = cp
	}
	return out
}

// findMessage returns a message by channel ID and ts. Caller holds mu.
func (s *Server) findMessage(channelID, ts string) *Message {
	for _, m := range s.messages[channelID] {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

// newID makes a Slack-looking ID with a prefix. Caller holds mu.
func (s *Server) newID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%08X", prefix, s.seq)
}

// newTS returns a message timestamp from the clock, unique and increasing
// even when the clock stands still. Caller holds mu.
func (s *Server) newTS() string {
	t := s.now().Truncate(time.Microsecond)
	if !t.After(s.lastTS) {
		t = s.lastTS.Add(time.Microsecond)
	}
	s.lastTS = t
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}

// isMember reports whether user is in the channel. Caller holds mu.
func (c *Channel) isMember(user string) bool { return slices.Contains(c.Members, user) }
