package slackfake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	mrand "math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Event is one Events API event the fake produced, with its delivery state.
type Event struct {
	ID        string          // event_id ("Ev...")
	Type      string          // inner event type: "message", "reaction_added", ...
	Subtype   string          // message subtype ("message_changed", ...), "" if none
	Channel   string          // channel the event happened in
	Payload   json.RawMessage // the full Events API envelope ("event_callback")
	Attempts  int             // deliveries made so far, duplicates and retries included
	Delivered bool            // acked (Socket Mode) or answered 2xx (HTTP) at least once
}

type eventRec struct {
	id, typ, subtype, channel string
	payload                   []byte
	attempts                  int
	delivered                 bool
	interactive               bool // a block_actions interaction (interactions.go): no retries
}

// job is one delivery of an event: a first attempt and its retries.
type job struct {
	ev       *eventRec
	attempt  int    // 0 for the first attempt, n for the nth retry
	reason   string // why the current attempt is a retry
	finished bool
	envID    string      // Socket Mode envelope in flight
	timer    *time.Timer // Socket Mode ack timer
}

// Events returns every event produced so far, oldest first.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, 0, len(s.events))
	for _, e := range s.events {
		out = append(out, Event{ID: e.id, Type: e.typ, Subtype: e.subtype, Channel: e.channel,
			Payload: cloneRaw(e.payload), Attempts: e.attempts, Delivered: e.delivered})
	}
	return out
}

// Redeliver delivers an already produced event n more times, each as an
// independent delivery (new envelope in Socket Mode; a fresh signed POST
// without retry headers over HTTP), as happens with Slack's at-least-once
// delivery. It returns an error if the event is unknown.
func (s *Server) Redeliver(eventID string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := s.eventByID[eventID]
	if ev == nil {
		return fmt.Errorf("slackfake: unknown event %q", eventID)
	}
	for range n {
		s.outstanding++
		s.dispatchLocked(&job{ev: ev})
	}
	return nil
}

// WaitIdle waits until no delivery is pending, in flight or awaiting a
// retry (each one delivered or given up), or until ctx ends. In Socket Mode
// with no client connected, events wait, so WaitIdle waits too.
func (s *Server) WaitIdle(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		n, closed := s.outstanding, s.closed
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		if closed {
			return errors.New("slackfake: server closed")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("slackfake: %d deliveries still pending: %w", n, ctx.Err())
		case <-t.C:
		}
	}
}

// ---- human actions ----

// UserPosts posts text as a human user, top-level or (threadTS != "") as a
// thread reply, and delivers the message event. The text is taken as Slack
// message text (escape &, <, > yourself). It returns the new message's ts.
func (s *Server) UserPosts(channelID, userID, threadTS, text string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[channelID]
	if ch == nil {
		return "", fmt.Errorf("slackfake: unknown channel %q", channelID)
	}
	if userID == "" || text == "" {
		return "", errors.New("slackfake: user and text are required")
	}
	m := &message{channel: ch.id, user: userID, text: text, clientMsgID: newUUID(), blockID: randomBlockID()}
	if threadTS != "" {
		parent := s.messageLocked(ch.id, threadTS)
		if parent == nil {
			return "", fmt.Errorf("slackfake: no message %s in %s to reply to", threadTS, channelID)
		}
		if parent.threadTS != "" && parent.threadTS != parent.ts {
			return "", fmt.Errorf("slackfake: %s is a thread reply; reply to its parent %s", threadTS, parent.threadTS)
		}
		m.threadTS, m.parentUser = threadTS, parent.user
	}
	m.blocks = richTextBlocks(text, m.blockID)
	m.ts = s.nextTSLocked()
	s.addMessageLocked(m)
	s.emitRawLocked("message", "", ch.id, s.newMessageEventLocked(m))
	return m.ts, nil
}

// UserEdits replaces the text of a human's message as its author would,
// and delivers message_changed.
func (s *Server) UserEdits(channelID, ts, newText string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.messageLocked(channelID, ts)
	if m == nil {
		return fmt.Errorf("slackfake: no message %s in %s", ts, channelID)
	}
	if m.botID != "" {
		return fmt.Errorf("slackfake: %s is the bot's message; users cannot edit it", ts)
	}
	if newText == "" {
		return errors.New("slackfake: text is required")
	}
	prev := s.messageObjectLocked(m)
	editTS := s.nextTSLocked()
	m.history = append(m.history, Revision{Text: m.text, Blocks: cloneRaw(m.blocks), Metadata: cloneRaw(m.metadata), ReplacedAt: editTS})
	m.text = newText
	m.blocks = richTextBlocks(newText, m.blockID)
	m.editedBy, m.editedTS = m.user, editTS
	s.emitLocked("message", "message_changed", channelID, s.changedEventLocked(m, prev, editTS))
	return nil
}

