// Package metafake is an in-process fake of Meta's side of carebridge's
// Facebook and Instagram integration, for tests and `carebridge demo`:
// signed webhook deliveries (batched entries, duplicates, out of order,
// removals, our own comments and message echoes) and the Graph API
// endpoints carebridge calls, with Meta's rules: the version prefix, one
// private reply per comment within 7 days (10900, 10903), the messaging
// window per person (RESPONSE 24 hours, HUMAN_AGENT 7 days, outside: 10;
// retired tags: 100), revoked tokens (190) and throttling (4/17/32/613)
// with X-Business-Use-Case-Usage headers. Time is read from a
// bridge.Clock, so tests move it instead of sleeping.
package metafake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// Page is a Facebook Page the fake knows, and its linked Instagram
// account (InstagramID, optional).
type Page struct {
	ID, Name    string
	Token       string
	AppSecret   string
	VerifyToken string
	InstagramID string
	// HumanAgent: the app has Meta's Human Agent permission for this
	// page (App Review). Without it the HUMAN_AGENT tag gets 200.
	HumanAgent bool
}

// Comment is a comment on a Facebook post or an Instagram media.
type Comment struct {
	ID        string
	PageID    string // the page whose post (or whose Instagram account's media) it is on
	Instagram bool
	PostID    string // Facebook post id, or Instagram media id
	ParentID  string // the comment it replies to, if any
	FromID    string
	FromName  string // Facebook name, or Instagram username
	Text      string
	At        time.Time
	Removed   bool
}

// Message is a DM, either way.
type Message struct {
	ID        string
	PageID    string
	Instagram bool
	From, To  string // person or page/Instagram account ids
	Text      string
	At        time.Time
	Type      string // messaging_type of a message we sent (RESPONSE, MESSAGE_TAG)
	Tag       string
	// CommentID is set on a private reply: the comment it answers.
	CommentID string
}

// Update is one item of a webhook delivery: a change (comments) or a
// messaging event (DMs), for one page or Instagram account.
type Update struct {
	Object  string // "page" or "instagram"
	EntryID string // the page id or the Instagram account id
	Field   string // for changes: "feed" or "comments"
	Value   any    // the change value, or the messaging event
	Message bool   // Value is a messaging event
}

// Server is the fake.
type Server struct {
	srv      *httptest.Server
	clock    bridge.Clock
	versions map[string]bool

	mu        sync.Mutex
	pages     map[string]*Page // by page id
	comments  map[string]*Comment
	order     []string // comment ids in creation order
	messages  []*Message
	seq       int
	revoked   map[string]bool
	throttle  []throttle
	dropAfter int // the next n successful writes lose their answer (connection cut)
	calls     []string
	webhook   string
	hc        *http.Client
}

type throttle struct {
	code    int
	minutes int
}

// New starts a fake. versions are the Graph API versions it serves
// (default v25.0 and v26.0: Meta's pages disagree on which is latest).
func New(clock bridge.Clock, versions ...string) *Server {
	if clock == nil {
		clock = bridge.SystemClock{}
	}
	if len(versions) == 0 {
		versions = []string{"v25.0", "v26.0"}
	}
	s := &Server{clock: clock, versions: map[string]bool{}, pages: map[string]*Page{}, comments: map[string]*Comment{},
		revoked: map[string]bool{}, hc: &http.Client{Timeout: 30 * time.Second}}
	for _, v := range versions {
		s.versions[v] = true
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the Graph API base URL (meta.graph_api_base_url).
func (s *Server) URL() string { return s.srv.URL }

// Close stops the fake.
func (s *Server) Close() { s.srv.Close() }

// AddPage registers a page.
func (s *Server) AddPage(p Page) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := p
	s.pages[p.ID] = &cp
}

// RevokeToken makes every call with token fail with 190.
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[token] = true
}

