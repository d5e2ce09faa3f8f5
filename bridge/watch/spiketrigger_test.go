package watch_test

import (
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// The spike check runs as posts are ingested: the batch that brings a
// department to spikes.min_posts new conversations queues the alert, at
// alert priority (ahead of the channel's backlog), without waiting for
// the scheduled check; the batches before it queue nothing.
func TestSpikeCheckedOnIngest(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		now := jst(2026, 3, 10, 14, 0)
		st := open()
		cfg := loadConfig(t, nil)
		r := newRig(t, st, cfg, now)
		router, err := cfg.Router()
		if err != nil {
			t.Fatal(err)
		}
		r.svc, err = bridge.New(bridge.Options{Store: st, Config: cfg, Router: router, Clock: r.clock, Logger: quiet,
			Official: map[string]bool{"sbcare": true}, TicketsOpened: r.w.TicketsOpened})
		if err != nil {
			t.Fatal(err)
		}
		r.posts(19, "no signal again")
		time.Sleep(50 * time.Millisecond) // a check started by mistake would have queued by now
		if reps := r.reports(); len(reps) != 0 {
			t.Fatalf("alerts after 19 posts = %+v, want none (min_posts 20)", reps)
		}
		r.clock.Advance(3 * time.Second)
		r.posts(1, "no signal again")
		var alerts []bridge.OutboxItem
		deadline := time.Now().Add(5 * time.Second)
		for len(alerts) < 2 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			alerts = append(alerts, r.queued(bridge.KindChatReport)...)
		}
		if len(alerts) != 2 {
			t.Fatalf("alerts after the 20th post = %d rows, want 2 (department and watch channels)", len(alerts))
		}
		for _, it := range alerts {
			if it.Priority != bridge.PriorityAlert {
				t.Errorf("alert row %d priority = %d, want PriorityAlert", it.ID, it.Priority)
			}
		}
	})
}
