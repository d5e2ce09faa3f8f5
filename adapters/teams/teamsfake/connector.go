package teamsfake

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"
)

func (s *Server) connectorRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /teams/v3/conversations", s.serveCreate)
	mux.HandleFunc("POST /teams/v3/conversations/{conv}/activities", s.serveSend)
	mux.HandleFunc("POST /teams/v3/conversations/{conv}/activities/{id}", s.serveSend)
	mux.HandleFunc("PUT /teams/v3/conversations/{conv}/activities/{id}", s.serveUpdate)
	mux.HandleFunc("DELETE /teams/v3/conversations/{conv}/activities/{id}", s.serveDelete)
	mux.HandleFunc("GET /teams/v3/conversations/{conv}/members/{member}", s.serveMember)
}

// outActivity is what the fake reads of an activity the bot sends.
type outActivity struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	TextFormat  string `json:"textFormat"`
	Summary     string `json:"summary"`
	ReplyToID   string `json:"replyToId"`
	Attachments []struct {
		ContentType string          `json:"contentType"`
		Content     json.RawMessage `json:"content"`
	} `json:"attachments"`
	Entities []struct {
		Type      string `json:"type"`
		Text      string `json:"text"`
		Mentioned *struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"mentioned"`
	} `json:"entities"`
}

// scriptedFailure is an error the next matching call gets.
type scriptedFailure struct {
	op         string
	status     int
	code       string
	retryAfter time.Duration
}

// FailNext makes the next connector call of op ("create", "send",
// "update", "delete"; "" for any connector call; "graph" for the next
// Microsoft Graph call, e.g. 429 "TooManyRequests") fail with status and error code (e.g.
// 412 "PreconditionFailed", 502 "BadGateway"), with a Retry-After when
// retryAfter > 0. The call is not carried out.
func (s *Server) FailNext(op string, status int, code string, retryAfter time.Duration) {
	s.mu.Lock()
	s.failures = append(s.failures, scriptedFailure{op: op, status: status, code: code, retryAfter: retryAfter})
	s.mu.Unlock()
}

// gate runs the checks every connector call passes: token, scripted
// failures. It writes the error and returns false when the call stops.
func (s *Server) gate(w http.ResponseWriter, r *http.Request, op string) bool {
	if !s.authorized(r) {
		s.count("401")
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Authorization has been denied for this request."})
		return false
	}
	s.mu.Lock()
	s.counts[op]++
	for i, f := range s.failures {
		if f.op == "" || f.op == op {
			s.failures = append(s.failures[:i], s.failures[i+1:]...)
			s.mu.Unlock()
			if f.retryAfter > 0 {
				w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(f.retryAfter.Seconds()))))
			}
			writeError(w, f.status, f.code, "Scripted failure.")
			return false
		}
	}
	s.mu.Unlock()
	return true
}

// The per-bot, per-thread send limits Microsoft publishes. A "thread" is
// "a 1:1 chat, a group chat, or a channel": all threads of a channel
// share one budget (the stricter reading; the core paces per channel).
var sendWindows = []struct {
	n   int
	win time.Duration
}{{7, time.Second}, {8, 2 * time.Second}, {60, 30 * time.Second}, {1800, time.Hour}}

// throttle records a send to channel and answers 429 if it exceeds a
// limit (the send is then not recorded). Callers hold s.mu.
func (s *Server) throttle(w http.ResponseWriter, channel string) bool {
	if !s.rateLimit {
		return true
	}
	now := s.clock.Now()
	past := s.sends[channel]
	keep := past[:0]
	for _, t := range past {
		if now.Sub(t) < time.Hour {
			keep = append(keep, t)
		}
	}
	s.sends[channel] = keep
	for _, lim := range sendWindows {
		n := 0
		var oldest time.Time
		for i := len(keep) - 1; i >= 0 && now.Sub(keep[i]) < lim.win; i-- {
			n++
			oldest = keep[i]
		}
		if n >= lim.n {
			s.counts["429"]++
			if s.retryAfterHdr {
				wait := oldest.Add(lim.win).Sub(now)
				w.Header().Set("Retry-After", fmt.Sprint(max(1, int(math.Ceil(wait.Seconds())))))
			}
			writeError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests.")
			return false
		}
	}
	s.sends[channel] = append(keep, now)
	return true
}

// readActivity reads and checks an activity the bot sends; raw is its JSON
// (what the size limit counts).
func (s *Server) readActivity(w http.ResponseWriter, raw []byte) (*outActivity, bool) {
	if len(raw) > s.maxBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "MessageSizeTooBig", "Message size too big.")
		return nil, false
	}
	var a outActivity
	if err := json.Unmarshal(raw, &a); err != nil {
		writeError(w, http.StatusBadRequest, "BadSyntax", "Activity is not valid JSON.")
		return nil, false
	}
	if a.Type != "message" {
		writeError(w, http.StatusBadRequest, "BadSyntax", "Activity type must be message.")
		return nil, false
	}
	if a.Text == "" && len(a.Attachments) == 0 {
		writeError(w, http.StatusBadRequest, "BadSyntax", "Activity must have text or attachments.")
		return nil, false
	}
	return &a, true
}

// fill sets a message's content from an activity.
func fill(m *Message, a *outActivity, raw []byte) {
	m.Text, m.TextFormat, m.Summary = a.Text, a.TextFormat, a.Summary
	m.Card = nil
	for _, at := range a.Attachments {
		if at.ContentType == "application/vnd.microsoft.card.adaptive" {
			m.Card = append(json.RawMessage(nil), at.Content...)
			break
		}
	}
	m.Entities = nil
	addMention := func(text, id, name, typ string) {
		m.Entities = append(m.Entities, Mention{ID: id, Name: name, Type: typ, Text: text})
	}
	for _, e := range a.Entities {
		if e.Type == "mention" && e.Mentioned != nil && e.Text != "" && strings.Contains(m.Text, e.Text) {
			addMention(e.Text, e.Mentioned.ID, e.Mentioned.Name, e.Mentioned.Type)
		}
	}
	// Mentions inside a card live in its msteams.entities.
	var card struct {
		MSTeams struct {
			Entities []struct {
				Type      string `json:"type"`
				Text      string `json:"text"`
				Mentioned *struct {
					ID   string `json:"id"`
					Name string `json:"name"`
					Type string `json:"type"`
				} `json:"mentioned"`
			} `json:"entities"`
		} `json:"msteams"`
	}
	if len(m.Card) > 0 && json.Unmarshal(m.Card, &card) == nil {
		for _, e := range card.MSTeams.Entities {
			if e.Type == "mention" && e.Mentioned != nil && e.Text != "" && cardHasText(m.Card, e.Text) {
				addMention(e.Text, e.Mentioned.ID, e.Mentioned.Name, e.Mentioned.Type)
			}
		}
	}
	m.Activity = append(json.RawMessage(nil), raw...)
}

// cardHasText reports whether a TextBlock of the card contains text.
func cardHasText(card json.RawMessage, text string) bool {
	var c struct {
		Body []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"body"`
	}
	_ = json.Unmarshal(card, &c)
	for _, b := range c.Body {
		if b.Type == "TextBlock" && strings.Contains(b.Text, text) {
			return true
		}
	}
	return false
}

