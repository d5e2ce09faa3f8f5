package bridge

import (
	"context"
	"fmt"
	"time"
)

// deptMember reports whether user belongs to the department of l: an
// approver, one of its members, or — when it lists no members — anyone
// who is not a watcher.
func (s *approvals) deptMember(ctx context.Context, user string, l *lookup) (bool, error) {
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
		return w.ephemeral(fmt.Sprintf("Only members of %s can close its conversations, so your :%s: was ignored.", dept.Name, w.ev.Reaction))
	}
	if t.State == TicketClosed {
		return nil
	}
	return CloseTicket(w.ctx, w.tx, t, w.ev.User, "reaction", channelOf(w.s, t), w.now)
}

func channelOf(s *approvals, t *Ticket) string {
	if d := s.cfg.Department(t.Department); d != nil {
		return d.Channel
	}
	return t.SlackChannel
}

// TicketCloser is what CloseTicket writes: the ticket, the audit record
// and the notice in the thread.
type TicketCloser interface {
	UpdateTicket(ctx context.Context, t *Ticket) error
	AuditWriter
	Enqueuer
}

// CloseTicket closes t in tx: its SLA clock stops, the thread says who
// closed it (actor "system" for an automatic close) and why, and the audit
// log records it. A customer follow-up reopens it.
func CloseTicket(ctx context.Context, tx TicketCloser, t *Ticket, actor, why, channel string, now time.Time) error {
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