// Throttle makes the next n Graph calls fail with code (4, 17, 32 or
// 613), announcing minutes in X-Business-Use-Case-Usage.
func (s *Server) Throttle(n, code, minutes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.throttle = append(s.throttle, throttle{code, minutes})
	}
}

// DropAnswers makes the next n successful writes (replies, messages)
// happen but cuts the connection before the answer: the caller cannot
// know they went through (a crash or timeout mid-call).
func (s *Server) DropAnswers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropAfter = n
}

// Calls lists the Graph calls made, as "METHOD /path".
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *Server) nextID() string {
	s.seq++
	return strconv.Itoa(100000 + s.seq)
}

// AddComment records a customer's comment (ID, At defaulted) and returns
// it; Deliver it with CommentUpdate.
func (s *Server) AddComment(c Comment) Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.At.IsZero() {
		c.At = s.clock.Now()
	}
	if c.ID == "" {
		c.ID = s.nextID()
		if !c.Instagram {
			c.ID = c.PostID + "_" + c.ID
		}
	}
	cp := c
	s.comments[c.ID] = &cp
	s.order = append(s.order, c.ID)
	return c
}

// RemoveComment marks a comment removed by its author.
func (s *Server) RemoveComment(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.comments[id]; c != nil {
		c.Removed = true
	}
}

// AddMessage records a customer's DM to a page (it opens the messaging
// window) and returns it; Deliver it with MessageUpdate.
func (s *Server) AddMessage(m Message) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.At.IsZero() {
		m.At = s.clock.Now()
	}
	if m.ID == "" {
		m.ID = "m_" + s.nextID()
	}
	if m.To == "" {
		m.To = s.ownID(m.PageID, m.Instagram)
	}
	cp := m
	s.messages = append(s.messages, &cp)
	return m
}

func (s *Server) ownID(pageID string, ig bool) string {
	if p := s.pages[pageID]; p != nil && ig {
		return p.InstagramID
	}
	return pageID
}

// CommentUpdate is the webhook update for a comment: verb "add",
// "edited" or "remove" (a removal carries neither the text nor the
// author's name, as Meta's).
func (s *Server) CommentUpdate(c Comment, verb string) Update {
	if c.Instagram {
		v := map[string]any{"from": map[string]string{"id": c.FromID, "username": c.FromName},
			"media": map[string]string{"id": c.PostID, "media_product_type": "FEED"}, "id": c.ID, "text": c.Text}
		if c.ParentID != "" {
			v["parent_id"] = c.ParentID
		}
		s.mu.Lock()
		ig := s.ownID(c.PageID, true)
		s.mu.Unlock()
		return Update{Object: "instagram", EntryID: ig, Field: "comments", Value: v}
	}
	parent := c.ParentID
	if parent == "" {
		parent = c.PostID
	}
	v := map[string]any{"from": map[string]string{"id": c.FromID, "name": c.FromName}, "item": "comment", "verb": verb,
		"comment_id": c.ID, "post_id": c.PostID, "parent_id": parent, "created_time": c.At.Unix(), "message": c.Text,
		"post": map[string]any{"id": c.PostID, "status_type": "added_photos", "is_published": true}}
	if verb == "remove" {
		delete(v, "message")
		v["from"] = map[string]string{"id": c.FromID}
	}
	return Update{Object: "page", EntryID: c.PageID, Field: "feed", Value: v}
}

// MessageUpdate is the webhook update for a DM (an echo when it is one of
// ours: is_echo, sender the page).
func (s *Server) MessageUpdate(m Message) Update {
	obj := "page"
	if m.Instagram {
		obj = "instagram"
	}
	s.mu.Lock()
	own := s.ownID(m.PageID, m.Instagram)
	s.mu.Unlock()
	msg := map[string]any{"mid": m.ID, "text": m.Text}
	if m.From == own {
		msg["is_echo"] = true
	}
	ev := map[string]any{"sender": map[string]string{"id": m.From}, "recipient": map[string]string{"id": m.To},
		"timestamp": m.At.UnixMilli(), "message": msg}
	return Update{Object: obj, EntryID: own, Value: ev, Message: true}
}

