package slack

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/carebridge/carebridge/bridge"
)

// This file holds the HTTP Events API receiver (the Socket Mode receiver
// is in socket.go) and the decoding and conversion both receivers share
// from Slack's payloads to bridge.ChatEvent. Both only convert and
// deliver: the core dedupes on the event id (Slack delivers at least
// once) and decides what an event means. (Socket Mode also acks bots'
// events, which the core ignores, without handing them on: see
// SocketMode.)

const (
	// MaxEventBody is the largest Events API request body accepted.
	MaxEventBody = 1 << 20
	// SignatureMaxAge is how far a request's X-Slack-Request-Timestamp
	// may be from the receiver's clock, in either direction.
	SignatureMaxAge = 5 * time.Minute
	// DefaultEventTimeout bounds one call of the event handler. Slack
	// wants an answer (an HTTP 2xx, a Socket Mode ack) within 3 s.
	DefaultEventTimeout = 2500 * time.Millisecond
)

// EventsOption configures the event receivers (NewEventsHandler and
// NewSocketMode). An option that does not apply to a receiver is ignored
// by it.
type EventsOption func(*eventsConfig)

type eventsConfig struct {
	clock       bridge.Clock
	timeout     time.Duration
	dialer      *websocket.Dialer // Socket Mode
	pingTimeout time.Duration     // Socket Mode
}

// WithEventsClock sets the clock the HTTP handler checks request
// timestamps against (default: the system clock). Tests stub it.
func WithEventsClock(c bridge.Clock) EventsOption {
	return func(cfg *eventsConfig) {
		if c != nil {
			cfg.clock = c
		}
	}
}

// WithEventTimeout bounds each call of the event handler (default
// DefaultEventTimeout). Keep it under Slack's 3 s ack deadline.
func WithEventTimeout(d time.Duration) EventsOption {
	return func(cfg *eventsConfig) {
		if d > 0 {
			cfg.timeout = d
		}
	}
}

// WithSocketDialer sets the WebSocket dialer slack-go's Socket Mode client
// dials with (default: slack-go's, with the HTTPS proxy from the
// environment). Socket Mode only.
func WithSocketDialer(d *websocket.Dialer) EventsOption {
	return func(cfg *eventsConfig) {
		if d != nil {
			cfg.dialer = d
		}
	}
}

// WithSocketPingTimeout sets how long the Socket Mode connection may go
// without a WebSocket ping from Slack before slack-go gives it up and
// opens a new one (default DefaultSocketPingTimeout; slack-go checks once
// per timeout, so a dead connection is noticed within twice that). Slack
// pings every few seconds. Socket Mode only.
func WithSocketPingTimeout(d time.Duration) EventsOption {
	return func(cfg *eventsConfig) {
		if d > 0 {
			cfg.pingTimeout = d
		}
	}
}

func newEventsConfig(opts []EventsOption) eventsConfig {
	cfg := eventsConfig{clock: bridge.SystemClock{}, timeout: DefaultEventTimeout, pingTimeout: DefaultSocketPingTimeout}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return cfg
}

func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// ---- conversion ----

