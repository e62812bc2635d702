package sandbox

import (
	"encoding/json"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
)

// serveState answers the page's poll: everything the person in ?user=
// can see, with a version. When ?since= equals the current version only
// the clock is sent, so a poll a second stays cheap.
func (s *Sandbox) serveState(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if _, ok := personBySlack(user); !ok {
		user = People[0].Slack
	}
	st := s.snapshot(user)
	body, err := json.Marshal(st)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	h := fnv.New64a()
	h.Write(body)
	version := strconv.FormatUint(h.Sum64(), 36)
	now := s.clock.Now()
	head := map[string]any{"version": version, "now": now, "wall": s.opts.Clock.Now()}
	if r.URL.Query().Get("since") == version {
		head["same"] = true
		writeJSON(w, http.StatusOK, head)
		return
	}
	head["state"] = json.RawMessage(body)
	writeJSON(w, http.StatusOK, head)
}

// state is what the page draws.
type state struct {
	Me         string              `json:"me"`
	Notes      []string            `json:"notes"`
	People     []personJSON        `json:"people"`
	Users      map[string]userJSON `json:"users"`
	Channels   []channelJSON       `json:"channels"`
	Ephemerals []ephemeralJSON     `json:"ephemerals"`
	Modal      *viewJSON           `json:"modal"`
	Home       *viewJSON           `json:"home"`
	Instances  []instanceJSON      `json:"instances"`
	Services   []serviceJSON       `json:"services"`
	Incidents  []incidentJSON      `json:"incidents"`
	Pages      []pageJSON          `json:"pages"`
}

type personJSON struct {
	ID, Name, Email, Role string
}

type userJSON struct {
	Name     string `json:"name"`
	RealName string `json:"real_name"`
	IsBot    bool   `json:"is_bot"`
	// TZ is the person's time zone: the page shows every time (clock and
	// messages) in the viewer's zone.
	TZ string `json:"tz,omitempty"`
}

type channelJSON struct {
	ID       string        `json:"id"`
	Name     string        `json:"name"`
	IsIM     bool          `json:"is_im"`
	Member   bool          `json:"member"`
	Topic    string        `json:"topic"`
	Purpose  string        `json:"purpose"`
	Members  int           `json:"members"`
	Messages []messageJSON `json:"messages"`
}

type messageJSON struct {
	TS        string          `json:"ts"`
	User      string          `json:"user"`
	Bot       bool            `json:"bot"`
	Text      string          `json:"text"`
	Blocks    json.RawMessage `json:"blocks,omitempty"`
	ThreadTS  string          `json:"thread_ts,omitempty"`
	Replies   int             `json:"replies,omitempty"`
	Pinned    bool            `json:"pinned,omitempty"`
	Edited    bool            `json:"edited,omitempty"`
	Reactions []reactionJSON  `json:"reactions,omitempty"`
	Files     []fileJSON      `json:"files,omitempty"`
}

// fileJSON is a file shared with a message; URL serves its bytes to the
// page.
type fileJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Title string `json:"title"`
	Alt   string `json:"alt,omitempty"`
	URL   string `json:"url"`
}

func files(fs []slackfake.File) []fileJSON {
	var out []fileJSON
	for _, f := range fs {
		out = append(out, fileJSON{ID: f.ID, Name: f.Name, Title: f.Title, Alt: f.AltText, URL: "/api/slack/files/" + f.ID})
	}
	return out
}

type reactionJSON struct {
	Name  string   `json:"name"`
	Users []string `json:"users"`
}

type ephemeralJSON struct {
	Channel string          `json:"channel"`
	TS      string          `json:"ts"`
	Text    string          `json:"text"`
	Blocks  json.RawMessage `json:"blocks,omitempty"`
}

type viewJSON struct {
	ID     string            `json:"id"`
	View   json.RawMessage   `json:"view"`
	Errors map[string]string `json:"errors,omitempty"`
}

type instanceJSON struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	State      string            `json:"state"`
	Region     string            `json:"region"`
	LaunchTime time.Time         `json:"launch_time"`
	PrivateIP  string            `json:"private_ip"`
	Tags       map[string]string `json:"tags"`
}

type serviceJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type incidentJSON struct {
	ID        string    `json:"id"`
	Number    int       `json:"number"`
	Title     string    `json:"title"`
	Status    string    `json:"status"`
	Urgency   string    `json:"urgency"`
	Service   string    `json:"service"`
	Assignees []string  `json:"assignees"`
	Created   time.Time `json:"created"`
	Log       []string  `json:"log"`
}

type pageJSON struct {
	ID     string            `json:"id"`
	Title  string            `json:"title"`
	URL    string            `json:"url"`
	Props  map[string]string `json:"props"`
	Blocks []blockJSON       `json:"blocks"`
}

type blockJSON struct {
	Type    string `json:"type"`
	Text    string `json:"text"`
	Checked bool   `json:"checked,omitempty"`
	Depth   int    `json:"depth,omitempty"`
}

