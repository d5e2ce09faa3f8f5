package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/carebridge/carebridge/bridge"
)

// This file holds the Socket Mode receiver: a small client of Slack's
// Socket Mode protocol (apps.connections.open, then a WebSocket carrying
// hello, events_api, interactive, slash_commands and disconnect frames,
// each envelope acknowledged with {"envelope_id":...}). It decodes each
// frame once, into the few fields it needs, and recognises the echo of
// the bot's own messages before any further decoding.

const (
	// DefaultSocketPingTimeout is how long the Socket Mode receiver waits
	// for a frame or a WebSocket ping from Slack before it opens a new
	// connection (slack-go's socketmode client waited as long).
	DefaultSocketPingTimeout = 30 * time.Second
	// DefaultSocketHandshakeTimeout bounds the WebSocket handshake.
	DefaultSocketHandshakeTimeout = 30 * time.Second

	// socketReadLimit is the largest frame accepted: an Events API
	// payload (MaxEventBody) and its envelope.
	socketReadLimit = 2 * MaxEventBody
	// socketWriteWait bounds the write of an ack, a pong or a close frame.
	socketWriteWait = 5 * time.Second
	// socketStable is how long a connection must have lived for the
	// reconnection backoff to start again from its minimum.
	socketStable = 30 * time.Second
)

// Socket Mode frame types.
const (
	frameHello         = "hello"
	frameDisconnect    = "disconnect"
	frameEventsAPI     = "events_api"
	frameInteractive   = "interactive"
	frameSlashCommands = "slash_commands"
)

// SocketMode receives events over Slack's Socket Mode (a WebSocket the
// app opens with its app-level xapp- token; no public URL needed). It
// hands each chat event to the ChatEventHandler (bounded by the event
// timeout) and acknowledges the envelope only when the handler returned
// nil: an unacknowledged envelope is redelivered by Slack, and the handler
// dedupes on the event id. Events carebridge ignores are acknowledged at
// once, and so are bots' events (Convert's Bot: carebridge's own posts
// echoed back by Slack above all), which the core ignores anyway: they
// never reach the handler, and a bot's message is recognised without
// being decoded further than its subtype and bot_id. interactive and
// slash_commands requests are acknowledged and ignored. Events are handled
// one at a time, in the order they arrive; carebridge's handler
// (bridge.Service.Inbox) only stores the event, so even a burst is
// acknowledged well inside Slack's 3 s window.
//
// A disconnect frame (Slack refreshing the connection) opens a new
// connection at once; a connection that drops, fails or stays silent
// (no frame or ping) for the ping timeout is replaced after a backoff
// (100 ms doubling to 5 min, with jitter), and so is a failed
// apps.connections.open, except one refusing the token (invalid_auth,
// not_authed, token_revoked, ...), which ends Run with an error.
type SocketMode struct {
	api *slack.Client
	h   bridge.ChatEventHandler
	log *slog.Logger
	cfg eventsConfig

	backoffMin, backoffMax time.Duration
}

// NewSocketMode returns a Socket Mode receiver. api must carry the
// app-level token (slack.OptionAppLevelToken). A nil log discards.
func NewSocketMode(api *slack.Client, h bridge.ChatEventHandler, log *slog.Logger, opts ...EventsOption) *SocketMode {
	return &SocketMode{api: api, h: h, log: orDiscard(log), cfg: newEventsConfig(opts),
		backoffMin: 100 * time.Millisecond, backoffMax: 5 * time.Minute}
}

// errDisconnectRequested ends a connection Slack asked to replace.
var errDisconnectRequested = errors.New("disconnect requested")

