package watch_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// posts ingests n new conversations with text at the clock's time.
func (r *rig) posts(n int, text string) {
	r.t.Helper()
	var batch []bridge.Post
	for i := 0; i < n; i++ {
		r.seq++
		id := fmt.Sprintf("%d", 100000+r.seq)
		batch = append(batch, bridge.Post{Platform: platform, ExternalID: id, Source: bridge.SourceSearch, AuthorID: "u" + id,
			AuthorHandle: "c" + id, Text: fmt.Sprintf("%s (%d)", text, i), CreatedAt: r.clock.Now(), URL: "https://x.com/c" + id + "/status/" + id,
			ConversationKey: id, Eligibility: bridge.EligibleDMOnly})
	}
	if _, err := r.svc.Ingest(r.t.Context(), bridge.Batch{Posts: batch}); err != nil {
		r.t.Fatal(err)
	}
}

// A burst against a steady baseline alerts once (department and watch
// channels, audited, with keywords and sample links); a slow rise over
// the week does not.
func TestSpikeAlerts(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		now := jst(2026, 3, 10, 14, 0)
		r := newRig(t, open(), loadConfig(t, nil), now)
		steady := []int{5, 6, 4, 5, 7, 5, 6}        // network: median 5
		rising := []int{16, 15, 14, 13, 12, 11, 10} // billing, most recent day first: median 13
		for k := 1; k <= 7; k++ {
			r.clock.Set(now.AddDate(0, 0, -k).Add(-10 * time.Minute))
			r.posts(steady[k-1], "no signal again")
			r.posts(rising[k-1], "refund my bill")
		}
		r.clock.Set(now.Add(-5 * time.Minute))
		r.posts(25, "outage everywhere, no signal") // 5× the baseline
		r.posts(20, "refund my bill")               // 20 ≥ min_posts but < 3 × 13
		r.reports()

		r.clock.Set(now)
		spikes, err := r.w.CheckSpikes(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(spikes) != 1 || spikes[0].Department != "network" || spikes[0].Current != 25 || spikes[0].Baseline != 5 || !spikes[0].Alerted {
			t.Fatalf("spikes = %+v, want network 25 against 5, alerted", spikes)
		}
		reps := r.reports()
		if len(reps) != 2 || reps[0].Channel != "#care-network" || reps[1].Channel != "#care-watch" {
			t.Fatalf("alerts = %+v, want the network and watch channels", reps)
		}
		rep := reps[0].Report
		contains(t, "title", rep.Title, "Spike: Network team — 25 new conversations in 15m")
		contains(t, "subtitle", rep.Subtitle, "5.0× the usual 5")
		if got := section(rep, "Top keywords").Text; got != "outage 25 · signal 25" {
			t.Errorf("keywords = %q", got)
		}
		samples := section(rep, "Sample posts").Items
		if len(samples) != 3 {
			t.Fatalf("samples = %+v", samples)
		}
		for _, s := range samples {
			contains(t, "sample link", s.URL, "https://x.com/")
		}
		if a := r.audits(bridge.AuditSpike); len(a) != 1 || a[0].Department != "network" {
			t.Errorf("spike audit = %+v", a)
		}

		// Still spiking minutes later: no second alert within the cooldown.
		r.clock.Set(now.Add(3 * time.Minute))
		r.posts(25, "outage everywhere")
		r.reports()
		spikes, err = r.w.CheckSpikes(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(spikes) != 1 || spikes[0].Alerted {
			t.Errorf("spikes during cooldown = %+v, want one, not alerted", spikes)
		}
		if reps := r.reports(); len(reps) != 0 {
			t.Errorf("alerts during cooldown: %+v", reps)
		}
	})
}
