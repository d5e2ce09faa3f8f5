package bridge

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bundles: a traffic spike shown at the chat surface's pace.
//
// Slack shows about one message a second per channel. When a channel's
// queue is deeper than its pace can show within bundles.target (default a
// minute), the relay mirrors the passive keyword hits that open new
// tickets (PriorityNormal parents) several to a message: the row it
// claimed takes the channel's next such rows with it (Store.ClaimLane, in
// id order) and one MessageBundle shows them all, each entry unfiltered
// and escaped with its author, link, matched keywords, reply eligibility
// and an Answer button. Mentions, DMs, follow-ups in existing threads,
// notices and alerts are never bundled and go first (their priority is
// higher). Bundles hold bundles.size posts, more (up to bundles.max_size)
// when the queue is so deep that bundles of that size would not show it
// within the target. Single messages resume once the queue is down to half
// of what the target allows.
//
// A bundle carries the outbox ids of all its entries (the Slack
// publisher puts them in the message metadata), and its rows are marked
// done together in the transaction that records the head row: a crash
// between the post and that commit leaves every row to be taken over, and
// each is found in the bundle by the usual check (MessageFinder,
// PostedLister: ChatRef.Bundle set) and marked done without a second
// post. A bundled ticket has no thread (and no mirror: a chat message
// shows one post in the mirrors table) until one of these gives it one:
//
//   - the Answer button (EventAction "answer"): its parent message is
//     posted at once (PriorityHigh), saying who opened it;
//   - a follow-up from the customer: it opens the thread (as a parent
//     whose context links the conversation's first post), like any reply
//     whose ticket has no thread;
//   - an SLA warning or breach, or any other notice: the thread opens
//     with the ticket's first post and the notice on it.
//
// Drafts need a thread, so a bundled ticket is answered after one of
// those. Its SLA clock runs from its creation as for any ticket: a
// bundle does not stop the clock.
//
// While a channel bundles, one status message in it says so, posted when
// bundling starts and updated in place (MessageUpdater) at most every
// statusEvery, with a last update when single messages resume. The status
// is this process's: it is not kept across restarts (a restarted process
// posts a new one), and each replica that bundles a channel keeps its
// own.

// Bundle message kinds.
const (
	// MessageBundle shows several new posts of a channel under pressure
	// (ChatMessage.Bundle), each with an Answer button.
	MessageBundle MessageKind = "bundle"
	// MessageStatus is a channel's traffic status line (ChatMessage.Text,
	// written by carebridge), updated in place.
	MessageStatus MessageKind = "status"
)

// ActionAnswer is the action of a bundle entry's Answer button; its value
// is BundleEntry.Value.
const ActionAnswer = "answer"

// BundleEntry is one post in a bundle.
type BundleEntry struct {
	OutboxID   int64
	Ticket     *Ticket
	Post       *Post
	Official   bool   // the post is by one of our official accounts
	History    string // the customer's earlier conversations
	AfterHours string // when the post arrived outside office hours: when the clock starts
	Answerable string // as ChatMessage.Answerable
	Answers    string // as ChatMessage.Answers
	// Value identifies the entry for the Answer button (ticket, post and
	// outbox row); the core reads it back from the button's action.
	Value string
}

// answerValue is a bundle entry's button value: "t<ticket>.p<post>.o<row>".
func answerValue(ticketID, postID, outboxID int64) string {
	return fmt.Sprintf("t%d.p%d.o%d", ticketID, postID, outboxID)
}

// parseAnswerValue reads the ticket id from a button value made by
// answerValue.
func parseAnswerValue(v string) (ticketID int64, ok bool) {
	t, _, found := strings.Cut(v, ".")
	if !found || !strings.HasPrefix(t, "t") {
		return 0, false
	}
	id, err := strconv.ParseInt(t[1:], 10, 64)
	return id, err == nil && id > 0
}

// BundleRenderer is an optional capability of a Publisher: it renders
// MessageBundle (each entry with an Answer button whose action comes back
// as an EventAction "answer") and MessageStatus. The relay bundles only
// on a surface that has it.
type BundleRenderer interface {
	RendersBundles() bool
}

// LaneQueue is how the relay sees one channel's queue for bundles; the
// store implements it (Store.ClaimLane, Store.OutboxLanes).
type LaneQueue interface {
	ClaimLane(ctx context.Context, p LaneClaim) ([]OutboxItem, error)
	OutboxLanes(ctx context.Context, now time.Time) ([]LaneStat, error)
}

// statusEvery is the least time between two updates of a status message.
const statusEvery = 5 * time.Second

