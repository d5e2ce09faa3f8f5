package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// This file is the durable inbox of chat events. A receiver (Slack's
// Socket Mode or HTTP Events API) hands each event to Service.Inbox,
// which only stores it — a short insert, deduplicated on the platform's
// event id — so that the receiver acknowledges it at once, well inside
// the platform's acknowledgement window however many events arrive. The
// inbox worker started by Service.Start then applies the stored events
// (HandleChatEvent's logic) and marks each row done in the transaction
// that commits its effects: a crash re-applies nothing twice and loses
// nothing.

// InboxState is where an inbox row stands.
type InboxState string

// Inbox states.
const (
	InboxPending InboxState = "pending" // stored, not yet applied
	InboxDone    InboxState = "done"    // applied (or deliberately ignored)
	InboxDead    InboxState = "dead"    // given up after a permanent failure
)

// InboxEvent is one received chat event in the inbox.
type InboxEvent struct {
	ID            int64
	EventID       string          // the platform's event id; unique when set
	OrderKey      string          // channel/thread: rows of one key are applied in id order
	Payload       json.RawMessage // the ChatEvent, JSON
	State         InboxState
	Attempts      int
	NextAttemptAt time.Time // zero: due now
	LastError     string
	ReceivedAt    time.Time
	UpdatedAt     time.Time
}

// InboxTx is how receivers store chat events and the inbox worker settles
// the rows it could not apply.
type InboxTx interface {
	// InsertInbox stores an event (State pending) unless a row with its
	// non-empty EventID exists; it sets ev.ID either way and reports
	// whether the row is new.
	InsertInbox(ctx context.Context, ev *InboxEvent) (inserted bool, err error)
	// FinishInbox marks a pending row done or dead (counting an attempt
	// and recording lastErr); RetryInbox keeps it pending until next. Both
	// return ErrNotFound if the row is not pending.
	FinishInbox(ctx context.Context, id int64, state InboxState, lastErr string, now time.Time) error
	RetryInbox(ctx context.Context, id int64, next time.Time, lastErr string, now time.Time) error
}

// InboxReader lists the inbox rows due (see Store.DueInbox).
type InboxReader interface {
	DueInbox(ctx context.Context, now time.Time, limit int) ([]InboxEvent, error)
}

// InboxMetrics is implemented by a Metrics that also counts inbox rows
// applied, by result: "done", "retry" or "dead".
type InboxMetrics interface {
	InboxDone(result string)
}

const (
	// inboxBatch is how many due rows one look at the inbox takes.
	inboxBatch = 50
	// inboxPoll is how often the worker looks at the inbox when nothing
	// woke it (rows stored by other replicas, retries falling due).
	inboxPoll = time.Second
	// inboxTimeout bounds the application of one event.
	inboxTimeout = 30 * time.Second
	// inboxMaxAttempts is how often an event failing with a transient
	// error is tried before it is marked dead (with the backoff capped at
	// inboxMaxBackoff, about half an hour).
	inboxMaxAttempts = 40
	inboxMaxBackoff  = time.Minute
	// inboxRetryLaterBackoff caps the wait of an event whose thread is
	// not known yet (ErrRetryLater).
	inboxRetryLaterBackoff = 5 * time.Second
)

// Inbox returns the ChatEventHandler receivers should deliver to: it
// stores each event in the inbox (a nil error means it is stored and may
// be acknowledged; a duplicate event id is not an error) and wakes the
// worker. Events carebridge never acts on (from bots, ours included, or
// without a user) are not stored.
func (s *approvals) Inbox() ChatEventHandler { return inboxReceiver{s} }

type inboxReceiver struct{ s *approvals }

// HandleChatEvent implements ChatEventHandler by storing ev.
func (r inboxReceiver) HandleChatEvent(ctx context.Context, ev ChatEvent) error {
	s := r.s
	if s.ignoredChatEvent(ev) {
		return nil
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("inbox: encode chat event %s: %w", ev.ID, err)
	}
	row := &InboxEvent{EventID: ev.ID, OrderKey: inboxOrderKey(ev), Payload: payload, ReceivedAt: s.clock.Now().UTC()}
	var inserted bool
	err = s.inboxTx.WithTx(ctx, func(tx InboxTx) error {
		var err error
		inserted, err = tx.InsertInbox(ctx, row)
		return err
	})
	if err != nil {
		return fmt.Errorf("inbox: store chat event %s (%s): %w", ev.ID, ev.Kind, err)
	}
	if inserted {
		s.inq.wakeUp()
	}
	return nil
}

