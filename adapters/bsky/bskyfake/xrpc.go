package bskyfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// xrpcError writes an XRPC error body.
func xrpcError(w http.ResponseWriter, status int, name, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": name, "message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// serveXRPC dispatches /xrpc/<nsid>.
func (s *Server) serveXRPC(w http.ResponseWriter, r *http.Request) {
	nsid, ok := strings.CutPrefix(r.URL.Path, "/xrpc/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	s.requests[nsid]++
	var f *fault
	if fs := s.faults[nsid]; len(fs) > 0 {
		f = &fs[0]
		s.faults[nsid] = fs[1:]
	}
	s.mu.Unlock()
	if f != nil && f.status == http.StatusTooManyRequests {
		rateLimited(w, WritePointsHour, time.Hour, s.clock.Now().Add(time.Minute))
		return
	}
	if f != nil && f.status != 0 {
		xrpcError(w, f.status, f.name, "injected failure")
		return
	}
	rec := w
	var buf *bufferedWriter
	if f != nil {
		buf = &bufferedWriter{header: http.Header{}}
		rec = buf
	}
	s.route(rec, r, nsid)
	if f == nil {
		return
	}
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-r.Context().Done():
		}
	}
	if f.drop || r.Context().Err() != nil {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
		return
	}
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	w.WriteHeader(buf.status)
	w.Write(buf.body)
}

type bufferedWriter struct {
	header http.Header
	status int
	body   []byte
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = 200
	}
	b.body = append(b.body, p...)
	return len(p), nil
}
func (b *bufferedWriter) WriteHeader(code int) { b.status = code }

func (s *Server) route(w http.ResponseWriter, r *http.Request, nsid string) {
	post := r.Method == http.MethodPost
	if strings.HasPrefix(nsid, "chat.bsky.") && r.Header.Get("Atproto-Proxy") != ChatProxy {
		// The PDS serves no chat.bsky.* itself; only the proxy header
		// sends them to the chat service.
		xrpcError(w, http.StatusNotImplemented, "MethodNotImplemented", "Method Not Implemented")
		return
	}
	switch {
	case nsid == "com.atproto.server.createSession" && post:
		s.createSession(w, r)
	case nsid == "com.atproto.server.refreshSession" && post:
		s.refreshSession(w, r)
	case nsid == "com.atproto.repo.createRecord" && post:
		s.createRecord(w, r)
	case nsid == "com.atproto.repo.getRecord" && !post:
		s.getRecord(w, r)
	case nsid == "com.atproto.identity.resolveHandle" && !post:
		s.mu.Lock()
		did, ok := s.byHandle[strings.ToLower(r.URL.Query().Get("handle"))]
		s.mu.Unlock()
		if !ok {
			xrpcError(w, 400, "InvalidRequest", "Unable to resolve handle")
			return
		}
		writeJSON(w, map[string]string{"did": did})
	case nsid == "app.bsky.feed.getPosts" && !post:
		s.getPosts(w, r)
	case nsid == "app.bsky.notification.listNotifications" && !post:
		s.listNotifications(w, r)
	case nsid == "chat.bsky.convo.getConvoForMembers" && !post:
		s.getConvoForMembers(w, r)
	case nsid == "chat.bsky.convo.sendMessage" && post:
		s.sendMessage(w, r)
	case nsid == "chat.bsky.convo.getMessages" && !post:
		s.getMessages(w, r)
	default:
		xrpcError(w, http.StatusNotImplemented, "MethodNotImplemented", "Method Not Implemented")
	}
}

// authed returns the DID of the request's access token, or writes the
// PDS's error: 401 without a token, 400 ExpiredToken past its life, 400
// InvalidToken for one the PDS never issued.
func (s *Server) authed(w http.ResponseWriter, r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		xrpcError(w, 401, "AuthenticationRequired", "Authentication Required")
		return "", false
	}
	s.mu.Lock()
	t, found := s.access[tok]
	s.mu.Unlock()
	switch {
	case !found:
		xrpcError(w, 400, "InvalidToken", "Token could not be verified")
		return "", false
	case !s.clock.Now().Before(t.expires):
		xrpcError(w, 400, "ExpiredToken", "Token has expired")
		return "", false
	}
	return t.did, true
}