// Convert turns an Events API callback into a bridge.ChatEvent: a message
// without subtype or with thread_broadcast becomes EventMessage,
// message_changed EventMessageChanged (ItemTS is the edited message's
// original ts, Text the new text), message_deleted EventMessageDeleted
// (ItemTS is deleted_ts, User the deleted message's author), and
// reaction_added/removed on a message EventReactionAdded/Removed
// (Reaction without colons or a modifier such as "::skin-tone-N").
//
// It reports false for what carebridge ignores: other outer or inner
// event types, other message subtypes (bot_message, channel_join, ...),
// reactions to anything but a message, edits that leave the text as it
// was (link unfurls, reply counters, language detection), events without
// an id, and events lacking the channel or the ts they are about.
//
// Text is converted with PlainText. Bot is set when the message carries
// a bot_id or has the subtype bot_message, and also when the actor is the
// app's own bot user as named in the envelope's authorizations (the bot's
// own reactions carry no bot_id). At is eventTime, or the event's ts when
// eventTime is zero.
//
// ev is what slackevents.ParseEvent returns: InnerEvent.Data is a
// *slackevents.MessageEvent, *slackevents.ReactionAddedEvent or
// *slackevents.ReactionRemovedEvent (values are accepted too).
func Convert(ev slackevents.EventsAPIEvent, eventID string, eventTime time.Time) (bridge.ChatEvent, bool) {
	if ev.Type != slackevents.CallbackEvent || eventID == "" {
		return bridge.ChatEvent{}, false
	}
	out := bridge.ChatEvent{ID: eventID, At: eventTime}
	var ok bool
	switch d := ev.InnerEvent.Data.(type) {
	case *slackevents.MessageEvent:
		if d != nil {
			out, ok = convertMessage(d, out)
		}
	case slackevents.MessageEvent:
		out, ok = convertMessage(&d, out)
	case *slackevents.ReactionAddedEvent:
		if d != nil {
			out, ok = convertReaction(bridge.EventReactionAdded, *d, out)
		}
	case slackevents.ReactionAddedEvent:
		out, ok = convertReaction(bridge.EventReactionAdded, d, out)
	case *slackevents.ReactionRemovedEvent:
		if d != nil {
			out, ok = convertReaction(bridge.EventReactionRemoved, slackevents.ReactionAddedEvent(*d), out)
		}
	case slackevents.ReactionRemovedEvent:
		out, ok = convertReaction(bridge.EventReactionRemoved, slackevents.ReactionAddedEvent(d), out)
	}
	if !ok || out.Kind == "" || out.Channel == "" {
		return bridge.ChatEvent{}, false
	}
	if !out.Bot && out.User != "" {
		if cb, isCB := ev.Data.(*slackevents.EventsAPICallbackEvent); isCB && cb != nil {
			for _, a := range cb.Authorizations {
				if a.IsBot && a.UserID == out.User {
					out.Bot = true
				}
			}
		}
	}
	return out, true
}

func convertMessage(m *slackevents.MessageEvent, out bridge.ChatEvent) (bridge.ChatEvent, bool) {
	out.Channel = m.Channel
	if out.At.IsZero() {
		out.At = tsTime(m.EventTimeStamp, m.TimeStamp)
	}
	switch m.SubType {
	case "", "thread_broadcast":
		if m.TimeStamp == "" {
			return out, false
		}
		out.Kind = bridge.EventMessage
		out.User, out.TS, out.ThreadTS = m.User, m.TimeStamp, m.ThreadTimeStamp
		out.Text = PlainText(m.Text)
		out.Bot = m.BotID != ""
	case "message_changed":
		msg := m.Message
		// slack-go copies the top-level fields into Message when the
		// payload has no nested message; that copy is not the edit.
		if msg == nil || msg.SubType == "message_changed" || msg.Timestamp == "" {
			return out, false
		}
		if prev := m.PreviousMessage; prev != nil && prev.Text == msg.Text {
			return out, false // unfurl, reply counter, language detection
		}
		out.Kind = bridge.EventMessageChanged
		out.User, out.ItemTS, out.ThreadTS = msg.User, msg.Timestamp, msg.ThreadTimestamp
		if out.User == "" && msg.Edited != nil {
			out.User = msg.Edited.User
		}
		out.Text = PlainText(msg.Text)
		out.Bot = msg.BotID != "" || msg.SubType == "bot_message"
	case "message_deleted":
		out.Kind = bridge.EventMessageDeleted
		out.ItemTS = m.DeletedTimeStamp
		if prev := m.PreviousMessage; prev != nil {
			out.User, out.ThreadTS = prev.User, prev.ThreadTimestamp
			out.Bot = prev.BotID != "" || prev.SubType == "bot_message"
			if out.ItemTS == "" {
				out.ItemTS = prev.Timestamp
			}
		}
		if out.ItemTS == "" {
			return out, false
		}
	default: // bot_message, channel_join, message_replied, file_share, ...
		return out, false
	}
	return out, true
}

func convertReaction(kind bridge.ChatEventKind, r slackevents.ReactionAddedEvent, out bridge.ChatEvent) (bridge.ChatEvent, bool) {
	if r.Item.Type != "message" || r.Item.Timestamp == "" {
		return out, false
	}
	name, _, _ := strings.Cut(r.Reaction, "::") // "+1::skin-tone-2"; emoji names hold no colons
	name = strings.Trim(name, ":")
	if name == "" {
		return out, false
	}
	out.Kind = kind
	out.Channel, out.User, out.ItemTS, out.Reaction = r.Item.Channel, r.User, r.Item.Timestamp, name
	if out.At.IsZero() {
		out.At = tsTime(r.EventTimestamp)
	}
	return out, true
}

