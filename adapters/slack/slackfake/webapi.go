package slackfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const maxRequestBody = 1 << 20

// result is a Web API answer.
type result struct {
	status     int // 0 means 200
	retryAfter string
	body       map[string]any
	json       []byte // the JSON body already encoded, instead of body
	raw        string // non-JSON body for 5xx answers
}

func okResult(fields map[string]any) result {
	if fields == nil {
		fields = map[string]any{}
	}
	fields["ok"] = true
	return result{body: fields}
}

func errResult(code string) result {
	return result{body: map[string]any{"ok": false, "error": code}}
}

type fault struct {
	status     int
	slackErr   string
	retryAfter time.Duration
	rateLimit  bool
}

// FailNext makes the next n calls of method fail. With status 0 or 200 the
// answer is HTTP 200 {"ok":false,"error":slackErr} (for example
// "invalid_auth"); with another status (for example 500) the answer has that
// status, and a JSON error body if slackErr is set. method "*" matches any
// method. Faults are used in the order they were added; method-specific ones
// before "*".
func (s *Server) FailNext(method string, status int, slackErr string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[method] = append(s.faults[method], fault{status: status, slackErr: slackErr})
	}
}

// RateLimitStorm makes the next n calls of method (or "*" for any) answer
// HTTP 429 with Retry-After (retryAfter rounded up to whole seconds; 0 is
// allowed for fast tests) and {"ok":false,"error":"ratelimited"}.
func (s *Server) RateLimitStorm(method string, n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[method] = append(s.faults[method], fault{rateLimit: true, retryAfter: retryAfter})
	}
}

// SetOutage makes every Web API call (apps.connections.open included)
// answer HTTP 503 until it is turned off. Open Socket Mode connections and
// event delivery are not affected.
func (s *Server) SetOutage(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = on
}

// Fault is a Web API failure chosen by the function given to SetFaults.
// Status 429 answers {"ok":false,"error":"ratelimited"} with Retry-After
// (RetryAfter rounded up to whole seconds); Status 0 or 200 answers HTTP
// 200 {"ok":false,"error":Error} (Error defaults to "internal_error");
// another status answers that status, with a JSON error body if Error is
// set.
type Fault struct {
	Status     int
	Error      string
	RetryAfter time.Duration
}

// SetFaults makes every Web API call (apps.connections.open included)
// consult pick first: when pick returns true the call fails with the
// fault and has no effect. It suits time-based storms ("every call fails
// for two minutes"); FailNext and RateLimitStorm suit counted ones. pick
// runs without the server's lock held and may be called concurrently;
// nil turns it off.
func (s *Server) SetFaults(pick func(method string) (Fault, bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pick = pick
}

func (s *Server) takeFaultLocked(method string) (fault, bool) {
	for _, key := range []string{method, "*"} {
		if q := s.faults[key]; len(q) > 0 {
			f := q[0]
			s.faults[key] = q[1:]
			return f, true
		}
	}
	return fault{}, false
}

func retryAfterSeconds(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}

func writeResult(w http.ResponseWriter, r result) {
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	if r.retryAfter != "" {
		w.Header().Set("Retry-After", r.retryAfter)
	}
	if r.json != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(r.json)
		return
	}
	if r.body == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, r.raw)
		return
	}
	b, _ := marshal(r.body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// params are a request's arguments: query string, form body or JSON body.
// JSON values that are not strings are kept as raw JSON text.
type params map[string]string

func (p params) has(k string) bool { _, ok := p[k]; return ok }

func parseParams(r *http.Request) (params, string, error) {
	p := params{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			p[k] = v[0]
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return nil, "", err
	}
	if len(body) > maxRequestBody {
		return nil, "", errors.New("request_too_large")
	}
	bodyToken := ""
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case len(bytes.TrimSpace(body)) == 0:
	case ct == "application/json":
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, "", errors.New("invalid_json")
		}
		for k, v := range m {
			v = bytes.TrimSpace(v)
			switch {
			case bytes.Equal(v, []byte("null")):
			case len(v) > 0 && v[0] == '"':
				var str string
				if err := json.Unmarshal(v, &str); err != nil {
					return nil, "", errors.New("invalid_json")
				}
				p[k] = str
			default:
				p[k] = string(v)
			}
		}
		// Slack reads the token of a JSON request only from the
		// Authorization header.
		delete(p, "token")
	default:
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, "", errors.New("invalid_form_data")
		}
		for k, v := range vals {
			if len(v) > 0 {
				p[k] = v[0]
			}
		}
		bodyToken = p["token"]
	}
	if tok := p["token"]; tok != "" && bodyToken == "" {
		bodyToken = tok // query-string token
	}
	delete(p, "token")
	return p, bodyToken, nil
}

