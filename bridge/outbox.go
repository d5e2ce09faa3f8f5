package bridge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// relay claims due outbox rows and runs them, paced per lane, until ctx
// ends. Work runs under workCtx, which outlives ctx until Stop's deadline.
func (s *Service) relay(ctx, workCtx context.Context) {
	slots := make(chan struct{}, max(1, s.cfg.Outbox.Workers))
	minClaim := max(1, cap(slots)/4)
	released := make(chan struct{}, 1) // a worker freed its slot
	rec := &committer{s: s}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
		full := false // the last claim filled every free slot: a backlog
		for ctx.Err() == nil {
			free := cap(slots) - len(slots)
			if free == 0 || (full && free < minClaim) {
				// Wait for a slot, then claim again. With a backlog, wait
				// until a few slots are free: a claim costs about the same
				// for one row as for many.
				select {
				case <-released:
					continue
				case <-ctx.Done():
					return
				}
			}
			now := s.clock.Now().UTC()
			items, err := s.store.ClaimOutbox(ctx, ClaimParams{
				Now: now, Limit: free, Lease: s.opt.Lease, Owner: s.opt.Identity, SkipLanes: s.pacer.busy(now),
			})
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("outbox claim failed; will retry", "err", err)
				}
				break
			}
			if len(items) == 0 {
				break
			}
			full = len(items) == free
			// One read of the tickets and posts every claimed chat message
			// shows, instead of one transaction per message.
			wctx := withChatPrefetch(workCtx, s.prefetchChat(ctx, items))
			for i := range items {
				it := items[i]
				slots <- struct{}{}
				s.flight.Add(1)
				go func() {
					var once sync.Once
					release := func() {
						once.Do(func() {
							<-slots
							select {
							case released <- struct{}{}:
							default:
							}
						})
					}
					defer func() {
						release()
						s.flight.Done()
					}()
					s.process(wctx, &it, rec, release)
				}()
			}
		}
		timer.Reset(s.opt.PollInterval)
	}
}

// process runs one claimed row and records the outcome; a sent row is
// recorded through rec. release frees the worker's slot: it is called once
// the row is sent, while its record waits for a group transaction, unless
// many rows wait already.
func (s *Service) process(ctx context.Context, it *OutboxItem, rec *committer, release func()) {
	// Pace the lane. The claim skipped busy lanes, so this rarely waits.
	for {
		wait := s.pacer.take(it.Lane, s.clock.Now())
		if wait <= 0 {
			break
		}
		select {
		case <-ctx.Done():
			return // the lease expires and the row is taken again
		case <-time.After(wait):
		}
	}
	h, ok := s.handlers[it.Kind]
	var complete func(context.Context, Tx) error
	var err error
	if !ok {
		err = &SendError{Platform: "carebridge", Code: "unknown_kind", Permanent: true, Err: fmt.Errorf("no handler for outbox kind %q", it.Kind)}
	} else {
		complete, err = h(ctx, it)
	}
	if s.deferCheck(ctx, it, err) {
		return // a check the platform asked to wait for: no failed attempt
	}
	now := s.clock.Now().UTC()
	giveUp := err != nil && (IsPermanent(err) || it.Attempts >= s.cfg.Outbox.MaxAttempts)
	s.metrics.OutboxDone(it.Kind, err, giveUp)
	switch {
	case err == nil:
		if rec.backlog() < maxGroup {
			// The row stays leased (and its successors wait) until it is
			// recorded; meanwhile the worker may send another.
			release()
		}
		if err = rec.record(ctx, it, complete, now); err != nil {
			s.log.Error("outbox: sent but could not record it; the row will be reconciled", "id", it.ID, "kind", it.Kind, "err", err)
		}
	case giveUp:
		s.log.Error("outbox: giving up", "id", it.ID, "kind", it.Kind, "lane", it.Lane, "attempts", it.Attempts, "err", err)
		if kerr := s.store.WithTx(ctx, func(tx Tx) error {
			if err := tx.KillOutbox(ctx, it.ID, s.opt.Identity, err.Error(), now); err != nil {
				return err
			}
			return s.audit(ctx, tx, AuditDeliveryFailed, "system", "", it.TicketID, 0,
				map[string]any{"outbox_id": it.ID, "kind": it.Kind, "lane": it.Lane, "attempts": it.Attempts, "error": err.Error()}, now)
		}); kerr != nil {
			s.log.Error("outbox: could not record the failure", "id", it.ID, "err", kerr)
		}
	default:
		next := now.Add(s.backoff(it.Attempts))
		var se *SendError
		if errors.As(err, &se) && se.RetryAfter > 0 {
			s.pacer.hold(it.Lane, now, now.Add(se.RetryAfter))
			if t := now.Add(se.RetryAfter); t.After(next) {
				next = t
			}
		}
		if se != nil {
			s.metrics.APIError(se.Platform, se.Code)
		}
		s.log.Info("outbox: will retry", "id", it.ID, "kind", it.Kind, "attempt", it.Attempts, "at", next.Format(time.TimeOnly), "err", err)
		if rerr := s.store.WithTx(ctx, func(tx Tx) error {
			return tx.RetryOutbox(ctx, it.ID, s.opt.Identity, next, err.Error(), now)
		}); rerr != nil {
			s.log.Warn("outbox: could not reschedule; the lease will expire and it is retried", "id", it.ID, "err", rerr)
		}
	}
}

