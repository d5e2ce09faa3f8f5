package slackfake

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const wsWriteWait = 5 * time.Second

var upgrader = websocket.Upgrader{
	// slack-go dials with Origin: https://api.slack.com.
	CheckOrigin: func(*http.Request) bool { return true },
}

// smConn is one Socket Mode connection.
type smConn struct {
	ws       *websocket.Conn
	ctrl     chan []byte // hello/disconnect frames, sent ahead of envelopes
	done     chan struct{}
	once     sync.Once
	draining bool // guarded by Server.mu: a disconnect was sent, no new envelopes
}

func (c *smConn) shutdown() {
	c.once.Do(func() {
		close(c.done)
		_ = c.ws.Close()
	})
}

// SocketConnections returns the number of open Socket Mode connections that
// receive events (connections told to disconnect are not counted).
func (s *Server) SocketConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if !c.draining {
			n++
		}
	}
	return n
}

// Disconnect sends {"type":"disconnect","reason":reason} on every open
// Socket Mode connection (reason "" means "refresh_requested"). Those
// connections get no further envelopes; a client is expected to open a new
// connection, after which queued events flow again. Envelopes left
// unacknowledged on the old connection are redelivered after the ack
// timeout.
func (s *Server) Disconnect(reason string) {
	if reason == "" {
		reason = "refresh_requested"
	}
	frame, _ := marshal(map[string]any{
		"type": "disconnect", "reason": reason,
		"debug_info": map[string]any{"host": "applink-slackfake"},
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.draining {
			continue
		}
		c.draining = true
		select {
		case c.ctrl <- frame:
		default:
		}
	}
}

// wakeSocketsLocked tells every connection writer that the queue changed.
func (s *Server) wakeSocketsLocked() {
	close(s.smSignal)
	s.smSignal = make(chan struct{})
}

func (s *Server) handleSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	valid := s.tickets[ticket] && !s.closed
	delete(s.tickets, ticket)
	s.mu.Unlock()
	if !valid {
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	c := &smConn{ws: ws, ctrl: make(chan []byte, 4), done: make(chan struct{})}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.conns[c] = struct{}{}
	n := 0
	for o := range s.conns {
		if !o.draining {
			n++
		}
	}
	s.wg.Add(2)
	s.mu.Unlock()

	hello, _ := marshal(map[string]any{
		"type": "hello", "num_connections": n,
		"debug_info": map[string]any{
			"host": "applink-slackfake", "build_number": 1, "approximate_connection_time": 18060,
		},
		"connection_info": map[string]any{"app_id": s.cfg.appID},
	})
	_ = ws.SetWriteDeadline(time.Now().Add(wsWriteWait))
	if err := ws.WriteMessage(websocket.TextMessage, hello); err != nil {
		c.shutdown()
	}
	go s.socketWriter(c)
	s.socketReader(c)
}

// socketReader reads acks until the connection fails.
func (s *Server) socketReader(c *smConn) {
	defer s.wg.Done()
	defer s.dropConn(c)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		if j := s.envelopes[ack.EnvelopeID]; j != nil {
			s.finishLocked(j, true)
		}
		s.mu.Unlock()
	}
}

func (s *Server) dropConn(c *smConn) {
	c.shutdown()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// socketWriter sends envelopes, control frames and pings.
func (s *Server) socketWriter(c *smConn) {
	defer s.wg.Done()
	defer s.dropConn(c)
	ping := time.NewTicker(s.cfg.pingInterval)
	defer ping.Stop()
	for {
		s.mu.Lock()
		var j *job
		var frame []byte
		for !c.draining && !s.closed && len(s.smQueue) > 0 && j == nil {
			j = s.smQueue[0]
			s.smQueue = s.smQueue[1:]
			if j.finished {
				j = nil
			}
		}
		if j != nil {
			frame = s.armEnvelopeLocked(j)
		}
		wake := s.smSignal
		s.mu.Unlock()

		if j != nil {
			_ = c.ws.SetWriteDeadline(time.Now().Add(wsWriteWait))
			if err := c.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
				s.mu.Lock()
				if !j.finished {
					s.stopTimerLocked(j.timer)
					j.timer, j.envID = nil, ""
					s.smQueue = append([]*job{j}, s.smQueue...)
					s.wakeSocketsLocked()
				}
				s.mu.Unlock()
				return
			}
			continue
		}
		select {
		case f := <-c.ctrl:
			_ = c.ws.SetWriteDeadline(time.Now().Add(wsWriteWait))
			if err := c.ws.WriteMessage(websocket.TextMessage, f); err != nil {
				return
			}
		case <-wake:
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)); err != nil {
				return
			}
		case <-c.done:
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// armEnvelopeLocked wraps an attempt in a new envelope and starts its ack
// timer.
func (s *Server) armEnvelopeLocked(j *job) []byte {
	envID := newUUID()
	j.envID = envID
	j.ev.attempts++
	s.envelopes[envID] = j
	reason := ""
	if j.attempt > 0 {
		reason = j.reason
	}
	if j.ev.interactive {
		// Interactions are not retried: unacknowledged, the click is lost
		// (the person sees an error).
		frame, _ := marshal(map[string]any{"envelope_id": envID, "payload": json.RawMessage(j.ev.payload),
			"type": "interactive", "accepts_response_payload": false})
		j.timer = s.scheduleLocked(s.cfg.ackTimeout, func() {
			if j.finished || j.envID != envID {
				return
			}
			j.timer, j.envID = nil, ""
			s.finishLocked(j, false)
		})
		return frame
	}
	frame := appendSocketEnvelope(make([]byte, 0, len(j.ev.payload)+200), envID, j.ev.payload, j.attempt, reason)
	j.timer = s.scheduleLocked(s.cfg.ackTimeout, func() {
		if j.finished || j.envID != envID {
			return
		}
		j.timer, j.envID = nil, ""
		s.retryLocked(j, "timeout")
	})
	return frame
}
