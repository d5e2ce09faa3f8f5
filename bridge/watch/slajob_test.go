package watch_test

import (
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// A post on Friday at 17:30 in Tokyo with a 1h first-response target has
// 30 minutes of business time on Friday and the rest on Monday: the
// warning (80%) is due Monday 09:18 and the breach Monday 09:30 — nothing
// fires over the weekend. A follow-up after the answer starts the
// next-response clock.
func TestSLABreachAcrossClosingTimeAndWeekend(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		r := newRig(t, open(), loadConfig(t, nil), jst(2026, 3, 6, 17, 30)) // Friday
		k := r.post("no signal at all in Shibuya", "")
		if k.Department != "network" {
			t.Fatalf("routed to %s", k.Department)
		}
		r.notices() // drop the mirror rows

		check := func(at time.Time, want int) {
			t.Helper()
			r.clock.Set(at)
			n, err := r.w.CheckSLA(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Errorf("at %s: %d SLA alerts, want %d", at.Format("Mon 15:04"), n, want)
			}
		}
		check(jst(2026, 3, 6, 17, 59), 0) // 29 minutes in
		check(jst(2026, 3, 6, 23, 0), 0)  // closed: the clock stands
		check(jst(2026, 3, 7, 12, 0), 0)  // Saturday
		check(jst(2026, 3, 8, 20, 0), 0)  // Sunday
		check(jst(2026, 3, 9, 9, 17), 0)  // Monday, 47 business minutes
		if got := r.notices(); len(got) != 0 {
			t.Fatalf("notices before the warning: %q", got)
		}
		check(jst(2026, 3, 9, 9, 18), 1) // 48 minutes: the warning
		check(jst(2026, 3, 9, 9, 25), 0) // once
		warn := r.notices()
		if len(warn) != 1 {
			t.Fatalf("warning notices = %q", warn)
		}
		contains(t, "warning", warn[0], "SLA warning")
		contains(t, "warning", warn[0], "due 09:30")
		if containsAny(warn[0], "subteam") {
			t.Errorf("the warning mentions the escalation group: %q", warn[0])
		}
		check(jst(2026, 3, 9, 9, 29), 0)
		check(jst(2026, 3, 9, 9, 30), 1) // the breach
		check(jst(2026, 3, 9, 9, 45), 0)
		breach := r.notices()
		if len(breach) != 1 {
			t.Fatalf("breach notices = %q", breach)
		}
		contains(t, "breach", breach[0], "SLA breached")
		contains(t, "breach", breach[0], "<!subteam^S0NETONCALL>")

		// The breach time is stored with the ticket's record, and audited.
		var evs []bridge.OpsEvent
		r.tx(func(tx *store.Tx) error {
			var err error
			evs, err = tx.OpsEvents(t.Context(), bridge.OpsEventFilter{Kind: bridge.OpsSLABreach, Department: "network"})
			return err
		})
		if len(evs) != 1 || evs[0].TicketID != k.ID || !evs[0].Due.Equal(jst(2026, 3, 9, 9, 30)) || !evs[0].At.Equal(jst(2026, 3, 9, 9, 30)) {
			t.Errorf("breach records = %+v, want ticket %d due and seen Mon 09:30 JST", evs, k.ID)
		}
		if a := r.audits(bridge.AuditSLABreach); len(a) != 1 || a[0].TicketID != k.ID || a[0].Department != "network" {
			t.Errorf("breach audit = %+v", a)
		}
		if a := r.audits(bridge.AuditSLAWarning); len(a) != 1 {
			t.Errorf("warning audit = %+v", a)
		}

		// Answered at 10:00: the clock stops.
		r.clock.Set(jst(2026, 3, 9, 10, 0))
		r.answer(k)
		check(jst(2026, 3, 9, 16, 0), 0)

		// The customer writes again at 17:00: the 2h next-response clock
		// runs 1h on Monday and 1h on Tuesday.
		r.clock.Set(jst(2026, 3, 9, 17, 0))
		r.post("still no signal", k.ConversationKey)
		r.notices()
		check(jst(2026, 3, 10, 9, 35), 0)
		check(jst(2026, 3, 10, 9, 36), 1) // 96 minutes: the warning
		check(jst(2026, 3, 10, 10, 0), 1) // the breach
		got := r.notices()
		if len(got) != 2 {
			t.Fatalf("next-response notices = %q", got)
		}
		contains(t, "next-response breach", got[1], "next response")
	})
}

// Tickets mirrored after hours say when the SLA clock starts.
func TestAfterHoursLine(t *testing.T) {
	r := newRig(t, openStore(t, t.TempDir()+"/cb.db"), loadConfig(t, nil), jst(2026, 3, 6, 18, 30))
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{jst(2026, 3, 6, 18, 30), "Arrived after hours — the SLA clock starts Mon 09:00."},
		{jst(2026, 3, 9, 7, 0), "Arrived after hours — the SLA clock starts Mon 09:00."},
		{jst(2026, 3, 19, 19, 0), "Arrived after hours — the SLA clock starts Mon 09:00."}, // Friday 20 March is a holiday
		{jst(2026, 3, 9, 10, 0), ""},
	} {
		if got := r.w.AfterHours(c.at); got != c.want {
			t.Errorf("AfterHours(%s) = %q, want %q", c.at.Format("Mon 2 Jan 15:04"), got, c.want)
		}
	}
}

func containsAny(s, sub string) bool {
	return len(sub) > 0 && len(s) >= len(sub) && indexOf(s, sub) >= 0
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
