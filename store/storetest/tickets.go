package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// storedTicket is k as a store returns it.
func storedTicket(k bridge.Ticket) *bridge.Ticket {
	for _, tm := range []*time.Time{&k.CreatedAt, &k.UpdatedAt, &k.LastCustomerAt,
		&k.FirstResponseAt, &k.AnsweredAt, &k.ClosedAt} {
		*tm = stored(*tm)
	}
	return &k
}

// storedCustomer is c as a store returns it.
func storedCustomer(c bridge.Customer) *bridge.Customer {
	c.FirstSeen, c.LastSeen, c.LastTicketAt = stored(c.FirstSeen), stored(c.LastSeen), stored(c.LastTicketAt)
	return &c
}

// seedTicket stores a post, its customer and a ticket for conversation key.
func seedTicket(t *testing.T, s *store.Store, key string) (*bridge.Post, *bridge.Customer, *bridge.Ticket) {
	t.Helper()
	p := newPost(key)
	p.ConversationKey = key
	c := &bridge.Customer{Platform: onX, AuthorID: p.AuthorID, Handle: "kim", FirstSeen: at(0), LastSeen: at(0)}
	k := &bridge.Ticket{Platform: onX, ConversationKey: key, Department: "network",
		State: bridge.TicketOpen, Account: "SBCare", CreatedAt: at(0), UpdatedAt: at(0), LastCustomerAt: at(0)}
	inTx(t, s, func(tx *store.Tx) error {
		if _, err := tx.InsertPost(ctx(t), p); err != nil {
			return err
		}
		if err := saveCustomer(ctx(t), tx, c); err != nil {
			return err
		}
		k.CustomerID, k.RootPostID = c.ID, p.ID
		return createTicket(ctx(t), tx, k)
	})
	return p, c, k
}

