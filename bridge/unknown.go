package bridge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Checks of rows whose outcome is unknown.
//
// A row taken over after a crash (OutboxItem.Recovered) may have reached
// the platform already; it is looked for there before it is sent again,
// and it stays unknown (UnknownAt, persisted) until such a check
// succeeds. Platforms limit the reads these checks need much more than
// they limit sending (Slack lets apps outside its Marketplace read a
// channel's history once a minute, 15 messages at a time), so the checks
// are paced here, in the core:
//
//   - A check the platform refuses with a Retry-After holds every check
//     of its kind until then, and its row goes back to the queue until
//     then without counting as a failed attempt (Tx.DeferOutbox): a crash
//     costs time, never a give-up or a duplicate.
//   - The top-level messages of a chat channel are checked together when
//     the Publisher can list what carebridge posted (PostedLister): one
//     walk through the channel's history, page by page across as many
//     Retry-Afters as it takes, from the time the row became unknown back
//     to its creation, settles every unknown row of the channel in that
//     span; the span grows for rows outside it (only the new part is
//     read). Messages posted after the rows became unknown are not read:
//     in a busy channel they would cost most of the pages.

// PostedLister is what a Publisher may also offer: the messages
// carebridge posted at the top level of a channel, a page at a time, so
// that one read of the history settles many unknown rows.
type PostedLister interface {
	// PostedPage reads one page of the top-level messages of channel
	// posted between oldest and latest (both included), newest first,
	// starting at cursor ("" for the newest), and returns the outbox ids
	// carried by carebridge's messages among them and the cursor of the
	// next page ("" after the last).
	PostedPage(ctx context.Context, channel string, oldest, latest time.Time, cursor string) (map[int64]ChatRef, string, error)
}

// clockSkew widens the time bounds of a history read: the clocks of this
// host and of the platform may disagree by this much.
const clockSkew = time.Minute

// Kinds of checks: each is held on its own after a Retry-After.
const (
	checkChannel = "channel"     // a channel's history (PostedLister)
	checkThread  = "chat.find"   // Publisher.Find
	checkReply   = "reply.find:" // Replier.FindReply and FindDM, per account
	checkPost    = "post.find:"  // Poster.FindPost, per account
)

// deferredCheck is a check the platform asked to wait for: its row goes
// back to the queue until then, and the attempt is not counted.
type deferredCheck struct {
	until time.Time
	err   error
}

func (e *deferredCheck) Error() string {
	return fmt.Sprintf("check deferred until %s: %v", e.until.Format(time.TimeOnly), e.err)
}

func (e *deferredCheck) Unwrap() error { return e.err }

// outcomeChecks is the Service's state of checks; its zero value is
// ready.
type outcomeChecks struct {
	mu    sync.Mutex
	held  map[string]time.Time    // kind of check → the platform asked to wait until then
	scans map[string]*channelScan // channel → its current history walk
}

// channelScan is what is known of a channel's history: the ids of the
// rows found posted, and the span read through. Every message a row
// created in [from, to] and unknown since no later than to may have
// posted has been read once segs is empty.
type channelScan struct {
	from, to time.Time
	segs     []scanSegment // parts of the history still to read, first first
	found    map[int64]ChatRef
	turn     chan struct{} // one page read at a time
}

// scanSegment is one walk through part of the history, newest first; its
// bounds are those of the read, clockSkew included.
type scanSegment struct {
	oldest, latest time.Time
	cursor         string // where the next page starts
	started        bool
}

func newChannelScan(created, unknownAt time.Time) *channelScan {
	return &channelScan{from: created, to: unknownAt, found: map[int64]ChatRef{}, turn: make(chan struct{}, 1),
		segs: []scanSegment{{oldest: created.Add(-clockSkew), latest: unknownAt.Add(clockSkew)}}}
}

