package bridge

import (
	"context"
	"fmt"
	"time"
)

// deptMember reports whether user belongs to the department of l: an
// approver, one of its members, or — when it lists no members — anyone
// who is not a watcher.
func (s *Service) deptMember(ctx context.Context, user string, l *lookup) (bool, error) {
	if l.approver {
		return true, nil
	}
	if len(l.dept.Members) == 0 {
		return !l.watcher, nil
	}
	return s.memberOf(ctx, user, l.dept.Members)
}

// closeReaction closes the ticket when a department member puts the close
// reaction on its parent message.
func (w *work) closeReaction() error {
	t, dept := w.look.ticket, w.look.dept
	if !w.look.member {
		if err := w.audit(AuditUnauthorized, 0, map[string]any{"emoji": w.ev.Reaction, "on": "parent"}); err != nil {
			return err
		}
		return w.s.enqueueEphemeral(w.ctx, w.tx, w.ev.Channel, w.ev.User,
			fmt.Sprintf("Only members of %s can close its conversations, so your :%s: was ignored.", dept.Name, w.ev.Reaction), w.now)
	}
	if t.State == TicketClosed {
		return nil
	}
	return CloseTicket(w.ctx, w.tx, t, w.ev.User, "reaction", channelOf(w.s, t), w.now)
}

func channelOf(s *Service, t *Ticket) string {
	if d := s.cfg.Department(t.Department); d != nil {
		return d.Channel
	}
	return t.SlackChannel
}

// CloseTicket closes t in tx: its SLA clock stops, the thread says who
// closed it (actor "system" for an automatic close) and why, and the audit
// log records it. A customer follow-up reopens it.
func CloseTicket(ctx context.Context, tx Tx, t *Ticket, actor, why, channel string, now time.Time) error {
	prev := t.State
	t.State, t.ClosedAt, t.UpdatedAt = TicketClosed, now, now
	if err := tx.UpdateTicket(ctx, t); err != nil {
		return err
	}
	if err := Audit(ctx, tx, AuditTicketClosed, actor, t.Department, t.ID, map[string]any{"why": why, "previous_state": prev}, now); err != nil {
		return err
	}
	text := fmt.Sprintf(":ballot_box_with_check: Closed by <@%s>. A new post from the customer reopens it.", actor)
	if actor == "system" {
		text = fmt.Sprintf(":ballot_box_with_check: Closed automatically (%s). A new post from the customer reopens it.", why)
	}
	it, err := NoticeItemOf(t, channel, t.Department, text, now)
	if err != nil {
		return err
	}
	_, err = tx.Enqueue(ctx, it)
	return err
}

// reopened records that a customer's follow-up reopened an answered or
// closed ticket (the next-response clock starts from it).
func (s *Service) reopened(ctx context.Context, tx Tx, t *Ticket, p *Post, now time.Time) error {
	if t.State != TicketClosed {
		return nil // answered → open is the ordinary next-response clock
	}
	return Audit(ctx, tx, AuditTicketReopened, "system", t.Department, t.ID, map[string]any{"post": p.ExternalID, "closed_at": t.ClosedAt}, now)
}

// enqueueWatchFYI queues the FYI line of a new ticket in the executive
// watch channel when watch.mirror is on. Our own posts are left out.
func (s *Service) enqueueWatchFYI(b *ingestBatch, t *Ticket, p *Post, official bool, now time.Time) {
	w := s.cfg.Watch
	if !w.Mirror || w.Channel == "" || official {
		return
	}
	b.enqueueChat(t, chatPayload{Kind: MessageFYI, PostID: p.ID, Department: t.Department, Channel: w.Channel, Received: now}, w.Channel, PriorityLow)
}