// inboxOrderKey is the channel and thread of an event: a thread reply's
// thread, or the message an edit, delete or reaction is about.
func inboxOrderKey(ev ChatEvent) string {
	th := ev.ThreadTS
	if th == "" {
		th = ev.ItemTS
	}
	if th == "" {
		th = ev.TS
	}
	return ev.Channel + "/" + th
}

// inboxWorker is the Service's inbox state.
type inboxWorker struct {
	wake chan struct{}
}

func newInboxWorker() *inboxWorker { return &inboxWorker{wake: make(chan struct{}, 1)} }

func (w *inboxWorker) wakeUp() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// runInbox applies due inbox rows until ctx ends, one at a time in id
// order (rows of different threads may be applied by other replicas
// meanwhile). It looks again at once after a full batch, when a receiver
// stored an event, and every inboxPoll.
func (s *approvals) runInbox(ctx, workCtx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.inq.wake:
		case <-timer.C:
		}
		for ctx.Err() == nil {
			rows, err := s.due.DueInbox(ctx, s.clock.Now().UTC(), inboxBatch)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("inbox: cannot read due events", "err", err)
				}
				break
			}
			for i := range rows {
				if ctx.Err() != nil {
					return
				}
				s.applyInbox(workCtx, &rows[i])
			}
			if len(rows) < inboxBatch {
				break
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(inboxPoll)
	}
}

// applyInbox applies one inbox row: its effects and the row's completion
// commit together. A transient failure is retried with backoff, a
// permanent one (or too many attempts) marks the row dead, logged and
// counted.
func (s *approvals) applyInbox(ctx context.Context, row *InboxEvent) {
	ctx, cancel := context.WithTimeout(ctx, inboxTimeout)
	defer cancel()
	var ev ChatEvent
	if err := json.Unmarshal(row.Payload, &ev); err != nil {
		s.finishInbox(ctx, row, InboxDead, fmt.Errorf("decode stored chat event: %w", err))
		return
	}
	err := s.applyChatEvent(ctx, ev, true, func(ctx context.Context, tx ApprovalTx, now time.Time) (bool, error) {
		if _, err := tx.LockInbox(ctx, row.ID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return false, nil // applied or being applied elsewhere
			}
			return false, err
		}
		return true, tx.FinishInbox(ctx, row.ID, InboxDone, "", now)
	})
	if err == nil {
		s.inboxCount("done")
		return
	}
	attempts := row.Attempts + 1
	if IsPermanent(err) || attempts >= inboxMaxAttempts {
		s.finishInbox(ctx, row, InboxDead, err)
		return
	}
	backoff := min(time.Second<<min(row.Attempts, 10), inboxMaxBackoff)
	level := "warn"
	if errors.Is(err, ErrRetryLater) {
		backoff = min(250*time.Millisecond<<min(row.Attempts, 10), inboxRetryLaterBackoff)
		level = "debug"
	}
	now := s.clock.Now().UTC()
	rerr := s.inboxTx.WithTx(ctx, func(tx InboxTx) error {
		return tx.RetryInbox(ctx, row.ID, now.Add(backoff), err.Error(), now)
	})
	attrs := []any{"inbox_id", row.ID, "event_id", ev.ID, "kind", string(ev.Kind), "channel", ev.Channel,
		"attempts", attempts, "retry_in", backoff, "err", err}
	if rerr != nil && !errors.Is(rerr, ErrNotFound) {
		attrs = append(attrs, "record_err", rerr)
	}
	if level == "debug" {
		s.log.Debug("inbox: chat event waits for its thread; retrying", attrs...)
	} else {
		s.log.Warn("inbox: chat event not applied; retrying", attrs...)
	}
	s.inboxCount("retry")
}

// finishInbox marks a row dead (logging why) in a transaction of its own.
func (s *approvals) finishInbox(ctx context.Context, row *InboxEvent, state InboxState, cause error) {
	now := s.clock.Now().UTC()
	err := s.inboxTx.WithTx(ctx, func(tx InboxTx) error {
		return tx.FinishInbox(ctx, row.ID, state, cause.Error(), now)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.log.Warn("inbox: cannot record a dead chat event; it will be tried again", "inbox_id", row.ID, "event_id", row.EventID, "err", err, "cause", cause)
		return
	}
	s.log.Error("inbox: chat event given up (dead)", "inbox_id", row.ID, "event_id", row.EventID,
		"attempts", row.Attempts+1, "received_at", row.ReceivedAt, "err", cause)
	s.inboxCount("dead")
}

func (s *approvals) inboxCount(result string) {
	if m, ok := s.metrics.(InboxMetrics); ok {
		m.InboxDone(result)
	}
}