// committer records sent rows (CompleteOutbox and the handler's
// completion) in shared transactions: a worker whose row is sent while
// another worker's transaction runs queues its row, and the next
// transaction records every queued row at once (group commit). When rows
// pile up behind a running transaction (one waiting on a row lock, say),
// a second and a third transaction record them meanwhile. A failing group
// is recorded again row by row, so one bad row does not fail others.
type committer struct {
	s       *Service
	mu      sync.Mutex
	queue   []*completion
	running int // transactions recording groups now
}

// completion is one sent row waiting to be recorded.
type completion struct {
	it       *OutboxItem
	complete func(context.Context, Tx) error
	now      time.Time
	err      error
	done     chan struct{}
}

// groupTx gathers the mirrors and threads a group's completions save, so
// that each kind is written with one statement.
type groupTx struct {
	Tx
	mirrors []Mirror
	threads map[int64]ChatRef
}

// SetTicketThread queues the thread; commit saves the queue.
func (g *groupTx) SetTicketThread(_ context.Context, ticketID int64, channel, ts string) error {
	if g.threads == nil {
		g.threads = map[int64]ChatRef{}
	}
	g.threads[ticketID] = ChatRef{Channel: channel, TS: ts}
	return nil
}

// TicketByID sees the queued threads too.
func (g *groupTx) TicketByID(ctx context.Context, id int64) (*Ticket, error) {
	if err := g.flush(ctx); err != nil {
		return nil, err
	}
	return g.Tx.TicketByID(ctx, id)
}

// SaveMirror queues m; commit saves the queue.
func (g *groupTx) SaveMirror(_ context.Context, m Mirror) error {
	g.mirrors = append(g.mirrors, m)
	return nil
}

// flush saves the queued mirrors and threads now.
func (g *groupTx) flush(ctx context.Context) error {
	if err := g.Tx.SaveMirrors(ctx, g.mirrors); err != nil {
		return err
	}
	g.mirrors = nil
	if len(g.threads) > 0 {
		if err := g.Tx.SetTicketThreads(ctx, g.threads); err != nil {
			return err
		}
		g.threads = nil
	}
	return nil
}

// MirrorsOfPost and MirrorsOfTicket see the queued mirrors too.
func (g *groupTx) MirrorsOfPost(ctx context.Context, postID int64) ([]Mirror, error) {
	if err := g.flush(ctx); err != nil {
		return nil, err
	}
	return g.Tx.MirrorsOfPost(ctx, postID)
}

// MirrorsOfTicket: see MirrorsOfPost.
func (g *groupTx) MirrorsOfTicket(ctx context.Context, ticketID int64) ([]Mirror, error) {
	if err := g.flush(ctx); err != nil {
		return nil, err
	}
	return g.Tx.MirrorsOfTicket(ctx, ticketID)
}

// backlog is how many sent rows wait for a transaction.
func (c *committer) backlog() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// maxGroup bounds how many rows one transaction records.
const maxGroup = 64

// maxCommitters bounds the transactions recording groups at once; another
// one starts only while extraCommitAt rows or more wait. One transaction
// keeps up in normal operation, and more, smaller ones cost the database
// more than they save; a second starts when the first is held up.
const (
	maxCommitters = 3
	extraCommitAt = 32
)

// record marks it done with its completion and returns once that is
// committed (or failed).
func (c *committer) record(ctx context.Context, it *OutboxItem, complete func(context.Context, Tx) error, now time.Time) error {
	me := &completion{it: it, complete: complete, now: now, done: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, me)
	if c.running > 0 && (c.running >= maxCommitters || len(c.queue) < extraCommitAt) {
		c.mu.Unlock()
		<-me.done
		return me.err
	}
	// Lead: record groups until the queue is empty.
	c.running++
	for len(c.queue) > 0 {
		n := min(len(c.queue), maxGroup)
		group := c.queue[:n:n]
		c.queue = c.queue[n:]
		c.mu.Unlock()
		c.commit(ctx, group)
		c.mu.Lock()
	}
	c.running--
	c.mu.Unlock()
	<-me.done
	return me.err
}

// commit records a group in one transaction, or row by row if that fails.
func (c *committer) commit(ctx context.Context, group []*completion) {
	s := c.s
	one := func(tx Tx, m *completion) error {
		if err := tx.CompleteOutbox(ctx, m.it.ID, s.opt.Identity, m.now); err != nil {
			return err
		}
		if m.complete != nil {
			return m.complete(ctx, tx)
		}
		return nil
	}
	err := s.store.WithTx(ctx, func(tx Tx) error {
		if len(group) == 1 {
			return one(tx, group[0])
		}
		ids := make([]int64, len(group))
		for i, m := range group {
			ids[i] = m.it.ID
		}
		if err := tx.CompleteOutboxMany(ctx, ids, s.opt.Identity, group[0].now); err != nil {
			return err
		}
		gtx := &groupTx{Tx: tx}
		for _, m := range group {
			if m.complete != nil {
				if err := m.complete(ctx, gtx); err != nil {
					return err
				}
			}
		}
		return gtx.flush(ctx)
	})
	if err == nil {
		// Rows waiting behind these (a thread's next message) are due now.
		s.notify()
	}
	for _, m := range group {
		if err != nil && len(group) > 1 {
			m.err = s.store.WithTx(ctx, func(tx Tx) error { return one(tx, m) })
		} else {
			m.err = err
		}
		close(m.done)
	}
}

// backoff is exponential from 1s with jitter, capped at outbox.max_backoff.
func (s *Service) backoff(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 20)
	if m := s.cfg.Outbox.MaxBackoff.D(); m > 0 && d > m {
		d = m
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
