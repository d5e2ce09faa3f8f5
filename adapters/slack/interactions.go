package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/carebridge/carebridge/bridge"
)

// This file holds interactivity: the buttons carebridge puts on its
// messages (the Answer button of each entry of a bundle). Slack delivers
// a click as a block_actions interaction, over Socket Mode (an
// "interactive" envelope) or to the app's Request URL (POST
// /slack/interactions, a form with a signed `payload` field). Both go
// through ConvertInteraction to bridge.ChatEvent (EventAction) and the
// same handler as events. Slack does not redeliver interactions; the
// event id is made from the action's own time stamp, so a click handed
// over twice (a replayed request) is applied once.

// ConvertInteraction turns a block_actions interaction into the chat
// events of its button actions (Slack sends one action per click). Other
// interaction types, and actions on no message, give none.
func ConvertInteraction(cb slack.InteractionCallback) []bridge.ChatEvent {
	if cb.Type != slack.InteractionTypeBlockActions {
		return nil
	}
	channel := cb.Channel.ID
	if channel == "" {
		channel = cb.Container.ChannelID
	}
	item := cb.Container.MessageTs
	if item == "" {
		item = cb.Message.Timestamp
	}
	if channel == "" || item == "" || cb.User.ID == "" {
		return nil
	}
	var out []bridge.ChatEvent
	for _, a := range cb.ActionCallback.BlockActions {
		if a == nil || a.ActionID == "" {
			continue
		}
		ts := a.ActionTs
		if ts == "" {
			ts = cb.ActionTs
		}
		out = append(out, bridge.ChatEvent{
			ID:       fmt.Sprintf("action:%s:%s:%s:%s", channel, item, cb.User.ID, ts),
			Kind:     bridge.EventAction,
			Channel:  channel,
			User:     cb.User.ID,
			ItemTS:   item,
			ThreadTS: cb.Container.ThreadTs,
			Action:   a.ActionID,
			Value:    a.Value,
			At:       tsTime(ts),
		})
	}
	return out
}

// MaxInteractionBody is the largest interaction request body accepted.
// A block_actions payload repeats the whole message clicked on: a bundle
// of 45 long posts is about 150 KB, URL-encoded up to three times that.
const MaxInteractionBody = 1 << 20

// InteractionsHandler receives interactions over HTTP (mount it at POST
// /slack/interactions, the app's Request URL). It checks the v0 signature
// as EventsHandler does (401 otherwise, with nothing handed on), reads
// the form's payload field (400 if it is missing or malformed), hands
// each action to the ChatEventHandler (500 if that fails: the click is
// not acknowledged and the person sees Slack's error) and answers 200.
type InteractionsHandler struct {
	secret []byte
	h      bridge.ChatEventHandler
	log    *slog.Logger
	cfg    eventsConfig
}

var _ http.Handler = (*InteractionsHandler)(nil)

// NewInteractionsHandler returns the HTTP interactivity receiver.
func NewInteractionsHandler(signingSecret string, h bridge.ChatEventHandler, log *slog.Logger, opts ...EventsOption) *InteractionsHandler {
	return &InteractionsHandler{secret: []byte(signingSecret), h: h, log: orDiscard(log), cfg: newEventsConfig(opts)}
}

// ServeHTTP implements http.Handler.
func (e *InteractionsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxInteractionBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read request body", http.StatusBadRequest)
		return
	}
	if err := verifySignature(e.secret, r.Header, body, e.cfg.clock.Now()); err != nil {
		e.log.Warn("slack interactions: request refused", "reason", err.Error(), "remote_addr", r.RemoteAddr)
		http.Error(w, "invalid request signature", http.StatusUnauthorized)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		http.Error(w, "missing payload", http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		e.log.Warn("slack interactions: malformed payload", "err", err)
		http.Error(w, "malformed payload", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), e.cfg.timeout)
	defer cancel()
	if err := handleInteraction(ctx, e.h, cb); err != nil {
		e.log.Error("slack interactions: action not handled", "err", err)
		http.Error(w, "action not handled", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// handleInteraction hands the actions of cb to h.
func handleInteraction(ctx context.Context, h bridge.ChatEventHandler, cb slack.InteractionCallback) error {
	for _, ev := range ConvertInteraction(cb) {
		if err := h.HandleChatEvent(ctx, ev); err != nil {
			return fmt.Errorf("action %s on %s/%s: %w", ev.Action, ev.Channel, ev.ItemTS, err)
		}
	}
	return nil
}

// handleInteractive handles an "interactive" Socket Mode envelope: its
// actions are handed on, and it is acknowledged once they are (or at
// once when it holds none).
func (s *SocketMode) handleInteractive(ctx context.Context, sm acker, req *socketmode.Request) {
	var cb slack.InteractionCallback
	if err := json.Unmarshal(req.Payload, &cb); err != nil {
		s.log.Warn("slack socket mode: malformed interaction acknowledged", "err", err)
		s.ack(ctx, sm, req.EnvelopeID)
		return
	}
	s.log.Debug("slack socket mode: interaction", "type", string(cb.Type), "actions", len(cb.ActionCallback.BlockActions))
	hctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	err := handleInteraction(hctx, s.h, cb)
	cancel()
	if err != nil {
		s.log.Error("slack socket mode: action not handled; not acknowledged", "err", err)
		return
	}
	s.ack(ctx, sm, req.EnvelopeID)
}

// answerButton is a bundle entry's Answer button.
func answerButton(value string) *slack.ButtonBlockElement {
	return slack.NewButtonBlockElement(bridge.ActionAnswer, value, slack.NewTextBlockObject(slack.PlainTextType, "Answer", false, false))
}

// bundleIDs renders a bundle's outbox ids for its metadata.
func bundleIDs(msg bridge.ChatMessage) string {
	ids := make([]string, len(msg.Bundle))
	for i, e := range msg.Bundle {
		ids[i] = strconv.FormatInt(e.OutboxID, 10)
	}
	return strings.Join(ids, ",")
}

// metadataIDs reads the outbox ids a message's metadata carries, and
// whether it is a bundle.
func metadataIDs(m slack.Message) ([]int64, bool) {
	if m.Metadata.EventType != metadataEventType {
		return nil, false
	}
	var out []int64
	if v, ok := m.Metadata.EventPayload["outbox_ids"]; ok {
		for _, f := range strings.Split(fmt.Sprint(v), ",") {
			if n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64); err == nil && n > 0 {
				out = append(out, n)
			}
		}
		return out, true
	}
	if v, ok := m.Metadata.EventPayload["outbox_id"]; ok {
		if n, err := strconv.ParseInt(fmt.Sprint(v), 10, 64); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out, false
}