// depthEvery is how old the relay's reading of the lanes' depths may be.
const depthEvery = time.Second

// pressure is the relay's view of its lanes' queues and of the lanes that
// bundle.
type pressure struct {
	mu     sync.Mutex
	read   time.Time
	depth  map[string]int
	status map[string]*laneStatus
	ended  map[string]*laneStatus // lanes that stopped bundling, for statusReuse
}

// statusReuse is how long after a lane stopped bundling its status
// message is updated again, rather than a new one posted, when it
// bundles again.
const statusReuse = 15 * time.Minute

// laneStatus is a lane that bundles.
type laneStatus struct {
	since     time.Time
	shown     int // posts shown in bundles since
	bundles   int
	size      int
	ref       ChatRef // the status message, once posted
	updated   time.Time
	channel   string
	dept      string
	deptName  string
	ending    bool
	endedAt   time.Time
	publishMu sync.Mutex // one status post or update at a time
}

// laneDepth returns lane's pending rows, read at most depthEvery ago.
func (s *relay) laneDepth(ctx context.Context, lane string) (int, bool) {
	p := s.pressure
	p.mu.Lock()
	defer p.mu.Unlock()
	now := s.clock.Now()
	if p.depth == nil || now.Sub(p.read) >= depthEvery || now.Before(p.read) {
		lanes, err := s.lanes.OutboxLanes(ctx, now)
		if err != nil {
			s.log.Warn("outbox: cannot read the channels' queues; not bundling", "err", err)
			return 0, false
		}
		p.depth = make(map[string]int, len(lanes))
		for _, l := range lanes {
			p.depth[l.Lane] = l.Pending
		}
		p.read = now
	}
	return p.depth[lane], true
}

// bundleSize says how many posts the next message of lane shows: 1 when
// the lane's queue can be shown at its pace within bundles.target.
func (s *relay) bundleSize(ctx context.Context, lane string) int {
	b := s.cfg.Bundles
	if b.Disabled || s.lanes == nil || s.pacer.disabled || lane == "" || b.Size < 2 {
		return 1
	}
	if br, ok := s.publisher.(BundleRenderer); !ok || !br.RendersBundles() {
		return 1
	}
	depth, ok := s.laneDepth(ctx, lane)
	if !ok {
		return 1
	}
	fits := s.pacer.rate * b.Target.D().Seconds() // messages the target allows
	p := s.pressure
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.status[lane]
	switch {
	case st == nil && float64(depth) <= fits:
		return 1
	case st != nil && float64(depth) <= fits/2:
		st.ending = true // the caller posts this row alone and ends the status
		return 1
	}
	// Bundles big enough to show the queue within half the target, so
	// that a post waits about that long while the flood lasts; a bundle
	// never shrinks while the channel bundles, so the queue left when the
	// flood stops drains at the pace it reached rather than ever more
	// slowly.
	size := int(math.Ceil(float64(depth) / max(fits/2, 1)))
	size = min(max(size, b.Size), max(b.MaxSize, b.Size))
	if st != nil {
		size = max(size, st.size)
	}
	if st == nil {
		if p.status == nil {
			p.status = map[string]*laneStatus{}
		}
		if old := p.ended[lane]; old != nil && s.clock.Now().Sub(old.endedAt) < statusReuse {
			// Heavy again soon after: the same status message says so
			// again, rather than a new one.
			st = old
			st.ending, st.updated = false, time.Time{}
			delete(p.ended, lane)
		} else {
			st = &laneStatus{since: s.clock.Now()}
		}
		p.status[lane] = st
	}
	st.size = size
	return size
}

// bundleRow is one row of a bundle being built.
type bundleRow struct {
	it *OutboxItem
	pl chatPayload
}

// bundleable reports whether row it may be shown in a bundle: a new
// ticket's parent from a passive source, in its department's channel, not
// a row whose outcome is unknown (those are checked one by one).
func bundleable(it *OutboxItem, pl chatPayload) bool {
	return pl.Kind == MessageParent && it.Priority == PriorityNormal && !it.Recovered && pl.Channel == "" && pl.OpenedBy == ""
}

