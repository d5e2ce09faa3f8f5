package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// MessageReport is a chat message kind: a structured message from
// carebridge itself (a digest, the executive digest, a spike alert, an
// FYI line in the watch channel), rendered by the Publisher.
const MessageReport MessageKind = "report"

// Report is a platform-neutral structured message. Every string is plain
// text: the Publisher escapes it, so customer text and keywords can never
// ping anyone or forge a link.
type Report struct {
	Title    string          `json:"title"`              // headline
	Subtitle string          `json:"subtitle,omitempty"` // a small line under it (the period, say)
	Mention  string          `json:"mention,omitempty"`  // a user group (S…) or user (U…) to notify
	Sections []ReportSection `json:"sections,omitempty"`
}

// ReportSection is one part of a Report.
type ReportSection struct {
	Heading string        `json:"heading,omitempty"`
	Text    string        `json:"text,omitempty"`
	Fields  []ReportField `json:"fields,omitempty"` // short label/value pairs, two per row
	Items   []ReportItem  `json:"items,omitempty"`  // a bulleted list
	Posts   []Post        `json:"posts,omitempty"`  // customers' raw posts, quoted as they wrote them
}

// ReportField is one label/value pair.
type ReportField struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// ReportItem is one bulleted line, linked to a URL or to a chat message
// (the Publisher turns Ref into a link).
type ReportItem struct {
	Text string   `json:"text"`
	URL  string   `json:"url,omitempty"`
	Ref  *ChatRef `json:"ref,omitempty"`
}

// KindChatReport is the outbox kind that posts a Report.
const KindChatReport = "chat.report"

// ReportPayload is the outbox payload of KindChatReport.
type ReportPayload struct {
	Channel    string `json:"channel"`              // channel name or id
	Department string `json:"department,omitempty"` // department the report is about, if one
	Report     Report `json:"report"`
	Queued     time.Time
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

// NoticeItemOf builds the outbox row of a line from carebridge in the
// thread of ticket t, shown in channel (the department's). It shares the
// ticket's order, so it lands after the parent. text is chat markup
// written by carebridge (it may mention people).
func NoticeItemOf(t *Ticket, channel, dept, text string, now time.Time) (*OutboxItem, error) {
	data, err := json.Marshal(chatPayload{Kind: MessageNotice, TicketID: t.ID, Department: dept, Text: text, Received: now})
	if err != nil {
		return nil, err
	}
	return &OutboxItem{Kind: KindChatPost, Priority: PriorityHigh, Lane: "chat:" + channel, OrderKey: fmt.Sprintf("ticket:%d", t.ID),
		TicketID: t.ID, Payload: data, CreatedAt: now}, nil
}

// Audit appends an audit record in tx (details is marshalled as JSON).
func Audit(ctx context.Context, tx Tx, kind AuditKind, actor, dept string, ticketID int64, details map[string]any, now time.Time) error {
	return appendAudit(ctx, tx, &AuditRecord{At: now, Kind: kind, Actor: actor, Department: dept, TicketID: ticketID}, details)
}

// handleChatReport posts a queued Report.
func (s *Service) handleChatReport(ctx context.Context, it *OutboxItem) (func(context.Context, Tx) error, error) {
	var pl ReportPayload
	if err := json.Unmarshal(it.Payload, &pl); err != nil {
		return nil, &SendError{Platform: "carebridge", Code: "bad_payload", Permanent: true, Err: err}
	}
	msg := ChatMessage{Kind: MessageReport, OutboxID: it.ID, Channel: pl.Channel, Department: pl.Department, Report: &pl.Report}
	if d := s.cfg.Department(pl.Department); d != nil {
		msg.DeptName = d.Name
	}
	_, _, err := s.publishOnce(ctx, it, msg)
	return nil, err
}

// ---- public posts (greetings and sign-offs)

// Poster publishes original posts (not replies) as one of our accounts.
// Like every adapter it only sends and classifies errors.
type Poster interface {
	// Post publishes text as account.
	Post(ctx context.Context, account, text string) (SentRef, error)
	// FindPost looks for a recent post of account with text, sent by an
	// attempt whose outcome is unknown (a crash mid-call).
	FindPost(ctx context.Context, account, text string) (SentRef, bool, error)
}

// KindPlatformPost is the outbox kind of a public post by an official
// account.
const KindPlatformPost = "platform.post"

// PostPayload is the outbox payload of KindPlatformPost.
type PostPayload struct {
	Account string `json:"account"`
	Text    string `json:"text"`
	Purpose string `json:"purpose"` // "greeting" or "sign_off"
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

// Audit kinds of the watching features.
const (
	AuditSLAWarning     AuditKind = "sla_warning"
	AuditSLABreach      AuditKind = "sla_breach"
	AuditSpike          AuditKind = "spike_alert"
	AuditDigest         AuditKind = "digest_queued"
	AuditGreetingQueued AuditKind = "greeting_queued"
	AuditPosted         AuditKind = "posted" // a greeting or sign-off went out
	AuditTicketClosed   AuditKind = "ticket_closed"
	AuditTicketReopened AuditKind = "ticket_reopened"
)

// handlePlatformPost publishes a greeting or sign-off, effectively once: a
// row recovered after a crash first looks for the post on the platform.
func (s *Service) handlePlatformPost(ctx context.Context, it *OutboxItem) (func(context.Context, Tx) error, error) {
	var p PostPayload
	if err := json.Unmarshal(it.Payload, &p); err != nil {
		return nil, &SendError{Platform: "carebridge", Code: "bad_payload", Permanent: true, Err: err}
	}
	if s.opt.Poster == nil {
		return nil, &SendError{Platform: "carebridge", Code: "no_poster", Permanent: true, Err: fmt.Errorf("no poster configured")}
	}
	var ref SentRef
	found := false
	var err error
	if it.Recovered || it.Attempts > 1 {
		err = s.paced(ctx, checkPost+p.Account, func(ctx context.Context) error {
			var err error
			ref, found, err = s.opt.Poster.FindPost(ctx, p.Account, p.Text)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("check whether the %s of @%s already went out: %w", p.Purpose, p.Account, err)
		}
	}
	if !found {
		if ref, err = s.opt.Poster.Post(ctx, p.Account, p.Text); err != nil {
			return nil, err
		}
	}
	return func(ctx context.Context, tx Tx) error {
		now := s.clock.Now().UTC()
		if ref.ID != "" {
			// Our post will come back through search: store it so it is
			// recognised and not mirrored.
			own := &Post{Platform: PlatformX, ExternalID: ref.ID, Source: SourceLookup, AuthorHandle: p.Account,
				Text: p.Text, CreatedAt: now, ReceivedAt: now, URL: ref.URL, ConversationKey: ref.ID, Eligibility: EligiblePublic}
			if _, err := tx.InsertPost(ctx, own); err != nil {
				return err
			}
		}
		return Audit(ctx, tx, AuditPosted, p.Account, "", 0, map[string]any{"purpose": p.Purpose, "text": p.Text, "platform_id": ref.ID, "url": ref.URL, "found_on_check": found}, now)
	}, nil
}
