package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/carebridge/carebridge/bridge/route"
)

// ingester is the part of the core that turns what the sources deliver
// into stored posts, tickets and the outbox rows that mirror them: sources
// → ingest → route → ticket → outbox. It runs the sources (on the leader
// only) and implements Sink for them.
type ingester struct {
	*env
	store    TxRunner[IngestTx]
	router   *route.Router
	fetchers map[Platform]PostFetcher // optional, per platform
	accounts map[Platform][]string    // our answering accounts' handles
	sources  []Source
	elector  Elector // optional
	// leaderCheck is how often leadership is checked.
	leaderCheck time.Duration
	// ticketsOpened, if set, hears of each committed batch's new tickets
	// per department (Options.TicketsOpened).
	ticketsOpened func(ctx context.Context, byDepartment map[string]int)
}

// IngestTx is what ingest reads and writes in a batch's transaction. Look-
// ups by several keys return maps that leave out what is not stored.
type IngestTx interface {
	// InsertPosts stores the posts unless (Platform, ExternalID) exists
	// already, sets their IDs either way and reports for each whether it
	// is new; a post listed twice is new only once.
	InsertPosts(ctx context.Context, posts []*Post) (inserted []bool, err error)
	// PostIDs returns the ids of the stored posts among externalIDs.
	PostIDs(ctx context.Context, platform Platform, externalIDs []string) (map[string]int64, error)
	// TicketsByConversation reads (and locks) the tickets of the
	// conversations, by conversation key.
	TicketsByConversation(ctx context.Context, platform Platform, conversationKeys []string) (map[string]*Ticket, error)
	// CustomersByAuthor reads (and locks) the customers among authorIDs,
	// by author id.
	CustomersByAuthor(ctx context.Context, platform Platform, authorIDs []string) (map[string]*Customer, error)
	// SaveCustomers inserts the new customers (ID 0, setting ID) and
	// updates the others.
	SaveCustomers(ctx context.Context, cs []*Customer) error
	// CreateTickets inserts tickets, assigning ids in slice order;
	// (Platform, ConversationKey) is unique. UpdateTickets writes every
	// mutable field but the thread, which only the relay records.
	CreateTickets(ctx context.Context, ts []*Ticket) error
	UpdateTickets(ctx context.Context, ts []*Ticket) error
	// DraftsOfTickets lists the drafts of tickets, oldest first, by ticket
	// id (tickets without drafts are left out).
	DraftsOfTickets(ctx context.Context, ticketIDs []int64) (map[int64][]Draft, error)
	// EnqueueMany adds outbox rows as Enqueue does; their ids ascend in
	// slice order, so rows sharing an OrderKey run in that order.
	EnqueueMany(ctx context.Context, items []*OutboxItem) (enqueued []bool, err error)
	// Cursor reads a source's cursor ("" and no error when unset);
	// SetCursor saves it.
	Cursor(ctx context.Context, key string) (string, error)
	SetCursor(ctx context.Context, key, value string, now time.Time) error
	AuditWriter
}

// Ingest implements Sink: see its documentation.
func (s *ingester) Ingest(ctx context.Context, b Batch) (IngestResult, error) {
	posts := append([]Post(nil), b.Posts...)
	sortPosts(posts)
	posts = s.withAncestors(ctx, posts)
	var res IngestResult
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		res = IngestResult{}
		now := s.clock.Now().UTC()
		err = s.store.WithTx(ctx, func(tx IngestTx) error {
			if err := s.ingestBatch(ctx, tx, posts, b.Cursor, now, &res); err != nil {
				return err
			}
			return s.enqueueSourceNotice(ctx, tx, b.Notice, now)
		})
		if err == nil || ctx.Err() != nil {
			break
		}
		// A concurrent ingest of the same conversation (another source,
		// another replica) can race us to create its ticket; everything
		// here is idempotent, so try again.
		s.log.Debug("ingest retry", "err", err, "attempt", attempt+1)
	}
	if err != nil {
		return IngestResult{}, err
	}
	var platform Platform
	if len(posts) > 0 {
		platform = posts[0].Platform // a source feeds one platform
	}
	for src, n := range res.BySource {
		for i := 0; i < n; i++ {
			s.metrics.PostIngested(src, platform, false)
		}
	}
	if res.New > 0 || b.Notice != nil {
		s.wakeRelay()
	}
	if s.ticketsOpened != nil && len(res.ByDepartment) > 0 {
		s.ticketsOpened(ctx, res.ByDepartment)
	}
	return res, nil
}