// UserDeletes deletes a message (as its author or an admin would) and
// delivers message_deleted.
func (s *Server) UserDeletes(channelID, ts string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.messageLocked(channelID, ts)
	if m == nil {
		return fmt.Errorf("slackfake: no message %s in %s", ts, channelID)
	}
	s.deleteLocked(m)
	return nil
}

// UserReacts adds a user's reaction (emoji name without colons) to a
// message and delivers reaction_added. Reacting twice with the same emoji
// changes nothing and delivers nothing, as in Slack.
func (s *Server) UserReacts(channelID, ts, userID, emoji string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.messageLocked(channelID, ts)
	if m == nil {
		return fmt.Errorf("slackfake: no message %s in %s", ts, channelID)
	}
	name, ok := reactionName(emoji)
	if !ok || userID == "" {
		return fmt.Errorf("slackfake: bad reaction %q by %q", emoji, userID)
	}
	s.reactLocked(m, userID, name)
	return nil
}

// UserUnreacts removes a user's reaction and delivers reaction_removed;
// removing an absent reaction changes nothing and delivers nothing.
func (s *Server) UserUnreacts(channelID, ts, userID, emoji string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byTS[channelID+"/"+ts]
	if m == nil {
		return fmt.Errorf("slackfake: no message %s in %s", ts, channelID)
	}
	name, ok := reactionName(emoji)
	if !ok {
		return fmt.Errorf("slackfake: bad reaction %q", emoji)
	}
	s.unreactLocked(m, userID, name)
	return nil
}

// ---- payloads ----

func (s *Server) channelType(channelID string) string {
	switch {
	case strings.HasPrefix(channelID, "G"):
		return "group"
	case strings.HasPrefix(channelID, "D"):
		return "im"
	default:
		return "channel"
	}
}

func (s *Server) botProfile() map[string]any {
	return map[string]any{
		"id": s.cfg.botID, "deleted": false, "name": s.cfg.botName,
		"updated": s.cfg.createdAtUnixSecond, "app_id": s.cfg.appID,
		"icons": map[string]any{
			"image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png",
			"image_48": "https://a.slack-edge.com/80588/img/plugins/app/bot_48.png",
			"image_72": "https://a.slack-edge.com/80588/img/plugins/app/service_72.png",
		},
		"team_id": s.cfg.teamID,
	}
}

// messageObjectLocked renders a message as Slack's message object (as in
// API responses and inside message_changed): see
// appendMessageObjectLocked.
func (s *Server) messageObjectLocked(m *message) json.RawMessage {
	return s.appendMessageObjectLocked(m.jsonBuffer(), m, true, nil)
}

// newMessageEventLocked renders the message event of a new message.
func (s *Server) newMessageEventLocked(m *message) json.RawMessage {
	return s.appendMessageObjectLocked(m.jsonBuffer(), m, true, &eventFields{channel: m.channel, channelType: s.channelType(m.channel), eventTS: m.ts})
}

func (s *Server) changedEventLocked(m *message, prev json.RawMessage, evTS string) map[string]any {
	return map[string]any{
		"type": "message", "subtype": "message_changed", "hidden": true,
		"channel": m.channel, "ts": evTS, "event_ts": evTS, "channel_type": s.channelType(m.channel),
		"message": s.messageObjectLocked(m), "previous_message": prev,
	}
}

func (s *Server) deletedEventLocked(m *message, prev json.RawMessage, evTS string) map[string]any {
	return map[string]any{
		"type": "message", "subtype": "message_deleted", "hidden": true,
		"channel": m.channel, "ts": evTS, "event_ts": evTS, "channel_type": s.channelType(m.channel),
		"deleted_ts": m.ts, "previous_message": prev,
	}
}

func (s *Server) reactionEventLocked(typ string, m *message, userID, name string) map[string]any {
	ev := map[string]any{
		"type": typ, "user": userID, "reaction": name,
		"item":     map[string]any{"type": "message", "channel": m.channel, "ts": m.ts},
		"event_ts": s.nextTSLocked(),
	}
	if m.user != "" {
		ev["item_user"] = m.user
	}
	return ev
}

// emitLocked wraps an inner event in the Events API envelope, records it and
// queues its delivery.
func (s *Server) emitLocked(typ, subtype, channelID string, inner map[string]any) {
	raw, err := marshal(inner)
	if err != nil {
		panic("slackfake: cannot encode event: " + err.Error())
	}
	s.emitRawLocked(typ, subtype, channelID, raw)
}

