package bridge

import (
	"context"
	"slices"
)

// ingestBatch is the store-facing side of one Ingest transaction. It loads
// everything the batch's posts need with a few set-based reads, lets the
// per-post logic (ingestOne, openTicket) work on the loaded rows in memory,
// and writes what changed with a few set-based statements in flush. The
// per-post logic reads and decides exactly as it would with one statement
// per step; only the round trips are gathered.
type ingestBatch struct {
	tx        IngestTx
	tickets   map[convKey]*Ticket   // loaded or created in this batch
	customers map[convKey]*Customer // loaded or created in this batch

	created    []*Ticket             // new tickets, in creation order
	updated    []*Ticket             // changed stored tickets, once each
	isUpdated  map[*Ticket]bool      //
	saved      []*Customer           // customers to write, once each
	isSaved    map[*Customer]bool    //
	customerOf map[*Ticket]*Customer // tickets whose CustomerID waits for a new customer's id
	chats      []pendingChat         // outbox rows, in order

	draftTickets []int64           // stored tickets whose drafts draftsOf may need
	drafts       map[int64][]Draft // their drafts, read at the first need
}

// convKey names a conversation or an author on a platform.
type convKey struct {
	platform Platform
	key      string
}

// pendingChat is an outbox row whose ticket may not have an id yet.
type pendingChat struct {
	ticket  *Ticket
	payload chatPayload
	channel string
	prio    Priority
}

// loadIngestBatch stores the posts (setting their IDs) and loads the
// tickets of their conversations and their authors' customer records. It
// returns the posts that are new, in order.
func loadIngestBatch(ctx context.Context, tx IngestTx, posts []*Post) (*ingestBatch, []*Post, int, error) {
	b := &ingestBatch{
		tx:         tx,
		tickets:    map[convKey]*Ticket{},
		customers:  map[convKey]*Customer{},
		isUpdated:  map[*Ticket]bool{},
		isSaved:    map[*Customer]bool{},
		customerOf: map[*Ticket]*Customer{},
	}
	inserted, err := tx.InsertPosts(ctx, posts)
	if err != nil {
		return nil, nil, 0, err
	}
	var fresh []*Post
	convs := map[Platform][]string{}
	authors := map[Platform][]string{}
	for i, p := range posts {
		if !inserted[i] {
			continue
		}
		fresh = append(fresh, p)
		convs[p.Platform] = append(convs[p.Platform], p.ConversationKey)
		if p.AuthorID != "" {
			authors[p.Platform] = append(authors[p.Platform], p.AuthorID)
		}
	}
	for platform, keys := range convs {
		ts, err := tx.TicketsByConversation(ctx, platform, keys)
		if err != nil {
			return nil, nil, 0, err
		}
		for k, t := range ts {
			b.tickets[convKey{platform, k}] = t
		}
	}
	for platform, ids := range authors {
		cs, err := tx.CustomersByAuthor(ctx, platform, ids)
		if err != nil {
			return nil, nil, 0, err
		}
		for id, c := range cs {
			b.customers[convKey{platform, id}] = c
		}
	}
	return b, fresh, len(posts) - len(fresh), nil
}

// draftsOf returns the drafts of stored ticket id. The first call reads
// the drafts of every ticket in draftTickets at once.
func (b *ingestBatch) draftsOf(ctx context.Context, id int64) ([]Draft, error) {
	if b.drafts == nil {
		ids := append(b.draftTickets, id)
		ds, err := b.tx.DraftsOfTickets(ctx, ids)
		if err != nil {
			return nil, err
		}
		b.drafts = ds
		b.draftTickets = ids
	}
	if ds, ok := b.drafts[id]; ok || slices.Contains(b.draftTickets, id) {
		return ds, nil
	}
	ds, err := b.tx.DraftsOfTickets(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	return ds[id], nil
}

// ticket returns the ticket of a conversation, or nil.
func (b *ingestBatch) ticket(platform Platform, conversationKey string) *Ticket {
	return b.tickets[convKey{platform, conversationKey}]
}

// customer returns the customer record of an author, or nil.
func (b *ingestBatch) customer(platform Platform, authorID string) *Customer {
	return b.customers[convKey{platform, authorID}]
}

// saveCustomer marks c to be written (inserted when new).
func (b *ingestBatch) saveCustomer(c *Customer) {
	b.customers[convKey{c.Platform, c.AuthorID}] = c
	if !b.isSaved[c] {
		b.isSaved[c] = true
		b.saved = append(b.saved, c)
	}
}

// setCustomer makes c the customer of t, also when c gets its id only in
// flush.
func (b *ingestBatch) setCustomer(t *Ticket, c *Customer) {
	if c.ID != 0 {
		t.CustomerID = c.ID
		return
	}
	b.customerOf[t] = c
}

// createTicket marks t to be inserted; its ID is set in flush.
func (b *ingestBatch) createTicket(t *Ticket) {
	b.tickets[convKey{t.Platform, t.ConversationKey}] = t
	b.created = append(b.created, t)
}

// updateTicket marks a changed ticket to be written. A ticket created in
// this batch is written whole when it is inserted.
func (b *ingestBatch) updateTicket(t *Ticket) {
	if t.ID == 0 || b.isUpdated[t] {
		return
	}
	b.isUpdated[t] = true
	b.updated = append(b.updated, t)
}

// enqueueChat queues a chat message for ticket t. All of a ticket's
// messages share an order key, so its thread is written in order.
func (b *ingestBatch) enqueueChat(t *Ticket, pl chatPayload, channel string, prio Priority) {
	b.chats = append(b.chats, pendingChat{ticket: t, payload: pl, channel: channel, prio: prio})
}

// flush writes the batch: customers first (tickets refer to them), then
// new and changed tickets, then the outbox rows in the order they were
// queued.
func (b *ingestBatch) flush(ctx context.Context) error {
	if err := b.tx.SaveCustomers(ctx, b.saved); err != nil {
		return err
	}
	for t, c := range b.customerOf {
		if t.CustomerID == 0 {
			t.CustomerID = c.ID
		}
	}
	if err := b.tx.CreateTickets(ctx, b.created); err != nil {
		return err
	}
	if err := b.tx.UpdateTickets(ctx, b.updated); err != nil {
		return err
	}
	items := make([]*OutboxItem, len(b.chats))
	for i, c := range b.chats {
		it, err := chatItemOf(c.ticket, c.payload, c.channel, c.prio)
		if err != nil {
			return err
		}
		items[i] = it
	}
	_, err := b.tx.EnqueueMany(ctx, items)
	return err
}