type methodSpec struct {
	appToken bool // needs the xapp- token instead of the bot token
	handle   func(s *Server, p params) result
}

var methodTable = map[string]methodSpec{
	"auth.test":             {handle: (*Server).authTest},
	"chat.postMessage":      {handle: (*Server).chatPostMessage},
	"chat.update":           {handle: (*Server).chatUpdate},
	"chat.delete":           {handle: (*Server).chatDelete},
	"chat.postEphemeral":    {handle: (*Server).chatPostEphemeral},
	"chat.getPermalink":     {handle: (*Server).chatGetPermalink},
	"reactions.add":         {handle: (*Server).reactionsAdd},
	"reactions.remove":      {handle: (*Server).reactionsRemove},
	"usergroups.users.list": {handle: (*Server).usergroupsUsersList},
	"conversations.members": {handle: (*Server).conversationsMembers},
	"conversations.info":    {handle: (*Server).conversationsInfo},
	"conversations.list":    {handle: (*Server).conversationsList},
	"conversations.history": {handle: (*Server).conversationsHistory},
	"conversations.replies": {handle: (*Server).conversationsReplies},
	"users.info":            {handle: (*Server).usersInfo},
	"apps.connections.open": {appToken: true, handle: (*Server).appsConnectionsOpen},
}

func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		writeResult(w, result{status: http.StatusMethodNotAllowed, raw: "method not allowed"})
		return
	}

	s.mu.Lock()
	s.calls[method]++
	outage := s.outage
	f, faulted := s.takeFaultLocked(method)
	pick := s.pick
	s.mu.Unlock()
	if pick != nil && !faulted {
		if pf, ok := pick(method); ok {
			f, faulted = fault{status: pf.Status, slackErr: pf.Error, retryAfter: pf.RetryAfter, rateLimit: pf.Status == http.StatusTooManyRequests}, true
		}
	}

	if outage {
		writeResult(w, result{status: http.StatusServiceUnavailable, raw: "<html><body>503 Service Unavailable</body></html>"})
		return
	}
	if faulted {
		switch {
		case f.rateLimit:
			res := errResult("ratelimited")
			res.status, res.retryAfter = http.StatusTooManyRequests, retryAfterSeconds(f.retryAfter)
			writeResult(w, res)
		case f.status == 0 || f.status == http.StatusOK:
			code := f.slackErr
			if code == "" {
				code = "internal_error"
			}
			writeResult(w, errResult(code))
		case f.slackErr != "":
			res := errResult(f.slackErr)
			res.status = f.status
			writeResult(w, res)
		default:
			writeResult(w, result{status: f.status, raw: http.StatusText(f.status)})
		}
		return
	}

	p, bodyToken, err := parseParams(r)
	if err != nil {
		writeResult(w, errResult(err.Error()))
		return
	}
	spec, known := methodTable[method]
	if res, ok := s.checkAuth(r, bodyToken, spec.appToken); !ok {
		writeResult(w, res)
		return
	}
	if !known {
		res := errResult("unknown_method")
		res.body["req_method"] = method
		writeResult(w, res)
		return
	}
	writeResult(w, spec.handle(s, p))
}

// checkAuth accepts the token from the Authorization header or the form.
func (s *Server) checkAuth(r *http.Request, bodyToken string, wantApp bool) (result, bool) {
	tok := bodyToken
	if h := r.Header.Get("Authorization"); h != "" {
		tok = strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
	}
	switch {
	case tok == "":
		return errResult("not_authed"), false
	case tok == s.cfg.appToken && wantApp, tok == s.cfg.botToken && !wantApp:
		return result{}, true
	case tok == s.cfg.appToken || tok == s.cfg.botToken:
		return errResult("not_allowed_token_type"), false
	default:
		return errResult("invalid_auth"), false
	}
}

