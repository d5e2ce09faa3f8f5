package slack

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/carebridge/carebridge/bridge"
)

// This file holds the Socket Mode receiver: slack-go's socketmode client
// keeps the connection (apps.connections.open, the WebSocket, Slack's
// pings, reconnection on disconnect requests, dropped or silent
// connections, with a backoff of 100 ms doubling to 5 min) and the
// receiver decides what each request means and when it is acknowledged.

const (
	// DefaultSocketPingTimeout is how long the Socket Mode connection may
	// go without a WebSocket ping from Slack before a new one is opened
	// (slack-go's default).
	DefaultSocketPingTimeout = 30 * time.Second

	// socketReadLimit is the largest frame accepted: an Events API
	// payload (MaxEventBody) and its envelope.
	socketReadLimit = 2 * MaxEventBody
	// socketAckWait bounds the wait for slack-go to take an ack (its
	// queue of 20 drains while a connection is open). An ack that cannot
	// be queued is dropped and Slack redelivers the envelope.
	socketAckWait = 5 * time.Second
	// socketRestartWait is the pause before slack-go's client is started
	// again after it stopped for a reason other than a refused token.
	socketRestartWait = time.Second
)

// SocketMode receives events over Slack's Socket Mode (a WebSocket the
// app opens with its app-level xapp- token; no public URL needed), through
// slack-go's socketmode client. It hands each chat event to the
// ChatEventHandler (bounded by the event timeout) and acknowledges the
// envelope only when the handler returned nil: an unacknowledged envelope
// is redelivered by Slack, and the handler dedupes on the event id.
// Events carebridge ignores are acknowledged at once, and so are bots'
// events (Convert's Bot: carebridge's own posts echoed back by Slack above
// all), which never reach the handler. interactive and slash_commands
// requests are acknowledged and ignored. Events are handled one at a
// time, in the order they arrive; carebridge's handler
// (bridge.Service.Inbox) only stores the event, so even a burst is
// acknowledged well inside Slack's 3 s window.
//
// The payload of an events_api envelope is read by the decoder the HTTP
// receiver uses (decodeEvents), so both receivers hand on the same events;
// an envelope slack-go's parser refuses (an inner event type or a block it
// does not know) is read the same way instead of being left to
// redelivery.
//
// slack-go reconnects by itself. A refused app-level token
// (invalid_auth, not_authed, token_revoked, not_allowed_token_type,
// missing_scope, ...) ends Run with an error: slack-go gives up on some of
// these codes and retries the others forever, so the receiver watches its
// connection errors and stops it.
type SocketMode struct {
	api *slack.Client
	h   bridge.ChatEventHandler
	log *slog.Logger
	cfg eventsConfig
}

// NewSocketMode returns a Socket Mode receiver. api must carry the
// app-level token (slack.OptionAppLevelToken). A nil log discards.
func NewSocketMode(api *slack.Client, h bridge.ChatEventHandler, log *slog.Logger, opts ...EventsOption) *SocketMode {
	return &SocketMode{api: api, h: h, log: orDiscard(log), cfg: newEventsConfig(opts)}
}

// tokenRefusedError is a refusal of the app-level token by
// apps.connections.open.
type tokenRefusedError struct {
	code string
	err  error
}

func (e *tokenRefusedError) Error() string {
	return "the app-level token (slack.app_token) was refused: " + e.err.Error()
}

func (e *tokenRefusedError) Unwrap() error { return e.err }