func decodeBody(r *http.Request, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v)
}

// rateLimited writes a 429 with the ratelimit-* headers Bluesky sends.
func rateLimited(w http.ResponseWriter, limit int, window time.Duration, reset time.Time) {
	w.Header().Set("ratelimit-limit", strconv.Itoa(limit))
	w.Header().Set("ratelimit-remaining", "0")
	w.Header().Set("ratelimit-reset", strconv.FormatInt(reset.Unix(), 10))
	w.Header().Set("ratelimit-policy", fmt.Sprintf("%d;w=%d", limit, int(window.Seconds())))
	xrpcError(w, http.StatusTooManyRequests, "RateLimitExceeded", "Rate Limit Exceeded")
}

func (s *Server) newTokens(did string) (access, refresh string) {
	s.seq++
	access, refresh = fmt.Sprintf("fake-access-%d", s.seq), fmt.Sprintf("fake-refresh-%d", s.seq)
	s.access[access] = token{did: did, expires: s.clock.Now().Add(s.accessTTL)}
	s.refresh[refresh] = did
	return access, refresh
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	var in struct{ Identifier, Password string }
	if err := decodeBody(r, &in); err != nil || in.Identifier == "" || in.Password == "" {
		xrpcError(w, 400, "InvalidRequest", "Input must have the properties identifier and password")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	did := in.Identifier
	if !strings.HasPrefix(did, "did:") {
		did = s.byHandle[strings.ToLower(in.Identifier)]
	}
	now := s.clock.Now()
	// The limits count every attempt for the account, 30 in 5 minutes
	// and 300 a day.
	var kept []time.Time
	in5 := 0
	for _, t := range s.signins[did] {
		if now.Sub(t) < 24*time.Hour {
			kept = append(kept, t)
			if now.Sub(t) < 5*time.Minute {
				in5++
			}
		}
	}
	s.signins[did] = kept
	if in5 >= SigninsPer5Min {
		rateLimited(w, SigninsPer5Min, 5*time.Minute, kept[len(kept)-in5].Add(5*time.Minute))
		return
	}
	if len(kept) >= SigninsPerDay {
		rateLimited(w, SigninsPerDay, 24*time.Hour, kept[0].Add(24*time.Hour))
		return
	}
	s.signins[did] = append(kept, now)
	a := s.accounts[did]
	if a == nil || a.Password != in.Password {
		xrpcError(w, 401, "AuthenticationRequired", "Invalid identifier or password")
		return
	}
	access, refresh := s.newTokens(did)
	writeJSON(w, map[string]any{"did": did, "handle": a.Handle, "accessJwt": access, "refreshJwt": refresh, "active": true})
}

func (s *Server) refreshSession(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	did, ok := s.refresh[tok]
	if !ok {
		xrpcError(w, 400, "InvalidToken", "Token has been revoked")
		return
	}
	delete(s.refresh, tok) // refresh tokens are single-use
	access, refresh := s.newTokens(did)
	writeJSON(w, map[string]any{"did": did, "handle": s.accounts[did].Handle, "accessJwt": access, "refreshJwt": refresh, "active": true})
}

var (
	tidRE      = regexp.MustCompile(`^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$`)
	datetimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)
)

// postInput is the part of an app.bsky.feed.post record the fake checks.
type postInput struct {
	Type      *string `json:"$type"`
	Text      *string `json:"text"`
	CreatedAt string  `json:"createdAt"`
	Reply     *struct {
		Root, Parent *struct{ URI, CID string }
	} `json:"reply"`
	Facets []struct {
		Index struct {
			ByteStart *int `json:"byteStart"`
			ByteEnd   *int `json:"byteEnd"`
		} `json:"index"`
		Features []struct {
			Type string `json:"$type"`
			DID  string `json:"did"`
			URI  string `json:"uri"`
		} `json:"features"`
	} `json:"facets"`
}