// gatedBody passes a connector call through the gate (token, faults,
// limits) and reads its body; false means the answer is written.
func (s *Server) gatedBody(w http.ResponseWriter, r *http.Request, op string) ([]byte, bool) {
	if !s.gate(w, r, op) {
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadSyntax", "Unreadable body.")
		return nil, false
	}
	return body, true
}

// gatedActivity is gatedBody for a call whose body is an activity.
func (s *Server) gatedActivity(w http.ResponseWriter, r *http.Request, op string) (*outActivity, []byte, bool) {
	body, ok := s.gatedBody(w, r, op)
	if !ok {
		return nil, nil, false
	}
	a, ok := s.readActivity(w, body)
	return a, body, ok
}

func (s *Server) serveCreate(w http.ResponseWriter, r *http.Request) {
	body, ok := s.gatedBody(w, r, "create")
	if !ok {
		return
	}
	var p struct {
		IsGroup     bool `json:"isGroup"`
		ChannelData *struct {
			Channel *struct {
				ID string `json:"id"`
			} `json:"channel"`
		} `json:"channelData"`
		Activity json.RawMessage `json:"activity"`
		TenantID string          `json:"tenantId"`
		Members  []any           `json:"members"`
	}
	if json.Unmarshal(body, &p) != nil || len(p.Activity) == 0 || string(p.Activity) == "null" ||
		p.TenantID == "" || !p.IsGroup || p.ChannelData == nil || p.ChannelData.Channel == nil || p.ChannelData.Channel.ID == "" {
		// Also what a group chat creation gets (always refused).
		writeError(w, http.StatusBadRequest, "BadSyntax", "Incorrect conversation creation parameters")
		return
	}
	if p.TenantID != s.tenantID {
		writeError(w, http.StatusForbidden, "Forbidden", "The bot is not installed in this tenant.")
		return
	}
	a, ok := s.readActivity(w, p.Activity)
	if !ok {
		return
	}
	ch := p.ChannelData.Channel.ID
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.channels[ch]; !ok || !s.installed {
		writeError(w, http.StatusForbidden, "BotNotInConversationRoster", "The bot is not part of the conversation roster.")
		return
	}
	if !s.throttle(w, ch) {
		return
	}
	m := s.store(ch, "", a, p.Activity)
	writeJSON(w, http.StatusCreated, map[string]string{"id": ch + ";messageid=" + m.ID, "activityId": m.ID})
}

