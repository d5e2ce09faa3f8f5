package xfake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

const (
	maxRuleLength = 1024
	// streamGrace is how long a new connection waits for the previous one
	// to notice that its client went away before answering 429
	// TooManyConnections. X has no such grace; it keeps reconnect tests
	// from racing the server's detection of the closed socket.
	streamGrace = 500 * time.Millisecond
)

// streamConn is the one open filtered-stream connection.
type streamConn struct {
	v      view
	mu     sync.Mutex
	queue  [][]byte
	notify chan struct{} // capacity 1: queue has data
	ctl    chan string   // capacity 1: disconnect with this detail
	silent atomic.Bool
	done   chan struct{} // closed when the handler returns
}

func (c *streamConn) push(line []byte) {
	c.mu.Lock()
	c.queue = append(c.queue, line)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *streamConn) drain() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	c.queue = nil
	return q
}

// streamMessage is one line of the stream.
type streamMessage struct {
	Data          map[string]any   `json:"data"`
	Includes      map[string]any   `json:"includes,omitempty"`
	Errors        []resourceError  `json:"errors,omitempty"`
	MatchingRules []map[string]any `json:"matching_rules"`
}

// streamLineLocked renders t for the stream, or nil when no rule matches.
func (s *Server) streamLineLocked(t *tweetRec, v view) []byte {
	d := s.docLocked(&t.Tweet)
	var matched []map[string]any
	for _, r := range s.rules {
		if r.q.root.match(d) {
			var tag any // X sends "tag": null for an untagged rule
			if r.Tag != "" {
				tag = r.Tag
			}
			matched = append(matched, map[string]any{"id": r.ID, "tag": tag})
		}
	}
	if len(matched) == 0 {
		return nil
	}
	msg := streamMessage{Data: s.renderTweetLocked(&t.Tweet, v), MatchingRules: matched}
	msg.Includes, msg.Errors = s.includesLocked([]*Tweet{&t.Tweet}, v)
	b, _ := json.Marshal(msg)
	return append(b, '\r', '\n')
}

// publishLocked delivers a new tweet to the open stream, if it matches.
func (s *Server) publishLocked(t *tweetRec) {
	c := s.stream
	if c == nil || c.silent.Load() {
		return
	}
	if line := s.streamLineLocked(t, c.v); line != nil {
		c.push(line)
	}
}

// StreamConnected reports whether a filtered-stream connection is open.
func (s *Server) StreamConnected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stream != nil
}

// StreamConnects returns how many stream connections were accepted so far.
func (s *Server) StreamConnects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

// WaitStreamConnected waits until a filtered-stream connection is open
// (tweets added before that are not delivered, as on X).
func (s *Server) WaitStreamConnected(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for !s.StreamConnected() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// DisconnectStream sends X's in-stream operational-disconnect error on the
// open connection and then closes it. detail defaults to X's wording. It
// reports whether a connection was open.
func (s *Server) DisconnectStream(detail string) bool {
	if detail == "" {
		detail = "This stream has been disconnected upstream for operational reasons."
	}
	s.mu.Lock()
	c := s.stream
	s.mu.Unlock()
	if c == nil {
		return false
	}
	select {
	case c.ctl <- detail:
	default:
	}
	return true
}

// StallStream makes the open connection go silent: no keep-alives and no
// data, while the socket stays open, so that a client's stall detection
// (no byte for 20 s) can be tested. Tweets published meanwhile are lost
// to this connection. New connections are healthy again. It reports
// whether a connection was open.
func (s *Server) StallStream() bool {
	s.mu.Lock()
	c := s.stream
	s.mu.Unlock()
	if c == nil {
		return false
	}
	c.silent.Store(true)
	return true
}

// StreamRules returns the current filtered-stream rules.
func (s *Server) StreamRules() []StreamRule {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StreamRule, 0, len(s.rules))
	for _, r := range s.rules {
		out = append(out, r.StreamRule)
	}
	return out
}