// sortPosts orders posts oldest first, so that a conversation's root is
// stored before its replies.
func sortPosts(posts []Post) {
	sort.SliceStable(posts, func(i, j int) bool {
		a, b := posts[i], posts[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		ai, aerr := strconv.ParseUint(a.ExternalID, 10, 64)
		bi, berr := strconv.ParseUint(b.ExternalID, 10, 64)
		if aerr == nil && berr == nil {
			return ai < bi
		}
		return a.ExternalID < b.ExternalID
	})
}

// maxAncestors bounds how far up a reply chain withAncestors fetches.
const maxAncestors = 8

// wanted is one step up a reply chain: the post to look for and the reply
// (or fetched ancestor) that needs it.
type wanted struct {
	platform Platform
	id       string
	child    string
}

// withAncestors fetches the missing ancestors of replies — the post each
// one answers, up to the conversation's root — so that staff see the
// context and a thread is always written parent before child, whatever
// order the sources delivered the posts in. It climbs all the batch's
// reply chains together, one level at a time, with one store look-up per
// level. Failures only log: the reply is then shown without them.
func (s *ingester) withAncestors(ctx context.Context, posts []Post) []Post {
	if len(s.fetchers) == 0 {
		return posts
	}
	have := map[string]bool{}
	for _, p := range posts {
		have[string(p.Platform)+"/"+p.ExternalID] = true
	}
	var level []wanted
	want := func(platform Platform, id, child string) {
		if id == "" || have[string(platform)+"/"+id] {
			return
		}
		have[string(platform)+"/"+id] = true
		level = append(level, wanted{platform, id, child})
	}
	for _, p := range posts {
		if p.IsDM() {
			continue
		}
		next := p.InReplyTo
		if next == "" && p.ConversationKey != "" && p.ConversationKey != p.ExternalID {
			next = p.ConversationKey
		}
		want(p.Platform, next, p.ExternalID)
	}
	var fetched []Post
	for depth := 0; len(level) > 0 && depth < maxAncestors; depth++ {
		stored, err := s.storedPosts(ctx, level)
		cur := level
		level = nil
		if err != nil {
			s.log.Warn("cannot check whether the posts replies answer are stored; showing the replies without them", "err", err)
			break
		}
		for _, w := range cur {
			if stored[string(w.platform)+"/"+w.id] {
				continue
			}
			f := s.fetchers[w.platform]
			if f == nil {
				continue // nothing fetches this platform's posts
			}
			parent, err := f.FetchPost(ctx, w.id)
			if err != nil {
				s.log.Warn("cannot fetch the post a reply answers; showing the reply without it", "post", w.child, "parent", w.id, "err", err)
				continue
			}
			parent.Source = SourceLookup
			fetched = append(fetched, *parent)
			want(w.platform, parent.InReplyTo, parent.ExternalID)
		}
	}
	if len(fetched) == 0 {
		return posts
	}
	all := append(fetched, posts...)
	sortPosts(all)
	return all
}

// storedPosts reports which of the wanted posts are in the store, keyed
// by platform/id.
func (s *ingester) storedPosts(ctx context.Context, level []wanted) (map[string]bool, error) {
	byPlatform := map[Platform][]string{}
	for _, w := range level {
		byPlatform[w.platform] = append(byPlatform[w.platform], w.id)
	}
	out := map[string]bool{}
	err := s.store.WithTx(ctx, func(tx IngestTx) error {
		for platform, ids := range byPlatform {
			found, err := tx.PostIDs(ctx, platform, ids)
			if err != nil {
				return err
			}
			for id := range found {
				out[string(platform)+"/"+id] = true
			}
		}
		return nil
	})
	return out, err
}

// ingestBatch stores a batch of posts in tx with a few set-based
// statements (see ingestBatch), runs the per-post logic on each new post in
// order and saves the poller's cursor in the same transaction.
func (s *ingester) ingestBatch(ctx context.Context, tx IngestTx, posts []Post, cursor *Cursor, now time.Time, res *IngestResult) error {
	ps := make([]*Post, len(posts))
	for i := range posts {
		p := posts[i] // the caller's retry starts from the posts as given
		if p.Platform == "" {
			return fmt.Errorf("ingest post %q: no platform (a source must say where its posts come from)", p.ExternalID)
		}
		if p.ConversationKey == "" {
			p.ConversationKey = p.ExternalID
		}
		if p.CreatedAt.IsZero() {
			p.CreatedAt = now
		}
		p.ReceivedAt = now
		sanitize(&p)
		ps[i] = &p
	}
	b, fresh, dups, err := loadIngestBatch(ctx, tx, ps)
	if err != nil {
		return fmt.Errorf("ingest %d posts: %w", len(ps), err)
	}
	res.Duplicate += dups
	// Our own accounts' posts in known conversations are checked against
	// the drafts being sent: read those drafts together.
	for _, p := range fresh {
		if t := b.ticket(p.Platform, p.ConversationKey); t != nil && t.ID != 0 && s.isOfficial(p) {
			b.draftTickets = append(b.draftTickets, t.ID)
		}
	}
	for _, p := range fresh {
		if err := s.ingestOne(ctx, b, p, now, res); err != nil {
			return fmt.Errorf("ingest %s/%s: %w", p.Platform, p.ExternalID, err)
		}
	}
	if err := b.flush(ctx); err != nil {
		return fmt.Errorf("ingest %d posts: %w", len(ps), err)
	}
	if cursor != nil {
		if err := tx.SetCursor(ctx, cursor.Key, cursor.Value, now); err != nil {
			return err
		}
	}
	return nil
}

// ingestOne handles one new post (already stored) and queues what it
// causes.
func (s *ingester) ingestOne(ctx context.Context, b *ingestBatch, p *Post, now time.Time, res *IngestResult) error {
	res.New++
	if res.BySource == nil {
		res.BySource = map[SourceKind]int{}
	}
	res.BySource[p.Source]++
	official := s.isOfficial(p)

	t := b.ticket(p.Platform, p.ConversationKey)
	if t == nil {
		return s.openTicket(ctx, b, p, official, now, res)
	}

	// Our own reply, read back by a poller before its send was recorded
	// (the process died between the platform call and the commit): the
	// send's reconciliation records it; it is not a post to mirror.
	if official {
		own, err := s.ownReplyInFlight(ctx, b, t, p)
		if err != nil {
			return err
		}
		if own {
			s.log.Info("ingest: our own reply came back before its send was recorded; not mirrored",
				"post", p.ExternalID, "ticket", t.ID)
			return nil
		}
	}

	// A later post of a known conversation: into the same thread. A
	// customer's follow-up reopens an answered or closed ticket.
	if !official {
		if p.AuthorID != "" {
			cust := s.touchCustomer(b, p, now)
			if t.CustomerID == 0 {
				b.setCustomer(t, cust) // the conversation began with our own post
			}
		}
		t.LastCustomerAt = now
		if t.State == TicketAnswered || t.State == TicketClosed {
			if err := s.reopened(ctx, b.tx, t, p, now); err != nil {
				return err
			}
			t.State = TicketOpen
			t.ClosedAt = time.Time{}
		}
		t.UpdatedAt = now
		b.updateTicket(t)
	}
	dept := s.cfg.Department(t.Department)
	if dept == nil {
		dept = s.cfg.Department(s.cfg.Triage)
	}
	// A follow-up in an existing thread is a conversation staff already
	// see: it goes ahead of passive hits that open new tickets (and is
	// never bundled).
	b.enqueueChat(t, chatPayload{Kind: MessageReply, PostID: p.ID, Department: dept.ID, Received: now}, dept.Channel, PriorityHigh)
	return nil
}

// ownReplyInFlight reports whether p, a post of one of our accounts in
// ticket t's conversation, is the public reply of a draft that is being
// sent (or was sent as p): same account, same answer as the platform's
// Network compares them.
func (s *ingester) ownReplyInFlight(ctx context.Context, b *ingestBatch, t *Ticket, p *Post) (bool, error) {
	if t.ID == 0 {
		return false, nil // created in this batch: no drafts yet
	}
	drafts, err := b.draftsOf(ctx, t.ID)
	if err != nil {
		return false, err
	}
	for _, d := range drafts {
		if d.Visibility != VisibilityPublic || !strings.EqualFold(d.Account, p.AuthorHandle) ||
			!s.sameAnswer(p.Platform, d.Text, p.Text) {
			continue
		}
		if d.State == DraftSending || (d.State == DraftSent && d.SentID == p.ExternalID) {
			return true, nil
		}
	}
	return false, nil
}

// openTicket routes p, creates its ticket and queues the parent message
// and the FYI copies. A conversation our own account began (an outage
// notice, say) opens an answered ticket, so customers' replies to it
// gather in one thread and nobody is asked to answer ourselves.
func (s *ingester) openTicket(ctx context.Context, b *ingestBatch, p *Post, official bool, now time.Time, res *IngestResult) error {
	text := p.Text
	if p.Title != "" {
		text = p.Title + "\n" + p.Text
	}
	r := s.router.Route(route.Input{Text: text, Mentions: p.Mentions})
	if r.Rule < 0 && p.DefaultDepartment != "" && s.cfg.Department(p.DefaultDepartment) != nil {
		r.Department = p.DefaultDepartment // the source's team takes what no rule claims
	}
	dept := s.cfg.Department(r.Department)
	if dept == nil {
		return fmt.Errorf("router chose unknown department %q", r.Department)
	}
	var cust *Customer
	history := "first contact"
	if official {
		history = "our own post"
	}
	if p.AuthorID != "" && !official {
		cust = s.touchCustomer(b, p, now)
		if cust.TicketCount > 0 {
			history = s.historyLine(cust)
		}
		cust.TicketCount++
		cust.LastDepartment = dept.ID
		cust.LastTicketAt = now
		b.saveCustomer(cust)
	}
	t := &Ticket{
		Platform:        p.Platform,
		ConversationKey: p.ConversationKey,
		Department:      dept.ID,
		FYI:             r.FYI,
		Matched:         r.Matched,
		Tags:            r.Tags,
		State:           TicketOpen,
		RootPostID:      p.ID,
		Account:         s.answeringAccount(p, dept.Account),
		CreatedAt:       now,
		UpdatedAt:       now,
		LastCustomerAt:  now,
	}
	if cust != nil {
		b.setCustomer(t, cust)
	}
	if official {
		t.State, t.LastCustomerAt, t.AnsweredAt = TicketAnswered, time.Time{}, now
	}
	b.createTicket(t)
	res.Tickets++
	if !official {
		if res.ByDepartment == nil {
			res.ByDepartment = map[string]int{}
		}
		res.ByDepartment[dept.ID]++
	}
	s.metrics.PostRouted(dept.ID)
	prio := PriorityOf(p.Source)
	b.enqueueChat(t, chatPayload{Kind: MessageParent, PostID: p.ID, Department: dept.ID, History: history, Received: now}, dept.Channel, prio)
	s.enqueueWatchFYI(b, t, p, official, now)
	for _, f := range r.FYI {
		fd := s.cfg.Department(f)
		if fd == nil {
			continue
		}
		b.enqueueChat(t, chatPayload{Kind: MessageFYI, PostID: p.ID, Department: fd.ID, Received: now}, fd.Channel, PriorityLow)
	}
	return nil
}

// answeringAccount picks the official account that answers: one of ours
// on the post's platform that the post mentions (on X only that one may
// reply publicly), else the department's if it is on that platform, else
// the platform's first account (a department names one account, and it
// may be on another network).
func (s *ingester) answeringAccount(p *Post, deptAccount string) string {
	ours := s.accounts[p.Platform]
	for _, m := range p.Mentions {
		for _, a := range ours {
			if strings.EqualFold(a, m) {
				return a
			}
		}
	}
	for _, a := range ours {
		if strings.EqualFold(a, deptAccount) {
			return a
		}
	}
	if len(ours) > 0 {
		return ours[0]
	}
	return deptAccount
}

// touchCustomer finds or creates the author's customer record and marks
// them seen (it is saved when the batch is flushed).
func (s *ingester) touchCustomer(b *ingestBatch, p *Post, now time.Time) *Customer {
	c := b.customer(p.Platform, p.AuthorID)
	if c == nil {
		c = &Customer{Platform: p.Platform, AuthorID: p.AuthorID, FirstSeen: now}
	}
	if p.AuthorHandle != "" {
		c.Handle = p.AuthorHandle
	}
	if p.AuthorName != "" {
		c.Name = p.AuthorName
	}
	c.LastSeen = now
	b.saveCustomer(c)
	return c
}

// historyLine summarizes a returning customer for staff.
func (s *ingester) historyLine(c *Customer) string {
	n := c.TicketCount
	word := "conversations"
	if n == 1 {
		word = "conversation"
	}
	line := fmt.Sprintf("%d earlier %s", n, word)
	if !c.LastTicketAt.IsZero() {
		line += ", last " + c.LastTicketAt.In(s.cfg.Location).Format("2006-01-02")
		if d := s.cfg.Department(c.LastDepartment); d != nil {
			line += " in " + d.Channel
		}
	}
	return line
}

// sanitize makes a post storable everywhere without changing valid text:
// invalid UTF-8 becomes U+FFFD and NUL characters (which PostgreSQL
// refuses in text) are dropped. A hostile post must not fail its batch.
func sanitize(p *Post) {
	clean := func(s string) string {
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "\uFFFD")
		}
		if strings.IndexByte(s, 0) >= 0 {
			s = strings.ReplaceAll(s, "\x00", "")
		}
		return s
	}
	p.Text = clean(p.Text)
	p.Title = clean(p.Title)
	p.AuthorName = clean(p.AuthorName)
	p.AuthorHandle = clean(p.AuthorHandle)
	p.ExternalID = clean(p.ExternalID)
	p.ConversationKey = clean(p.ConversationKey)
	if len(p.Raw) > 0 && (!utf8.Valid(p.Raw) || bytes.IndexByte(p.Raw, 0) >= 0 || bytes.Contains(p.Raw, []byte(`\u0000`))) {
		p.Raw = json.RawMessage(bytes.ReplaceAll(bytes.ReplaceAll(bytes.ToValidUTF8(p.Raw, []byte("\uFFFD")), []byte{0}, nil), []byte(`\u0000`), nil))
	}
}