// snapshot gathers what user sees in every fake.
func (s *Sandbox) snapshot(user string) state {
	st := state{Me: user, Notes: s.Notes(), Users: map[string]userJSON{}}
	for _, p := range People {
		st.People = append(st.People, personJSON{p.Slack, p.Name, p.Email, p.Role})
	}
	for _, u := range s.slack.Users() {
		st.Users[u.ID] = userJSON{Name: u.Name, RealName: u.RealName, IsBot: u.IsBot, TZ: u.TZ}
	}
	s.slackState(&st, user)
	for _, in := range s.ec2.Instances() {
		st.Instances = append(st.Instances, instanceJSON{ID: in.ID, Type: in.Type, State: string(in.State), Region: in.Region,
			LaunchTime: in.LaunchTime, PrivateIP: in.PrivateIP, Tags: in.Tags})
	}
	for _, svc := range Services {
		st.Services = append(st.Services, serviceJSON{svc.ID, svc.Name})
	}
	for _, in := range s.pd.Incidents() {
		ij := incidentJSON{ID: in.ID, Number: in.Number, Title: in.Title, Status: in.Status, Urgency: in.Urgency,
			Service: in.ServiceID, Created: in.CreatedAt}
		for _, a := range in.Assignees {
			ij.Assignees = append(ij.Assignees, pdName(a))
		}
		for _, l := range in.Log {
			ij.Log = append(ij.Log, l.At.Format(time.RFC3339)+" "+l.Summary)
		}
		st.Incidents = append(st.Incidents, ij)
	}
	slices.Reverse(st.Incidents)
	s.notionState(&st)
	return st
}

// slackState fills in the channels (public ones and the person's DM with
// the bot), the person's ephemeral messages and views.
func (s *Sandbox) slackState(st *state, user string) {
	for _, c := range s.slack.Channels() {
		if c.IsIM && c.User != user || c.Archived {
			continue
		}
		cj := channelJSON{ID: c.ID, Name: c.Name, IsIM: c.IsIM, Member: slices.Contains(c.Members, user),
			Topic: c.Topic, Purpose: c.Purpose, Members: len(c.Members)}
		for _, m := range s.slack.Messages(c.ID) {
			cj.Messages = append(cj.Messages, messageJSON{TS: m.TS, User: m.User, Bot: m.BotID != "", Text: m.Text,
				Blocks: m.Blocks, ThreadTS: m.ThreadTS, Replies: m.Replies, Pinned: m.Pinned, Edited: m.Edited != nil,
				Reactions: reactions(m.Reactions), Files: files(m.Files)})
		}
		st.Channels = append(st.Channels, cj)
	}
	for _, e := range s.slack.Ephemerals(user) {
		if !e.Deleted {
			st.Ephemerals = append(st.Ephemerals, ephemeralJSON{Channel: e.Channel, TS: e.TS, Text: e.Text, Blocks: e.Blocks})
		}
	}
	for _, v := range s.slack.Views(user) {
		vj := &viewJSON{ID: v.ID, View: v.JSON, Errors: v.Errors}
		switch {
		case v.Type == "home":
			st.Home = vj
		case v.Type == "modal" && v.Open:
			st.Modal = vj // the newest open modal is on top
		}
	}
}

// notionState renders every page of every database as plain blocks,
// newest first (the page shows the newest until one is picked).
func (s *Sandbox) notionState(st *state) {
	created := map[string]time.Time{}
	for _, db := range s.notion.Databases() {
		for _, p := range s.notion.Pages(db.ID) {
			if p.Archived {
				continue
			}
			created[p.ID] = p.Created
			pj := pageJSON{ID: p.ID, Title: p.Title, URL: p.URL, Props: map[string]string{}}
			for name, v := range p.Properties {
				switch {
				case v.Type == "title":
				case v.Text != "":
					pj.Props[name] = v.Text
				case len(v.Names) > 0:
					pj.Props[name] = strings.Join(v.Names, ", ")
				case v.Start != "":
					pj.Props[name] = strings.TrimSuffix(v.Start+" → "+v.End, " → ")
				case v.Raw != nil:
					b, _ := json.Marshal(v.Raw)
					pj.Props[name] = string(b)
				}
			}
			for _, b := range s.notion.Blocks(p.ID) {
				pj.Blocks = append(pj.Blocks, blockJSON{Type: b.Type, Text: b.Text, Checked: b.Checked, Depth: b.Depth})
			}
			st.Pages = append(st.Pages, pj)
		}
	}
	slices.Reverse(st.Pages)
	slices.SortStableFunc(st.Pages, func(a, b pageJSON) int { return created[b.ID].Compare(created[a.ID]) })
}

// pdName is a PagerDuty user's name, from the sample people.
func pdName(id string) string {
	for _, p := range People {
		if p.PagerDuty == id {
			return p.Name
		}
	}
	return id
}

// reactions are a message's reactions as the page reads them.
func reactions(rs []slackfake.Reaction) []reactionJSON {
	var out []reactionJSON
	for _, r := range rs {
		out = append(out, reactionJSON{Name: r.Name, Users: r.Users})
	}
	return out
}