func (s *Server) handleStream(c *call) {
	q := c.r.URL.Query()
	v, p := tweetView(q, false)
	if p != nil {
		writeProblem(c.w, http.StatusBadRequest, *p)
		return
	}
	backfill := 0
	if b := q.Get("backfill_minutes"); b != "" {
		n, err := strconv.Atoi(b)
		if err != nil || n < 0 || n > 5 {
			writeProblem(c.w, http.StatusBadRequest, invalidRequest("backfill_minutes", b, fmt.Sprintf("The `backfill_minutes` query parameter value [%s] is not between 0 and 5", b)))
			return
		}
		backfill = n
	}
	s.mu.Lock()
	if len(s.rules) == 0 {
		s.mu.Unlock()
		writeProblem(c.w, http.StatusConflict, problemNoRules)
		return
	}
	if old := s.stream; old != nil {
		s.mu.Unlock()
		select {
		case <-old.done:
		case <-time.After(streamGrace):
		case <-s.closing:
		}
		s.mu.Lock()
	}
	if s.stream != nil {
		s.mu.Unlock()
		writeProblem(c.w, http.StatusTooManyRequests, problemTooManyConnections)
		return
	}
	conn := &streamConn{v: v, notify: make(chan struct{}, 1), ctl: make(chan string, 1), done: make(chan struct{})}
	s.stream = conn
	s.connects++
	if backfill > 0 {
		from := c.now.Add(-time.Duration(backfill) * time.Minute)
		for i := len(s.tweetList) - 1; i >= 0; i-- { // oldest first
			t := s.tweetList[i]
			if t.CreatedAt.Before(from) || t.CreatedAt.After(c.now) {
				continue
			}
			if line := s.streamLineLocked(t, v); line != nil {
				conn.push(line)
			}
		}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.stream == conn {
			s.stream = nil
		}
		s.mu.Unlock()
		close(conn.done)
	}()

	rc := http.NewResponseController(c.w)
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	ka := s.cfg.keepAlive
	if ka <= 0 {
		ka = DefaultKeepAlive
	}
	ticker := time.NewTicker(ka)
	defer ticker.Stop()
	write := func(b []byte) bool {
		if _, err := c.w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	for {
		select {
		case <-s.closing:
			return
		case <-c.r.Context().Done():
			return
		case detail := <-conn.ctl:
			b, _ := json.Marshal(map[string]any{"errors": []map[string]string{{
				"title":           "operational-disconnect",
				"disconnect_type": "UpstreamOperationalDisconnect",
				"detail":          detail,
				"type":            "https://api.twitter.com/2/problems/operational-disconnect",
			}}})
			write(append(b, '\r', '\n'))
			return
		case <-conn.notify:
			lines := conn.drain()
			if conn.silent.Load() {
				continue
			}
			for _, l := range lines {
				if !write(l) {
					return
				}
			}
		case <-ticker.C:
			if !conn.silent.Load() && !write([]byte("\r\n")) {
				return
			}
		}
	}
}

type ruleInput struct {
	Value string `json:"value"`
	Tag   string `json:"tag"`
}

type rulesRequest struct {
	Add    []ruleInput `json:"add"`
	Delete *struct {
		IDs    []string `json:"ids"`
		Values []string `json:"values"`
	} `json:"delete"`
}

// ruleError is an entry of the rules endpoint's errors array.
type ruleError struct {
	Value   string   `json:"value"`
	ID      string   `json:"id,omitempty"`
	Details []string `json:"details,omitempty"`
	Title   string   `json:"title"`
	Detail  string   `json:"detail,omitempty"`
	Type    string   `json:"type"`
}

func renderRule(r StreamRule) map[string]any {
	m := map[string]any{"id": r.ID, "value": r.Value}
	if r.Tag != "" {
		m["tag"] = r.Tag
	}
	return m
}

func (s *Server) handleGetRules(c *call) {
	ids := csv(c.r.URL.Query().Get("ids"))
	s.mu.Lock()
	var data []map[string]any
	for _, r := range s.rules {
		if len(ids) == 0 || slices.Contains(ids, r.ID) {
			data = append(data, renderRule(r.StreamRule))
		}
	}
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, listResponse{Data: data, Meta: map[string]any{"sent": fmtTime(c.now), "result_count": len(data)}})
}

