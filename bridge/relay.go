package bridge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// relay is the part of the core that performs the outbox: it claims due
// rows, runs each through the handler of its kind (mirror.go posts to the
// chat surface, sender.go answers on the platform), paces them per lane,
// retries failures with backoff, reconciles rows recovered after a crash
// and records each outcome (outbox → publisher, actions, replier, poster).
type relay struct {
	*env
	store    TxRunner[RelayTx]
	outcomes TxRunner[OutcomeTx] // unknown outcomes (unknown.go)
	checks   *outcomeChecks      // paced checks of unknown outcomes (unknown.go)
	claims   OutboxClaimer
	identity string        // names this process in outbox claims
	lease    time.Duration // how long a claimed row stays with its worker
	poll     time.Duration // how often the outbox is checked when idle

	publisher  Publisher            // the chat surface
	actions    ChatActions          // optional: reactions, ephemeral notes
	repliers   map[Platform]Replier // answers, per platform
	posters    map[Platform]Poster  // original posts, per platform
	afterHours func(at time.Time) string

	pacer    *pacer
	lanes    LaneQueue // the channels' queues, for bundles (bundle.go)
	pressure *pressure // which channels bundle, and their status messages
	handlers map[string]handler
	wake     chan struct{}
	// flight counts work in flight; Stop waits for it.
	flight *sync.WaitGroup
}

// handler performs one kind of outbox work. It returns a completion that
// the relay records with the row (saving a mirror, say).
type handler func(ctx context.Context, it *OutboxItem) (completion, error)

// completion records what a delivered row changed, in the transaction
// (shared by a group of rows) that marks the row done.
type completion func(ctx context.Context, g *groupWrites) error

// OutboxTx is how the relay settles its claimed rows. Each method returns
// ErrNotFound if the row is not claimed by owner (its lease was lost), so
// a slow worker cannot overwrite another's result.
type OutboxTx interface {
	// CompleteOutbox marks a row done; CompleteOutboxMany marks several,
	// failing (the transaction must be abandoned) if any is not owner's.
	CompleteOutbox(ctx context.Context, id int64, owner string, now time.Time) error
	CompleteOutboxMany(ctx context.Context, ids []int64, owner string, now time.Time) error
	// RetryOutbox puts a row back to pending until next with the error
	// recorded; KillOutbox marks it dead (a permanent failure).
	RetryOutbox(ctx context.Context, id int64, owner string, next time.Time, lastErr string, now time.Time) error
	KillOutbox(ctx context.Context, id int64, owner string, lastErr string, now time.Time) error
	AuditWriter
}

// DeliveryTx is what the relay's handlers read before they deliver a row
// and write once it is delivered: the ticket and post a chat message
// shows, the mirror and thread it became, the draft being sent and what
// sending it changes.
type DeliveryTx interface {
	// TicketByID reads (and locks) a ticket; TicketsByID reads several,
	// by id, without locking them.
	TicketByID(ctx context.Context, id int64) (*Ticket, error)
	TicketsByID(ctx context.Context, ids []int64) (map[int64]*Ticket, error)
	// PostByID reads a post; PostsByID reads several, by id.
	PostByID(ctx context.Context, id int64) (*Post, error)
	PostsByID(ctx context.Context, ids []int64) (map[int64]*Post, error)
	// InsertPost stores p unless (Platform, ExternalID) exists already; it
	// sets p.ID either way and reports whether the post is new.
	InsertPost(ctx context.Context, p *Post) (inserted bool, err error)
	// SaveMirrors records which chat messages show which posts; (Channel,
	// TS) is unique and saving a mapping again is not an error.
	SaveMirrors(ctx context.Context, ms []Mirror) error
	// SetTicketThreads records tickets' parent chat messages, by ticket
	// id, and changes nothing else.
	SetTicketThreads(ctx context.Context, threads map[int64]ChatRef) error
	// UpdateTicket writes every mutable field of a ticket but its thread.
	UpdateTicket(ctx context.Context, t *Ticket) error
	// DraftByID reads (and locks) a draft; UpdateDraft writes every
	// mutable field.
	DraftByID(ctx context.Context, id int64) (*Draft, error)
	UpdateDraft(ctx context.Context, d *Draft) error
	Enqueuer
	AuditWriter
}

// RelayTx is the relay's transaction: a delivered row is settled in the
// transaction that records what its delivery changed.
type RelayTx interface {
	OutboxTx
	DeliveryTx
	CardTx
}

