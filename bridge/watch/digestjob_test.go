package watch_test

import (
	"testing"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// The department digest and the executive digest against figures worked
// out by hand.
func TestDigestsAgainstHandComputedFigures(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		r := newRig(t, open(), loadConfig(t, nil), jst(2026, 3, 9, 8, 0))
		at := func(d, h, m int) { r.clock.Set(jst(2026, 3, d, h, m)) }

		at(9, 8, 0) // G: closed before the period starts
		g := r.post("signal gone", "")
		at(9, 10, 0)
		r.tx(func(tx *store.Tx) error {
			return bridge.CloseTicket(t.Context(), tx, g, "U0NET00001", "test", "#care-network", r.clock.Now())
		})
		at(9, 9, 0) // A: before the period, never answered
		a := r.post("outage outage", "")
		at(9, 13, 0) // B, answered after 20m
		b := r.post("outage in Osaka since noon, nothing works", "")
		if _, err := r.w.CheckSLA(t.Context()); err != nil { // A breaches (in the period)
			t.Fatal(err)
		}
		at(9, 13, 20)
		r.answer(b)
		at(9, 14, 0) // C, answered after 60m
		c := r.post("no signal 圏外", "")
		at(9, 15, 0)
		r.answer(c)
		f := r.post("my bill is wrong, refund?", "") // billing, unanswered
		at(10, 10, 0)                                // D, answered after 10m
		d := r.post("signal lost", "")
		at(10, 10, 10)
		r.answer(d)
		at(10, 11, 0) // E, unanswered
		e := r.post("outage again", "")
		for _, k := range []*bridge.Ticket{a, b, c, d, e, g} {
			if k.Department != "network" {
				t.Fatalf("ticket %d routed to %s", k.ID, k.Department)
			}
		}
		if f.Department != "billing" {
			t.Fatalf("billing ticket routed to %s", f.Department)
		}
		r.reports()

		at(10, 12, 0)
		queued, err := r.w.Digest(t.Context(), "network")
		if err != nil || !queued {
			t.Fatalf("digest queued=%v err=%v", queued, err)
		}
		if again, err := r.w.Digest(t.Context(), "network"); err != nil || again {
			t.Errorf("second digest in the same slot queued=%v err=%v, want nothing", again, err)
		}
		reps := r.reports()
		if len(reps) != 1 || reps[0].Channel != "#care-network" {
			t.Fatalf("reports = %+v, want one in #care-network", reps)
		}
		rep := reps[0].Report
		for label, want := range map[string]string{
			"New": "4", "Answered": "3", "Still unanswered": "2", "SLA breaches": "1",
			"Median first response": "20m", "p90 first response": "1h00m",
		} {
			if got := field(rep, label); got != want {
				t.Errorf("%s = %q, want %q", label, got, want)
			}
		}
		waiting := section(rep, "Still unanswered, oldest first").Items
		if len(waiting) != 2 {
			t.Fatalf("waiting = %+v", waiting)
		}
		contains(t, "oldest waiting", waiting[0].Text, "waiting 1d 3h")
		contains(t, "newest waiting", waiting[1].Text, "waiting 1h00m")
		if got := section(rep, "Top keywords").Text; got != "outage 2 · signal 2 · 圏外 1" {
			t.Errorf("top keywords = %q", got)
		}
		if got := section(rep, "By tag").Text; got != "outage 4" {
			t.Errorf("tags = %q", got)
		}
		contains(t, "title", rep.Title, "Network team — digest 12:00")

		// The next digest covers the time since this one.
		at(10, 18, 0)
		if _, err := r.w.Digest(t.Context(), "network"); err != nil {
			t.Fatal(err)
		}
		next := r.reports()[0].Report
		if field(next, "New") != "0" || field(next, "Answered") != "0" || field(next, "Still unanswered") != "2" {
			t.Errorf("second digest: new %s answered %s waiting %s, want 0 0 2", field(next, "New"), field(next, "Answered"), field(next, "Still unanswered"))
		}
		contains(t, "second digest period", next.Subtitle, "Since 12:00")

		// The executive digest over Mon 12:00 – Tue 12:00.
		at(10, 12, 0)
		if q, err := r.w.ExecDigest(t.Context()); err != nil || !q {
			t.Fatalf("exec digest queued=%v err=%v", q, err)
		}
		if q, _ := r.w.ExecDigest(t.Context()); q {
			t.Error("exec digest queued twice")
		}
		ex := r.reports()
		if len(ex) != 1 || ex[0].Channel != "#care-watch" {
			t.Fatalf("exec reports = %+v", ex)
		}
		er := ex[0].Report
		net := field(er, "Network team")
		contains(t, "network line", net, "4 new · 75% answered")
		contains(t, "network line", net, "median first response 20m · SLA 100%")
		contains(t, "network line", net, "1 breach")
		bill := field(er, "Billing")
		contains(t, "billing line", bill, "1 new · 0% answered")
		contains(t, "billing line", bill, "no first responses")
		posts := section(er, "In the customers' own words (unfiltered)").Posts
		var texts []string
		for _, p := range posts {
			texts = append(texts, p.Text)
		}
		want := []string{"outage in Osaka since noon, nothing works", "my bill is wrong, refund?", "no signal 圏外"}
		if len(texts) != 3 || texts[0] != want[0] || texts[1] != want[1] || texts[2] != want[2] {
			t.Errorf("representative posts = %q, want %q", texts, want)
		}
		if n := len(r.audits(bridge.AuditDigest)); n != 3 {
			t.Errorf("%d digest audit records, want 3", n)
		}
	})
}