// emitRawLocked is emitLocked for an inner event already encoded.
func (s *Server) emitRawLocked(typ, subtype, channelID string, inner json.RawMessage) {
	s.eventSeq++
	id := eventID(s.eventSeq)
	payload := s.appendEventCallback(make([]byte, 0, len(inner)+600), typ, channelID, id, inner)
	rec := &eventRec{id: id, typ: typ, subtype: subtype, channel: channelID, payload: payload}
	s.events = append(s.events, rec)
	s.eventByID[id] = rec
	s.outstanding++
	s.dispatchLocked(&job{ev: rec})
}

// dispatchLocked queues an attempt on the current transport.
func (s *Server) dispatchLocked(j *job) {
	if s.closed || j.finished {
		return
	}
	if s.httpURL != "" {
		s.httpQueue = append(s.httpQueue, j)
		select {
		case s.httpSignal <- struct{}{}:
		default:
		}
		return
	}
	s.smQueue = append(s.smQueue, j)
	s.wakeSocketsLocked()
}

// retryLocked schedules the next attempt of a failed delivery, or gives up.
func (s *Server) retryLocked(j *job, reason string) {
	if j.finished {
		return
	}
	if j.attempt >= len(s.cfg.retryDelays) {
		s.finishLocked(j, false)
		return
	}
	delay := s.cfg.retryDelays[j.attempt]
	j.attempt++
	j.reason = reason
	s.scheduleLocked(delay, func() { s.dispatchLocked(j) })
}

func (s *Server) finishLocked(j *job, delivered bool) {
	if j.finished {
		return
	}
	j.finished = true
	s.stopTimerLocked(j.timer)
	j.timer = nil
	if delivered {
		j.ev.delivered = true
	}
	s.outstanding--
}

// ---- ids and rich text ----

func eventID(n int64) string {
	v := strings.ToUpper(strconv.FormatInt(n+36*36*36*36*36*36, 36))
	return "Ev" + strings.Repeat("0", max(0, 10-len(v))) + v
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

const blockIDChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomBlockID() string {
	b := make([]byte, 5)
	for i := range b {
		b[i] = blockIDChars[mrand.IntN(len(blockIDChars))]
	}
	return string(b)
}

var controlSeq = regexp.MustCompile(`<([^<>]*)>`)

// richTextBlocks renders Slack message text as the rich_text block a Slack
// client attaches: plain text (unescaped), <@U..> user, <#C..> channel and
// <!subteam^S..> user group mentions, <!channel|here|everyone> broadcasts
// and <url|label> links.
func richTextBlocks(text, blockID string) json.RawMessage {
	var elems []map[string]any
	addText := func(t string) {
		if t != "" {
			elems = append(elems, map[string]any{"type": "text", "text": html.UnescapeString(t)})
		}
	}
	last := 0
	for _, loc := range controlSeq.FindAllStringSubmatchIndex(text, -1) {
		addText(text[last:loc[0]])
		last = loc[1]
		inner := text[loc[2]:loc[3]]
		target, label, _ := strings.Cut(inner, "|")
		switch {
		case strings.HasPrefix(target, "@U") || strings.HasPrefix(target, "@W"):
			elems = append(elems, map[string]any{"type": "user", "user_id": target[1:]})
		case strings.HasPrefix(target, "#C") || strings.HasPrefix(target, "#G"):
			elems = append(elems, map[string]any{"type": "channel", "channel_id": target[1:]})
		case strings.HasPrefix(target, "!subteam^"):
			elems = append(elems, map[string]any{"type": "usergroup", "usergroup_id": strings.TrimPrefix(target, "!subteam^")})
		case target == "!channel" || target == "!here" || target == "!everyone":
			elems = append(elems, map[string]any{"type": "broadcast", "range": target[1:]})
		case strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") || strings.HasPrefix(target, "mailto:"):
			link := map[string]any{"type": "link", "url": html.UnescapeString(target)}
			if label != "" {
				link["text"] = html.UnescapeString(label)
			}
			elems = append(elems, link)
		default:
			addText(text[loc[0]:loc[1]])
		}
	}
	addText(text[last:])
	if elems == nil {
		elems = []map[string]any{}
	}
	blocks := []map[string]any{{
		"type": "rich_text", "block_id": blockID,
		"elements": []map[string]any{{"type": "rich_text_section", "elements": elems}},
	}}
	b, _ := marshal(blocks)
	return b
}

// marshal encodes like Slack does: &, < and > stay literal (encoding/json
// would write \u0026, \u003c, \u003e).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