// OutcomeTx is how the relay records what it knows about a claimed row's
// outcome (unknown.go). Each method returns ErrNotFound if the row is not
// claimed by owner.
type OutcomeTx interface {
	// MarkOutboxUnknown sets a claimed row's UnknownAt to now: its attempt
	// failed but may have reached the platform, so it is checked before
	// it is sent again.
	MarkOutboxUnknown(ctx context.Context, id int64, owner string, now time.Time) error
	// SettleOutbox clears a claimed row's unknown outcome (UnknownAt): a
	// check on the platform found that no earlier attempt got through.
	SettleOutbox(ctx context.Context, id int64, owner string, now time.Time) error
	// DeferOutbox puts a claimed row back to pending until next, as
	// RetryOutbox does, but without counting the attempt: a check the
	// platform asked to wait for is no failure.
	DeferOutbox(ctx context.Context, id int64, owner string, next time.Time, lastErr string, now time.Time) error
}

// OutboxClaimer leases due outbox rows to the relay (see
// Store.ClaimOutbox).
type OutboxClaimer interface {
	ClaimOutbox(ctx context.Context, p ClaimParams) ([]OutboxItem, error)
}

// newRelay builds the relay; its handlers are registered here.
func newRelay(e *env, r relay) *relay {
	r.env = e
	r.wake = make(chan struct{}, 1)
	r.checks = &outcomeChecks{}
	r.pressure = &pressure{}
	r.handlers = map[string]handler{
		KindChatPost:      r.handleChatPost,
		KindChatReport:    r.handleChatReport,
		KindChatReact:     r.handleChatReact,
		KindChatEphemeral: r.handleChatEphemeral,
		KindSend:          r.handleSend,
		KindPlatformPost:  r.handlePlatformPost,
		KindChatCard:      r.handleChatCard,
	}
	return &r
}

