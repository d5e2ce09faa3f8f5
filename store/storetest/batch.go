package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// batchTests cover the set-based methods ingest uses to store a whole batch
// of posts with a few statements: they must behave exactly like the
// per-row methods.
var batchTests = []test{
	{"Batch/InsertPostsNewAndDuplicate", func(t *testing.T, s *store.Store) {
		old := newPost("b-old")
		insertPost(t, s, old)
		a, b, dupOld, dupA := newPost("b-a"), newPost("b-b"), newPost("b-old"), newPost("b-a")
		dupA.Text = "a second copy in the same batch"
		var inserted []bool
		inTx(t, s, func(tx *store.Tx) error {
			var err error
			inserted, err = tx.InsertPosts(ctx(t), []*bridge.Post{a, dupOld, b, dupA})
			return err
		})
		same(t, "inserted", inserted, []bool{true, false, true, false})
		if dupOld.ID != old.ID || dupA.ID != a.ID || a.ID == 0 || b.ID == 0 || a.ID == b.ID {
			t.Errorf("ids: old %d, dup of old %d, a %d, dup of a %d, b %d", old.ID, dupOld.ID, a.ID, dupA.ID, b.ID)
		}
		inTx(t, s, func(tx *store.Tx) error {
			got, err := tx.PostByID(ctx(t), a.ID)
			if err != nil {
				return err
			}
			same(t, "post a", got, storedPost(*a))
			ids, err := tx.PostIDs(ctx(t), onX, []string{"b-a", "b-b", "b-old", "b-missing", "b-a"})
			if err != nil {
				return err
			}
			same(t, "PostIDs", ids, map[string]int64{"b-a": a.ID, "b-b": b.ID, "b-old": old.ID})
			byID, err := tx.PostsByID(ctx(t), []int64{b.ID, a.ID, b.ID + a.ID + old.ID})
			if err != nil {
				return err
			}
			same(t, "PostsByID", byID, map[int64]*bridge.Post{a.ID: storedPost(*a), b.ID: storedPost(*b)})
			return nil
		})
	}},
	{"Batch/InsertPostsRollsBack", func(t *testing.T, s *store.Store) {
		err := withTx(s, ctx(t), func(tx *store.Tx) error {
			if _, err := tx.InsertPosts(ctx(t), []*bridge.Post{newPost("rb-1"), newPost("rb-2")}); err != nil {
				return err
			}
			return fmt.Errorf("boom")
		})
		if err == nil {
			t.Fatal("transaction did not fail")
		}
		assertEmpty(t, s, "rb-1")
		assertEmpty(t, s, "rb-2")
	}},
	{"Batch/ManyPostsInOneCall", func(t *testing.T, s *store.Store) {
		// More rows than one statement may bind.
		var ps []*bridge.Post
		for i := range 1200 {
			ps = append(ps, newPost(fmt.Sprintf("many-%04d", i)))
		}
		var keys []string
		inTx(t, s, func(tx *store.Tx) error {
			inserted, err := tx.InsertPosts(ctx(t), ps)
			if err != nil {
				return err
			}
			for i, ok := range inserted {
				if !ok {
					t.Errorf("post %d not inserted", i)
				}
				keys = append(keys, ps[i].ExternalID)
			}
			ids, err := tx.PostIDs(ctx(t), onX, keys)
			if err != nil {
				return err
			}
			if len(ids) != len(ps) {
				t.Errorf("PostIDs found %d of %d", len(ids), len(ps))
			}
			for _, p := range ps {
				if ids[p.ExternalID] != p.ID {
					t.Errorf("post %s: id %d, PostIDs %d", p.ExternalID, p.ID, ids[p.ExternalID])
				}
			}
			return nil
		})
	}},
	{"Batch/ConcurrentTransactionsNeverWaitForThePool", func(t *testing.T, s *store.Store) {
		// More transactions at once than the pool has connections (the
		// suite opens PostgreSQL with 4), each running batched statements
		// on a fresh store: a transaction must never wait for a second
		// connection (to prepare a statement, say) while it holds one.
		const txs = 16
		errs := make(chan error, txs)
		var wg sync.WaitGroup
		for i := range txs {
			wg.Go(func() {
				errs <- withTx(s, ctx(t), func(tx *store.Tx) error {
					p := newPost(fmt.Sprintf("pool-%02d", i))
					if _, err := tx.InsertPosts(ctx(t), []*bridge.Post{p}); err != nil {
						return err
					}
					if _, err := tx.PostsByID(ctx(t), []int64{p.ID}); err != nil {
						return err
					}
					_, err := tx.TicketsByID(ctx(t), []int64{p.ID})
					return err
				})
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("16 concurrent transactions did not finish within 30 s: they wait for the pool")
		}
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("transaction: %v", err)
			}
		}
	}},
	{"Batch/CustomersAndTickets", func(t *testing.T, s *store.Store) {
		_, c1, k1 := seedTicket(t, s, "conv-b1")
		p2 := newPost("b-p2")
		insertPost(t, s, p2)
		c2 := &bridge.Customer{Platform: onX, AuthorID: "u-new", Handle: "lee", FirstSeen: at(time.Second), LastSeen: at(time.Second)}
		k2 := &bridge.Ticket{Platform: onX, ConversationKey: "conv-b2", Department: "billing",
			FYI: []string{"network"}, Matched: []string{"bill"}, State: bridge.TicketOpen, RootPostID: p2.ID,
			Account: "SBCare", CreatedAt: at(time.Second), UpdatedAt: at(time.Second), LastCustomerAt: at(time.Second)}
		k3 := &bridge.Ticket{Platform: onX, ConversationKey: "conv-b3", Department: "network",
			State: bridge.TicketAnswered, RootPostID: p2.ID, CreatedAt: at(2 * time.Second), AnsweredAt: at(2 * time.Second)}
		inTx(t, s, func(tx *store.Tx) error {
			cs, err := tx.CustomersByAuthor(ctx(t), onX, []string{c1.AuthorID, "u-new", c1.AuthorID})
			if err != nil {
				return err
			}
			same(t, "customers", cs, map[string]*bridge.Customer{c1.AuthorID: storedCustomer(*c1)})
			ks, err := tx.TicketsByConversation(ctx(t), onX, []string{"conv-b1", "conv-b2"})
			if err != nil {
				return err
			}
			same(t, "tickets", ks, map[string]*bridge.Ticket{"conv-b1": storedTicket(*k1)})

			cu := cs[c1.AuthorID]
			cu.TicketCount, cu.LastDepartment, cu.LastTicketAt, cu.Name = 3, "billing", at(time.Hour), "Kim K"
			if err := tx.SaveCustomers(ctx(t), []*bridge.Customer{c2, cu}); err != nil {
				return err
			}
			if c2.ID == 0 || c2.ID == cu.ID {
				t.Errorf("new customer id %d (other %d)", c2.ID, cu.ID)
			}
			k2.CustomerID = c2.ID
			if err := tx.CreateTickets(ctx(t), []*bridge.Ticket{k2, k3}); err != nil {
				return err
			}
			if k2.ID <= k1.ID || k3.ID <= k2.ID {
				t.Errorf("ticket ids %d, %d, %d: want ascending in creation order", k1.ID, k2.ID, k3.ID)
			}
			tk := ks["conv-b1"]
			tk.State, tk.ClosedAt, tk.Tags = bridge.TicketClosed, at(time.Hour), []string{"vip"}
			k3.Department = "billing"
			if err := tx.SetTicketThreads(ctx(t), map[int64]bridge.ChatRef{tk.ID: {Channel: "C1", TS: "1.2"}}); err != nil {
				return err
			}
			// UpdateTickets leaves the thread alone, whatever the ticket
			// passed in says.
			tk.SlackChannel, tk.SlackTS = "CSTALE", "0.1"
			if err := tx.UpdateTickets(ctx(t), []*bridge.Ticket{tk, k3}); err != nil {
				return err
			}
			tk.SlackChannel, tk.SlackTS = "C1", "1.2"
			if err := setTicketThread(ctx(t), tx, k2.ID, "C2", "2.3"); err != nil {
				return err
			}
			notFound(t, "SetTicketThread of a missing ticket", setTicketThread(ctx(t), tx, k3.ID+1000, "C", "1"))

			got, err := customerByAuthor(ctx(t), tx, onX, c1.AuthorID)
			if err != nil {
				return err
			}
			same(t, "updated customer", got, storedCustomer(*cu))
			if got, err = customerByAuthor(ctx(t), tx, onX, "u-new"); err != nil {
				return err
			}
			same(t, "new customer", got, storedCustomer(*c2))
			gk, err := tx.TicketByID(ctx(t), k1.ID)
			if err != nil {
				return err
			}
			same(t, "updated ticket", gk, storedTicket(*tk))
			if gk, err = tx.TicketByID(ctx(t), k3.ID); err != nil {
				return err
			}
			same(t, "created and updated ticket", gk, storedTicket(*k3))
			if gk, err = tx.TicketByID(ctx(t), k2.ID); err != nil {
				return err
			}
			want := *k2
			want.SlackChannel, want.SlackTS = "C2", "2.3"
			same(t, "ticket with thread", gk, storedTicket(want))
			byID, err := tx.TicketsByID(ctx(t), []int64{k2.ID, k1.ID, k2.ID, k3.ID + 1000})
			if err != nil {
				return err
			}
			same(t, "TicketsByID", byID, map[int64]*bridge.Ticket{k1.ID: storedTicket(*tk), k2.ID: storedTicket(want)})
			return nil
		})
		err := withTx(s, ctx(t), func(tx *store.Tx) error {
			return tx.SetTicketThreads(ctx(t), map[int64]bridge.ChatRef{k1.ID: {Channel: "CX", TS: "9.9"}, k3.ID + 1000: {Channel: "C", TS: "1"}})
		})
		notFound(t, "SetTicketThreads with a missing ticket", err)
		inTx(t, s, func(tx *store.Tx) error {
			if err := tx.SetTicketThreads(ctx(t), map[int64]bridge.ChatRef{k3.ID: {Channel: "C3", TS: "3.3"}, k2.ID: {Channel: "C2b", TS: "2.4"}}); err != nil {
				return err
			}
			byID, err := tx.TicketsByID(ctx(t), []int64{k1.ID, k2.ID, k3.ID})
			if err != nil {
				return err
			}
			if g := byID[k3.ID]; g == nil || g.SlackChannel != "C3" || g.SlackTS != "3.3" || g.Department != "billing" {
				t.Errorf("ticket 3 after SetTicketThreads: %+v", g)
			}
			if g := byID[k1.ID]; g == nil || g.SlackChannel != "C1" || g.SlackTS != "1.2" || g.State != bridge.TicketClosed {
				t.Errorf("ticket 1 after SetTicketThreads (the failed call must change nothing): %+v", g)
			}
			if g := byID[k2.ID]; g == nil || g.SlackChannel != "C2b" || g.SlackTS != "2.4" {
				t.Errorf("ticket 2 after SetTicketThreads: %+v", g)
			}
			return nil
		})
	}},
	{"Batch/EnqueueManyRunsInOrder", func(t *testing.T, s *store.Store) {
		items := []*bridge.OutboxItem{
			{Kind: "chat.post", OrderKey: "ticket:1", Lane: "chat:a", Payload: []byte(`{"n":1}`), CreatedAt: at(0)},
			{Kind: "chat.post", OrderKey: "ticket:2", Lane: "chat:b", Payload: []byte(`{"n":2}`), CreatedAt: at(0)},
			{Kind: "chat.post", OrderKey: "ticket:1", Lane: "chat:a", Payload: []byte(`{"n":3}`), CreatedAt: at(0)},
			{Kind: "notice", DedupeKey: "once", CreatedAt: at(0)},
			{Kind: "notice", DedupeKey: "once", CreatedAt: at(0)},
			{Kind: "chat.post", OrderKey: "ticket:1", Lane: "chat:a", Payload: []byte(`{"n":4}`), CreatedAt: at(0)},
		}
		var enqueued []bool
		inTx(t, s, func(tx *store.Tx) error {
			var err error
			enqueued, err = tx.EnqueueMany(ctx(t), items)
			return err
		})
		same(t, "enqueued", enqueued, []bool{true, true, true, true, false, true})
		var ids []int64
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		if ids[4] != ids[3] {
			t.Errorf("deduplicated row got id %d, want the existing %d", ids[4], ids[3])
		}
		uniqIDs := slices.Delete(slices.Clone(ids), 4, 5)
		for i := 1; i < len(uniqIDs); i++ {
			if uniqIDs[i] <= uniqIDs[i-1] {
				t.Errorf("ids %v: want ascending in slice order", ids)
				break
			}
		}
		got := readOutbox(t, s, items[2].ID)
		if string(got.Payload) != `{"n":3}` || got.OrderKey != "ticket:1" || got.State != bridge.OutboxPending {
			t.Errorf("row %d: %+v", items[2].ID, got)
		}
		// Rows of one order key come out one at a time, in slice order.
		var order []int64
		for round := 0; round < 4; round++ {
			got := claim(t, s, bridge.ClaimParams{Now: at(time.Minute), Kinds: []string{"chat.post"}})
			for _, id := range got {
				if id != items[1].ID {
					order = append(order, id)
				}
				finish(t, s, id, "worker-1", false)
			}
		}
		same(t, "ticket:1 order", order, []int64{items[0].ID, items[2].ID, items[5].ID})
	}},
	{"Batch/SaveMirrorsAndCompleteMany", func(t *testing.T, s *store.Store) {
		p, _, k := seedTicket(t, s, "conv-m")
		q := newPost("m-q")
		insertPost(t, s, q)
		ms := []bridge.Mirror{
			{PostID: p.ID, TicketID: k.ID, Department: "network", Role: bridge.MirrorParent, Channel: "C1", TS: "1.1", CreatedAt: at(0)},
			{PostID: q.ID, TicketID: k.ID, Department: "network", Role: bridge.MirrorReply, Channel: "C1", TS: "1.2", ThreadTS: "1.1", CreatedAt: at(time.Second)},
		}
		inTx(t, s, func(tx *store.Tx) error { return tx.SaveMirrors(ctx(t), ms) })
		inTx(t, s, func(tx *store.Tx) error { return tx.SaveMirrors(ctx(t), ms[1:]) }) // again: no error
		err := withTx(s, ctx(t), func(tx *store.Tx) error {
			return tx.SaveMirrors(ctx(t), []bridge.Mirror{{PostID: p.ID, Channel: "C1", TS: "1.2"}})
		})
		if err == nil {
			t.Error("SaveMirrors let message C1/1.2 show a second post")
		}
		inTx(t, s, func(tx *store.Tx) error {
			got, err := tx.MirrorsOfTicket(ctx(t), k.ID)
			if err != nil {
				return err
			}
			want := []bridge.Mirror{ms[0], ms[1]}
			for i := range want {
				want[i].CreatedAt = stored(want[i].CreatedAt)
			}
			same(t, "mirrors", got, want)
			return nil
		})

		ids := enqueue(t, s, bridge.OutboxItem{Kind: "a"}, bridge.OutboxItem{Kind: "b"}, bridge.OutboxItem{Kind: "c"})
		claim(t, s, bridge.ClaimParams{Now: at(time.Minute), Kinds: []string{"a", "b"}})
		err = withTx(s, ctx(t), func(tx *store.Tx) error {
			return tx.CompleteOutboxMany(ctx(t), ids, "worker-1", at(2*time.Minute))
		})
		notFound(t, "CompleteOutboxMany with an unclaimed row", err)
		if got := readOutbox(t, s, ids[0]).State; got != bridge.OutboxSending {
			t.Errorf("after the failed transaction row a is %s, want sending", got)
		}
		inTx(t, s, func(tx *store.Tx) error {
			return tx.CompleteOutboxMany(ctx(t), ids[:2], "worker-1", at(2*time.Minute))
		})
		for i, want := range []bridge.OutboxState{bridge.OutboxDone, bridge.OutboxDone, bridge.OutboxPending} {
			if got := readOutbox(t, s, ids[i]).State; got != want {
				t.Errorf("row %d is %s, want %s", i, got, want)
			}
		}
	}},
}
