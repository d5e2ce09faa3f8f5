package watch_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// The executive digest carries the week behind it as numbers (what the
// chart shows), per department and day, worked out by hand from
// generated tickets; they reach the outbox intact.
func TestExecDigestWeekChart(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		r := newRig(t, open(), loadConfig(t, nil), jst(2026, 3, 9, 10, 0))
		at := func(d, h, m int) { r.clock.Set(jst(2026, 3, d, h, m)) }

		at(9, 10, 0) // N0: before the week; its answer falls on Tue 10
		n0 := r.post("outage", "")
		at(10, 9, 30)
		r.answer(n0) // 23h30m, a miss (due Mon 11:00)
		at(10, 10, 0)
		n1 := r.post("outage here", "")
		at(10, 10, 30)
		r.answer(n1) // 30m, a hit
		at(10, 11, 0)
		n2 := r.post("no signal", "")
		at(10, 12, 0)
		b1 := r.post("my bill is wrong", "") // billing, never answered
		at(10, 13, 0)
		r.answer(n2) // 2h, a miss
		at(12, 10, 0)
		n3 := r.post("outage again", "")
		at(12, 14, 0)
		r.tx(func(tx *store.Tx) error {
			_, err := tx.RecordOpsEvent(t.Context(), &bridge.OpsEvent{Kind: bridge.OpsSpike, Key: "spike:test", Department: "network", At: r.clock.Now().UTC()})
			return err
		})
		at(13, 10, 0)
		r.answer(n3) // 24h, a miss; answered on Fri
		at(16, 8, 0)
		r.post("signal gone", "") // today so far, unanswered
		if b1.Department != "billing" || n3.Department != "network" {
			t.Fatalf("routing: %s %s", b1.Department, n3.Department)
		}
		r.reports()

		at(16, 9, 0)
		if q, err := r.w.ExecDigest(t.Context()); err != nil || !q {
			t.Fatalf("exec digest queued=%v err=%v", q, err)
		}
		reps := r.reports()
		if len(reps) != 1 || reps[0].Report.Chart == nil {
			t.Fatalf("reports %+v", reps)
		}
		c := reps[0].Report.Chart
		if len(c.Days) != 7 || !c.Days[0].Equal(jst(2026, 3, 10, 0, 0)) || !c.Days[6].Equal(jst(2026, 3, 16, 0, 0)) || !c.To.Equal(jst(2026, 3, 16, 9, 0)) {
			t.Fatalf("days %v to %v", c.Days, c.To)
		}
		var names []string
		for _, s := range c.Series {
			names = append(names, s.Name)
		}
		if !reflect.DeepEqual(names, []string{"Network team", "Billing", "Triage"}) {
			t.Fatalf("series %q, want by the week's volume", names)
		}
		h := time.Hour
		want := map[string][]bridge.ChartDay{
			"network": {
				{New: 2, Answered: 2, FirstResponses: 3, MedianFirstResponse: 2 * h, SLAHits: 1}, // Tue
				{},                               // Wed
				{New: 1, Answered: 1, Spikes: 1}, // Thu
				{FirstResponses: 1, MedianFirstResponse: 24 * h}, // Fri
				{}, {}, // the weekend
				{New: 1}, // Mon, to 09:00
			},
			"billing": {{New: 1}, {}, {}, {}, {}, {}, {}},
			"triage":  make([]bridge.ChartDay, 7),
		}
		for _, s := range c.Series {
			if !reflect.DeepEqual(s.Days, want[s.Department]) {
				t.Errorf("%s:\n got %+v\nwant %+v", s.Department, s.Days, want[s.Department])
			}
		}
		if v, ok := c.Series[0].Days[0].SLAHitRate(); !ok || v != 1.0/3 {
			t.Errorf("Tue SLA hit rate %v %v", v, ok)
		}
	})
}
