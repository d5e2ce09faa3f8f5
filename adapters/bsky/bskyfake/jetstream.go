package bskyfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Event is one Jetstream v1 event.
type Event struct {
	DID      string         `json:"did"`
	TimeUS   int64          `json:"time_us"`
	Kind     string         `json:"kind"` // commit, identity, account
	Commit   *Commit        `json:"commit,omitempty"`
	Identity *Identity      `json:"identity,omitempty"`
	Account  *AccountStatus `json:"account,omitempty"`
}

// Commit is a repo change; Record and CID are absent on deletes.
type Commit struct {
	Rev        string          `json:"rev"`
	Operation  string          `json:"operation"`
	Collection string          `json:"collection"`
	RKey       string          `json:"rkey"`
	Record     json.RawMessage `json:"record,omitempty"`
	CID        string          `json:"cid,omitempty"`
}

// Identity is an identity event's body (a handle change).
type Identity struct {
	DID    string `json:"did"`
	Handle string `json:"handle,omitempty"`
	Seq    int64  `json:"seq"`
	Time   string `json:"time"`
}

// AccountStatus is an account event's body.
type AccountStatus struct {
	Active bool   `json:"active"`
	DID    string `json:"did"`
	Seq    int64  `json:"seq"`
	Status string `json:"status,omitempty"`
	Time   string `json:"time"`
}

// emit appends ev to the log with the next time_us and sends it to every
// instance's subscribers. s.mu is held.
func (s *Server) emit(ev Event) {
	us := s.clock.Now().UnixMicro()
	if us <= s.lastUS {
		us = s.lastUS + 1
	}
	s.lastUS = us
	ev.TimeUS = us
	s.events = append(s.events, ev)
	for _, j := range s.instances {
		j.publish(ev)
	}
}

// Events returns the event log.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Jetstream is one fake Jetstream instance serving the Server's events at
// /subscribe.
type Jetstream struct {
	s   *Server
	srv *httptest.Server

	mu      sync.Mutex
	silent  bool
	subs    map[*subscriber]bool
	queries []string
}

type subscriber struct {
	conn        *websocket.Conn
	ch          chan Event
	collections []string
	dids        map[string]bool
}

// NewJetstream starts a Jetstream instance.
func (s *Server) NewJetstream() *Jetstream {
	j := &Jetstream{s: s, subs: map[*subscriber]bool{}}
	j.srv = httptest.NewServer(http.HandlerFunc(j.serve))
	s.mu.Lock()
	s.instances = append(s.instances, j)
	s.mu.Unlock()
	return j
}

// URL is the instance's wss-style URL (ws:// here).
func (j *Jetstream) URL() string { return "ws" + strings.TrimPrefix(j.srv.URL, "http") + "/subscribe" }

// SetSilent makes the instance keep its sockets open and send nothing
// (as jetstream1.us-east did, jetstream-legacy#48); off, it sends again
// from the live tail (what it swallowed is lost for this connection).
func (j *Jetstream) SetSilent(on bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.silent = on
}

// Disconnect closes every open socket of the instance.
func (j *Jetstream) Disconnect() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for sub := range j.subs {
		sub.conn.Close()
	}
}

// Queries returns the query strings of every /subscribe request so far.
func (j *Jetstream) Queries() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.queries...)
}

// Connections returns how many sockets are open.
func (j *Jetstream) Connections() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.subs)
}

// Close stops the instance.
func (j *Jetstream) Close() {
	j.Disconnect()
	j.srv.Close()
}

func (sub *subscriber) wants(ev Event) bool {
	if len(sub.dids) > 0 && !sub.dids[ev.DID] {
		return false
	}
	if ev.Kind != "commit" || len(sub.collections) == 0 {
		return true // identity and account events pass any collection filter
	}
	for _, c := range sub.collections {
		if c == ev.Commit.Collection || strings.HasSuffix(c, ".*") && strings.HasPrefix(ev.Commit.Collection, strings.TrimSuffix(c, "*")) {
			return true
		}
	}
	return false
}

func (j *Jetstream) publish(ev Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.silent {
		return
	}
	for sub := range j.subs {
		if sub.wants(ev) {
			select {
			case sub.ch <- ev:
			default: // a consumer too slow is dropped, as Jetstream does
				sub.conn.Close()
			}
		}
	}
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (j *Jetstream) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/subscribe" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	if len(q["wantedCollections"]) > 100 || len(q["wantedDids"]) > 10000 {
		http.Error(w, "too many filters", http.StatusBadRequest)
		return
	}
	var cursor int64
	if c := q.Get("cursor"); c != "" {
		v, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			http.Error(w, "invalid cursor", http.StatusBadRequest)
			return
		}
		cursor = v
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	sub := &subscriber{conn: conn, ch: make(chan Event, 100_000), collections: q["wantedCollections"], dids: map[string]bool{}}
	for _, d := range q["wantedDids"] {
		sub.dids[d] = true
	}
	// Replay and registration under the Server's lock: no event falls
	// between them.
	j.s.mu.Lock()
	var replay []Event
	if cursor > 0 {
		// Replay is bounded to the last 36 hours; an older cursor is
		// clamped silently to the oldest event kept; a future one is the
		// live tail.
		oldest := j.s.clock.Now().Add(-JetstreamReplay).UnixMicro()
		from := max(cursor, oldest)
		for _, ev := range j.s.events {
			if ev.TimeUS >= from && sub.wants(ev) {
				replay = append(replay, ev)
			}
		}
	}
	j.mu.Lock()
	j.subs[sub] = true
	j.queries = append(j.queries, r.URL.RawQuery)
	silent := j.silent
	j.mu.Unlock()
	j.s.mu.Unlock()
	defer func() {
		j.mu.Lock()
		delete(j.subs, sub)
		j.mu.Unlock()
		conn.Close()
	}()
	// Reads: the client's options_update frames are ignored; a read error
	// means the socket is gone.
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	if !silent {
		for _, ev := range replay {
			if err := writeEvent(conn, ev); err != nil {
				return
			}
		}
	}
	for {
		select {
		case <-gone:
			return
		case ev := <-sub.ch:
			if err := writeEvent(conn, ev); err != nil {
				return
			}
		}
	}
}

func writeEvent(conn *websocket.Conn, ev Event) error {
	data, _ := json.Marshal(ev)
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return conn.WriteMessage(websocket.TextMessage, data)
}
