package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/carebridge/carebridge/bridge/config"
)

// This file holds every kind of outbox row: its name, its payload and the
// function that builds it. The relay's handlers (mirror.go, sender.go)
// perform them. To add a side effect, add its kind, payload and builder
// here and its handler to relay.handlers.

// Outbox kinds.
const (
	// KindChatPost posts a ChatMessage: a ticket's parent, a later post in
	// its thread, an FYI copy or a notice (chatPayload).
	KindChatPost = "chat.post"
	// KindChatReport posts a Report (ReportPayload).
	KindChatReport = "chat.report"
	// KindChatReact adds or removes the bot's reaction on a message
	// (reactPayload).
	KindChatReact = "chat.react"
	// KindChatEphemeral shows a note to one person (ephemeralPayload).
	KindChatEphemeral = "chat.ephemeral"
	// KindSend sends an approved draft to the customer (sendPayload).
	KindSend = "platform.send"
	// KindPlatformPost publishes an original post of an official account,
	// a greeting or a sign-off (PostPayload).
	KindPlatformPost = "platform.post"
)

// chatPayload is the outbox payload of KindChatPost: what to show, where.
// The post and ticket are read back at send time.
type chatPayload struct {
	Kind       MessageKind `json:"kind"`
	PostID     int64       `json:"post_id,omitempty"`
	TicketID   int64       `json:"ticket_id"`
	Department string      `json:"department"`
	History    string      `json:"history,omitempty"`
	Text       string      `json:"text,omitempty"`
	Channel    string      `json:"channel,omitempty"` // overrides the department's channel (the watch channel)
	Received   time.Time   `json:"received"`
	// OpenedBy is, on a parent queued by a bundle's Answer button, who
	// pressed it (bundle.go).
	OpenedBy string `json:"opened_by,omitempty"`
}

// ReportPayload is the outbox payload of KindChatReport.
type ReportPayload struct {
	Channel    string `json:"channel"`              // channel name or id
	Department string `json:"department,omitempty"` // department the report is about, if one
	Report     Report `json:"report"`
	Queued     time.Time
}

// reactPayload is the outbox payload of KindChatReact.
type reactPayload struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
	Name    string `json:"name"`
	Add     bool   `json:"add"`
}

// ephemeralPayload is the outbox payload of KindChatEphemeral.
type ephemeralPayload struct {
	Channel string `json:"channel"`
	User    string `json:"user"`
	Text    string `json:"text"`
}

// sendPayload is the outbox payload of KindSend.
type sendPayload struct {
	DraftID int64 `json:"draft_id"`
}

// PostPayload is the outbox payload of KindPlatformPost.
type PostPayload struct {
	Platform Platform `json:"platform"`
	Account  string   `json:"account"`
	Text     string   `json:"text"`
	Purpose  string   `json:"purpose"` // "greeting" or "sign_off"
}

// ticketOrder is the order key of a ticket's chat messages and reactions,
// so that its thread is written in order.
func ticketOrder(t *Ticket) string { return fmt.Sprintf("ticket:%d", t.ID) }

// chatItemOf builds the outbox row of a chat message of ticket t in
// channel. All of a ticket's messages share an order key.
func chatItemOf(t *Ticket, pl chatPayload, channel string, prio Priority) (*OutboxItem, error) {
	pl.TicketID = t.ID
	data, err := json.Marshal(pl)
	if err != nil {
		return nil, err
	}
	return &OutboxItem{Kind: KindChatPost, Priority: prio, Lane: "chat:" + channel, OrderKey: ticketOrder(t),
		TicketID: t.ID, Payload: data, CreatedAt: pl.Received}, nil
}

// NoticeItemOf builds the outbox row of a line from carebridge in the
// thread of ticket t, shown in channel (the department's). It shares the
// ticket's order, so it lands after the parent. text is chat markup
// written by carebridge (it may mention people).
func NoticeItemOf(t *Ticket, channel, dept, text string, now time.Time) (*OutboxItem, error) {
	return chatItemOf(t, chatPayload{Kind: MessageNotice, TicketID: t.ID, Department: dept, Text: text, Received: now}, channel, PriorityHigh)
}

