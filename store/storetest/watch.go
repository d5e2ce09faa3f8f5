package storetest

import (
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// watchTicket stores a post and its ticket of dept created at c.
func watchTicket(t *testing.T, s *store.Store, key, dept string, c time.Time, edit func(k *bridge.Ticket)) *bridge.Ticket {
	t.Helper()
	p := newPost(key)
	p.ConversationKey = key
	k := &bridge.Ticket{Platform: onX, ConversationKey: key, Department: dept,
		State: bridge.TicketOpen, CreatedAt: c, UpdatedAt: c, LastCustomerAt: c}
	if edit != nil {
		edit(k)
	}
	inTx(t, s, func(tx *store.Tx) error {
		if _, err := tx.InsertPost(ctx(t), p); err != nil {
			return err
		}
		k.RootPostID = p.ID
		return createTicket(ctx(t), tx, k)
	})
	return k
}

func ticketIDs(ts []bridge.Ticket) []int64 {
	out := []int64{}
	for _, k := range ts {
		out = append(out, k.ID)
	}
	return out
}

var watchTests = []test{
	{"Watch/TicketQueries", func(t *testing.T, s *store.Store) {
		from, to := at(time.Hour), at(2*time.Hour)
		old := watchTicket(t, s, "w-old", "network", at(0), nil) // waiting since before the period
		answeredOld := watchTicket(t, s, "w-ans", "network", at(0), func(k *bridge.Ticket) {
			k.State, k.FirstResponseAt, k.AnsweredAt = bridge.TicketAnswered, at(90*time.Minute), at(90*time.Minute)
		})
		closedBefore := watchTicket(t, s, "w-closed", "network", at(0), func(k *bridge.Ticket) {
			k.State, k.ClosedAt = bridge.TicketClosed, at(30*time.Minute)
		})
		inPeriod := watchTicket(t, s, "w-new", "network", at(70*time.Minute), nil)
		otherDept := watchTicket(t, s, "w-wifi", "wifi", at(80*time.Minute), nil)
		after := watchTicket(t, s, "w-after", "network", at(3*time.Hour), nil)
		_ = closedBefore

		var active, all []bridge.Ticket
		var counts map[string]int
		var roots []bridge.Post
		var listed []bridge.Ticket
		inTx(t, s, func(tx *store.Tx) error {
			var err error
			if active, err = tx.TicketsActive(ctx(t), "network", from, to); err != nil {
				return err
			}
			if all, err = tx.TicketsActive(ctx(t), "", from, to); err != nil {
				return err
			}
			if counts, err = tx.CountTicketsByDepartment(ctx(t), from, to); err != nil {
				return err
			}
			if roots, err = tx.RootPosts(ctx(t), "network", from, to, 0); err != nil {
				return err
			}
			listed, err = tx.ListTickets(ctx(t), bridge.TicketFilter{States: []bridge.TicketState{bridge.TicketOpen}, Department: "network"})
			return err
		})
		same(t, "active tickets of network", ticketIDs(active), ids(old.ID, answeredOld.ID, inPeriod.ID))
		same(t, "active tickets of every department", ticketIDs(all), ids(old.ID, answeredOld.ID, inPeriod.ID, otherDept.ID))
		same(t, "counts", counts, map[string]int{"network": 1, "wifi": 1})
		if len(roots) != 1 || roots[0].ExternalID != "w-new" {
			t.Errorf("root posts = %+v, want the post of w-new", roots)
		}
		same(t, "open network tickets", ticketIDs(listed), ids(old.ID, inPeriod.ID, after.ID))
	}},
	{"Watch/OpsEventsOnce", func(t *testing.T, s *store.Store) {
		ev := bridge.OpsEvent{Kind: bridge.OpsSLABreach, Key: "sla:1:first_response:x:breach", Department: "network",
			TicketID: 1, At: at(time.Hour), Due: at(59 * time.Minute)}
		var first, second bool
		inTx(t, s, func(tx *store.Tx) error {
			var err error
			e := ev
			if first, err = tx.RecordOpsEvent(ctx(t), &e); err != nil {
				return err
			}
			e2 := ev
			e2.At = at(2 * time.Hour)
			second, err = tx.RecordOpsEvent(ctx(t), &e2)
			return err
		})
		if !first || second {
			t.Fatalf("recorded first=%v second=%v, want true then false", first, second)
		}
		inTx(t, s, func(tx *store.Tx) error {
			e := bridge.OpsEvent{Kind: bridge.OpsSLABreach, Key: "other", Department: "wifi", At: at(3 * time.Hour)}
			_, err := tx.RecordOpsEvent(ctx(t), &e)
			return err
		})
		var got []bridge.OpsEvent
		var last *bridge.OpsEvent
		var lastErr error
		inTx(t, s, func(tx *store.Tx) error {
			var err error
			if got, err = tx.OpsEvents(ctx(t), bridge.OpsEventFilter{Kind: bridge.OpsSLABreach, Department: "network", From: at(0), To: at(4 * time.Hour)}); err != nil {
				return err
			}
			last, err = tx.LastOpsEvent(ctx(t), bridge.OpsSLABreach, "network", at(4*time.Hour))
			if err != nil {
				return err
			}
			_, lastErr = tx.LastOpsEvent(ctx(t), bridge.OpsSpike, "network", at(4*time.Hour))
			return nil
		})
		if len(got) != 1 || !got[0].At.Equal(stored(at(time.Hour))) || !got[0].Due.Equal(stored(at(59*time.Minute))) || got[0].TicketID != 1 {
			t.Errorf("events = %+v, want the one breach with its times", got)
		}
		if last == nil || last.Key != ev.Key {
			t.Errorf("last = %+v, want %s", last, ev.Key)
		}
		notFound(t, "last spike", lastErr)
	}},
}