// Run connects and receives events until ctx ends (then it closes the
// connection and returns nil) or Slack refuses the app-level token (an
// error naming Slack's error code). It reconnects by itself on disconnect
// requests, silent connections and network errors. Run may be called
// again after it returned.
func (s *SocketMode) Run(ctx context.Context) error {
	failures, conns := 0, 0
	for {
		s.log.Debug("slack socket mode connecting", "attempt", failures+1, "connection_count", conns)
		conn, err := s.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if code, refused := tokenRefused(err); refused {
				s.log.Error("slack socket mode: invalid app-level token", "error_code", code)
				return fmt.Errorf("the app-level token (slack.app_token) was refused: %w", err)
			}
			failures++
			if !s.pause(ctx, failures, err) {
				break
			}
			continue
		}
		conns++
		s.log.Info("slack socket mode connected", "connection_count", conns)
		start := time.Now()
		err = s.serve(ctx, conn)
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, errDisconnectRequested) {
			failures = 0
			continue
		}
		if time.Since(start) >= socketStable {
			failures = 0
		}
		failures++
		if !s.pause(ctx, failures, err) {
			break
		}
	}
	s.log.Info("slack socket mode stopped")
	return nil
}

// pause logs a failed connection and waits before the next attempt. It
// reports false if ctx ended first.
func (s *SocketMode) pause(ctx context.Context, failures int, err error) bool {
	d := s.backoff(failures)
	if rl, ok := errors.AsType[*slack.RateLimitedError](err); ok && rl.RetryAfter > d {
		d = rl.RetryAfter
	}
	s.log.Warn("slack socket mode connection failed; retrying", "attempt", failures, "backoff", d, "err", err)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// backoff is the pause after the nth consecutive failure: backoffMin
// doubling up to backoffMax, less up to a quarter of jitter.
func (s *SocketMode) backoff(n int) time.Duration {
	d := s.backoffMax
	if n < 30 {
		d = min(s.backoffMax, s.backoffMin<<(n-1))
	}
	if q := int64(d / 4); q > 0 {
		d -= time.Duration(rand.Int64N(q)) // #nosec G404 -- jitter needs no cryptographic randomness
	}
	return d
}

// tokenRefused reports whether apps.connections.open refused the token
// for good (reconnecting cannot help), with Slack's error code.
func tokenRefused(err error) (string, bool) {
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok {
		switch se.Err {
		case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
			"not_allowed_token_type", "missing_scope", "no_permission":
			return se.Err, true
		}
	}
	if sc, ok := errors.AsType[slack.StatusCodeError](err); ok && sc.Code == http.StatusNotFound {
		return sc.Error(), true // slack-go's socketmode client treated a 404 as invalid auth too
	}
	return "", false
}

// connect opens a Socket Mode connection: a fresh URL from
// apps.connections.open, then the WebSocket handshake.
func (s *SocketMode) connect(ctx context.Context) (*websocket.Conn, error) {
	_, wsURL, err := s.api.StartSocketModeContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("apps.connections.open: %w", err)
	}
	d := s.cfg.dialer
	if d == nil {
		d = &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: DefaultSocketHandshakeTimeout}
	}
	conn, resp, err := d.DialContext(ctx, wsURL, http.Header{"Origin": {"https://api.slack.com"}})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("socket mode handshake: %w (HTTP %s)", err, resp.Status)
		}
		return nil, fmt.Errorf("socket mode handshake: %w", err)
	}
	conn.SetReadLimit(socketReadLimit)
	return conn, nil
}

// serve reads frames until the connection fails, Slack asks for a new
// one (errDisconnectRequested) or ctx ends; it closes conn.
func (s *SocketMode) serve(ctx context.Context, conn *websocket.Conn) error {
	done, closed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(closed)
		select {
		case <-ctx.Done():
		case <-done:
		}
		// A close frame, then the TCP connection. WriteControl and Close
		// may be called while the reader reads.
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = conn.Close()
	}()
	defer func() {
		close(done)
		<-closed
	}()

	timeout := s.cfg.pingTimeout
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(socketWriteWait))
		if ne, ok := errors.AsType[net.Error](err); errors.Is(err, websocket.ErrCloseSent) || ok && ne.Timeout() {
			return nil // as gorilla's default ping handler
		}
		return err
	})
	var wmu sync.Mutex
	ack := func(envelopeID string) error {
		b, err := json.Marshal(socketAck{EnvelopeID: envelopeID})
		if err != nil {
			return err
		}
		wmu.Lock()
		defer wmu.Unlock()
		_ = conn.SetWriteDeadline(time.Now().Add(socketWriteWait))
		return conn.WriteMessage(websocket.TextMessage, b)
	}
	for {
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
		_, data, err := conn.ReadMessage()
		if err != nil {
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				return fmt.Errorf("no frame or ping from Slack for %s: %w", timeout, err)
			}
			return fmt.Errorf("socket mode read: %w", err)
		}
		if s.handleFrame(ctx, data, ack) {
			return errDisconnectRequested
		}
	}
}