// handleBundle posts row it, a new ticket's passive parent, with the
// next such rows of its lane in one bundle of up to size posts.
func (s *relay) handleBundle(ctx context.Context, it *OutboxItem, pl chatPayload, size int) (completion, error) {
	now := s.clock.Now().UTC()
	more, err := s.lanes.ClaimLane(ctx, LaneClaim{Now: now, Limit: size - 1, Lease: s.lease, Owner: s.identity,
		Lane: it.Lane, Kind: KindChatPost, Priority: PriorityNormal})
	if err != nil {
		s.log.Warn("outbox: cannot take more rows for a bundle; posting the row alone", "id", it.ID, "err", err)
		more = nil
	}
	rows := []bundleRow{{it, pl}}
	var extra []*OutboxItem
	for i := range more {
		var mpl chatPayload
		if json.Unmarshal(more[i].Payload, &mpl) != nil || !bundleable(&more[i], mpl) || mpl.Department != pl.Department {
			s.putBack(ctx, []*OutboxItem{&more[i]}, "not a new ticket's message of this channel: shown alone")
			continue
		}
		rows = append(rows, bundleRow{&more[i], mpl})
		extra = append(extra, &more[i])
	}
	if len(rows) == 1 {
		// Nothing else could be taken: no bundle of one. If the queue has
		// drained (rather than another worker's bundle taking the rest),
		// the status ends.
		if s.drained(ctx, it.Lane, 1) {
			s.pressure.markEnding(it.Lane)
			defer s.endStatus(ctx, it.Lane)
		}
		return s.postChat(ctx, it, pl)
	}
	slices.SortFunc(rows, func(a, b bundleRow) int { return cmp.Compare(a.it.ID, b.it.ID) })
	var tickets map[int64]*Ticket
	var posts map[int64]*Post
	tids, pids := make([]int64, len(rows)), make([]int64, len(rows))
	for i, r := range rows {
		tids[i], pids[i] = r.pl.TicketID, r.pl.PostID
	}
	err = s.store.WithTx(ctx, func(tx RelayTx) error {
		var err error
		if tickets, err = tx.TicketsByID(ctx, tids); err != nil {
			return err
		}
		posts, err = tx.PostsByID(ctx, pids)
		return err
	})
	if err != nil {
		s.putBack(ctx, extra, "bundle: cannot read its posts")
		return nil, fmt.Errorf("bundle: read tickets and posts: %w", err)
	}
	dept := s.cfg.Department(pl.Department)
	if dept == nil {
		s.putBack(ctx, extra, "bundle: department no longer configured")
		return nil, &SendError{Platform: "carebridge", Code: "unknown_department", Permanent: true, Err: fmt.Errorf("department %q is no longer configured", pl.Department)}
	}
	msg := ChatMessage{Kind: MessageBundle, Channel: dept.Channel, Department: dept.ID, DeptName: dept.Name}
	var shown []*OutboxItem // the rows besides it that the bundle shows
	for _, r := range rows {
		t, p := tickets[r.pl.TicketID], posts[r.pl.PostID]
		if t == nil || p == nil || t.SlackTS != "" {
			if r.it != it {
				s.putBack(ctx, []*OutboxItem{r.it}, "bundle: ticket or post missing, or the ticket has a thread: shown alone")
				continue
			}
			s.putBack(ctx, extra, "bundle: its first row is shown alone")
			return s.postChat(ctx, it, pl)
		}
		e := BundleEntry{OutboxID: r.it.ID, Ticket: t, Post: p, History: r.pl.History, Value: answerValue(t.ID, p.ID, r.it.ID)}
		e.Official = s.isOfficial(p)
		_, e.Answerable = s.answerable(p)
		if o, ok := s.networks[p.Platform].(AnswerOptions); ok && !e.Official {
			e.Answers = o.AnswerOptions(p)
		}
		if !e.Official && s.afterHours != nil {
			e.AfterHours = s.afterHours(r.pl.Received)
		}
		msg.Bundle = append(msg.Bundle, e)
		if r.it != it {
			shown = append(shown, r.it)
		}
	}
	msg.OutboxID = msg.Bundle[0].OutboxID
	s.showStatus(ctx, it.Lane, dept.Channel, dept.ID, dept.Name)
	if err := s.leaseEnding(it); err != nil {
		s.putBack(ctx, shown, "bundle: lease ending")
		return nil, err
	}
	ref, err := s.publisher.Publish(ctx, msg)
	if err != nil {
		s.markUnknown(ctx, it, err)
		for _, x := range shown {
			s.markUnknown(ctx, x, err)
		}
		s.putBack(ctx, shown, "bundle not posted: "+err.Error())
		return nil, err
	}
	s.log.Info("outbox: bundle posted", "channel", ref.Channel, "ts", ref.TS, "posts", len(msg.Bundle), "first", msg.OutboxID)
	at := s.clock.Now()
	for _, r := range rows {
		s.metrics.MirrorLatency(at.Sub(r.pl.Received))
	}
	s.bundled(ctx, it.Lane, len(msg.Bundle), s.drained(ctx, it.Lane, len(rows)))
	ids := make([]int64, len(shown))
	for i, x := range shown {
		ids[i] = x.ID
	}
	return func(ctx context.Context, g *groupWrites) error {
		if len(ids) == 0 {
			return nil
		}
		if err := g.flush(ctx); err != nil {
			return err
		}
		// The head row is completed by the committer; its companions here,
		// in the same transaction. No mirror and no thread: a bundle is no
		// ticket's thread.
		return g.tx.CompleteOutboxMany(ctx, ids, s.identity, s.clock.Now().UTC())
	}, nil
}

