package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// This file holds draft cards: on a chat surface where approvers can act
// only on the bot's own messages (Teams reports reactions and button
// clicks on those only), every draft that passes the guards is echoed in
// its thread as a card (MessageDraft) — who wrote it, the text, how it
// would go out, buttons — and a gesture on the card acts on the draft
// exactly as a reaction on the draft does on Slack (approvals.go).
//
// One outbox kind does it all: a KindChatCard row makes the card show the
// draft as it is when the row runs. The first row of a draft posts the
// card and records its message against the draft; later rows (a decision,
// an edit, the send's outcome) rewrite it through MessageUpdater. Rows of
// a ticket run in order, so a card is posted before it is updated, and a
// row repeated after a crash only shows the same state again.

// KindChatCard posts or updates the card of a draft (cardPayload).
const KindChatCard = "chat.card"

// cardPayload is the outbox payload of KindChatCard. The draft is read
// back when the row runs; only who decided is not kept with the draft.
type cardPayload struct {
	DraftID   int64  `json:"draft_id"`
	DecidedBy string `json:"decided_by,omitempty"` // who rejected or withdrew it
}

// CardTx is how the relay keeps draft cards: the chat message showing a
// draft, recorded once the card is posted.
type CardTx interface {
	// DraftCard returns the card of a draft, or ErrNotFound.
	DraftCard(ctx context.Context, draftID int64) (ChatRef, error)
	// SetDraftCard records (or replaces) the card of an existing draft;
	// a chat message is the card of one draft at most.
	SetDraftCard(ctx context.Context, draftID int64, ref ChatRef) error
}

// enqueueCard queues showing draft d of ticket t on its card as it will
// be once the current transaction commits, when the surface uses cards;
// decidedBy names who rejected or withdrew it (approvals name themselves
// in d.ApprovedBy).
func (e *env) enqueueCard(ctx context.Context, tx Enqueuer, t *Ticket, d *Draft, decidedBy string, now time.Time) error {
	if !e.draftCards {
		return nil
	}
	channel := t.SlackChannel
	if dept := e.cfg.Department(t.Department); dept != nil {
		channel = dept.Channel
	}
	data := encodePayload(cardPayload{DraftID: d.ID, DecidedBy: decidedBy})
	return enqueue(ctx, tx, &OutboxItem{Kind: KindChatCard, Priority: PriorityHigh, Lane: "chat:" + channel,
		OrderKey: ticketOrder(t), TicketID: t.ID, Payload: data, CreatedAt: now})
}

// handleChatCard makes the card of a draft show the draft as it is now:
// it posts the card if the draft has none yet, and rewrites it otherwise.
func (s *relay) handleChatCard(ctx context.Context, it *OutboxItem) (completion, error) {
	var p cardPayload
	if err := decodePayload(it, &p); err != nil {
		return nil, err
	}
	var (
		d    *Draft
		t    *Ticket
		card ChatRef
		has  bool
	)
	err := s.store.WithTx(ctx, func(tx RelayTx) error {
		var err error
		if d, err = tx.DraftByID(ctx, p.DraftID); err != nil {
			return err
		}
		if t, err = tx.TicketByID(ctx, d.TicketID); err != nil {
			return err
		}
		card, err = tx.DraftCard(ctx, d.ID)
		switch {
		case err == nil:
			has = true
		case errors.Is(err, ErrNotFound):
			err = nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("card of draft %d: %w", p.DraftID, err)
	}
	msg := ChatMessage{Kind: MessageDraft, OutboxID: it.ID, Channel: t.SlackChannel, ThreadTS: t.SlackTS,
		Department: t.Department, Ticket: t, Draft: s.cardOf(d, t, p.DecidedBy)}
	if dept := s.cfg.Department(t.Department); dept != nil {
		msg.DeptName = dept.Name
	}
	if has {
		updater, ok := s.publisher.(MessageUpdater)
		if !ok {
			return nil, nil // the surface cannot rewrite it: the thread's notices tell the story
		}
		if err := s.leaseEnding(it); err != nil {
			return nil, err
		}
		return nil, updater.Update(ctx, card, msg)
	}
	switch d.State {
	case DraftBlocked, DraftCancelled:
		return nil, nil // never shown to approvers: nothing to show
	}
	if t.SlackTS == "" {
		// A draft is a reply in the ticket's thread, so the thread exists;
		// a ticket without one has nowhere to show the card.
		return nil, &SendError{Platform: "carebridge", Code: "no_thread", Permanent: true, Err: fmt.Errorf("ticket %d has no chat thread", t.ID)}
	}
	ref, _, err := s.publishOnce(ctx, it, msg)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, g *groupWrites) error {
		if err := g.flush(ctx); err != nil {
			return err
		}
		return g.tx.SetDraftCard(ctx, d.ID, ref)
	}, nil
}

// cardOf is what the card of d shows: while it waits, the draft and how
// it would go out; once decided, the outcome and who decided.
func (s *relay) cardOf(d *Draft, t *Ticket, decidedBy string) *DraftCard {
	c := &DraftCard{DraftID: d.ID, Author: d.Author, Text: d.Text, DM: d.Visibility == VisibilityDM,
		Platform: t.Platform, Account: d.Account}
	how := "Sent publicly"
	if c.DM {
		how = "Sent by DM"
	}
	switch d.State {
	case DraftApproved, DraftSending:
		c.Outcome, c.DecidedBy = "Approved — sending", d.ApprovedBy
	case DraftSent:
		c.Outcome, c.DecidedBy = fmt.Sprintf("%s as @%s on %s", how, d.Account, s.networkName(t.Platform)), d.ApprovedBy
	case DraftFailed:
		c.Outcome, c.DecidedBy = "Not sent: "+d.Error, d.ApprovedBy
	case DraftRejected:
		c.Outcome, c.DecidedBy = "Rejected — nothing was sent", decidedBy
	case DraftCancelled:
		c.Outcome, c.DecidedBy = "Withdrawn by its author — nothing was sent", decidedBy
	case DraftBlocked:
		c.Outcome = "Held by the checks — the thread says why; edit the draft to fix it"
	}
	return c
}

// cardGesture reports whether ev may be a decision on a draft card: with
// draft cards, an approve, send-as-DM or reject gesture added to a
// message.
func (s *approvals) cardGesture(ev ChatEvent) bool {
	g := s.gestures
	return s.draftCards && ev.Kind == EventReactionAdded &&
		(ev.Reaction == g.Approve || ev.Reaction == g.ApproveDM || ev.Reaction == g.Reject)
}