// tsTime reads the first Slack ts ("1700000000.000100") that parses.
func tsTime(tss ...string) time.Time {
	for _, ts := range tss {
		sec, frac, _ := strings.Cut(ts, ".")
		s, err := strconv.ParseInt(sec, 10, 64)
		if err != nil || s <= 0 {
			continue
		}
		var us int64
		if len(frac) == 6 {
			us, _ = strconv.ParseInt(frac, 10, 64)
		}
		return time.Unix(s, us*1000).UTC()
	}
	return time.Time{}
}

// PlainText turns Slack message text into what a customer should read.
// Slack writes links as <https://x|label> or <https://x>, e-mail
// addresses as <mailto:a@b|a@b>, mentions as <@U123>, channels as
// <#C123|name>, broadcasts as <!here>, and escapes &, < and > as &amp;,
// &lt; and &gt;. PlainText gives the URL of a link whatever its label
// says (a label can disguise the target; the customer gets the real link),
// the address of a mailto link, "@U123" for a mention (no name lookup),
// "#name" for a channel (or "#C123" without a name), "@here", "@channel"
// and "@everyone" for broadcasts, "@handle" for a user group, and the
// fallback text of a <!date^…|fallback>. Then it unescapes the three
// entities, once: what the person typed as "<@U1>" (sent by Slack as
// "&lt;@U1&gt;") comes back as typed, and "&amp;lt;" stays "&lt;". A
// '<' that opens no token is kept.
func PlainText(slackText string) string {
	if !strings.ContainsAny(slackText, "<&") {
		return slackText
	}
	var b strings.Builder
	b.Grow(len(slackText))
	s := slackText
	for s != "" {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(Unescape(s))
			break
		}
		b.WriteString(Unescape(s[:i]))
		rest := s[i+1:]
		j := strings.IndexAny(rest, "<>")
		if j < 0 || rest[j] == '<' {
			b.WriteByte('<') // not a token: keep it
			s = rest
			continue
		}
		b.WriteString(plainToken(rest[:j]))
		s = rest[j+1:]
	}
	return b.String()
}

// plainToken renders the inside of one <...> token.
func plainToken(tok string) string {
	target, label, _ := strings.Cut(tok, "|")
	switch {
	case strings.HasPrefix(target, "@"): // <@U123>, <@U123|name>
		return "@" + Unescape(target[1:])
	case strings.HasPrefix(target, "#"): // <#C123|name>, <#C123>
		if label != "" {
			return "#" + Unescape(label)
		}
		return "#" + Unescape(target[1:])
	case strings.HasPrefix(target, "!"):
		cmd := target[1:]
		name, _, _ := strings.Cut(cmd, "^")
		switch name {
		case "here", "channel", "everyone":
			return "@" + name
		case "subteam": // <!subteam^S123|@support>
			if label != "" {
				return "@" + strings.TrimPrefix(Unescape(label), "@")
			}
			return "@" + Unescape(strings.TrimPrefix(cmd, "subteam^"))
		}
		if label != "" { // <!date^1392734382^{date}|Feb 18, 2014>
			return Unescape(label)
		}
		return "@" + Unescape(name)
	case len(target) >= len("mailto:") && strings.EqualFold(target[:len("mailto:")], "mailto:"):
		return Unescape(target[len("mailto:"):])
	case target == "":
		return Unescape(label)
	default: // a link: the real target, never the label
		return Unescape(target)
	}
}

// ---- decoding ----

// envelope is the outer Events API payload, with only the fields the
// receivers use, so that unexpected shapes elsewhere do not matter.
type envelope struct {
	Type              string                     `json:"type"`
	Challenge         string                     `json:"challenge"`
	TeamID            string                     `json:"team_id"`
	APIAppID          string                     `json:"api_app_id"`
	EnterpriseID      string                     `json:"enterprise_id"`
	EventID           string                     `json:"event_id"`
	EventTime         int64                      `json:"event_time"`
	MinuteRateLimited int64                      `json:"minute_rate_limited"`
	Authorizations    []slack.EventAuthorization `json:"authorizations"`
	Event             json.RawMessage            `json:"event"`
}

// decoded is an Events API payload as the receivers see it.
type decoded struct {
	env       envelope
	innerType string                     // event_callback: the inner event type
	api       slackevents.EventsAPIEvent // event_callback with a converted inner type
	handled   bool                       // api is set: the inner type is one Convert knows
}