// widen makes the span cover a row created at created and unknown since
// unknownAt, adding only what is left to read: a part not yet begun grows,
// or a new part is queued.
func (sc *channelScan) widen(created, unknownAt time.Time) {
	if unknownAt.After(sc.to) {
		if i := len(sc.segs) - 1; i >= 0 && !sc.segs[i].started && sc.segs[i].latest.Equal(sc.to.Add(clockSkew)) {
			sc.segs[i].latest = unknownAt.Add(clockSkew)
		} else {
			sc.segs = append(sc.segs, scanSegment{oldest: sc.to.Add(clockSkew), latest: unknownAt.Add(clockSkew)})
		}
		sc.to = unknownAt
	}
	if created.Before(sc.from) {
		if i := len(sc.segs) - 1; i >= 0 && !sc.segs[i].started && sc.segs[i].oldest.Equal(sc.from.Add(-clockSkew)) {
			sc.segs[i].oldest = created.Add(-clockSkew)
		} else {
			sc.segs = append(sc.segs, scanSegment{oldest: created.Add(-clockSkew), latest: sc.from.Add(-clockSkew)})
		}
		sc.from = created
	}
}

// unknownSince is when the row's outcome became unknown.
func unknownSince(it *OutboxItem) time.Time {
	if !it.UnknownAt.IsZero() {
		return it.UnknownAt
	}
	return it.UpdatedAt // claimed before unknown_at existed
}

// paced runs check, one of kind, unless the platform asked to wait: then,
// or when check is refused with a Retry-After, it returns a deferredCheck.
func (s *relay) paced(ctx context.Context, kind string, check func(context.Context) error) error {
	c := s.checks
	now := s.clock.Now()
	c.mu.Lock()
	until := c.held[kind]
	c.mu.Unlock()
	if now.Before(until) {
		return &deferredCheck{until: until, err: errors.New("an earlier check was rate-limited")}
	}
	err := check(ctx)
	var se *SendError
	if errors.As(err, &se) && se.RetryAfter > 0 {
		return &deferredCheck{until: s.holdChecks(kind, now.Add(se.RetryAfter)), err: err}
	}
	return err
}

// holdChecks holds the checks of kind until t and returns until when they
// are held.
func (s *relay) holdChecks(kind string, t time.Time) time.Time {
	c := s.checks
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil {
		c.held = map[string]time.Time{}
	}
	if t.After(c.held[kind]) {
		c.held[kind] = t
	}
	return c.held[kind]
}

// findPosted looks for the chat message of a row whose outcome is
// unknown. When it is not there, the row is settled (its outcome is known
// again) before it returns, so that the caller may post it.
func (s *relay) findPosted(ctx context.Context, finder MessageFinder, it *OutboxItem, msg ChatMessage) (ChatRef, bool, error) {
	var ref ChatRef
	var found bool
	var err error
	if l, ok := s.publisher.(PostedLister); ok && msg.ThreadTS == "" {
		ref, found, err = s.scanChannel(ctx, l, msg.Channel, it)
	} else {
		err = s.paced(ctx, checkThread, func(ctx context.Context) error {
			var err error
			ref, found, err = finder.Find(ctx, msg.Channel, msg.ThreadTS, it.ID, it.CreatedAt)
			return err
		})
	}
	if err != nil || found {
		return ref, found, err
	}
	err = s.outcomes.WithTx(ctx, func(tx OutcomeTx) error {
		return tx.SettleOutbox(ctx, it.ID, s.identity, s.clock.Now().UTC())
	})
	return ChatRef{}, false, err
}

// scanChannel answers whether row it was posted at the top level of
// channel from what is known of the channel's history, reading on as
// needed: the span read grows to cover every row asked about, so one
// walk settles all the rows of a channel unknown since a crash.
func (s *relay) scanChannel(ctx context.Context, l PostedLister, channel string, it *OutboxItem) (ChatRef, bool, error) {
	c := s.checks
	unknownAt := unknownSince(it)
	for {
		now := s.clock.Now()
		c.mu.Lock()
		if c.scans == nil {
			c.scans = map[string]*channelScan{}
		}
		sc := c.scans[channel]
		if sc == nil {
			sc = newChannelScan(it.CreatedAt, unknownAt)
			c.scans[channel] = sc
		}
		sc.widen(it.CreatedAt, unknownAt)
		if ref, ok := sc.found[it.ID]; ok || len(sc.segs) == 0 {
			c.mu.Unlock()
			return ref, ok, nil
		}
		if until := c.held[checkChannel]; now.Before(until) {
			c.mu.Unlock()
			return ChatRef{}, false, &deferredCheck{until: until, err: errors.New("an earlier history read was rate-limited")}
		}
		c.mu.Unlock()

		select {
		case sc.turn <- struct{}{}:
		case <-ctx.Done():
			return ChatRef{}, false, ctx.Err()
		}
		err := s.scanPage(ctx, l, channel, sc)
		<-sc.turn
		if err != nil {
			return ChatRef{}, false, err
		}
	}
}