var ticketTests = []test{
	{"Ticket/ConcurrentReadModifyWriteLosesNothing", func(t *testing.T, s *store.Store) {
		// Ingest, the relay and chat events all read a ticket (or customer,
		// or draft), change a field and write it back, concurrently: reads
		// inside a transaction must hold the row so no update is lost.
		_, c, k := seedTicket(t, s, "conv-rmw")
		const workers, rounds = 4, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < rounds; i++ {
					err := withTx(s, ctx(t), func(tx *store.Tx) error {
						tk, err := tx.TicketByID(ctx(t), k.ID)
						if err != nil {
							return err
						}
						tk.Matched = append(tk.Matched, fmt.Sprintf("w%d-%d", w, i))
						if err := tx.UpdateTicket(ctx(t), tk); err != nil {
							return err
						}
						cu, err := customerByAuthor(ctx(t), tx, c.Platform, c.AuthorID)
						if err != nil {
							return err
						}
						cu.TicketCount++
						return saveCustomer(ctx(t), tx, cu)
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		inTx(t, s, func(tx *store.Tx) error {
			tk, err := tx.TicketByID(ctx(t), k.ID)
			if err != nil {
				return err
			}
			if len(tk.Matched) != workers*rounds {
				t.Errorf("ticket kept %d of %d concurrent updates", len(tk.Matched), workers*rounds)
			}
			cu, err := customerByAuthor(ctx(t), tx, c.Platform, c.AuthorID)
			if err != nil {
				return err
			}
			if cu.TicketCount != c.TicketCount+workers*rounds {
				t.Errorf("customer counted %d of %d concurrent increments", cu.TicketCount-c.TicketCount, workers*rounds)
			}
			return nil
		})
	}},
	{"Ticket/CreateAndRead", func(t *testing.T, s *store.Store) {
		_, _, k := seedTicket(t, s, "conv-1")
		if k.ID == 0 {
			t.Fatal("CreateTicket did not set the id")
		}
		inTx(t, s, func(tx *store.Tx) error {
			got, err := tx.TicketByID(ctx(t), k.ID)
			if err != nil {
				return err
			}
			same(t, "TicketByID", got, storedTicket(*k))
			got, err = ticketByConversation(ctx(t), tx, onX, "conv-1")
			if err != nil {
				return err
			}
			same(t, "TicketByConversation", got, storedTicket(*k))

			_, err = tx.TicketByID(ctx(t), k.ID+1000)
			notFound(t, "TicketByID of a missing ticket", err)
			_, err = ticketByConversation(ctx(t), tx, onX, "conv-2")
			notFound(t, "TicketByConversation of a missing ticket", err)
			// Not mirrored yet: the empty thread must not find it.
			_, err = tx.TicketByThread(ctx(t), "", "")
			notFound(t, "TicketByThread of an empty thread", err)
			return nil
		})
	}},

	{"Ticket/OnePerConversation", func(t *testing.T, s *store.Store) {
		_, _, k := seedTicket(t, s, "conv-1")
		err := withTx(s, ctx(t), func(tx *store.Tx) error {
			return createTicket(ctx(t), tx, &bridge.Ticket{Platform: onX,
				ConversationKey: "conv-1", Department: "sales", State: bridge.TicketOpen, CreatedAt: at(time.Minute)})
		})
		if err == nil {
			t.Fatal("a second ticket for the same conversation was created")
		}
		inTx(t, s, func(tx *store.Tx) error {
			got, err := ticketByConversation(ctx(t), tx, onX, "conv-1")
			if err != nil {
				return err
			}
			if got.ID != k.ID || got.Department != "network" {
				t.Errorf("conversation now has ticket %d of %s, want %d of network", got.ID, got.Department, k.ID)
			}
			// The same key on another platform is another conversation.
			return createTicket(ctx(t), tx, &bridge.Ticket{Platform: "bluesky", ConversationKey: "conv-1",
				State: bridge.TicketOpen, CreatedAt: at(0)})
		})
	}},

	{"Ticket/ConcurrentFindOrCreateIsOneTicket", func(t *testing.T, s *store.Store) {
		// Replicas ingesting posts of one new conversation at once: each
		// looks the ticket up and creates it if missing. All succeed and
		// the conversation has one ticket (a store may run fn again).
		const replicas = 3
		// On their first run the transactions wait for each other after the
		// look-up, so that (where the store lets them run at once) all of
		// them miss the ticket. A store that serializes transactions makes
		// the wait time out instead.
		var lookedUp sync.WaitGroup
		lookedUp.Add(replicas)
		allLookedUp := make(chan struct{})
		go func() { lookedUp.Wait(); close(allLookedUp) }()

		got := make([]int64, replicas)
		var wg sync.WaitGroup
		for i := range replicas {
			wg.Go(func() {
				firstRun := true
				err := withTx(s, ctx(t), func(tx *store.Tx) error {
					k, err := ticketByConversation(ctx(t), tx, onX, "busy")
					if firstRun {
						firstRun = false
						lookedUp.Done()
						select {
						case <-allLookedUp:
						case <-time.After(200 * time.Millisecond):
						}
					}
					if errors.Is(err, bridge.ErrNotFound) {
						k = &bridge.Ticket{Platform: onX, ConversationKey: "busy", State: bridge.TicketOpen, CreatedAt: at(0)}
						err = createTicket(ctx(t), tx, k)
					}
					if err != nil {
						return err
					}
					got[i] = k.ID
					return nil
				})
				if err != nil {
					t.Errorf("replica %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		for i, id := range got {
			if id == 0 || id != got[0] {
				t.Errorf("replica %d saw ticket %d, replica 0 saw %d", i, id, got[0])
			}
		}
	}},

	{"Ticket/UpdateWritesEveryField", func(t *testing.T, s *store.Store) {
		_, _, k := seedTicket(t, s, "conv-1")
		p2 := newPost("conv-1-b")
		insertPost(t, s, p2)
		c2 := &bridge.Customer{Platform: onX, AuthorID: "someone-else"}
		inTx(t, s, func(tx *store.Tx) error { return saveCustomer(ctx(t), tx, c2) })

		upd := *k
		upd.Department = "sales"
		upd.FYI = []string{"network", "exec"}
		upd.Matched = []string{"wifi", "Wi-Fi 遅い"}
		upd.Tags = []string{"outage"}
		upd.State = bridge.TicketAnswered
		upd.CustomerID = c2.ID
		upd.RootPostID = p2.ID
		upd.Account = "SBCareWiFi"
		upd.UpdatedAt = at(time.Hour)
		upd.LastCustomerAt = at(50 * time.Minute)
		upd.FirstResponseAt = at(30 * time.Minute)
		upd.AnsweredAt = at(55 * time.Minute)
		upd.ClosedAt = at(time.Hour)
		inTx(t, s, func(tx *store.Tx) error {
			if err := tx.UpdateTicket(ctx(t), &upd); err != nil {
				return err
			}
			// The thread is the relay's: SetTicketThread writes it, and
			// UpdateTicket leaves it as it is.
			if err := setTicketThread(ctx(t), tx, upd.ID, "C0NETWORK", "1767225600.000100"); err != nil {
				return err
			}
			stale := upd
			stale.SlackChannel, stale.SlackTS = "C0OTHER", "1767225600.000900"
			return tx.UpdateTicket(ctx(t), &stale)
		})
		upd.SlackChannel, upd.SlackTS = "C0NETWORK", "1767225600.000100"

		inTx(t, s, func(tx *store.Tx) error {
			got, err := tx.TicketByThread(ctx(t), "C0NETWORK", "1767225600.000100")
			if err != nil {
				return err
			}
			same(t, "ticket after update", got, storedTicket(upd))
			_, err = tx.TicketByThread(ctx(t), "C0NETWORK", "1767225600.000200")
			notFound(t, "TicketByThread of another message", err)

			// And back: lists emptied, times zeroed, references cleared.
			upd.FYI, upd.Matched, upd.Tags = nil, nil, nil
			upd.ClosedAt, upd.AnsweredAt = time.Time{}, time.Time{}
			upd.CustomerID = 0
			if err := tx.UpdateTicket(ctx(t), &upd); err != nil {
				return err
			}
			got, err = tx.TicketByID(ctx(t), k.ID)
			if err != nil {
				return err
			}
			same(t, "ticket after clearing fields", got, storedTicket(upd))

			missing := upd
			missing.ID = k.ID + 1000
			notFound(t, "UpdateTicket of a missing ticket", tx.UpdateTicket(ctx(t), &missing))
			return nil
		})
	}},

	{"Customer/SaveAndHistory", func(t *testing.T, s *store.Store) {
		c := &bridge.Customer{Platform: onX, AuthorID: "42", Handle: "kim", Name: "Kim 🍜",
			FirstSeen: at(0), LastSeen: at(0)}
		inTx(t, s, func(tx *store.Tx) error { return saveCustomer(ctx(t), tx, c) })
		if c.ID == 0 {
			t.Fatal("SaveCustomer did not set the id")
		}

		// Three tickets over three days, newest last.
		var tickets []*bridge.Ticket
		inTx(t, s, func(tx *store.Tx) error {
			for i := range 3 {
				k := &bridge.Ticket{Platform: onX, ConversationKey: fmt.Sprintf("c%d", i),
					Department: []string{"network", "sales", "billing"}[i], State: bridge.TicketOpen,
					CustomerID: c.ID, CreatedAt: at(time.Duration(i) * 24 * time.Hour)}
				if err := createTicket(ctx(t), tx, k); err != nil {
					return err
				}
				tickets = append(tickets, k)
			}
			c.TicketCount, c.LastDepartment, c.LastTicketAt = 3, "billing", tickets[2].CreatedAt
			c.LastSeen, c.Handle = at(48*time.Hour), "kim_new"
			return saveCustomer(ctx(t), tx, c)
		})

		inTx(t, s, func(tx *store.Tx) error {
			got, err := customerByAuthor(ctx(t), tx, onX, "42")
			if err != nil {
				return err
			}
			same(t, "customer", got, storedCustomer(*c))

			_, err = customerByAuthor(ctx(t), tx, onX, "43")
			notFound(t, "CustomerByAuthor of a stranger", err)
			return nil
		})

		// (Platform, AuthorID) is one customer.
		err := withTx(s, ctx(t), func(tx *store.Tx) error {
			return saveCustomer(ctx(t), tx, &bridge.Customer{Platform: onX, AuthorID: "42"})
		})
		if err == nil {
			t.Error("a second customer with the same author id was saved")
		}
	}},

	{"Time/UTCMicrosecondsAndOrdering", func(t *testing.T, s *store.Store) {
		// Nanoseconds and a zone go in; UTC microseconds come out.
		p := newPost("time")
		p.CreatedAt = time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.FixedZone("PST", -8*60*60))
		p.ReceivedAt = time.Time{}
		insertPost(t, s, p)
		inTx(t, s, func(tx *store.Tx) error {
			got, err := tx.PostByID(ctx(t), p.ID)
			if err != nil {
				return err
			}
			want := time.Date(2027, 1, 1, 7, 59, 59, 999999000, time.UTC)
			if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
				t.Errorf("CreatedAt = %v (%v), want %v in UTC", got.CreatedAt, got.CreatedAt.Location(), want)
			}
			if !got.ReceivedAt.IsZero() {
				t.Errorf("zero ReceivedAt came back as %v", got.ReceivedAt)
			}
			return nil
		})

		// Ordering in SQL follows the instant, to the microsecond, whatever
		// zone the times were written in.
		c := &bridge.Customer{Platform: onX, AuthorID: "order"}
		var a, b, d *bridge.Ticket
		inTx(t, s, func(tx *store.Tx) error {
			if err := saveCustomer(ctx(t), tx, c); err != nil {
				return err
			}
			jst := time.FixedZone("JST", 9*60*60)
			pst := time.FixedZone("PST", -8*60*60)
			// a: 10:00:00.000002 UTC, written in JST.
			a = &bridge.Ticket{Platform: onX, ConversationKey: "a", State: bridge.TicketOpen, CustomerID: c.ID,
				CreatedAt: time.Date(2026, 3, 1, 19, 0, 0, 2000, jst)}
			// b: 10:00:00.000001 UTC, written in UTC: older than a by 1µs.
			b = &bridge.Ticket{Platform: onX, ConversationKey: "b", State: bridge.TicketOpen, CustomerID: c.ID,
				CreatedAt: time.Date(2026, 3, 1, 10, 0, 0, 1000, time.UTC)}
			// d: 09:30 UTC, written in PST (01:30 local): oldest.
			d = &bridge.Ticket{Platform: onX, ConversationKey: "d", State: bridge.TicketOpen, CustomerID: c.ID,
				CreatedAt: time.Date(2026, 3, 1, 1, 30, 0, 0, pst)}
			return errors.Join(createTicket(ctx(t), tx, a), createTicket(ctx(t), tx, b), createTicket(ctx(t), tx, d))
		})
		inTx(t, s, func(tx *store.Tx) error {
			list, err := tx.ListTickets(ctx(t), bridge.TicketFilter{})
			if err != nil {
				return err
			}
			var order []string
			for _, k := range list {
				order = append(order, k.ConversationKey)
			}
			same(t, "tickets oldest first (d, then b 1µs before a)", order, []string{d.ConversationKey, b.ConversationKey, a.ConversationKey})
			return nil
		})
	}},
}