// validatePost checks a post record as the PDS's lexicon validation does;
// "" means valid. s.mu is held.
func (s *Server) validatePost(raw json.RawMessage) string {
	var p postInput
	if err := json.Unmarshal(raw, &p); err != nil {
		return "Invalid app.bsky.feed.post record: " + err.Error()
	}
	switch {
	case p.Type == nil || *p.Type != postCollection:
		return "Invalid app.bsky.feed.post record: Record/$type must be app.bsky.feed.post"
	case p.Text == nil:
		return "Invalid app.bsky.feed.post record: Record must have the property \"text\""
	case len(*p.Text) > PostBytes:
		return "Invalid app.bsky.feed.post record: Record/text must not be longer than 3000 characters"
	case graphemes(*p.Text) > PostGraphemes:
		return "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"
	case !datetimeRE.MatchString(p.CreatedAt):
		return "Invalid app.bsky.feed.post record: Record/createdAt must be an valid atproto datetime"
	}
	if p.Reply != nil {
		for _, ref := range []struct {
			name string
			r    *struct{ URI, CID string }
		}{{"root", p.Reply.Root}, {"parent", p.Reply.Parent}} {
			if ref.r == nil || ref.r.URI == "" || ref.r.CID == "" {
				return "Invalid app.bsky.feed.post record: Record/reply/" + ref.name + " must be a strongRef (uri and cid)"
			}
			if target := s.posts[ref.r.URI]; target == nil || target.Deleted || target.CID != ref.r.CID {
				return "Invalid app.bsky.feed.post record: Record/reply/" + ref.name + " does not refer to an existing record version"
			}
		}
	}
	for i, f := range p.Facets {
		st, en := f.Index.ByteStart, f.Index.ByteEnd
		if st == nil || en == nil || *st < 0 || *en < *st || *en > len(*p.Text) {
			return fmt.Sprintf("Invalid app.bsky.feed.post record: Record/facets/%d/index is out of the text's bytes", i)
		}
		for _, ft := range f.Features {
			if ft.Type == "app.bsky.richtext.facet#mention" && !strings.HasPrefix(ft.DID, "did:") {
				return fmt.Sprintf("Invalid app.bsky.feed.post record: Record/facets/%d/features/0/did must be a did", i)
			}
		}
	}
	return ""
}