// ---- pacing ----

type bucket struct {
	tokens float64
	last   time.Time
}

// takeTokenLocked spends one chat.postMessage token of a channel, or says
// how long to wait.
func (s *Server) takeTokenLocked(channelID string) (bool, time.Duration) {
	now := s.cfg.clock.Now()
	b := s.buckets[channelID]
	if b == nil {
		b = &bucket{tokens: float64(s.cfg.burst), last: now}
		s.buckets[channelID] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(float64(s.cfg.burst), b.tokens+el*s.cfg.ratePerSec)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / s.cfg.ratePerSec * float64(time.Second))
	return false, wait
}

// ---- helpers ----

func (s *Server) nextTSLocked() string {
	now := s.cfg.clock.Now().UnixMicro()
	if now <= s.lastMicro {
		now = s.lastMicro + 1
	}
	s.lastMicro = now
	return fmt.Sprintf("%d.%06d", now/1e6, now%1e6)
}

// channelLocked finds a channel by ID, or also by name ("#name" or "name")
// when byName is set.
func (s *Server) channelLocked(ref string, byName bool) *channel {
	if ch := s.channels[ref]; ch != nil {
		return ch
	}
	if !byName || ref == "" {
		return nil
	}
	name := strings.TrimPrefix(ref, "#")
	for _, id := range s.chanOrder {
		if ch := s.channels[id]; ch != nil && ch.name == name {
			return ch
		}
	}
	return nil
}

func (s *Server) messageLocked(channelID, ts string) *message {
	if ts == "" {
		return nil
	}
	m := s.byTS[channelID+"/"+ts]
	if m == nil || m.deleted {
		return nil
	}
	return m
}

func (s *Server) addMessageLocked(m *message) {
	s.msgs[m.channel] = append(s.msgs[m.channel], m)
	s.byTS[m.channel+"/"+m.ts] = m
}

// validBlocks accepts a JSON array (or null) of at most maxBlocks objects,
// each with a string "type", whose "text", if any, is an object with a
// string "text"; a section's text has at most maxSectionText characters.
// It decodes each block's type and text only, in one pass.
func validBlocks(raw string) (json.RawMessage, bool) {
	var blocks []struct {
		Type *string `json:"type"`
		Text *struct {
			Text string `json:"text"`
		} `json:"text"`
	}
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil || len(blocks) > maxBlocks {
		return nil, false
	}
	for _, b := range blocks {
		if b.Type == nil {
			return nil, false
		}
		if *b.Type == "section" && b.Text != nil && utf8.RuneCountInString(b.Text.Text) > maxSectionText {
			return nil, false
		}
	}
	return json.RawMessage(raw), true
}

// Slack's Block Kit limits: blocks in a message, characters in a
// section's text (either over: invalid_blocks).
const (
	maxBlocks      = 50
	maxSectionText = 3000
)

func validMetadata(raw string) (json.RawMessage, bool) {
	var md struct {
		EventType    *string         `json:"event_type"`
		EventPayload json.RawMessage `json:"event_payload"`
	}
	if err := json.Unmarshal([]byte(raw), &md); err != nil || md.EventType == nil || *md.EventType == "" {
		return nil, false
	}
	return json.RawMessage(raw), true
}

func blocksEmpty(raw json.RawMessage) bool {
	return raw == nil || string(bytes.TrimSpace(raw)) == "[]"
}

const maxTextLen = 40000

// ---- methods ----

func (s *Server) authTest(params) result {
	c := s.cfg
	return okResult(map[string]any{
		"url":                   "https://" + c.teamDomain + ".slack.com/",
		"team":                  c.teamDomain,
		"user":                  c.botName,
		"team_id":               c.teamID,
		"user_id":               c.botUserID,
		"bot_id":                c.botID,
		"is_enterprise_install": false,
	})
}