// socketAck is the acknowledgement of an envelope.
type socketAck struct {
	EnvelopeID string `json:"envelope_id"`
}

// socketFrame is a Socket Mode frame, with only the fields the receiver
// uses.
type socketFrame struct {
	Type           string          `json:"type"`
	EnvelopeID     string          `json:"envelope_id"`
	Payload        json.RawMessage `json:"payload"`
	RetryAttempt   int             `json:"retry_attempt"`
	RetryReason    string          `json:"retry_reason"`
	Reason         string          `json:"reason"`          // disconnect
	NumConnections int             `json:"num_connections"` // hello
}

// handleFrame handles one frame, acking envelopes through ack. It reports
// whether Slack asked for a new connection.
func (s *SocketMode) handleFrame(ctx context.Context, data []byte, ack func(envelopeID string) error) (disconnect bool) {
	var f socketFrame
	if err := json.Unmarshal(data, &f); err != nil {
		if f.EnvelopeID == "" {
			s.log.Warn("slack socket mode: unreadable frame", "err", err)
			return false
		}
		// A redelivery would fail the same way.
		s.log.Warn("slack socket mode: malformed frame acknowledged", "envelope_id", f.EnvelopeID, "type", f.Type, "err", err)
		s.ack(ctx, ack, f.EnvelopeID)
		return false
	}
	switch f.Type {
	case frameHello:
		s.log.Debug("slack socket mode hello", "num_connections", f.NumConnections)
	case frameDisconnect:
		s.log.Info("slack socket mode disconnect requested", "reason", f.Reason)
		return true
	case frameEventsAPI:
		s.handleEvents(ctx, &f, ack)
	case frameInteractive, frameSlashCommands:
		s.log.Debug("slack socket mode: request ignored", "type", f.Type)
		s.ack(ctx, ack, f.EnvelopeID)
	default:
		if f.EnvelopeID != "" {
			s.log.Warn("slack socket mode: unsupported request acknowledged", "type", f.Type)
			s.ack(ctx, ack, f.EnvelopeID)
			return false
		}
		s.log.Debug("slack socket mode: frame ignored", "type", f.Type)
	}
	return false
}