func (s *Server) createRecord(w http.ResponseWriter, r *http.Request) {
	did, ok := s.authed(w, r)
	if !ok {
		return
	}
	var in struct {
		Repo, Collection, RKey string
		Record                 json.RawMessage
	}
	if err := decodeBody(r, &in); err != nil {
		xrpcError(w, 400, "InvalidRequest", "Invalid body: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.Repo != did && in.Repo != s.accounts[did].Handle {
		xrpcError(w, 400, "InvalidRequest", "Invalid repo: not the session's account")
		return
	}
	if in.Collection != postCollection {
		xrpcError(w, 400, "InvalidRequest", "The fake stores only app.bsky.feed.post records")
		return
	}
	if in.RKey != "" && !tidRE.MatchString(in.RKey) {
		xrpcError(w, 400, "InvalidRequest", "Invalid record key: app.bsky.feed.post keys are TIDs")
		return
	}
	if msg := s.validatePost(in.Record); msg != "" {
		xrpcError(w, 400, "InvalidRequest", msg)
		return
	}
	now := s.clock.Now()
	var kept []writeMark
	used := 0
	for _, m := range s.writes[did] {
		if now.Sub(m.at) < time.Hour {
			kept = append(kept, m)
			used += m.points
		}
	}
	s.writes[did] = kept
	if used+CreatePoints > WritePointsHour {
		rateLimited(w, WritePointsHour, time.Hour, kept[0].at.Add(time.Hour))
		return
	}
	rkey := in.RKey
	if rkey == "" {
		rkey = s.tid()
	}
	uri := "at://" + did + "/" + postCollection + "/" + rkey
	if _, used := s.posts[uri]; used {
		// Bluesky's PDS answers a record key used already with a bare
		// 500 (indigo#873), not a named error.
		xrpcError(w, 500, "InternalServerError", "Internal Server Error")
		return
	}
	var rec postInput
	_ = json.Unmarshal(in.Record, &rec)
	if s.refuseGated && rec.Reply != nil {
		if root := s.posts[rec.Reply.Root.URI]; root.Gated && root.DID != did {
			xrpcError(w, 400, "InvalidRequest", "Replies to this thread are not allowed")
			return
		}
	}
	s.writes[did] = append(s.writes[did], writeMark{at: now, points: CreatePoints})
	p, err := s.store(did, rkey, in.Record)
	if err != nil {
		xrpcError(w, 400, "InvalidRequest", err.Error())
		return
	}
	writeJSON(w, map[string]any{"uri": p.URI, "cid": p.CID, "commit": map[string]string{"cid": cidOf([]byte(p.URI)), "rev": s.tid()}, "validationStatus": "valid"})
}

func (s *Server) getRecord(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := q.Get("repo")
	if d, ok := s.byHandle[repo]; ok {
		repo = d
	}
	uri := "at://" + repo + "/" + q.Get("collection") + "/" + q.Get("rkey")
	p, ok := s.posts[uri]
	if !ok || p.Deleted {
		xrpcError(w, 400, "RecordNotFound", "Could not locate record: "+uri)
		return
	}
	writeJSON(w, map[string]any{"uri": p.URI, "cid": p.CID, "value": p.Record})
}

// view renders a postView for viewer. s.mu is held.
func (s *Server) view(p *Post, viewer string) map[string]any {
	a := s.accounts[p.DID]
	v := map[string]any{"uri": p.URI, "cid": p.CID, "record": p.Record, "indexedAt": p.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"),
		"author": map[string]string{"did": p.DID, "handle": a.Handle, "displayName": a.Name}}
	root := p
	if p.ReplyRoot != "" && s.posts[p.ReplyRoot] != nil {
		root = s.posts[p.ReplyRoot]
	}
	viewerState := map[string]any{}
	if root.Gated && root.DID != viewer {
		viewerState["replyDisabled"] = true
	}
	v["viewer"] = viewerState
	return v
}

func (s *Server) getPosts(w http.ResponseWriter, r *http.Request) {
	did, ok := s.authed(w, r)
	if !ok {
		return
	}
	uris := r.URL.Query()["uris"]
	if len(uris) > maxGetPosts {
		xrpcError(w, 400, "InvalidRequest", "uris must not have more than 25 elements")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	posts := []any{}
	for _, u := range uris {
		if p, ok := s.posts[u]; ok && !p.Deleted {
			posts = append(posts, s.view(p, did))
		}
	}
	writeJSON(w, map[string]any{"posts": posts})
}

func (s *Server) listNotifications(w http.ResponseWriter, r *http.Request) {
	did, ok := s.authed(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit := defaultNotifLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxNotifications {
			xrpcError(w, 400, "InvalidRequest", "limit must be between 1 and 100")
			return
		}
		limit = n
	}
	reasons := map[string]bool{}
	for _, r := range q["reasons"] {
		reasons[r] = true
	}
	start := 0
	if c := q.Get("cursor"); c != "" {
		start, _ = strconv.Atoi(c)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []notification
	for i := len(s.notifs[did]) - 1; i >= 0; i-- { // newest first
		n := s.notifs[did][i]
		if len(reasons) == 0 || reasons[n.reason] {
			all = append(all, n)
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.After(all[j].at) })
	out := []any{}
	end := min(start+limit, len(all))
	for _, n := range all[min(start, len(all)):end] {
		p := s.posts[n.uri]
		a := s.accounts[n.author]
		out = append(out, map[string]any{"uri": p.URI, "cid": p.CID, "reason": n.reason, "record": p.Record, "isRead": false,
			"indexedAt": n.at.UTC().Format("2006-01-02T15:04:05.000Z"),
			"author":    map[string]string{"did": a.DID, "handle": a.Handle, "displayName": a.Name}})
	}
	resp := map[string]any{"notifications": out}
	if end < len(all) {
		resp["cursor"] = strconv.Itoa(end)
	}
	writeJSON(w, resp)
}

func convoKey(members []string) string {
	m := append([]string(nil), members...)
	sort.Strings(m)
	return strings.Join(m, ",")
}

func (s *Server) getConvoForMembers(w http.ResponseWriter, r *http.Request) {
	did, ok := s.authed(w, r)
	if !ok {
		return
	}
	members := r.URL.Query()["members"]
	s.mu.Lock()
	defer s.mu.Unlock()
	all := []string{did}
	for _, m := range members {
		if m == did {
			continue
		}
		to := s.accounts[m]
		if to == nil {
			xrpcError(w, 400, "RecipientNotFound", "recipient not found")
			return
		}
		switch to.Chat {
		case "none":
			xrpcError(w, 400, "MessagesDisabled", "recipient has disabled incoming messages")
			return
		case "following":
			if !to.follows[did] {
				xrpcError(w, 400, "NotFollowedBySender", "recipient requires incoming messages to come from someone they follow")
				return
			}
		}
		all = append(all, m)
	}
	key := convoKey(all)
	c := s.convos[key]
	if c == nil {
		s.seq++
		c = &convo{id: fmt.Sprintf("convo%d", s.seq), members: all}
		s.convos[key] = c
	}
	var ms []any
	for _, m := range c.members {
		ms = append(ms, map[string]string{"did": m, "handle": s.accounts[m].Handle})
	}
	writeJSON(w, map[string]any{"convo": map[string]any{"id": c.id, "rev": s.tid(), "members": ms, "muted": false, "unreadCount": 0}})
}

func (s *Server) convoOf(did, id string) *convo {
	for _, c := range s.convos {
		if c.id == id {
			for _, m := range c.members {
				if m == did {
					return c
				}
			}
		}
	}
	return nil
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request) {
	did, ok := s.authed(w, r)
	if !ok {
		return
	}
	var in struct {
		ConvoID string `json:"convoId"`
		Message struct {
			Text *string `json:"text"`
		} `json:"message"`
	}
	if err := decodeBody(r, &in); err != nil || in.Message.Text == nil {
		xrpcError(w, 400, "InvalidRequest", "Input/message must have the property \"text\"")
		return
	}
	if t := *in.Message.Text; len(t) > DMBytes || graphemes(t) > DMGraphemes {
		xrpcError(w, 400, "InvalidRequest", "Input/message/text must not be longer than 1000 graphemes")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.convoOf(did, in.ConvoID)
	if c == nil {
		xrpcError(w, 400, "InvalidConvo", "Convo not found")
		return
	}
	s.seq++
	m := Message{ID: fmt.Sprintf("msg%d", s.seq), ConvoID: c.id, Sender: did, Text: *in.Message.Text, SentAt: s.clock.Now()}
	c.messages = append(c.messages, m)
	writeJSON(w, messageJSON(m))
}

func messageJSON(m Message) map[string]any {
	return map[string]any{"$type": "chat.bsky.convo.defs#messageView", "id": m.ID, "rev": m.ID, "text": m.Text,
		"sender": map[string]string{"did": m.Sender}, "sentAt": m.SentAt.UTC().Format("2006-01-02T15:04:05.000Z")}
}

func (s *Server) getMessages(w http.ResponseWriter, r *http.Request) {
	did, ok := s.authed(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.convoOf(did, r.URL.Query().Get("convoId"))
	if c == nil {
		xrpcError(w, 400, "InvalidConvo", "Convo not found")
		return
	}
	out := []any{}
	for i := len(c.messages) - 1; i >= 0 && len(out) < 100; i-- {
		out = append(out, messageJSON(c.messages[i]))
	}
	writeJSON(w, map[string]any{"messages": out})
}