// ReportItemOf builds the outbox row of a report for channel. A non-empty
// dedupeKey makes it be queued once whatever the retries and replicas.
func ReportItemOf(channel, dept, dedupeKey string, r Report, prio Priority, now time.Time) (*OutboxItem, error) {
	data, err := json.Marshal(ReportPayload{Channel: channel, Department: dept, Report: r, Queued: now})
	if err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	return &OutboxItem{Kind: KindChatReport, Priority: prio, Lane: "chat:" + channel, DedupeKey: dedupeKey, Payload: data, CreatedAt: now}, nil
}

// PostItemOf builds the outbox row of a public post. dedupeKey makes it
// be queued once.
func PostItemOf(p PostPayload, dedupeKey string, now time.Time) (*OutboxItem, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return &OutboxItem{Kind: KindPlatformPost, Priority: PriorityHigh, Lane: "post:" + p.Account, DedupeKey: dedupeKey, Payload: data, CreatedAt: now}, nil
}

// reactItemOf builds the outbox row that adds or removes the bot's
// reaction name on a message of ticket t. It shares the ticket's order, so
// reactions follow the thread's story.
func reactItemOf(t *Ticket, ref ChatRef, name string, add bool, now time.Time) *OutboxItem {
	data := encodePayload(reactPayload{Channel: ref.Channel, TS: ref.TS, Name: name, Add: add})
	return &OutboxItem{Kind: KindChatReact, Priority: PriorityHigh, OrderKey: ticketOrder(t), TicketID: t.ID, Payload: data, CreatedAt: now}
}

// ephemeralItemOf builds the outbox row of a note only user sees.
func ephemeralItemOf(channel, user, text string, now time.Time) *OutboxItem {
	data := encodePayload(ephemeralPayload{Channel: channel, User: user, Text: text})
	return &OutboxItem{Kind: KindChatEphemeral, Priority: PriorityHigh, Payload: data, CreatedAt: now}
}

// sendItemOf builds the outbox row that sends draft d of ticket t. Sends
// of a ticket run in order but apart from its chat messages, so a chat
// outage never holds up the answers.
func sendItemOf(t *Ticket, d *Draft, now time.Time) *OutboxItem {
	data := encodePayload(sendPayload{DraftID: d.ID})
	return &OutboxItem{Kind: KindSend, Priority: PriorityHigh, OrderKey: fmt.Sprintf("send:%d", t.ID), TicketID: t.ID, Payload: data, CreatedAt: now}
}

// decodePayload reads the payload of it into v; a payload that does not
// decode is a permanent failure.
func decodePayload(it *OutboxItem, v any) error {
	if err := json.Unmarshal(it.Payload, v); err != nil {
		return &SendError{Platform: "carebridge", Code: "bad_payload", Permanent: true, Err: err}
	}
	return nil
}

// Enqueuer is the store method that queues one outbox row.
type Enqueuer interface {
	Enqueue(ctx context.Context, it *OutboxItem) (enqueued bool, err error)
}

// encodePayload encodes one of the payloads above. They are plain structs
// of strings, numbers and booleans, which always encode.
func encodePayload(v any) json.RawMessage {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("bridge: encode %T: %v", v, err))
	}
	return data
}

// enqueue queues it.
func enqueue(ctx context.Context, tx Enqueuer, it *OutboxItem) error {
	_, err := tx.Enqueue(ctx, it)
	return err
}

// enqueueNotice queues a line from carebridge in the thread of ticket t,
// in its department's channel.
func enqueueNotice(ctx context.Context, tx Enqueuer, cfg *config.Config, t *Ticket, text string, now time.Time) error {
	dept := cfg.Department(t.Department)
	if dept == nil {
		return nil
	}
	it, err := NoticeItemOf(t, dept.Channel, dept.ID, text, now)
	if err != nil {
		return err
	}
	return enqueue(ctx, tx, it)
}

// enqueueReact queues adding or removing the bot's reaction on a message;
// an empty name (a mark the surface does not have) queues nothing.
func enqueueReact(ctx context.Context, tx Enqueuer, t *Ticket, ref ChatRef, name string, add bool, now time.Time) error {
	if name == "" {
		return nil
	}
	return enqueue(ctx, tx, reactItemOf(t, ref, name, add, now))
}