// store records a new bot message. Callers hold s.mu.
func (s *Server) store(channel, root string, a *outActivity, raw []byte) *Message {
	id := s.newMessageID()
	if root == "" {
		root = id
	}
	s.seq++
	m := &Message{ID: id, ChannelID: channel, RootID: root, FromBot: true, Created: s.clock.Now(), Reactions: map[string][]string{}, seq: int(s.seq)}
	fill(m, a, raw)
	s.messages[id] = m
	s.order = append(s.order, id)
	return m
}

// splitConv splits "19:…@thread.tacv2;messageid=123" into channel and
// root ("" for a bare channel id).
func splitConv(conv string) (string, string) {
	ch, root, _ := strings.Cut(conv, ";messageid=")
	return ch, root
}

func (s *Server) serveSend(w http.ResponseWriter, r *http.Request) {
	a, body, ok := s.gatedActivity(w, r, "send")
	if !ok {
		return
	}
	ch, root := splitConv(r.PathValue("conv"))
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.channels[ch]; !ok {
		writeError(w, http.StatusNotFound, "ConversationNotFound", "Conversation not found.")
		return
	}
	if replyTo := r.PathValue("id"); replyTo != "" {
		m, ok := s.messages[replyTo]
		if !ok || m.ChannelID != ch {
			writeError(w, http.StatusNotFound, "NotFound", "Activity to reply to not found.")
			return
		}
		if root != "" && root != m.RootID {
			writeError(w, http.StatusBadRequest, "BadSyntax", "replyToId is not in this conversation.")
			return
		}
		root = m.RootID
	}
	if root != "" {
		if m, ok := s.messages[root]; !ok || m.ChannelID != ch || !m.IsRoot() {
			writeError(w, http.StatusNotFound, "ConversationNotFound", "Conversation not found.")
			return
		}
	}
	if !s.throttle(w, ch) {
		return
	}
	m := s.store(ch, root, a, body)
	writeJSON(w, http.StatusCreated, map[string]string{"id": m.ID})
}

// findBotMessage checks that id is a bot message of the conversation in
// the request. A reply must be named with its thread's conversation id
// ("<channel>;messageid=<root>"); a root may be named either way. Callers
// hold s.mu.
func (s *Server) findBotMessage(w http.ResponseWriter, r *http.Request) (*Message, bool) {
	ch, root := splitConv(r.PathValue("conv"))
	m, ok := s.messages[r.PathValue("id")]
	if !ok || m.ChannelID != ch || m.Deleted || (root == "" && !m.IsRoot()) || (root != "" && root != m.RootID) {
		writeError(w, http.StatusNotFound, "NotFound", "Activity not found in this conversation.")
		return nil, false
	}
	if !m.FromBot {
		writeError(w, http.StatusForbidden, "Forbidden", "The bot can only change its own messages.")
		return nil, false
	}
	return m, true
}

func (s *Server) serveUpdate(w http.ResponseWriter, r *http.Request) {
	a, body, ok := s.gatedActivity(w, r, "update")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.findBotMessage(w, r)
	if !ok {
		return
	}
	if !s.throttle(w, m.ChannelID) {
		return
	}
	fill(m, a, body)
	m.Updates++
	writeJSON(w, http.StatusOK, map[string]string{"id": m.ID})
}

func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request) {
	if !s.gate(w, r, "delete") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.findBotMessage(w, r)
	if !ok {
		return
	}
	m.Deleted = true
	w.WriteHeader(http.StatusOK)
}

func (s *Server) serveMember(w http.ResponseWriter, r *http.Request) {
	if !s.gate(w, r, "member") {
		return
	}
	ch, _ := splitConv(r.PathValue("conv"))
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.channels[ch]; !ok {
		writeError(w, http.StatusNotFound, "ConversationNotFound", "Conversation not found.")
		return
	}
	u, ok := s.users[r.PathValue("member")]
	if !ok {
		writeError(w, http.StatusNotFound, "MemberNotFoundInConversation", "The member was not found in the conversation.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": u.ID, "name": u.Name, "aadObjectId": u.AADObjectID, "tenantId": s.tenantID, "userRole": "user",
		"userPrincipalName": strings.ToLower(strings.ReplaceAll(u.Name, " ", ".")) + "@example.com",
	})
}