// Run connects and receives events until ctx ends (then it closes the
// connection and returns nil) or Slack refuses the app-level token (an
// error naming Slack's error code). Run may be called again after it
// returned.
func (s *SocketMode) Run(ctx context.Context) error {
	for {
		err := s.runClient(ctx)
		if ctx.Err() != nil {
			s.log.Info("slack socket mode stopped")
			return nil
		}
		if refused, ok := errors.AsType[*tokenRefusedError](err); ok {
			s.log.Error("slack socket mode: invalid app-level token", "error_code", refused.code)
			return refused
		}
		// slack-go's client returns only for a refused token or a
		// cancelled context; anything else is unexpected, and losing
		// events is worse than starting again.
		s.log.Warn("slack socket mode client stopped; starting it again", "backoff", socketRestartWait, "err", err)
		t := time.NewTimer(socketRestartWait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// runClient runs one slack-go socketmode client until it stops, draining
// its events.
func (s *SocketMode) runClient(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := []socketmode.Option{
		socketmode.OptionLog(slogOutput{s.log}),
		socketmode.OptionPingInterval(s.cfg.pingTimeout),
		socketmode.OptionReadLimit(socketReadLimit),
	}
	if s.cfg.dialer != nil {
		opts = append(opts, socketmode.OptionDialer(s.cfg.dialer))
	}
	sm := socketmode.New(s.api, opts...)
	done := make(chan error, 1)
	go func() { done <- sm.RunContext(ctx) }()
	conns := 0
	for {
		select {
		case err := <-done:
			if code, ok := tokenRefused(err); ok {
				return &tokenRefusedError{code: code, err: err}
			}
			return err
		case e := <-sm.Events:
			if err := s.dispatch(ctx, sm, e, &conns); err != nil {
				cancel() // slack-go would retry this refusal forever
				<-done
				return err
			}
		}
	}
}

// acker acknowledges Socket Mode envelopes (*socketmode.Client).
type acker interface {
	AckCtx(ctx context.Context, envelopeID string, payload any) error
}

// dispatch handles one event of slack-go's client. It returns an error
// only for a refused app-level token.
func (s *SocketMode) dispatch(ctx context.Context, sm acker, e socketmode.Event, conns *int) error {
	switch e.Type {
	case socketmode.EventTypeConnecting:
		if c, ok := e.Data.(*slack.ConnectingEvent); ok {
			s.log.Debug("slack socket mode connecting", "attempt", c.Attempt, "connection_count", *conns)
		}
	case socketmode.EventTypeConnected:
		*conns++
		s.log.Info("slack socket mode connected", "connection_count", *conns)
	case socketmode.EventTypeHello:
		if e.Request != nil {
			s.log.Debug("slack socket mode hello", "num_connections", e.Request.NumConnections)
		}
	case socketmode.EventTypeConnectionError:
		c, _ := e.Data.(*slack.ConnectionErrorEvent)
		if c == nil || ctx.Err() != nil {
			return nil // stopping: the attempt failed because of it
		}
		if code, ok := tokenRefused(c.ErrorObj); ok {
			return &tokenRefusedError{code: code, err: c.ErrorObj}
		}
		s.log.Warn("slack socket mode connection failed; retrying", "attempt", c.Attempt, "backoff", c.Backoff, "err", c.ErrorObj)
	case socketmode.EventTypeInvalidAuth:
		// slack-go stops; Run reports the error it returns.
	case socketmode.EventTypeIncomingError:
		ie, ok := e.Data.(*slack.IncomingEventError)
		switch {
		case !ok || ctx.Err() != nil:
		case errors.Is(ie.ErrorObj, net.ErrClosed):
			// slack-go closed the connection itself (a disconnect
			// request, a missed ping) and is opening a new one.
			s.log.Debug("slack socket mode connection closed", "err", ie.ErrorObj)
		default:
			s.log.Warn("slack socket mode connection lost; reconnecting", "err", ie.ErrorObj)
		}
	case socketmode.EventTypeErrorWriteFailed:
		if wf, ok := e.Data.(*socketmode.ErrorWriteFailed); ok && ctx.Err() == nil {
			envelope := ""
			if wf.Response != nil {
				envelope = wf.Response.EnvelopeID
			}
			s.log.Warn("slack socket mode: ack not sent; Slack will redeliver", "envelope_id", envelope, "err", wf.Cause)
		}
	case socketmode.EventTypeEventsAPI:
		if e.Request == nil {
			return nil
		}
		s.handleEvents(ctx, sm, e.Request)
	case socketmode.EventTypeErrorBadMessage:
		if bad, ok := e.Data.(*socketmode.ErrorBadMessage); ok && bad != nil {
			s.handleUnparsed(ctx, sm, bad)
		}
	case socketmode.EventTypeInteractive:
		if e.Request != nil {
			s.handleInteractive(ctx, sm, e.Request) // buttons (interactions.go)
		}
	case socketmode.EventTypeSlashCommand:
		if e.Request != nil {
			s.log.Debug("slack socket mode: request ignored", "type", string(e.Type))
			s.ack(ctx, sm, e.Request.EnvelopeID)
		}
	default:
		s.log.Debug("slack socket mode event", "type", string(e.Type))
	}
	return nil
}

// handleUnparsed handles a frame slack-go could not parse: an events_api
// envelope whose payload it refused is read by decodeEvents like any
// other; any other frame with an envelope id is acknowledged (a
// redelivery would fail the same way).
func (s *SocketMode) handleUnparsed(ctx context.Context, sm acker, bad *socketmode.ErrorBadMessage) {
	var req socketmode.Request
	if err := json.Unmarshal(bad.Message, &req); err != nil {
		if _, wrongType := errors.AsType[*json.UnmarshalTypeError](err); !wrongType {
			s.log.Warn("slack socket mode: unreadable frame", "err", bad.Cause)
			return
		}
		// A field of the wrong type (retry_attempt, say): encoding/json
		// has read the others.
	}
	if req.Type == socketmode.RequestTypeEventsAPI {
		s.handleEvents(ctx, sm, &req)
		return
	}
	if req.EnvelopeID == "" {
		s.log.Debug("slack socket mode: frame ignored", "type", req.Type, "err", bad.Cause)
		return
	}
	s.log.Warn("slack socket mode: unsupported request acknowledged", "type", req.Type, "err", bad.Cause)
	s.ack(ctx, sm, req.EnvelopeID)
}

// handleEvents delivers the chat event of one events_api envelope, acking
// it unless the handler failed.
func (s *SocketMode) handleEvents(ctx context.Context, sm acker, req *socketmode.Request) {
	retry := []any{"retry_attempt", req.RetryAttempt}
	if req.RetryReason != "" {
		retry = append(retry, "retry_reason", req.RetryReason)
	}
	d, err := decodeEvents(req.Payload)
	if err != nil {
		s.log.Warn("slack socket mode: malformed event acknowledged", "event_id", d.env.EventID, "err", err)
		s.ack(ctx, sm, req.EnvelopeID)
		return
	}
	switch d.env.Type {
	case slackevents.CallbackEvent:
	case slackevents.AppRateLimited:
		s.log.Warn("slack socket mode: Slack is rate limiting this app's events (over 30,000 an hour); some events were not delivered",
			"team_id", d.env.TeamID, "api_app_id", d.env.APIAppID, "minute_rate_limited", d.env.MinuteRateLimited)
		s.ack(ctx, sm, req.EnvelopeID)
		return
	default:
		s.log.Debug("slack socket mode: outer type ignored", "type", d.env.Type)
		s.ack(ctx, sm, req.EnvelopeID)
		return
	}
	if !d.handled {
		s.log.Debug("slack socket mode: event type ignored", "event_id", d.env.EventID, "event_type", d.innerType)
		s.ack(ctx, sm, req.EnvelopeID)
		return
	}
	id, at := callbackMeta(d.api)
	ev, ok := Convert(d.api, id, at)
	if !ok || ev.Bot {
		s.log.Debug("slack socket mode: event ignored", "event_id", id, "event_type", d.innerType, "bot", ev.Bot)
		s.ack(ctx, sm, req.EnvelopeID)
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
	s.ack(ctx, sm, req.EnvelopeID)
}

func (s *SocketMode) ack(ctx context.Context, sm acker, envelopeID string) {
	if envelopeID == "" {
		return
	}
	actx, cancel := context.WithTimeout(ctx, socketAckWait)
	defer cancel()
	if err := sm.AckCtx(actx, envelopeID, nil); err != nil && ctx.Err() == nil {
		s.log.Warn("slack socket mode: ack failed", "envelope_id", envelopeID, "err", err)
	}
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
		return sc.Error(), true // slack-go treats a 404 from apps.connections.open as invalid auth too
	}
	return "", false
}

// slogOutput routes slack-go's debug output (socketmode.OptionDebug) to
// slog at debug level.
type slogOutput struct{ log *slog.Logger }

func (o slogOutput) Output(_ int, msg string) error {
	o.log.Debug(strings.TrimSpace(msg), "component", "slack-go/socketmode")
	return nil
}