// runSources runs every source while this process leads (always, without
// an elector), starting them when it becomes the leader and stopping them
// when it stops being one.
func (s *ingester) runSources(ctx context.Context) {
	start := func(ctx context.Context, wg *sync.WaitGroup) {
		for _, src := range s.sources {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.superviseSource(ctx, src)
			}()
		}
	}
	var wg sync.WaitGroup
	if s.elector == nil {
		start(ctx, &wg)
		wg.Wait()
		return
	}
	tick := time.NewTicker(s.leaderCheck)
	defer tick.Stop()
	var stop context.CancelFunc
	for {
		err := s.elector.IsLeader(ctx)
		switch {
		case err == nil && stop == nil:
			s.log.Info("leading: starting the sources", "sources", len(s.sources))
			var lctx context.Context
			lctx, stop = context.WithCancel(ctx)
			start(lctx, &wg)
		case err != nil && stop != nil:
			s.log.Warn("no longer leading: stopping the sources", "err", err)
			stop()
			wg.Wait()
			stop = nil
		}
		select {
		case <-ctx.Done():
			if stop != nil {
				stop()
			}
			wg.Wait()
			return
		case <-tick.C:
		}
	}
}

// superviseSource runs src until ctx ends, restarting it with backoff.
func (s *ingester) superviseSource(ctx context.Context, src Source) {
	backoff := time.Second
	for {
		start := s.clock.Now()
		err := src.Run(ctx, s)
		if ctx.Err() != nil {
			return
		}
		if s.clock.Now().Sub(start) > time.Minute {
			backoff = time.Second
		}
		s.log.Warn("source stopped; restarting", "source", src.Name(), "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Minute)
	}
}

// Cursor implements Sink.
func (s *ingester) Cursor(ctx context.Context, key string) (string, error) {
	var v string
	err := s.store.WithTx(ctx, func(tx IngestTx) error {
		var err error
		v, err = tx.Cursor(ctx, key)
		return err
	})
	return v, err
}

// Seen implements Sink.
func (s *ingester) Seen(ctx context.Context, platform Platform, ids []string) (map[string]bool, error) {
	seen := map[string]bool{}
	err := s.store.WithTx(ctx, func(tx IngestTx) error {
		found, err := tx.PostIDs(ctx, platform, ids)
		for id := range found {
			seen[id] = true
		}
		return err
	})
	return seen, err
}

// reopened records that a customer's follow-up reopened an answered or
// closed ticket (the next-response clock starts from it).
func (s *ingester) reopened(ctx context.Context, tx AuditWriter, t *Ticket, p *Post, now time.Time) error {
	if t.State != TicketClosed {
		return nil // answered → open is the ordinary next-response clock
	}
	return Audit(ctx, tx, AuditTicketReopened, "system", t.Department, t.ID, map[string]any{"post": p.ExternalID, "closed_at": t.ClosedAt}, now)
}

// enqueueWatchFYI queues the FYI line of a new ticket in the executive
// watch channel when watch.mirror is on. Our own posts are left out.
func (s *ingester) enqueueWatchFYI(b *ingestBatch, t *Ticket, p *Post, official bool, now time.Time) {
	w := s.cfg.Watch
	if !w.Mirror || w.Channel == "" || official {
		return
	}
	b.enqueueChat(t, chatPayload{Kind: MessageFYI, PostID: p.ID, Department: t.Department, Channel: w.Channel, Received: now}, w.Channel, PriorityLow)
}

// enqueueSourceNotice queues a source's own message (Batch.Notice) for
// the triage department's channel in the batch's transaction.
func (s *ingester) enqueueSourceNotice(ctx context.Context, tx IngestTx, r *Report, now time.Time) error {
	if r == nil {
		return nil
	}
	dept := s.cfg.Department(s.cfg.Triage)
	if dept == nil {
		return fmt.Errorf("source notice %q: no triage department", r.Title)
	}
	it, err := ReportItemOf(dept.Channel, dept.ID, "", *r, PriorityHigh, now)
	if err != nil {
		return err
	}
	_, err = tx.EnqueueMany(ctx, []*OutboxItem{it})
	return err
}