// Echoes are the updates Meta sends back for what the pages sent: their
// replies under comments (from the page) and their messages (is_echo).
func (s *Server) Echoes() []Update {
	s.mu.Lock()
	var cs []Comment
	for _, id := range s.order {
		if c := s.comments[id]; c.FromID == s.ownID(c.PageID, c.Instagram) {
			cs = append(cs, *c)
		}
	}
	var ms []Message
	for _, m := range s.messages {
		if m.From == s.ownID(m.PageID, m.Instagram) && m.CommentID == "" {
			ms = append(ms, *m)
		}
	}
	s.mu.Unlock()
	var out []Update
	for _, c := range cs {
		out = append(out, s.CommentUpdate(c, "add"))
	}
	for _, m := range ms {
		out = append(out, s.MessageUpdate(m))
	}
	return out
}

// SetWebhook is where Deliver posts (carebridge's /meta/webhook).
func (s *Server) SetWebhook(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook = url
}

// Body builds one delivery: the updates of one object, batched into one
// entry per page (changes and messaging in order), at the fake's time.
func (s *Server) Body(updates ...Update) []byte {
	type entry struct {
		ID        string           `json:"id"`
		Time      int64            `json:"time"`
		Changes   []map[string]any `json:"changes,omitempty"`
		Messaging []any            `json:"messaging,omitempty"`
	}
	obj := ""
	var entries []*entry
	byID := map[string]*entry{}
	for _, u := range updates {
		obj = u.Object
		e := byID[u.EntryID]
		if e == nil {
			e = &entry{ID: u.EntryID, Time: s.clock.Now().Unix()}
			byID[u.EntryID] = e
			entries = append(entries, e)
		}
		if u.Message {
			e.Messaging = append(e.Messaging, u.Value)
		} else {
			e.Changes = append(e.Changes, map[string]any{"field": u.Field, "value": u.Value})
		}
	}
	b, _ := json.Marshal(map[string]any{"object": obj, "entry": entries})
	return b
}

// Deliver posts the updates, signed with their page's app secret, in one
// POST per object (Meta batches one object per delivery), and returns the
// last HTTP status.
func (s *Server) Deliver(ctx context.Context, updates ...Update) (int, error) {
	byObject := map[string][]Update{}
	var objects []string
	for _, u := range updates {
		if byObject[u.Object] == nil {
			objects = append(objects, u.Object)
		}
		byObject[u.Object] = append(byObject[u.Object], u)
	}
	status := 0
	for _, o := range objects {
		body := s.Body(byObject[o]...)
		var err error
		if status, err = s.DeliverRaw(ctx, body, Signature(body, s.secretOf(byObject[o][0].EntryID))); err != nil || status != http.StatusOK {
			return status, err
		}
	}
	return status, nil
}

func (s *Server) secretOf(entryID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pages {
		if p.ID == entryID || (p.InstagramID != "" && p.InstagramID == entryID) {
			return p.AppSecret
		}
	}
	return ""
}

// DeliverRaw posts body with the given X-Hub-Signature-256 ("" sends
// none): hostile deliveries.
func (s *Server) DeliverRaw(ctx context.Context, body []byte, signature string) (int, error) {
	s.mu.Lock()
	url := s.webhook
	s.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// Verify makes the subscription check Meta makes when the webhook is
// set up, and returns the status and body.
func (s *Server) Verify(ctx context.Context, mode, token, challenge string) (int, string, error) {
	s.mu.Lock()
	u := s.webhook
	s.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, "GET", u+"?hub.mode="+mode+"&hub.verify_token="+token+"&hub.challenge="+challenge, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// Signature is X-Hub-Signature-256 of body under secret.
func Signature(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Replies lists the pages' public replies (newest last).
func (s *Server) Replies() []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, id := range s.order {
		if c := s.comments[id]; c.FromID == s.ownID(c.PageID, c.Instagram) {
			out = append(out, *c)
		}
	}
	return out
}

// Sent lists the messages the pages sent (DMs and private replies).
func (s *Server) Sent() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.From == s.ownID(m.PageID, m.Instagram) {
			out = append(out, *m)
		}
	}
	return out
}