// notify wakes the relay after new work was committed.
func (r *relay) notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// relay claims due outbox rows and runs them, paced per lane, until ctx
// ends. Work runs under workCtx, which outlives ctx until Stop's deadline.
func (s *relay) run(ctx, workCtx context.Context) {
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
			items, err := s.claims.ClaimOutbox(ctx, ClaimParams{
				Now: now, Limit: free, Lease: s.lease, Owner: s.identity, SkipLanes: s.pacer.busy(now),
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
			// Rows beyond what their lane can send now go back at once
			// (uncounted), so that rows queued meanwhile with a higher
			// priority are not stuck behind them (pacer.admit).
			var admitted []OutboxItem
			var back []*OutboxItem
			for i := range items {
				if s.pacer.admit(items[i].Lane, now) {
					admitted = append(admitted, items[i])
				} else {
					back = append(back, &items[i])
				}
			}
			if len(back) > 0 {
				s.putBack(workCtx, back, "the channel's pace: put back behind higher priorities")
				full = false
			}
			items = admitted
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
		timer.Reset(s.poll)
	}
}

// errLeaseEnding is why a row goes back to the queue without a platform
// call: too little of its lease is left.
var errLeaseEnding = errors.New("too little of the claim's lease is left for the platform call; put back")

// pastCallDeadline reports whether a platform call for row it made at t
// could outlast its claim: another worker could then take the row over,
// find nothing on the platform yet, and send it too. A call needs a fifth
// of the lease (at least a second) left.
func (s *relay) pastCallDeadline(it *OutboxItem, t time.Time) bool {
	if it.ClaimedUntil.IsZero() {
		return false
	}
	return t.Add(max(s.lease/5, time.Second)).After(it.ClaimedUntil)
}

// leaseEnding returns the error that puts row it back to the queue
// uncounted when too little of its lease is left for a platform call now
// (a check before it took long, say), or nil.
func (s *relay) leaseEnding(it *OutboxItem) error {
	if now := s.clock.Now(); s.pastCallDeadline(it, now) {
		return &deferredCheck{until: now, err: errLeaseEnding}
	}
	return nil
}

// pace waits for a token of row it's lane and reports whether it got
// one; it settles the row's reservation (pacer.admit) either way. A wait
// that would outlast the lease gives the row back instead.
func (s *relay) pace(ctx context.Context, it *OutboxItem) bool {
	defer s.pacer.settle(it.Lane)
	for {
		wait := s.pacer.take(it.Lane, s.clock.Now())
		if wait <= 0 {
			return true
		}
		if until := s.clock.Now().Add(wait); s.pastCallDeadline(it, until) {
			s.deferCheck(ctx, it, &deferredCheck{until: until, err: errLeaseEnding})
			return false
		}
		select {
		case <-ctx.Done():
			return false // the lease expires and the row is taken again
		case <-time.After(wait):
		}
	}
}

// process runs one claimed row and records the outcome; a sent row is
// recorded through rec. release frees the worker's slot: it is called once
// the row is sent, while its record waits for a group transaction, unless
// many rows wait already.
func (s *relay) process(ctx context.Context, it *OutboxItem, rec *committer, release func()) {
	// Pace the lane. The claim skipped busy lanes, so this rarely waits.
	if !s.pace(ctx, it) {
		return
	}
	h, ok := s.handlers[it.Kind]
	var complete completion
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
		if kerr := s.store.WithTx(ctx, func(tx RelayTx) error {
			if err := tx.KillOutbox(ctx, it.ID, s.identity, err.Error(), now); err != nil {
				return err
			}
			return audit(ctx, tx, AuditDeliveryFailed, "system", "", it.TicketID, 0,
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
		if rerr := s.store.WithTx(ctx, func(tx RelayTx) error {
			return tx.RetryOutbox(ctx, it.ID, s.identity, next, err.Error(), now)
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
	s       *relay
	mu      sync.Mutex
	queue   []*pendingRecord
	running int // transactions recording groups now
}

// pendingRecord is one sent row waiting to be recorded.
type pendingRecord struct {
	it       *OutboxItem
	complete completion
	now      time.Time
	err      error
	done     chan struct{}
}

// groupWrites is what the completions of one group write, in the group's
// transaction. The mirrors and threads they save are gathered and written
// with one statement per kind when the group ends (or before anything is
// read or written directly through Tx), so a group of fifty mirrors costs
// two statements, not a hundred.
type groupWrites struct {
	tx      RelayTx
	mirrors []Mirror
	threads map[int64]ChatRef
}

// Mirror queues m.
func (g *groupWrites) Mirror(m Mirror) { g.mirrors = append(g.mirrors, m) }

// Thread queues the thread (the parent message) of ticket ticketID. Only
// the thread is written: ingest may have changed the ticket meanwhile.
func (g *groupWrites) Thread(ticketID int64, ref ChatRef) {
	if g.threads == nil {
		g.threads = map[int64]ChatRef{}
	}
	g.threads[ticketID] = ref
}

// Tx writes what is queued and returns the transaction, for a completion
// that reads or writes more than mirrors and threads.
func (g *groupWrites) Tx(ctx context.Context) (DeliveryTx, error) {
	if err := g.flush(ctx); err != nil {
		return nil, err
	}
	return g.tx, nil
}

// flush writes the queued mirrors and threads now.
func (g *groupWrites) flush(ctx context.Context) error {
	if len(g.mirrors) > 0 {
		if err := g.tx.SaveMirrors(ctx, g.mirrors); err != nil {
			return err
		}
		g.mirrors = nil
	}
	if len(g.threads) > 0 {
		if err := g.tx.SetTicketThreads(ctx, g.threads); err != nil {
			return err
		}
		g.threads = nil
	}
	return nil
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
func (c *committer) record(ctx context.Context, it *OutboxItem, complete completion, now time.Time) error {
	me := &pendingRecord{it: it, complete: complete, now: now, done: make(chan struct{})}
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
func (c *committer) commit(ctx context.Context, group []*pendingRecord) {
	s := c.s
	one := func(tx RelayTx, m *pendingRecord) error {
		if err := tx.CompleteOutbox(ctx, m.it.ID, s.identity, m.now); err != nil {
			return err
		}
		if m.complete == nil {
			return nil
		}
		g := &groupWrites{tx: tx}
		if err := m.complete(ctx, g); err != nil {
			return err
		}
		return g.flush(ctx)
	}
	err := s.store.WithTx(ctx, func(tx RelayTx) error {
		if len(group) == 1 {
			return one(tx, group[0])
		}
		ids := make([]int64, len(group))
		for i, m := range group {
			ids[i] = m.it.ID
		}
		if err := tx.CompleteOutboxMany(ctx, ids, s.identity, group[0].now); err != nil {
			return err
		}
		g := &groupWrites{tx: tx}
		for _, m := range group {
			if m.complete != nil {
				if err := m.complete(ctx, g); err != nil {
					return err
				}
			}
		}
		return g.flush(ctx)
	})
	if err == nil {
		// Rows waiting behind these (a thread's next message) are due now.
		s.notify()
	}
	for _, m := range group {
		if err != nil && len(group) > 1 {
			m.err = s.store.WithTx(ctx, func(tx RelayTx) error { return one(tx, m) })
		} else {
			m.err = err
		}
		close(m.done)
	}
}

// backoff is exponential from 1s with jitter, capped at outbox.max_backoff.
func (s *relay) backoff(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 20)
	if m := s.cfg.Outbox.MaxBackoff.D(); m > 0 && d > m {
		d = m
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