func (s *Server) chatPostMessage(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channelLocked(p["channel"], true)
	if ch == nil {
		return errResult("channel_not_found")
	}
	if !ch.botMember {
		return errResult("not_in_channel")
	}
	m := &message{channel: ch.id, user: s.cfg.botUserID, botID: s.cfg.botID, text: p["text"]}
	if p.has("blocks") {
		b, ok := validBlocks(p["blocks"])
		if !ok {
			return errResult("invalid_blocks")
		}
		m.blocks = b
	}
	if m.text == "" && blocksEmpty(m.blocks) && p["attachments"] == "" {
		return errResult("no_text")
	}
	if len(m.text) > maxTextLen {
		return errResult("msg_too_long")
	}
	if md := p["metadata"]; md != "" {
		raw, ok := validMetadata(md)
		if !ok {
			return errResult("invalid_metadata_format")
		}
		m.metadata = raw
	}
	if tts := p["thread_ts"]; tts != "" {
		m.threadTS = tts
		if parent := s.messageLocked(ch.id, tts); parent != nil {
			m.parentUser = parent.user
		}
	}
	if s.cfg.enforceRate {
		if ok, wait := s.takeTokenLocked(ch.id); !ok {
			s.limited["chat.postMessage"]++
			res := errResult("ratelimited")
			res.status = http.StatusTooManyRequests
			res.retryAfter = retryAfterSeconds(max(wait, time.Second))
			return res
		}
	}
	m.ts = s.nextTSLocked()
	m.blockID = randomBlockID()
	s.addMessageLocked(m)
	s.emitRawLocked("message", "", ch.id, s.newMessageEventLocked(m))
	// {"channel","message","ok","ts"}, as okResult would encode it.
	b := append(appendStringField(append(m.jsonBuffer(), '{'), "channel", ch.id), `,"message":`...)
	b = s.appendMessageObjectLocked(b, m, true, nil)
	b = append(b, `,"ok":true`...)
	b = append(appendStringField(b, "ts", m.ts), '}')
	return result{json: b}
}

func (s *Server) chatUpdate(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channelLocked(p["channel"], false)
	if ch == nil {
		return errResult("channel_not_found")
	}
	m := s.messageLocked(ch.id, p["ts"])
	if m == nil {
		return errResult("message_not_found")
	}
	if m.botID != s.cfg.botID {
		return errResult("cant_update_message")
	}
	hasText, hasBlocks := p.has("text"), p.has("blocks")
	var newBlocks json.RawMessage
	if hasBlocks {
		b, ok := validBlocks(p["blocks"])
		if !ok {
			return errResult("invalid_blocks")
		}
		newBlocks = b
	}
	if !hasText && !hasBlocks && p["attachments"] == "" {
		return errResult("no_text")
	}
	if len(p["text"]) > maxTextLen {
		return errResult("msg_too_long")
	}
	var newMeta json.RawMessage
	if md := p["metadata"]; md != "" {
		raw, ok := validMetadata(md)
		if !ok {
			return errResult("invalid_metadata_format")
		}
		newMeta = raw
	}
	prev := s.messageObjectLocked(m)
	editTS := s.nextTSLocked()
	m.history = append(m.history, Revision{Text: m.text, Blocks: cloneRaw(m.blocks), Metadata: cloneRaw(m.metadata), ReplacedAt: editTS})
	if hasText {
		m.text = p["text"]
	}
	if hasBlocks {
		m.blocks = newBlocks
	}
	if newMeta != nil {
		m.metadata = newMeta
	}
	m.editedBy, m.editedTS = s.cfg.botUserID, editTS
	s.emitLocked("message", "message_changed", ch.id, s.changedEventLocked(m, prev, editTS))
	return okResult(map[string]any{"channel": ch.id, "ts": m.ts, "text": m.text, "message": s.messageObjectLocked(m)})
}

func (s *Server) chatDelete(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channelLocked(p["channel"], false)
	if ch == nil {
		return errResult("channel_not_found")
	}
	m := s.messageLocked(ch.id, p["ts"])
	if m == nil {
		return errResult("message_not_found")
	}
	if m.botID != s.cfg.botID {
		return errResult("cant_delete_message")
	}
	s.deleteLocked(m)
	return okResult(map[string]any{"channel": ch.id, "ts": m.ts})
}