// handledInner are the inner event types Convert turns into chat events.
var handledInner = map[string]bool{
	string(slackevents.Message):         true,
	string(slackevents.ReactionAdded):   true,
	string(slackevents.ReactionRemoved): true,
}

var (
	errNoEventType = errors.New("no event type")
	errNoEventID   = errors.New("event_callback without event_id")
	errNoInner     = errors.New("event_callback without an event object")
)

// decodeEvents parses an Events API payload. Unlike slackevents.ParseEvent
// it accepts inner event types it does not know (they come back with
// handled false), and it reads only the fields carebridge uses from the
// events it handles, so that a block, attachment or file slack-go cannot
// decode (a reaction to a file, say) does not reject the event.
func decodeEvents(body []byte) (decoded, error) {
	var d decoded
	if err := json.Unmarshal(body, &d.env); err != nil {
		return d, fmt.Errorf("decode envelope: %w", err)
	}
	switch d.env.Type {
	case "":
		return d, errNoEventType
	case slackevents.CallbackEvent:
	default:
		return d, nil
	}
	if d.env.EventID == "" {
		return d, errNoEventID
	}
	raw := d.env.Event
	if len(raw) == 0 || raw[0] != '{' {
		return d, errNoInner
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return d, fmt.Errorf("decode event: %w", err)
	}
	d.innerType = head.Type
	if !handledInner[head.Type] {
		return d, nil
	}
	var data any
	switch slackevents.EventsAPIType(head.Type) {
	case slackevents.Message:
		var w wireMessageEvent
		if err := json.Unmarshal(raw, &w); err != nil {
			return d, fmt.Errorf("decode %s event: %w", head.Type, err)
		}
		data = w.slackEvent()
	default: // reaction_added, reaction_removed
		var w wireReaction
		if err := json.Unmarshal(raw, &w); err != nil {
			return d, fmt.Errorf("decode %s event: %w", head.Type, err)
		}
		r := slackevents.ReactionAddedEvent{
			Type: w.Type, User: w.User, Reaction: w.Reaction, ItemUser: w.ItemUser, EventTimestamp: w.EventTS,
			Item: slackevents.Item{Type: w.Item.Type, Channel: w.Item.Channel, Timestamp: w.Item.TS},
		}
		if head.Type == string(slackevents.ReactionRemoved) {
			removed := slackevents.ReactionRemovedEvent(r)
			data = &removed
		} else {
			data = &r
		}
	}
	inner := raw
	d.api = slackevents.EventsAPIEvent{
		TeamID: d.env.TeamID, Type: d.env.Type, APIAppID: d.env.APIAppID, EnterpriseID: d.env.EnterpriseID,
		Data: &slackevents.EventsAPICallbackEvent{
			Type: d.env.Type, TeamID: d.env.TeamID, APIAppID: d.env.APIAppID, EnterpriseID: d.env.EnterpriseID,
			InnerEvent: &inner, EventID: d.env.EventID, EventTime: int(d.env.EventTime),
			Authorizations: d.env.Authorizations,
		},
		InnerEvent: slackevents.EventsAPIInnerEvent{Type: head.Type, Data: data},
	}
	d.handled = true
	return d, nil
}

// wireMsg is the part of a Slack message object carebridge reads.
type wireMsg struct {
	Type     string `json:"type"`
	SubType  string `json:"subtype"`
	User     string `json:"user"`
	BotID    string `json:"bot_id"`
	Text     string `json:"text"`
	TS       string `json:"ts"`
	ThreadTS string `json:"thread_ts"`
	Edited   *struct {
		User string `json:"user"`
		TS   string `json:"ts"`
	} `json:"edited"`
}

func (m *wireMsg) slackMsg() *slack.Msg {
	if m == nil {
		return nil
	}
	out := &slack.Msg{Type: m.Type, SubType: m.SubType, User: m.User, BotID: m.BotID, Text: m.Text,
		Timestamp: m.TS, ThreadTimestamp: m.ThreadTS}
	if m.Edited != nil {
		out.Edited = &slack.Edited{User: m.Edited.User, Timestamp: m.Edited.TS}
	}
	return out
}

