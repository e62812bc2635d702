package slackfake

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// snapshotVersion is bumped when the snapshot's shape changes; Restore
// refuses other versions rather than guess.
const snapshotVersion = 1

// snapshot is the workspace as JSON: what people would see again after a
// restart. Call logs, rate-limit windows, injected faults, trigger_ids
// (three seconds to live) and Socket Mode connections are left out.
type snapshot struct {
	Version    int                     `json:"version"`
	Seq        int                     `json:"seq"`
	LastTS     time.Time               `json:"last_ts"`
	Users      []User                  `json:"users"`
	Channels   []Channel               `json:"channels"`
	Messages   map[string][]Message    `json:"messages"`
	Pins       map[string][]Pin        `json:"pins"`
	Ephemerals map[string][]Ephemeral  `json:"ephemerals"`
	Views      []View                  `json:"views"`
	Responses  map[string]savedRespURL `json:"response_urls"`
}

// savedRespURL is a response_url still honoured after a restart: opsbot
// may answer a command from a durable job once it is back.
type savedRespURL struct {
	User      string    `json:"user"`
	Channel   string    `json:"channel"`
	MessageTS string    `json:"message_ts"`
	Ephemeral bool      `json:"ephemeral"`
	Expires   time.Time `json:"expires"`
	Uses      int       `json:"uses"`
}

// Snapshot returns the workspace's state as JSON (users, channels and
// their members, messages with threads, edits, reactions and pins,
// ephemeral messages, views, live response_urls, and the ID and ts
// sequences), so a restarted sandbox can show the same workspace.
func (s *Server) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn := snapshot{
		Version: snapshotVersion, Seq: s.seq, LastTS: s.lastTS,
		Messages: map[string][]Message{}, Pins: map[string][]Pin{}, Ephemerals: map[string][]Ephemeral{},
		Responses: map[string]savedRespURL{},
	}
	for _, id := range s.userOrder {
		sn.Users = append(sn.Users, *s.users[id])
	}
	for _, id := range s.chanOrder {
		sn.Channels = append(sn.Channels, *s.channels[id])
	}
	for id, ms := range s.messages {
		sn.Messages[id] = copyMessages(ms)
	}
	for id, ps := range s.pins {
		sn.Pins[id] = ps
	}
	for user, es := range s.ephemerals {
		sn.Ephemerals[user] = es
	}
	for _, id := range s.viewOrder {
		sn.Views = append(sn.Views, *s.views[id])
	}
	now := s.now()
	for id, ru := range s.respURLs {
		if now.After(ru.expires) || ru.uses >= responseURLUses {
			continue
		}
		sn.Responses[id] = savedRespURL{User: ru.origin.user, Channel: ru.origin.channel, MessageTS: ru.origin.messageTS,
			Ephemeral: ru.origin.ephemeral, Expires: ru.expires, Uses: ru.uses}
	}
	b, err := json.Marshal(sn)
	if err != nil {
		return nil, fmt.Errorf("snapshot slack workspace: %w", err)
	}
	return b, nil
}

// Restore replaces the workspace with one saved by Snapshot. New IDs and
// timestamps continue after the saved ones. On error nothing changes.
func (s *Server) Restore(b []byte) error {
	var sn snapshot
	if err := json.Unmarshal(b, &sn); err != nil {
		return fmt.Errorf("restore slack workspace: %w", err)
	}
	if sn.Version != snapshotVersion {
		return fmt.Errorf("restore slack workspace: snapshot version %d, want %d", sn.Version, snapshotVersion)
	}
	users, userOrder := map[string]*User{}, []string(nil)
	for _, u := range sn.Users {
		if u.ID == "" || users[u.ID] != nil {
			return fmt.Errorf("restore slack workspace: user ID %q missing or repeated", u.ID)
		}
		users[u.ID], userOrder = &u, append(userOrder, u.ID)
	}
	channels, chanOrder := map[string]*Channel{}, []string(nil)
	for _, c := range sn.Channels {
		if c.ID == "" || channels[c.ID] != nil {
			return fmt.Errorf("restore slack workspace: channel ID %q missing or repeated", c.ID)
		}
		channels[c.ID], chanOrder = &c, append(chanOrder, c.ID)
	}
	messages := map[string][]*Message{}
	for id, ms := range sn.Messages {
		if channels[id] == nil {
			return fmt.Errorf("restore slack workspace: messages in unknown channel %q", id)
		}
		for _, m := range ms {
			m.Channel, m.Blocks = id, noNull(m.Blocks)
			messages[id] = append(messages[id], &m)
		}
	}
	views, viewOrder := map[string]*View{}, []string(nil)
	for _, v := range sn.Views {
		if v.ID == "" || views[v.ID] != nil {
			return fmt.Errorf("restore slack workspace: view ID %q missing or repeated", v.ID)
		}
		if noNull(v.JSON) == nil {
			return fmt.Errorf("restore slack workspace: view %s has no JSON", v.ID)
		}
		views[v.ID], viewOrder = &v, append(viewOrder, v.ID)
	}
	respURLs := map[string]*responseURL{}
	for id, r := range sn.Responses {
		respURLs[id] = &responseURL{origin: responseOrigin{user: r.User, channel: r.Channel, messageTS: r.MessageTS,
			ephemeral: r.Ephemeral}, expires: r.Expires, uses: r.Uses}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq = max(s.seq, sn.Seq)
	if sn.LastTS.After(s.lastTS) {
		s.lastTS = sn.LastTS
	}
	s.users, s.userOrder = users, userOrder
	s.channels, s.chanOrder = channels, chanOrder
	s.messages = messages
	s.pins = orEmpty(sn.Pins)
	s.ephemerals = orEmpty(sn.Ephemerals)
	for _, es := range s.ephemerals {
		for i := range es {
			es[i].Blocks = noNull(es[i].Blocks)
		}
	}
	s.views, s.viewOrder = views, viewOrder
	s.respURLs = respURLs
	s.triggers = map[string]trigger{}
	s.responses = nil
	if _, ok := s.users[s.opts.BotUserID]; !ok {
		s.addUserLocked(User{ID: s.opts.BotUserID, Name: s.opts.BotName, RealName: s.opts.BotName, IsBot: true})
	}
	return nil
}

// orEmpty clones a map of slices, making a nil map empty.
func orEmpty[T any](m map[string][]T) map[string][]T {
	out := make(map[string][]T, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// noNull reads a saved "null" as no JSON at all, as before saving.
func noNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}
