package storetest

import (
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

var laneTests = []test{
	{"Outbox/ClaimLaneTakesOneLaneKindPriorityInOrder", func(t *testing.T, s *store.Store) {
		r := enqueue(t, s,
			bridge.OutboxItem{Kind: "chat.post", Priority: bridge.PriorityNormal, Lane: "chat:#busy", OrderKey: "ticket:1"},
			bridge.OutboxItem{Kind: "chat.post", Priority: bridge.PriorityHigh, Lane: "chat:#busy", OrderKey: "ticket:2"},    // a mention: not bundled
			bridge.OutboxItem{Kind: "chat.post", Priority: bridge.PriorityNormal, Lane: "chat:#quiet", OrderKey: "ticket:3"}, // another channel
			bridge.OutboxItem{Kind: "chat.report", Priority: bridge.PriorityNormal, Lane: "chat:#busy"},                      // another kind
			bridge.OutboxItem{Kind: "chat.post", Priority: bridge.PriorityNormal, Lane: "chat:#busy", OrderKey: "ticket:1"},  // behind row 0
			bridge.OutboxItem{Kind: "chat.post", Priority: bridge.PriorityNormal, Lane: "chat:#busy", OrderKey: "ticket:4"},
			bridge.OutboxItem{Kind: "chat.post", Priority: bridge.PriorityNormal, Lane: "chat:#busy", OrderKey: "ticket:5", NextAttemptAt: at(time.Hour)}, // not due
			bridge.OutboxItem{Kind: "chat.post", Priority: bridge.PriorityNormal, Lane: "chat:#busy", OrderKey: "ticket:6"},
		)
		p := bridge.LaneClaim{Now: at(time.Minute), Limit: 10, Lease: time.Minute, Owner: "worker-1",
			Lane: "chat:#busy", Kind: "chat.post", Priority: bridge.PriorityNormal}
		items, err := s.ClaimLane(ctx(t), p)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, it := range items {
			got = append(got, it.ID)
			if it.State != bridge.OutboxSending || it.ClaimedBy != "worker-1" || it.Attempts != 1 || it.Recovered {
				t.Errorf("claimed row = %+v; want sending, worker-1, 1 attempt, not recovered", it)
			}
		}
		same(t, "lane claim", got, ids(r[0], r[5], r[7]))
		// What one claim took, another does not; the main claim neither.
		again, err := s.ClaimLane(ctx(t), p)
		if err != nil || len(again) != 0 {
			t.Errorf("second lane claim = %d rows, %v; want none", len(again), err)
		}
		same(t, "main claim", claim(t, s, bridge.ClaimParams{Now: at(time.Minute)}), ids(r[1], r[2], r[3]))
		// Completed rows let their ticket's next row through.
		inTx(t, s, func(tx *store.Tx) error {
			return tx.CompleteOutboxMany(ctx(t), []int64{r[0], r[5], r[7]}, "worker-1", at(time.Minute))
		})
		items, err = s.ClaimLane(ctx(t), p)
		if err != nil || len(items) != 1 || items[0].ID != r[4] {
			t.Errorf("lane claim after completion = %+v, %v; want row %d", items, err, r[4])
		}
	}},

	{"Outbox/LanesCountPendingAndOldest", func(t *testing.T, s *store.Store) {
		r := enqueue(t, s,
			bridge.OutboxItem{Kind: "chat.post", Lane: "chat:#busy", CreatedAt: at(0)},
			bridge.OutboxItem{Kind: "chat.post", Lane: "chat:#busy", CreatedAt: at(10 * time.Second)},
			bridge.OutboxItem{Kind: "chat.post", Lane: "chat:#busy", CreatedAt: at(20 * time.Second)},
			bridge.OutboxItem{Kind: "chat.post", Lane: "chat:#quiet", CreatedAt: at(30 * time.Second)},
			bridge.OutboxItem{Kind: "chat.react", CreatedAt: at(0)}, // no lane: not reported
		)
		claim(t, s, bridge.ClaimParams{Now: at(time.Minute), Limit: 1}) // sending counts as waiting
		finish(t, s, r[0], "worker-1", false)                           // done does not
		lanes, err := s.OutboxLanes(ctx(t), at(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		same(t, "lanes", lanes, []bridge.LaneStat{
			{Lane: "chat:#busy", Pending: 2, OldestAge: 50 * time.Second},
			{Lane: "chat:#quiet", Pending: 1, OldestAge: 30 * time.Second},
		})
	}},
}