// handleEvents delivers the chat event of one events_api envelope, acking
// it unless the handler failed.
func (s *SocketMode) handleEvents(ctx context.Context, f *socketFrame, ack func(string) error) {
	retry := []any{"retry_attempt", f.RetryAttempt}
	if f.RetryReason != "" {
		retry = append(retry, "retry_reason", f.RetryReason)
	}
	if id, bot := botEvent(f.Payload); bot {
		s.log.Debug("slack socket mode: bot event ignored", "event_id", id)
		s.ack(ctx, ack, f.EnvelopeID)
		return
	}
	d, err := decodeEvents(f.Payload)
	if err != nil {
		s.log.Warn("slack socket mode: malformed event acknowledged", "event_id", d.env.EventID, "err", err)
		s.ack(ctx, ack, f.EnvelopeID)
		return
	}
	switch d.env.Type {
	case slackevents.CallbackEvent:
	case slackevents.AppRateLimited:
		s.log.Warn("slack socket mode: Slack is rate limiting this app's events (over 30,000 an hour); some events were not delivered",
			"team_id", d.env.TeamID, "api_app_id", d.env.APIAppID, "minute_rate_limited", d.env.MinuteRateLimited)
		s.ack(ctx, ack, f.EnvelopeID)
		return
	default:
		s.log.Debug("slack socket mode: outer type ignored", "type", d.env.Type)
		s.ack(ctx, ack, f.EnvelopeID)
		return
	}
	if !d.handled {
		s.log.Debug("slack socket mode: event type ignored", "event_id", d.env.EventID, "event_type", d.innerType)
		s.ack(ctx, ack, f.EnvelopeID)
		return
	}
	id, at := callbackMeta(d.api)
	ev, ok := Convert(d.api, id, at)
	if !ok || ev.Bot {
		s.log.Debug("slack socket mode: event ignored", "event_id", id, "event_type", d.innerType, "bot", ev.Bot)
		s.ack(ctx, ack, f.EnvelopeID)
		return
	}
	hctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	err = s.h.HandleChatEvent(hctx, ev)
	cancel()
	if err != nil {
		s.log.Error("slack socket mode: event not handled; not acknowledged, Slack will redeliver",
			append([]any{"event_id", ev.ID, "kind", string(ev.Kind), "channel", ev.Channel, "err", err}, retry...)...)
		return
	}
	s.log.Debug("slack socket mode: event handled", append([]any{"event_id", ev.ID, "kind", string(ev.Kind)}, retry...)...)
	s.ack(ctx, ack, f.EnvelopeID)
}

func (s *SocketMode) ack(ctx context.Context, ack func(string) error, envelopeID string) {
	if envelopeID == "" {
		return
	}
	if err := ack(envelopeID); err != nil && ctx.Err() == nil {
		s.log.Warn("slack socket mode: ack failed", "envelope_id", envelopeID, "err", err)
	}
}

// ---- bots' events ----

// botEnvelope, botEventHead and botMsg are the parts of an Events API
// payload that show a bot's message event. They read the same JSON keys
// into the same Go types as decodeEvents (envelope, wireMessageEvent), so
// that encoding/json's rules (last duplicate key wins, keys match case
// insensitively) give both the same values.
type botEnvelope struct {
	Type    string          `json:"type"`
	EventID string          `json:"event_id"`
	Event   json.RawMessage `json:"event"`
}

type botMsg struct {
	SubType string `json:"subtype"`
	BotID   string `json:"bot_id"`
}

type botEventHead struct {
	Type string `json:"type"`
	botMsg
	Message         *botMsg `json:"message"`
	PreviousMessage *botMsg `json:"previous_message"`
}

func (m *botMsg) fromBot() bool { return m.BotID != "" || m.SubType == "bot_message" }

// botEvent reports whether an Events API payload is a message event that
// the full path (decodeEvents, Convert) would ignore or mark Bot, judging
// from the subtype and bot_id alone: a message with a bot_id (carebridge's
// own posts come back so), an edit or deletion of a bot's message, a
// bot_message or any other subtype Convert ignores. It reads neither the
// text nor the blocks. With false the full path decides; it also returns
// the event id.
func botEvent(payload []byte) (eventID string, bot bool) {
	var env botEnvelope
	if json.Unmarshal(payload, &env) != nil || env.Type != slackevents.CallbackEvent || env.EventID == "" ||
		len(env.Event) == 0 || env.Event[0] != '{' {
		return env.EventID, false
	}
	var ev botEventHead
	if json.Unmarshal(env.Event, &ev) != nil || ev.Type != string(slackevents.Message) {
		return env.EventID, false
	}
	switch ev.SubType {
	case "", "thread_broadcast": // Convert: Bot = bot_id != ""
		return env.EventID, ev.BotID != ""
	case "message_changed": // Convert: Bot = the new message's; no nested message: ignored
		return env.EventID, ev.Message == nil || ev.Message.fromBot()
	case "message_deleted": // Convert: Bot = the deleted message's
		return env.EventID, ev.PreviousMessage != nil && ev.PreviousMessage.fromBot()
	default: // Convert ignores every other subtype, bot_message included
		return env.EventID, true
	}
}