func (s *Server) handlePostRules(c *call) {
	q := c.r.URL.Query()
	dryRun := q.Get("dry_run") == "true"
	deleteAll := q.Get("delete_all") == "true"
	var req rulesRequest
	if deleteAll && len(c.body) == 0 {
		c.body = []byte("{}")
		if c.r.Header.Get("Content-Type") == "" {
			c.r.Header.Set("Content-Type", "application/json")
		}
	}
	if !decodeBody(c, &req, "body") {
		return
	}
	switch {
	case deleteAll:
	case len(req.Add) > 0 && req.Delete != nil:
		writeProblem(c.w, http.StatusBadRequest, schemaMismatch("add"))
		return
	case req.Delete != nil:
		if len(req.Delete.IDs) == 0 && len(req.Delete.Values) == 0 {
			writeProblem(c.w, http.StatusBadRequest, schemaMismatch("delete"))
			return
		}
	case len(req.Add) == 0:
		writeProblem(c.w, http.StatusBadRequest, schemaMismatch("add"))
		return
	}
	meta := map[string]any{"sent": fmtTime(c.now)}
	var errs []ruleError
	var data []map[string]any
	status := http.StatusOK

	s.mu.Lock()
	if deleteAll || req.Delete != nil {
		deleted, notDeleted := 0, 0
		keep := s.rules[:0:0]
		var wantIDs, wantValues []string
		if req.Delete != nil {
			wantIDs, wantValues = req.Delete.IDs, req.Delete.Values
		}
		for _, r := range s.rules {
			if deleteAll || slices.Contains(wantIDs, r.ID) || slices.Contains(wantValues, r.Value) {
				deleted++
				continue
			}
			keep = append(keep, r)
		}
		for _, id := range wantIDs {
			if !slices.ContainsFunc(s.rules, func(r *ruleRec) bool { return r.ID == id }) {
				notDeleted++
				// Assumption: X's per-rule error for an unknown id.
				errs = append(errs, ruleError{Value: id, Title: "Not Found Error", Detail: "Rule does not exist", Type: typeNotFound})
			}
		}
		for _, val := range wantValues {
			if !slices.ContainsFunc(s.rules, func(r *ruleRec) bool { return r.Value == val }) {
				notDeleted++
				errs = append(errs, ruleError{Value: val, Title: "Not Found Error", Detail: "Rule does not exist", Type: typeNotFound})
			}
		}
		if !dryRun {
			s.rules = keep
		}
		meta["summary"] = map[string]int{"deleted": deleted, "not_deleted": notDeleted}
	} else {
		created, invalid := 0, 0
		var added []*ruleRec
		for _, in := range req.Add {
			if dup := s.findRuleLocked(in.Value, added); dup != nil {
				invalid++
				errs = append(errs, ruleError{Value: in.Value, ID: dup.ID, Title: "DuplicateRule", Type: "https://api.twitter.com/2/problems/duplicate-rules"})
				continue
			}
			if utf8.RuneCountInString(in.Value) > maxRuleLength {
				invalid++
				errs = append(errs, ruleError{Value: in.Value, Details: []string{fmt.Sprintf("Rule length exceeds %d characters", maxRuleLength)}, Title: "UnprocessableEntity", Type: "https://api.twitter.com/2/problems/invalid-rules"})
				continue
			}
			cq, err := compileQuery(in.Value, maxRuleLength)
			if err != nil {
				invalid++
				details := []string{err.Error()}
				if qe, ok := err.(*queryError); ok {
					details = qe.msgs
				}
				errs = append(errs, ruleError{Value: in.Value, Details: details, Title: "UnprocessableEntity", Type: "https://api.twitter.com/2/problems/invalid-rules"})
				continue
			}
			r := &ruleRec{StreamRule: StreamRule{ID: fmtID(s.newIDLocked(c.now)), Value: in.Value, Tag: in.Tag}, q: cq}
			added = append(added, r)
			created++
			data = append(data, renderRule(r.StreamRule))
		}
		if !dryRun {
			s.rules = append(s.rules, added...)
		}
		if created > 0 {
			status = http.StatusCreated
		}
		// dry_run reports the expected result without changing anything.
		meta["summary"] = map[string]int{"created": created, "not_created": len(req.Add) - created, "valid": created, "invalid": invalid}
	}
	s.mu.Unlock()
	writeJSON(c.w, status, struct {
		Data   []map[string]any `json:"data,omitempty"`
		Meta   map[string]any   `json:"meta"`
		Errors []ruleError      `json:"errors,omitempty"`
	}{data, meta, errs})
}

func (s *Server) findRuleLocked(value string, pending []*ruleRec) *ruleRec {
	for _, r := range s.rules {
		if r.Value == value {
			return r
		}
	}
	for _, r := range pending {
		if r.Value == value {
			return r
		}
	}
	return nil
}