// wireMessageEvent is the part of a message event carebridge reads.
type wireMessageEvent struct {
	wireMsg
	Channel         string   `json:"channel"`
	ChannelType     string   `json:"channel_type"`
	EventTS         string   `json:"event_ts"`
	DeletedTS       string   `json:"deleted_ts"`
	Message         *wireMsg `json:"message"`
	PreviousMessage *wireMsg `json:"previous_message"`
}

// slackEvent builds what slackevents.ParseEvent would, including its
// habit of copying the top-level fields into Message when there is no
// nested message.
func (w *wireMessageEvent) slackEvent() *slackevents.MessageEvent {
	m := &slackevents.MessageEvent{
		Type: w.Type, User: w.User, Text: w.Text, ThreadTimeStamp: w.ThreadTS, TimeStamp: w.TS,
		Channel: w.Channel, ChannelType: w.ChannelType, EventTimeStamp: w.EventTS, SubType: w.SubType,
		BotID: w.BotID, DeletedTimeStamp: w.DeletedTS,
		Message: w.Message.slackMsg(), PreviousMessage: w.PreviousMessage.slackMsg(),
	}
	if m.Message == nil {
		top := w.wireMsg
		m.Message = top.slackMsg()
		m.Message.Channel, m.Message.EventTimestamp, m.Message.DeletedTimestamp = w.Channel, w.EventTS, w.DeletedTS
	}
	return m
}

// wireReaction is the part of a reaction event carebridge reads.
type wireReaction struct {
	Type     string `json:"type"`
	User     string `json:"user"`
	Reaction string `json:"reaction"`
	ItemUser string `json:"item_user"`
	EventTS  string `json:"event_ts"`
	Item     struct {
		Type    string `json:"type"`
		Channel string `json:"channel"`
		TS      string `json:"ts"`
	} `json:"item"`
}

// callbackMeta returns the event id and time of a parsed callback.
func callbackMeta(ev slackevents.EventsAPIEvent) (string, time.Time) {
	cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent)
	if !ok || cb == nil {
		return "", time.Time{}
	}
	var at time.Time
	if cb.EventTime > 0 {
		at = time.Unix(int64(cb.EventTime), 0).UTC()
	}
	return cb.EventID, at
}

// ---- HTTP Events API ----

// EventsHandler receives the HTTP Events API (mount it at POST
// /slack/events). For each request it:
//
//   - reads at most MaxEventBody bytes (larger: 413);
//   - checks the v0 signature: HMAC-SHA256 of "v0:"+timestamp+":"+body
//     under the signing secret, compared in constant time, with the
//     timestamp at most SignatureMaxAge from its clock (otherwise 401);
//   - answers url_verification with the challenge (200, text/plain);
//   - logs app_rate_limited as a warning (200);
//   - acknowledges with 200 every event carebridge ignores (unknown outer
//     or inner types, see Convert);
//   - hands each chat event to the ChatEventHandler, bounded by the event
//     timeout: nil → 200; an error → 500, so that Slack retries with the
//     same event_id (the handler dedupes);
//   - answers a malformed payload with 400 and X-Slack-No-Retry: 1.
//
// The signature check is written here rather than with
// slack.NewSecretsVerifier, which reads time.Now and cannot be given a
// clock; it implements the same scheme. The handler call is detached from
// the request's cancellation (Slack gives up after 3 s; the work, bounded
// by the timeout, finishes so a retry finds it done).
type EventsHandler struct {
	secret []byte
	h      bridge.ChatEventHandler
	log    *slog.Logger
	cfg    eventsConfig
}

var _ http.Handler = (*EventsHandler)(nil)

// NewEventsHandler returns the HTTP Events API receiver. signingSecret is
// the app's signing secret; when it is empty every request is refused.
// A nil log discards.
func NewEventsHandler(signingSecret string, h bridge.ChatEventHandler, log *slog.Logger, opts ...EventsOption) *EventsHandler {
	return &EventsHandler{secret: []byte(signingSecret), h: h, log: orDiscard(log), cfg: newEventsConfig(opts)}
}

// Signature errors.
var (
	errNoSecret       = errors.New("no signing secret configured")
	errNoSignature    = errors.New("missing X-Slack-Signature or X-Slack-Request-Timestamp")
	errBadTimestamp   = errors.New("malformed X-Slack-Request-Timestamp")
	errStaleTimestamp = errors.New("request timestamp outside the 5 minute window")
	errBadSignature   = errors.New("signature mismatch")
)

