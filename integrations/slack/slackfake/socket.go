package slackfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// socketPath is where Socket Mode connection URLs point.
const socketPath = "/link/"

// Envelope is one Socket Mode request the fake sent the app, and what
// became of it.
type Envelope struct {
	ID   string
	Type string // "slash_commands", "interactive" or "events_api"
	// Payload is the request as Slack sends it over HTTP, in JSON.
	Payload json.RawMessage
	// AcceptsResponse is true where the ack's payload is the answer
	// (slash commands, view submissions).
	AcceptsResponse bool
	// Deliveries counts the times it was sent, re-deliveries included.
	Deliveries int
	Acked      bool
	Acks       int             // acks received, duplicates included
	AckPayload json.RawMessage // the first ack's payload, if any
}

// socketState is Socket Mode's part of the workspace. Guarded by
// Server.mu; writes to a connection are serialized by its own lock.
type socketState struct {
	tickets   map[string]bool // issued, unused connection tickets
	conns     []*socketConn   // live connections, oldest first
	envelopes map[string]*Envelope
	order     []string
	loseAcks  bool
	hellos    int
}

func newSocketState() socketState {
	return socketState{tickets: map[string]bool{}, envelopes: map[string]*Envelope{}}
}

// socketConn is one app connection.
type socketConn struct {
	ws   *websocket.Conn
	wmu  sync.Mutex
	done chan struct{}
	once sync.Once
}

func (c *socketConn) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteJSON(v)
}

func (c *socketConn) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.ws.Close()
	})
}

// apps.connections.open: a single-use WebSocket URL for Socket Mode.
// serveAPI has checked that the caller used the app-level token.
func (s *Server) appsConnectionsOpen(params) (result, error) {
	ticket := strings.ToLower(s.newID("t"))
	s.socket.tickets[ticket] = true
	base := strings.Replace(s.opts.BaseURL, "http", "ws", 1)
	return result{"url": base + socketPath + "?ticket=" + ticket + "&app_id=" + s.opts.AppID}, nil
}

var upgrader = websocket.Upgrader{
	// slack-go sends Origin https://api.slack.com; any origin is fine here.
	CheckOrigin: func(*http.Request) bool { return true },
}

// serveSocket upgrades a connection URL to a WebSocket, says hello,
// re-delivers envelopes still unacked, and reads acks until it closes.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	ok := s.socket.tickets[ticket]
	delete(s.socket.tickets, ticket)
	s.mu.Unlock()
	if !ok {
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the client
	}
	c := &socketConn{ws: ws, done: make(chan struct{})}
	defer s.dropConn(c)
	s.mu.Lock()
	n := len(s.socket.conns) + 1
	s.mu.Unlock()
	hello := map[string]any{
		"type": "hello", "num_connections": n,
		"debug_info":      map[string]any{"host": "slackfake", "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": s.opts.AppID},
	}
	if err := c.write(hello); err != nil {
		return
	}
	s.mu.Lock()
	s.socket.conns = append(s.socket.conns, c)
	s.socket.hellos++
	var again []string
	for _, id := range s.socket.order {
		if !s.socket.envelopes[id].Acked {
			again = append(again, id)
		}
	}
	s.mu.Unlock()
	for _, id := range again {
		s.deliver(c, id)
	}
	go s.ping(c)
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		s.ack(msg)
	}
}

// ping keeps a connection alive the way Slack does.
func (s *Server) ping(c *socketConn) {
	t := time.NewTicker(s.opts.SocketPing)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if err := c.ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(5*time.Second)); err != nil {
				return
			}
		}
	}
}

func (s *Server) dropConn(c *socketConn) {
	c.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.socket.conns = slices.DeleteFunc(s.socket.conns, func(x *socketConn) bool { return x == c })
}

func (s *Server) closeSockets() {
	s.mu.Lock()
	conns := slices.Clone(s.socket.conns)
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// ack records an app's acknowledgement and applies its payload as Slack
// does: a slash command's answer is shown to the user, a view
// submission's response_action is applied to the modal.
func (s *Server) ack(msg []byte) {
	var a struct {
		EnvelopeID string          `json:"envelope_id"`
		Payload    json.RawMessage `json:"payload"`
	}
	if json.Unmarshal(msg, &a) != nil || a.EnvelopeID == "" {
		s.log.Warn("socket mode: unreadable message from app", "msg", string(msg))
		return
	}
	s.mu.Lock()
	e, ok := s.socket.envelopes[a.EnvelopeID]
	if !ok || s.socket.loseAcks {
		s.mu.Unlock()
		return
	}
	e.Acks++
	first := !e.Acked
	e.Acked = true
	if first {
		e.AckPayload = a.Payload
	}
	kind, payload := e.Type, e.Payload
	s.mu.Unlock()
	if !first || len(a.Payload) == 0 || string(a.Payload) == "null" {
		return
	}
	var err error
	switch kind {
	case "slash_commands":
		var p struct {
			ResponseURL string `json:"response_url"`
		}
		_ = json.Unmarshal(payload, &p)
		err = s.commandAnswer(p.ResponseURL, "application/json", a.Payload)
	case "interactive":
		err = s.interactionAnswer(string(payload), a.Payload)
	}
	if err != nil {
		s.log.Warn("socket mode: ack payload refused", "envelope", a.EnvelopeID, "err", err)
	}
}

// send records an envelope and writes it to the newest connection, or
// keeps it for the next one when none is open.
func (s *Server) send(kind string, payload any, acceptsResponse bool) (string, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("encode %s payload: %w", kind, err)
	}
	s.mu.Lock()
	id := strings.ToLower(s.newID("env"))
	s.socket.envelopes[id] = &Envelope{ID: id, Type: kind, Payload: raw, AcceptsResponse: acceptsResponse}
	s.socket.order = append(s.socket.order, id)
	var c *socketConn // none open: the next connection's hello brings it
	if n := len(s.socket.conns); n > 0 {
		c = s.socket.conns[n-1]
	}
	s.mu.Unlock()
	if c != nil {
		s.deliver(c, id)
	}
	return id, nil
}