func (s *Server) deleteLocked(m *message) {
	prev := s.messageObjectLocked(m)
	m.deleted = true
	evTS := s.nextTSLocked()
	s.emitLocked("message", "message_deleted", m.channel, s.deletedEventLocked(m, prev, evTS))
}

func (s *Server) chatPostEphemeral(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channelLocked(p["channel"], true)
	if ch == nil {
		return errResult("channel_not_found")
	}
	if !ch.botMember {
		return errResult("not_in_channel")
	}
	uid := p["user"]
	if uid == "" {
		return errResult("user_not_found")
	}
	if !slices.Contains(ch.members, uid) {
		return errResult("user_not_in_channel")
	}
	text := p["text"]
	var blocks json.RawMessage
	if p.has("blocks") {
		b, ok := validBlocks(p["blocks"])
		if !ok {
			return errResult("invalid_blocks")
		}
		blocks = b
	}
	if text == "" && blocksEmpty(blocks) && p["attachments"] == "" {
		return errResult("no_text")
	}
	ts := s.nextTSLocked()
	key := ch.id + "/" + uid
	s.ephem[key] = append(s.ephem[key], Message{
		Channel: ch.id, TS: ts, ThreadTS: p["thread_ts"], User: s.cfg.botUserID, BotID: s.cfg.botID,
		Text: text, Blocks: blocks,
	})
	return okResult(map[string]any{"message_ts": ts})
}

func (s *Server) chatGetPermalink(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channelLocked(p["channel"], false)
	if ch == nil {
		return errResult("channel_not_found")
	}
	m := s.messageLocked(ch.id, p["message_ts"])
	if m == nil {
		return errResult("message_not_found")
	}
	link := fmt.Sprintf("https://%s.slack.com/archives/%s/p%s", s.cfg.teamDomain, ch.id, strings.Replace(m.ts, ".", "", 1))
	if m.threadTS != "" && m.threadTS != m.ts {
		link += "?thread_ts=" + m.threadTS + "&cid=" + ch.id
	}
	return okResult(map[string]any{"channel": ch.id, "permalink": link})
}

func reactionName(raw string) (string, bool) {
	name := strings.Trim(raw, ":")
	if name == "" || strings.ContainsAny(name, " \t\n,") {
		return "", false
	}
	return name, true
}

func (s *Server) reactionTargetLocked(p params) (*message, result, bool) {
	if p["channel"] == "" || p["timestamp"] == "" {
		return nil, errResult("no_item_specified"), false
	}
	ch := s.channelLocked(p["channel"], false)
	if ch == nil {
		return nil, errResult("channel_not_found"), false
	}
	m := s.messageLocked(ch.id, p["timestamp"])
	if m == nil {
		return nil, errResult("message_not_found"), false
	}
	return m, result{}, true
}

func (s *Server) reactionsAdd(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, res, ok := s.reactionTargetLocked(p)
	if !ok {
		return res
	}
	name, ok := reactionName(p["name"])
	if !ok {
		return errResult("invalid_name")
	}
	if !s.reactLocked(m, s.cfg.botUserID, name) {
		return errResult("already_reacted")
	}
	return okResult(nil)
}

func (s *Server) reactionsRemove(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, res, ok := s.reactionTargetLocked(p)
	if !ok {
		return res
	}
	name, ok := reactionName(p["name"])
	if !ok {
		return errResult("invalid_name")
	}
	if !s.unreactLocked(m, s.cfg.botUserID, name) {
		return errResult("no_reaction")
	}
	return okResult(nil)
}

// reactLocked adds a reaction and emits reaction_added; false if present.
func (s *Server) reactLocked(m *message, userID, name string) bool {
	if slices.Contains(m.reactions, reaction{name, userID}) {
		return false
	}
	m.reactions = append(m.reactions, reaction{name, userID})
	s.emitLocked("reaction_added", "", m.channel, s.reactionEventLocked("reaction_added", m, userID, name))
	return true
}

// unreactLocked removes a reaction and emits reaction_removed; false if absent.
func (s *Server) unreactLocked(m *message, userID, name string) bool {
	i := slices.Index(m.reactions, reaction{name, userID})
	if i < 0 {
		return false
	}
	m.reactions = slices.Delete(m.reactions, i, i+1)
	s.emitLocked("reaction_removed", "", m.channel, s.reactionEventLocked("reaction_removed", m, userID, name))
	return true
}