// putBack returns rows claimed for a bundle to the queue, due at once,
// without counting the attempt.
func (s *relay) putBack(ctx context.Context, items []*OutboxItem, why string) {
	now := s.clock.Now().UTC()
	for _, it := range items {
		if err := s.outcomes.WithTx(ctx, func(tx OutcomeTx) error {
			return tx.DeferOutbox(ctx, it.ID, s.identity, now, why, now)
		}); err != nil {
			s.log.Warn("outbox: could not put a row back; its lease will expire and it is taken again", "id", it.ID, "err", err)
		}
	}
}

// bundled counts a bundle of n posts in lane's status; drained says the
// bundle took every row that was left, and then the status ends.
func (s *relay) bundled(ctx context.Context, lane string, n int, drained bool) {
	p := s.pressure
	p.mu.Lock()
	st := p.status[lane]
	if st != nil {
		st.shown += n
		st.bundles++
	}
	p.mu.Unlock()
	if st != nil {
		s.updateStatus(ctx, lane, st, drained)
	}
}

// showStatus posts lane's status message unless it is there already.
func (s *relay) showStatus(ctx context.Context, lane, channel, dept, deptName string) {
	p := s.pressure
	p.mu.Lock()
	st := p.status[lane]
	p.mu.Unlock()
	if st == nil {
		return
	}
	st.publishMu.Lock()
	defer st.publishMu.Unlock()
	if st.ref.TS != "" {
		return
	}
	st.channel, st.dept, st.deptName = channel, dept, deptName
	// The status message is a message of the channel: it waits for the
	// channel's pace like any other (a second at most).
	for {
		wait := s.pacer.take(lane, s.clock.Now())
		if wait <= 0 {
			break
		}
		if wait > 2*time.Second {
			return // held by a Retry-After: the next bundle tries again
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	depth, _ := s.laneDepth(ctx, lane)
	ref, err := s.publisher.Publish(ctx, ChatMessage{Kind: MessageStatus, Channel: channel, Department: dept, DeptName: deptName,
		Text: s.statusText(st, depth, false)})
	if err != nil {
		s.log.Warn("outbox: could not post the channel's traffic status", "channel", channel, "err", err)
		return
	}
	st.ref, st.updated = ref, s.clock.Now()
}

// updateStatus rewrites lane's status message in place, at most every
// statusEvery unless final; a final update ends the lane's bundling.
func (s *relay) updateStatus(ctx context.Context, lane string, st *laneStatus, final bool) {
	if final {
		p := s.pressure
		p.mu.Lock()
		if p.status[lane] == st {
			delete(p.status, lane)
			if p.ended == nil {
				p.ended = map[string]*laneStatus{}
			}
			st.endedAt = s.clock.Now()
			p.ended[lane] = st
			p.read = time.Time{} // the next decision reads the queue afresh
		}
		p.mu.Unlock()
	}
	st.publishMu.Lock()
	defer st.publishMu.Unlock()
	up, ok := s.publisher.(MessageUpdater)
	if !ok || st.ref.TS == "" || (!final && s.clock.Now().Sub(st.updated) < statusEvery) {
		return
	}
	depth, _ := s.laneDepth(ctx, lane)
	err := up.Update(ctx, st.ref, ChatMessage{Kind: MessageStatus, Channel: st.channel, Department: st.dept, DeptName: st.deptName,
		Text: s.statusText(st, depth, final)})
	if err != nil {
		s.log.Warn("outbox: could not update the channel's traffic status", "channel", st.channel, "err", err)
		return
	}
	st.updated = s.clock.Now()
}

// drained reports whether lane's queue, read afresh, less the holding
// rows the caller is posting now, is down to half of what the target
// allows: single messages resume.
func (s *relay) drained(ctx context.Context, lane string, holding int) bool {
	s.pressure.mu.Lock()
	s.pressure.read = time.Time{}
	s.pressure.mu.Unlock()
	depth, ok := s.laneDepth(ctx, lane)
	s.log.Debug("outbox: is the channel's queue drained?", "lane", lane, "depth", depth, "holding", holding)
	return ok && float64(depth-holding) <= s.pacer.rate*s.cfg.Bundles.Target.D().Seconds()/2
}

// endStatusIfDrained ends lane's status, if it has one, once its queue
// (less the row being posted) has drained.
func (s *relay) endStatusIfDrained(ctx context.Context, lane string) {
	s.pressure.mu.Lock()
	active := s.pressure.status[lane] != nil
	s.pressure.mu.Unlock()
	if active && s.drained(ctx, lane, 1) {
		s.pressure.markEnding(lane)
		s.endStatus(ctx, lane)
	}
}

// markEnding says lane's queue has drained: its status ends.
func (p *pressure) markEnding(lane string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.status[lane]; st != nil {
		st.ending = true
	}
}

// endStatus ends lane's bundling, if it bundles, with a last update of
// its status message.
func (s *relay) endStatus(ctx context.Context, lane string) {
	p := s.pressure
	p.mu.Lock()
	st := p.status[lane]
	ending := st != nil && st.ending
	p.mu.Unlock()
	if ending {
		s.updateStatus(ctx, lane, st, true)
	}
}

// statusText is a lane's status line: "Heavy traffic: 1,240 posts in 10
// min — shown in bundles of 10; mentions and DMs first".
func (s *relay) statusText(st *laneStatus, depth int, final bool) string {
	mins := max(1, int(math.Round(s.clock.Now().Sub(st.since).Minutes())))
	if final {
		return fmt.Sprintf(":white_check_mark: Traffic back to normal: %s posts were shown in %s bundles since %s; new posts are single messages again.",
			fmtCount(st.shown), fmtCount(st.bundles), st.since.Format("15:04 MST"))
	}
	return fmt.Sprintf(":rotating_light: *Heavy traffic*: %s posts in %d min — shown in bundles of %d; mentions and DMs first. %s waiting. Press *Answer* on a post to give it its own thread.",
		fmtCount(st.shown+depth), mins, st.size, fmtCount(depth))
}

// fmtCount writes n with thousands separators: 1,240.
func fmtCount(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// AuditThreadOpened records that someone pressed Answer on a bundled
// post: its ticket gets its own thread.
const AuditThreadOpened AuditKind = "thread_opened"

// lookupAnswer finds the ticket an Answer button is about (nil: none of
// ours). Anyone in the channel may open a thread but the watchers, who
// only watch.
func (s *approvals) lookupAnswer(ctx context.Context, ev ChatEvent) (*lookup, error) {
	id, ok := parseAnswerValue(ev.Value)
	if !ok {
		return nil, nil
	}
	var t *Ticket
	err := s.store.WithTx(ctx, func(tx ApprovalTx) error {
		var err error
		t, err = tx.TicketByID(ctx, id)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	l := &lookup{ticket: t, dept: s.cfg.Department(t.Department)}
	if l.dept == nil {
		return nil, nil
	}
	if l.watcher, err = s.memberOf(ctx, ev.User, s.watchers); err != nil {
		return nil, fmt.Errorf("resolve watchers: %w", err)
	}
	return l, nil
}

// answer applies the Answer button: the ticket's first post gets its own
// parent message, the ticket's thread from then on (queued at high
// priority, once: a second press or another person's finds it queued or
// done).
func (w *work) answer() error {
	if w.look.watcher {
		return w.ephemeral("Watchers read conversations but do not answer them, so no thread was opened.")
	}
	t, err := w.tx.TicketByID(w.ctx, w.look.ticket.ID)
	if err != nil {
		return err
	}
	if t.SlackTS != "" {
		return nil // it has its thread already
	}
	it, err := chatItemOf(t, chatPayload{Kind: MessageParent, PostID: t.RootPostID, Department: w.look.dept.ID,
		OpenedBy: w.ev.User, Received: w.now}, w.look.dept.Channel, PriorityHigh)
	if err != nil {
		return err
	}
	it.DedupeKey = fmt.Sprintf("answer:%d", t.ID)
	queued, err := w.tx.Enqueue(w.ctx, it)
	if err != nil || !queued {
		return err
	}
	return w.audit(AuditThreadOpened, 0, map[string]any{"channel": w.ev.Channel, "bundle_ts": w.ev.ItemTS})
}
