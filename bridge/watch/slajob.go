package watch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// slaScanLimit bounds the tickets one SLA scan reads.
const slaScanLimit = 20000

// CheckSLA looks at every ticket whose clock may run (open or awaiting
// approval) and, for each clock that reached its warning share or its
// target since the last scan, posts a line in the ticket's thread (a
// breach mentions the department's escalation group), counts it and
// audits it. Each (ticket, clock, level) is recorded once with the instant
// it was due, so scans may overlap or repeat. A clock found already past
// its target gets the breach only. It returns the alerts it queued.
func (w *Watcher) CheckSLA(ctx context.Context) (int, error) {
	now := w.clock.Now().UTC()
	var open []bridge.Ticket
	err := w.store.WithTx(ctx, func(tx Tx) error {
		var err error
		open, err = tx.ListTickets(ctx, bridge.TicketFilter{States: []bridge.TicketState{bridge.TicketOpen, bridge.TicketAwaitingApproval}, Limit: slaScanLimit})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sla scan: %w", err)
	}
	n := 0
	for i := range open {
		t := open[i]
		st := SLAFor(t, w.slaOf(t.Department), w.cal)
		if !st.Running {
			continue
		}
		level, due := st.LevelAt(now)
		if level == LevelNone {
			continue
		}
		queued, err := w.slaAlert(ctx, t.ID, st, level, due, now)
		if err != nil {
			return n, err
		}
		if queued {
			n++
		}
	}
	return n, nil
}

// slaAlert records and announces one SLA level of one clock, once.
func (w *Watcher) slaAlert(ctx context.Context, ticketID int64, st SLAState, level string, due, now time.Time) (bool, error) {
	key := fmt.Sprintf("sla:%d:%s:%s:%s", ticketID, st.Kind, st.Trigger.UTC().Format(time.RFC3339Nano), level)
	if _, done := w.slaDone.Load(key); done {
		return false, nil // recorded by an earlier scan of this process
	}
	queued, recorded := false, false
	var dept string
	err := w.store.WithTx(ctx, func(tx Tx) error {
		t, err := tx.TicketByID(ctx, ticketID)
		if err != nil {
			return err
		}
		// The ticket may have been answered or closed since the scan read it.
		cur := SLAFor(*t, w.slaOf(t.Department), w.cal)
		if !cur.Running || cur.Kind != st.Kind || !cur.Trigger.Equal(st.Trigger) {
			return nil
		}
		dept = t.Department
		kind, auditKind := bridge.OpsSLAWarning, bridge.AuditSLAWarning
		if level == LevelBreach {
			kind, auditKind = bridge.OpsSLABreach, bridge.AuditSLABreach
		}
		ok, err := tx.RecordOpsEvent(ctx, &bridge.OpsEvent{Kind: kind, Key: key, Department: t.Department, TicketID: t.ID, At: now, Due: due})
		if err != nil || !ok {
			recorded = err == nil // by another scan or replica
			return err
		}
		d := w.cfg.Department(t.Department)
		if d == nil {
			return nil
		}
		what := "first response"
		if st.Kind == KindNextResponse {
			what = "next response (the customer wrote again)"
		}
		var text string
		if level == LevelBreach {
			text = fmt.Sprintf(":rotating_light: *SLA breached*: the %s was due %s (%s of business time).", what, w.fmtWhen(st.Due, now), fmtDur(st.Target))
			if m := w.mention(d); m != "" {
				text += " " + m + ", please pick this up."
			}
		} else {
			text = fmt.Sprintf(":hourglass_flowing_sand: *SLA warning*: the %s is due %s (%s left).", what, w.fmtWhen(st.Due, now), fmtDur(w.cal.Elapsed(now, st.Due)))
		}
		it, err := bridge.NoticeItemOf(t, d.Channel, d.ID, text, now)
		if err != nil {
			return err
		}
		if level == LevelBreach {
			it.Priority = bridge.PriorityAlert // ahead of the channel's backlog
		}
		if _, err := tx.Enqueue(ctx, it); err != nil {
			return err
		}
		queued = true
		return bridge.Audit(ctx, tx, auditKind, "system", t.Department, t.ID, map[string]any{
			"clock": st.Kind, "trigger": st.Trigger, "clock_start": st.Start, "due": due, "target": st.Target.String(), "escalation": d.Escalation,
		}, now)
	})
	if err != nil {
		return false, fmt.Errorf("sla %s: %w", key, err)
	}
	if recorded || queued {
		w.slaDone.Store(key, struct{}{})
	}
	if queued {
		w.metrics.SLAAlert(dept, level)
	}
	return queued, nil
}

// AutoClose closes answered tickets silent for tickets.auto_close_after:
// no customer post and no answer since. Tickets still owed an answer stay
// open (the digests keep listing them). It returns how many it closed.
func (w *Watcher) AutoClose(ctx context.Context) (int, error) {
	now := w.clock.Now().UTC()
	after := w.cfg.Tickets.AutoCloseAfter.D()
	if after <= 0 {
		return 0, nil
	}
	cutoff := now.Add(-after)
	var stale []bridge.Ticket
	err := w.store.WithTx(ctx, func(tx Tx) error {
		var err error
		stale, err = tx.ListTickets(ctx, bridge.TicketFilter{States: []bridge.TicketState{bridge.TicketAnswered}, UpdatedBefore: cutoff, Limit: 1000})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("auto-close: %w", err)
	}
	n := 0
	why := fmt.Sprintf("%s without a new post", after.Round(time.Hour).String())
	if after%(24*time.Hour) == 0 {
		why = fmt.Sprintf("%d days without a new post", int(after/(24*time.Hour)))
	}
	for _, s := range stale {
		closed := false
		err := w.store.WithTx(ctx, func(tx Tx) error {
			t, err := tx.TicketByID(ctx, s.ID)
			if errors.Is(err, bridge.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if t.State != bridge.TicketAnswered || !t.UpdatedAt.Before(cutoff) {
				return nil
			}
			channel := t.SlackChannel
			if d := w.cfg.Department(t.Department); d != nil {
				channel = d.Channel
			}
			closed = true
			return bridge.CloseTicket(ctx, tx, t, "system", why, channel, now)
		})
		if err != nil {
			return n, fmt.Errorf("auto-close ticket %d: %w", s.ID, err)
		}
		if closed {
			n++
			w.metrics.TicketAutoClosed(s.Department)
		}
	}
	return n, nil
}