// graphError is Meta's error body.
func graphError(w http.ResponseWriter, status, code, subcode int, msg string, h map[string]string) {
	for k, v := range h {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	e := map[string]any{"message": msg, "type": "OAuthException", "code": code, "fbtrace_id": "AfakeTrace"}
	if subcode != 0 {
		e["error_subcode"] = subcode
	}
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

var versionRE = regexp.MustCompile(`^/(v[0-9]+\.[0-9]+)(/.*)$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	m := versionRE.FindStringSubmatch(r.URL.Path)
	if m == nil || !s.versions[m[1]] {
		graphError(w, 400, 2500, 0, "Unknown path components: "+r.URL.Path, nil)
		return
	}
	path := m[2]
	s.mu.Lock()
	s.calls = append(s.calls, r.Method+" "+path)
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token == "" {
		token = r.URL.Query().Get("access_token")
	}
	var page *Page
	for _, p := range s.pages {
		if p.Token == token {
			page = p
		}
	}
	switch {
	case s.revoked[token] || page == nil:
		s.mu.Unlock()
		graphError(w, 400, 190, 460, "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.", nil)
		return
	case len(s.throttle) > 0:
		t := s.throttle[0]
		s.throttle = s.throttle[1:]
		s.mu.Unlock()
		usage := fmt.Sprintf(`{"%s":[{"type":"pages","call_count":100,"total_cputime":12,"total_time":30,"estimated_time_to_regain_access":%d}]}`, page.ID, t.minutes)
		graphError(w, 400, t.code, 0, "(#"+strconv.Itoa(t.code)+") Application request limit reached", map[string]string{"X-Business-Use-Case-Usage": usage})
		return
	}
	status, out, apiErr := s.route(r, page, path)
	drop := false
	if apiErr == nil && r.Method == "POST" && s.dropAfter > 0 {
		s.dropAfter--
		drop = true
	}
	s.mu.Unlock()
	if apiErr != nil {
		graphError(w, apiErr.status, apiErr.code, apiErr.subcode, apiErr.msg, nil)
		return
	}
	if drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(out)
}

type apiErr struct {
	status, code, subcode int
	msg                   string
}

// route serves one call; s.mu is held.
func (s *Server) route(r *http.Request, page *Page, path string) (int, any, *apiErr) {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(parts) != 2 {
		return 0, nil, &apiErr{400, 2500, 0, "Unknown path components: " + path}
	}
	node, edge := parts[0], parts[1]
	switch {
	case r.Method == "POST" && edge == "comments", r.Method == "POST" && edge == "replies":
		return s.reply(r, page, node, edge == "replies")
	case r.Method == "GET" && (edge == "comments" || edge == "replies"):
		return s.listReplies(r, page, node, edge == "replies")
	case r.Method == "POST" && edge == "messages" && node == page.ID:
		return s.send(r, page)
	case r.Method == "GET" && edge == "conversations" && node == page.ID:
		return s.conversations(r, page)
	}
	return 0, nil, &apiErr{400, 100, 33, fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", strings.ToLower(r.Method), node)}
}

func noObject(id string) *apiErr {
	return &apiErr{400, 100, 33, fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", id)}
}

func (s *Server) reply(r *http.Request, page *Page, id string, ig bool) (int, any, *apiErr) {
	c := s.comments[id]
	if c == nil || c.Instagram != ig || c.PageID != page.ID || c.Removed {
		return 0, nil, noObject(id)
	}
	if err := r.ParseForm(); err != nil {
		return 0, nil, &apiErr{400, 100, 0, "(#100) Invalid parameter"}
	}
	text := r.Form.Get("message")
	if strings.TrimSpace(text) == "" {
		return 0, nil, &apiErr{400, 100, 0, "(#100) Missing message"}
	}
	parent := c.ID
	if !ig && c.ParentID != "" {
		parent = c.ParentID // Facebook keeps two levels: a reply to a reply joins its thread
	}
	nc := &Comment{ID: s.nextID(), PageID: page.ID, Instagram: ig, PostID: c.PostID, ParentID: parent,
		FromID: s.ownID(page.ID, ig), FromName: page.Name, Text: text, At: s.clock.Now()}
	if !ig {
		nc.ID = c.PostID + "_" + nc.ID
	}
	s.comments[nc.ID] = nc
	s.order = append(s.order, nc.ID)
	return 200, map[string]string{"id": nc.ID}, nil
}

func (s *Server) listReplies(r *http.Request, page *Page, id string, ig bool) (int, any, *apiErr) {
	c := s.comments[id]
	if c == nil || c.Instagram != ig || c.PageID != page.ID {
		return 0, nil, noObject(id)
	}
	var kids []*Comment
	for _, cid := range s.order {
		if k := s.comments[cid]; k.ParentID == id {
			kids = append(kids, k)
		}
	}
	if r.URL.Query().Get("order") == "reverse_chronological" {
		for i, j := 0, len(kids)-1; i < j; i, j = i+1, j-1 {
			kids[i], kids[j] = kids[j], kids[i]
		}
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 100 {
		limit = 25
	}
	start, _ := strconv.Atoi(r.URL.Query().Get("after"))
	var data []map[string]any
	for i := start; i < len(kids) && i < start+limit; i++ {
		k := kids[i]
		item := map[string]any{"id": k.ID}
		if ig {
			item["text"], item["username"], item["timestamp"] = k.Text, k.FromName, k.At.Format("2006-01-02T15:04:05-0700")
			item["from"] = map[string]string{"id": k.FromID, "username": k.FromName}
		} else {
			item["message"], item["created_time"] = k.Text, k.At.Format("2006-01-02T15:04:05-0700")
			item["from"] = map[string]string{"id": k.FromID, "name": k.FromName}
		}
		data = append(data, item)
	}
	out := map[string]any{"data": data}
	if start+limit < len(kids) {
		out["paging"] = map[string]any{"cursors": map[string]string{"after": strconv.Itoa(start + limit)}, "next": "more"}
	}
	return 200, out, nil
}

// Retired message tags: error 100 since 2026-04-27.
var retiredTags = map[string]bool{"CONFIRMED_EVENT_UPDATE": true, "ACCOUNT_UPDATE": true, "POST_PURCHASE_UPDATE": true}

func (s *Server) send(r *http.Request, page *Page) (int, any, *apiErr) {
	var req struct {
		Recipient struct {
			ID        string `json:"id"`
			CommentID string `json:"comment_id"`
		} `json:"recipient"`
		MessagingType string `json:"messaging_type"`
		Tag           string `json:"tag"`
		Message       struct {
			Text string `json:"text"`
		} `json:"message"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		return 0, nil, &apiErr{400, 100, 0, "(#100) Invalid JSON"}
	}
	now := s.clock.Now()
	if req.Message.Text == "" {
		return 0, nil, &apiErr{400, 100, 0, "(#100) Param message must be non-empty"}
	}
	if len([]rune(req.Message.Text)) > 2000 {
		return 0, nil, &apiErr{400, 100, 0, "(#100) Length of param message[text] must be less than or equal to 2000"}
	}
	if cid := req.Recipient.CommentID; cid != "" {
		c := s.comments[cid]
		switch {
		case c == nil || c.PageID != page.ID || c.Removed:
			return 0, nil, noObject(cid)
		case c.FromID == s.ownID(page.ID, c.Instagram):
			return 0, nil, &apiErr{400, 10903, 2018292, "This user cant reply to this activity"}
		case s.privatelyReplied(cid):
			return 0, nil, &apiErr{400, 10900, 2018294, "Activity already replied to"}
		case now.Sub(c.At) > 7*24*time.Hour:
			// Unverified which code Meta gives past the 7 days; this
			// fake answers 10903, the code for "cannot reply to this
			// activity" (carebridge refuses such drafts up front).
			return 0, nil, &apiErr{400, 10903, 2018292, "This user cant reply to this activity"}
		}
		m := &Message{ID: "m_" + s.nextID(), PageID: page.ID, Instagram: c.Instagram, From: s.ownID(page.ID, c.Instagram), To: c.FromID,
			Text: req.Message.Text, At: now, CommentID: cid}
		s.messages = append(s.messages, m)
		return 200, map[string]string{"recipient_id": c.FromID, "message_id": m.ID}, nil
	}
	to := req.Recipient.ID
	if to == "" {
		return 0, nil, &apiErr{400, 100, 0, "(#100) The parameter recipient is required"}
	}
	var last *Message
	for _, m := range s.messages {
		if m.PageID == page.ID && m.From == to {
			last = m
		}
	}
	if last == nil {
		return 0, nil, &apiErr{400, 100, 2018001, "(#100) No matching user found"}
	}
	switch req.MessagingType {
	case "RESPONSE", "UPDATE":
		if now.Sub(last.At) > 24*time.Hour {
			return 0, nil, &apiErr{400, 10, 2018278, "(#10) This message is sent outside of allowed window."}
		}
	case "MESSAGE_TAG":
		switch {
		case retiredTags[req.Tag]:
			return 0, nil, &apiErr{400, 100, 0, "(#100) Invalid parameter: tag " + req.Tag + " is no longer supported"}
		case req.Tag != "HUMAN_AGENT":
			return 0, nil, &apiErr{400, 100, 0, "(#100) Invalid parameter: tag"}
		case !page.HumanAgent:
			return 0, nil, &apiErr{400, 200, 0, "(#200) The app needs the Human Agent permission to use this tag"}
		case now.Sub(last.At) > 7*24*time.Hour:
			return 0, nil, &apiErr{400, 10, 2018278, "(#10) This message is sent outside of allowed window."}
		}
	default:
		return 0, nil, &apiErr{400, 100, 0, "(#100) Invalid parameter: messaging_type"}
	}
	m := &Message{ID: "m_" + s.nextID(), PageID: page.ID, Instagram: last.Instagram, From: s.ownID(page.ID, last.Instagram), To: to,
		Text: req.Message.Text, At: now, Type: req.MessagingType, Tag: req.Tag}
	s.messages = append(s.messages, m)
	return 200, map[string]string{"recipient_id": to, "message_id": m.ID}, nil
}

func (s *Server) privatelyReplied(commentID string) bool {
	for _, m := range s.messages {
		if m.CommentID == commentID {
			return true
		}
	}
	return false
}

func (s *Server) conversations(r *http.Request, page *Page) (int, any, *apiErr) {
	user := r.URL.Query().Get("user_id")
	ig := r.URL.Query().Get("platform") == "instagram"
	var msgs []map[string]any
	for i := len(s.messages) - 1; i >= 0; i-- {
		m := s.messages[i]
		if m.PageID != page.ID || m.Instagram != ig || (m.From != user && m.To != user) {
			continue
		}
		msgs = append(msgs, map[string]any{"id": m.ID, "message": m.Text, "from": map[string]string{"id": m.From},
			"created_time": m.At.Format("2006-01-02T15:04:05-0700")})
	}
	if len(msgs) == 0 {
		return 200, map[string]any{"data": []any{}}, nil
	}
	return 200, map[string]any{"data": []any{map[string]any{"id": "t_" + user, "messages": map[string]any{"data": msgs}}}}, nil
}