// deliver writes an envelope; a second delivery carries retry_attempt
// and retry_reason as Slack's re-deliveries do.
func (s *Server) deliver(c *socketConn, id string) {
	s.mu.Lock()
	e := s.socket.envelopes[id]
	e.Deliveries++
	msg := map[string]any{
		"envelope_id": e.ID, "type": e.Type, "payload": e.Payload,
		"accepts_response_payload": e.AcceptsResponse,
		"retry_attempt":            e.Deliveries - 1, "retry_reason": "",
	}
	if e.Deliveries > 1 {
		msg["retry_reason"] = "timeout"
	}
	s.mu.Unlock()
	if err := c.write(msg); err != nil {
		s.log.Warn("socket mode: write envelope", "envelope", id, "err", err)
	}
}

// SocketCommand sends a slash command over Socket Mode, as user typing
// command text in channel, and returns its envelope ID.
func (s *Server) SocketCommand(user, channel, command, text string) (string, error) {
	form, err := s.slashCommandForm(user, channel, command, text)
	if err != nil {
		return "", err
	}
	payload := map[string]string{}
	for k := range form {
		payload[k] = form.Get(k)
	}
	return s.send("slash_commands", payload, true)
}

// SocketClick sends a block_actions interaction over Socket Mode.
func (s *Server) SocketClick(c Click) (string, error) {
	payload, err := s.blockActionPayload(c)
	if err != nil {
		return "", err
	}
	return s.send("interactive", payload, false)
}

// SocketEvent sends an Events API callback carrying event over Socket
// Mode, with a fresh event_id.
func (s *Server) SocketEvent(event map[string]any) (string, error) {
	return s.send("events_api", s.eventCallback(event), false)
}

// SocketRedeliver sends an envelope again with the same envelope_id, as
// Slack does when it thinks the app did not acknowledge it.
func (s *Server) SocketRedeliver(id string) error {
	s.mu.Lock()
	_, ok := s.socket.envelopes[id]
	var c *socketConn
	if n := len(s.socket.conns); n > 0 {
		c = s.socket.conns[n-1]
	}
	s.mu.Unlock()
	switch {
	case !ok:
		return fmt.Errorf("redeliver: no envelope %q", id)
	case c == nil:
		return fmt.Errorf("redeliver %s: no Socket Mode connection", id)
	}
	s.deliver(c, id)
	return nil
}

// SocketDisconnect asks the newest connection to go away, as Slack does
// before it refreshes a connection ("refresh_requested", "warning") or
// when Socket Mode is turned off ("link_disabled"). The app is expected
// to open a new connection and close this one.
func (s *Server) SocketDisconnect(reason string) error {
	s.mu.Lock()
	var c *socketConn
	if n := len(s.socket.conns); n > 0 {
		c = s.socket.conns[n-1]
	}
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("disconnect: no Socket Mode connection")
	}
	return c.write(map[string]any{
		"type": "disconnect", "reason": reason,
		"debug_info": map[string]any{"host": "slackfake"},
	})
}

// SocketDrop cuts every connection without a close frame, as a NAT or
// load balancer that forgets it would.
func (s *Server) SocketDrop() {
	s.mu.Lock()
	conns := slices.Clone(s.socket.conns)
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.UnderlyingConn().Close()
	}
}

// SetSocketLoseAcks makes acks vanish on the way (true) or arrive (false),
// so envelopes stay unacked and are re-delivered on the next connection.
func (s *Server) SetSocketLoseAcks(lose bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.socket.loseAcks = lose
}

// SocketEnvelope returns an envelope by ID.
func (s *Server) SocketEnvelope(id string) (Envelope, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.socket.envelopes[id]
	if !ok {
		return Envelope{}, false
	}
	return *e, true
}

// SocketConnections returns how many connections were opened (said
// hello) so far, and how many are open now.
func (s *Server) SocketConnections() (opened, open int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.socket.hellos, len(s.socket.conns)
}