// scanPage reads the next page of sc, unless reads are held; the caller
// holds sc's turn.
func (s *relay) scanPage(ctx context.Context, l PostedLister, channel string, sc *channelScan) error {
	c := s.checks
	now := s.clock.Now()
	c.mu.Lock()
	if len(sc.segs) == 0 || now.Before(c.held[checkChannel]) {
		c.mu.Unlock()
		return nil // the caller looks again
	}
	sc.segs[0].started = true
	seg := sc.segs[0]
	c.mu.Unlock()

	found, next, err := l.PostedPage(ctx, channel, seg.oldest, seg.latest, seg.cursor)
	if err != nil {
		var se *SendError
		if errors.As(err, &se) && se.RetryAfter > 0 {
			// Spread the rows coming back a little, so that one of them
			// reads the next page and the others find it read.
			until := now.Add(se.RetryAfter + time.Duration(rand.Int64N(int64(time.Second))))
			return &deferredCheck{until: s.holdChecks(checkChannel, until), err: err}
		}
		return fmt.Errorf("read the history of %s: %w", channel, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, ref := range found {
		sc.found[id] = ref
	}
	if next != "" {
		sc.segs[0].cursor = next
		return nil
	}
	sc.segs = sc.segs[1:]
	if len(sc.segs) == 0 {
		s.log.Info("outbox: read a channel's history to settle rows whose outcome was unknown",
			"channel", channel, "since", sc.from.Format(time.RFC3339), "until", sc.to.Format(time.RFC3339), "found", len(sc.found))
	}
	return nil
}

// mayHaveArrived reports whether a failed call may still have reached the
// platform: a transport failure (SendError code "network") other than a
// failure to connect or to resolve the host. A platform's answer, an
// error or a rate limit, means the call did not take effect.
func mayHaveArrived(err error) bool {
	var se *SendError
	if !errors.As(err, &se) || se.Code != "network" {
		return false
	}
	var op *net.OpError
	var dns *net.DNSError
	return !(errors.As(err, &op) && op.Op == "dial") && !errors.As(err, &dns)
}

// markUnknown records that the failed attempt of row it may have reached
// the platform, so that the row is checked before it is sent again.
func (s *relay) markUnknown(ctx context.Context, it *OutboxItem, err error) {
	if !mayHaveArrived(err) {
		return
	}
	if merr := s.outcomes.WithTx(ctx, func(tx OutcomeTx) error {
		return tx.MarkOutboxUnknown(ctx, it.ID, s.identity, s.clock.Now().UTC())
	}); merr != nil {
		// The row is retried unchecked only if its lease is kept; a
		// lease lost to a restart makes it unknown anyway.
		s.log.Warn("outbox: could not record that an attempt may have reached the platform", "id", it.ID, "err", merr)
	}
}

// deferCheck puts a row whose check was deferred back to the queue, not
// counting the attempt, and reports whether err was such a check.
func (s *relay) deferCheck(ctx context.Context, it *OutboxItem, err error) bool {
	var dc *deferredCheck
	if !errors.As(err, &dc) {
		return false
	}
	now := s.clock.Now().UTC()
	s.log.Info("outbox: put back without counting the attempt", "id", it.ID, "kind", it.Kind, "until", dc.until.Format(time.TimeOnly), "err", err)
	if derr := s.outcomes.WithTx(ctx, func(tx OutcomeTx) error {
		return tx.DeferOutbox(ctx, it.ID, s.identity, dc.until.UTC(), err.Error(), now)
	}); derr != nil {
		s.log.Warn("outbox: could not defer; the lease will expire and it is checked again", "id", it.ID, "err", derr)
	}
	return true
}