// verifySignature checks Slack's v0 request signature.
func verifySignature(secret []byte, hdr http.Header, body []byte, now time.Time) error {
	if len(secret) == 0 {
		return errNoSecret
	}
	tsHdr, sigHdr := hdr.Get("X-Slack-Request-Timestamp"), hdr.Get("X-Slack-Signature")
	if tsHdr == "" || sigHdr == "" {
		return errNoSignature
	}
	ts, err := strconv.ParseInt(tsHdr, 10, 64)
	if err != nil {
		return errBadTimestamp
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > SignatureMaxAge || skew < -SignatureMaxAge {
		return errStaleTimestamp
	}
	hexSig, ok := strings.CutPrefix(sigHdr, "v0=")
	if !ok {
		return errBadSignature
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return errBadSignature
	}
	mac := hmac.New(sha256.New, secret)
	_, _ = io.WriteString(mac, "v0:"+tsHdr+":")
	_, _ = mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return errBadSignature
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (e *EventsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	retry := []any{}
	if n := r.Header.Get("X-Slack-Retry-Num"); n != "" {
		retry = append(retry, "retry_num", n, "retry_reason", r.Header.Get("X-Slack-Retry-Reason"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEventBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			e.log.Warn("slack events: request body too large", "limit_bytes", MaxEventBody, "remote_addr", r.RemoteAddr)
			noRetry(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		e.log.Warn("slack events: cannot read request body", "err", err, "remote_addr", r.RemoteAddr)
		http.Error(w, "cannot read request body", http.StatusBadRequest)
		return
	}
	if err := verifySignature(e.secret, r.Header, body, e.cfg.clock.Now()); err != nil {
		level := slog.LevelWarn
		if errors.Is(err, errNoSecret) {
			level = slog.LevelError
		}
		e.log.Log(r.Context(), level, "slack events: request refused", append([]any{"reason", err.Error(), "remote_addr", r.RemoteAddr}, retry...)...)
		http.Error(w, "invalid request signature", http.StatusUnauthorized)
		return
	}
	d, err := decodeEvents(body)
	if err != nil {
		e.log.Warn("slack events: malformed payload", append([]any{"err", err, "event_id", d.env.EventID}, retry...)...)
		noRetry(w, http.StatusBadRequest, "malformed event payload")
		return
	}
	switch d.env.Type {
	case slackevents.URLVerification:
		if d.env.Challenge == "" {
			noRetry(w, http.StatusBadRequest, "url_verification without challenge")
			return
		}
		e.log.Info("slack events: url_verification answered")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, d.env.Challenge)
		return
	case slackevents.AppRateLimited:
		e.log.Warn("slack events: Slack is rate limiting this app's events (over 30,000 an hour); some events were not delivered",
			"team_id", d.env.TeamID, "api_app_id", d.env.APIAppID, "minute_rate_limited", d.env.MinuteRateLimited)
		w.WriteHeader(http.StatusOK)
		return
	case slackevents.CallbackEvent:
	default:
		e.log.Debug("slack events: outer type ignored", "type", d.env.Type)
		w.WriteHeader(http.StatusOK)
		return
	}
	if !d.handled {
		e.log.Debug("slack events: event type ignored", "event_id", d.env.EventID, "event_type", d.innerType)
		w.WriteHeader(http.StatusOK)
		return
	}
	id, at := callbackMeta(d.api)
	ev, ok := Convert(d.api, id, at)
	if !ok {
		e.log.Debug("slack events: event ignored", "event_id", id, "event_type", d.innerType)
		w.WriteHeader(http.StatusOK)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), e.cfg.timeout)
	defer cancel()
	if err := e.h.HandleChatEvent(ctx, ev); err != nil {
		e.log.Error("slack events: event not handled; Slack will retry",
			append([]any{"event_id", ev.ID, "kind", string(ev.Kind), "channel", ev.Channel, "err", err}, retry...)...)
		http.Error(w, "event not handled", http.StatusInternalServerError)
		return
	}
	e.log.Debug("slack events: event handled", append([]any{"event_id", ev.ID, "kind", string(ev.Kind), "channel", ev.Channel}, retry...)...)
	w.WriteHeader(http.StatusOK)
}

// noRetry answers an error that a retry cannot fix.
func noRetry(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("X-Slack-No-Retry", "1")
	http.Error(w, msg, status)
}
