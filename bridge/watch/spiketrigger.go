package watch

import (
	"context"
	"sync"
	"time"
)

// Spike checks as posts arrive.
//
// The scheduled spike check runs once a minute; a traffic bomb can queue
// hundreds of posts in that minute, and the alert would then arrive after
// the flood. TicketsOpened (handed to the core as
// bridge.Options.TicketsOpened) counts each ingested batch's new tickets
// per department in memory, and when a department's count in the spike
// window reaches spikes.min_posts — the floor every alert needs — it runs
// CheckSpikes in the background, at most once every spikeRecheck: the
// check itself (a few counting queries) decides against the baseline, and
// its ops-event key and cooldown keep the alert single. Ingest pays a map
// update per batch, no query. The counts are this process's only (they
// start at zero after a restart, and another replica's ingest is not
// seen): the scheduled check still covers every case; this one only makes
// the common case fast.

// spikeRecheck is the least time between two checks started by ingest.
const spikeRecheck = 2 * time.Second

// spikeBucket is the width of one counting bucket.
const spikeBucket = time.Second

// spikeTrigger is the Watcher's state for TicketsOpened.
type spikeTrigger struct {
	mu      sync.Mutex
	counts  map[string]map[int64]int // department → bucket (unix seconds) → new tickets
	last    time.Time                // when a check was last started
	running bool
}

// TicketsOpened records byDepartment, the tickets an ingested batch
// opened, and starts a spike check in the background when a department
// may have crossed the threshold. It returns at once.
func (w *Watcher) TicketsOpened(ctx context.Context, byDepartment map[string]int) {
	now := w.clock.Now()
	width := w.cfg.Spikes.Window.D()
	tr := &w.trigger
	tr.mu.Lock()
	if tr.counts == nil {
		tr.counts = map[string]map[int64]int{}
	}
	due := false
	from := now.Add(-width).Unix()
	for dept, n := range byDepartment {
		b := tr.counts[dept]
		if b == nil {
			b = map[int64]int{}
			tr.counts[dept] = b
		}
		b[now.Truncate(spikeBucket).Unix()] += n
		total := 0
		for k, c := range b {
			if k < from {
				delete(b, k)
				continue
			}
			total += c
		}
		if total >= w.cfg.Spikes.MinPosts {
			due = true
		}
	}
	if !due || tr.running || now.Sub(tr.last) < spikeRecheck {
		tr.mu.Unlock()
		return
	}
	tr.running, tr.last = true, now
	tr.mu.Unlock()
	go func() {
		// The check outlives the ingest call that started it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := w.CheckSpikes(cctx); err != nil {
			w.log.Warn("spike check on ingest failed; the scheduled check will run", "err", err)
		}
		tr.mu.Lock()
		tr.running = false
		tr.mu.Unlock()
	}()
}