func (s *Server) usergroupsUsersList(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[p["usergroup"]]
	if g == nil {
		return errResult("no_such_subteam")
	}
	return okResult(map[string]any{"users": append([]string{}, g.users...)})
}

func (s *Server) membersLocked(ch *channel) []string {
	out := slices.Clone(ch.members)
	if ch.botMember && !slices.Contains(out, s.cfg.botUserID) {
		out = append(out, s.cfg.botUserID)
	}
	return out
}

func (s *Server) conversationsMembers(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channelLocked(p["channel"], false)
	if ch == nil {
		return errResult("channel_not_found")
	}
	limit := 100
	if l := p["limit"]; l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return errResult("invalid_limit")
		}
		limit = min(n, 1000)
	}
	offset := 0
	if c := p["cursor"]; c != "" {
		dec, err := base64.StdEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(dec), "offset:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(dec), "offset:") || n < 0 {
			return errResult("invalid_cursor")
		}
		offset = n
	}
	all := s.membersLocked(ch)
	offset = min(offset, len(all))
	end := min(offset+limit, len(all))
	next := ""
	if end < len(all) {
		next = base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return okResult(map[string]any{
		"members":           append([]string{}, all[offset:end]...),
		"response_metadata": map[string]any{"next_cursor": next},
	})
}

func (s *Server) conversationsInfo(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channelLocked(p["channel"], false)
	if ch == nil {
		return errResult("channel_not_found")
	}
	obj := map[string]any{
		"id": ch.id, "name": ch.name, "name_normalized": ch.name,
		"is_channel": true, "is_group": false, "is_im": false, "is_mpim": false,
		"is_private": false, "is_archived": false, "is_general": false,
		"is_shared": false, "is_ext_shared": false, "is_org_shared": false,
		"is_pending_ext_shared": false,
		"is_member":             ch.botMember, "created": ch.created, "creator": "",
		"unlinked": 0, "context_team_id": s.cfg.teamID, "updated": ch.created * 1000,
		"topic":          map[string]any{"value": "", "creator": "", "last_set": 0},
		"purpose":        map[string]any{"value": "", "creator": "", "last_set": 0},
		"previous_names": []string{},
	}
	if p["include_num_members"] == "true" || p["include_num_members"] == "1" {
		obj["num_members"] = len(s.membersLocked(ch))
	}
	if p["include_locale"] == "true" || p["include_locale"] == "1" {
		obj["locale"] = "en-US"
	}
	return okResult(map[string]any{"channel": obj})
}

func (s *Server) usersInfo(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[p["user"]]
	if u == nil {
		return errResult("user_not_found")
	}
	profile := map[string]any{
		"real_name": u.name, "real_name_normalized": u.name,
		"display_name": u.name, "display_name_normalized": u.name,
		"team": s.cfg.teamID,
	}
	if u.id == s.cfg.botUserID {
		profile["bot_id"] = s.cfg.botID
		profile["api_app_id"] = s.cfg.appID
		profile["always_active"] = true
	}
	obj := map[string]any{
		"id": u.id, "team_id": s.cfg.teamID, "name": u.name, "deleted": false,
		"real_name": u.name, "tz": "Etc/UTC", "tz_label": "Coordinated Universal Time", "tz_offset": 0,
		"is_admin": false, "is_owner": false, "is_primary_owner": false,
		"is_restricted": false, "is_ultra_restricted": false,
		"is_bot": u.isBot, "is_app_user": false, "updated": s.cfg.createdAtUnixSecond,
		"profile": profile,
	}
	if p["include_locale"] == "true" || p["include_locale"] == "1" {
		obj["locale"] = "en-US"
	}
	return okResult(map[string]any{"user": obj})
}

func (s *Server) appsConnectionsOpen(params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errResult("internal_error")
	}
	ticket := newUUID()
	s.tickets[ticket] = true
	wsURL := "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/link/?ticket=" + ticket + "&app_id=" + url.QueryEscape(s.cfg.appID)
	return okResult(map[string]any{"url": wsURL})
}
