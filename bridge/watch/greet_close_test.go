package watch_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// Two replicas on one database greet at the same moment, twice: each
// account's greeting is queued exactly once that day; nothing goes out on
// a weekend or a holiday.
func TestGreetingExactlyOnceAcrossReplicas(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		cfg := loadConfig(t, nil)
		monday := jst(2026, 3, 9, 9, 0)
		a := newRig(t, open(), cfg, monday)
		b := newRig(t, open(), cfg, monday.Add(700*time.Millisecond))
		var wg sync.WaitGroup
		counts := make([]int, 4)
		for i := range counts {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				w := a.w
				if i%2 == 1 {
					w = b.w
				}
				n, err := w.Greet(t.Context(), "greeting")
				if err != nil {
					t.Error(err)
				}
				counts[i] = n
			}(i)
		}
		wg.Wait()
		if total := counts[0] + counts[1] + counts[2] + counts[3]; total != 2 {
			t.Fatalf("greetings queued %v, want 2 in all (one per account)", counts)
		}
		texts := map[string]string{}
		for _, it := range a.queued(bridge.KindPlatformPost) {
			var p bridge.PostPayload
			if err := json.Unmarshal(it.Payload, &p); err != nil {
				t.Fatal(err)
			}
			texts[p.Account] = p.Text
		}
		if texts["SBCare"] != "Good morning from @SBCare (2026-03-09)." || texts["SBCareWiFi"] != "Wi-Fi team here, Mon 2026-03-09." {
			t.Errorf("greetings = %q", texts)
		}
		if n := len(a.audits(bridge.AuditGreetingQueued)); n != 2 {
			t.Errorf("%d greeting audit records, want 2", n)
		}
		// The sign-off is another post of the same day.
		a.clock.Set(jst(2026, 3, 9, 18, 0))
		if n, err := a.w.Greet(t.Context(), "sign_off"); err != nil || n != 2 {
			t.Errorf("sign-offs queued %d, %v; want 2", n, err)
		}
		for _, closed := range []time.Time{jst(2026, 3, 7, 9, 0), jst(2026, 3, 20, 9, 0)} { // Saturday, holiday
			a.clock.Set(closed)
			if n, err := a.w.Greet(t.Context(), "greeting"); err != nil || n != 0 {
				t.Errorf("greetings on %s: %d, %v; want none", closed.Format("Mon 2 Jan"), n, err)
			}
		}
	})
}

// The close reaction on the parent by a department member closes the
// ticket; others are refused; a follow-up reopens; answered tickets close
// themselves after a week of silence.
func TestClosingAndReopening(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() *store.Store) {
		r := newRig(t, open(), loadConfig(t, nil), jst(2026, 3, 9, 10, 0))
		net := r.post("no signal", "")
		bill := r.post("refund my bill", "")
		r.tx(func(tx *store.Tx) error {
			for i, k := range []*bridge.Ticket{net, bill} {
				k.SlackChannel, k.SlackTS = "C0CARE0001", []string{"1773018000.000100", "1773018000.000200"}[i]
				if err := tx.SetTicketThreads(t.Context(), map[int64]bridge.ChatRef{k.ID: {Channel: k.SlackChannel, TS: k.SlackTS}}); err != nil {
					return err
				}
			}
			return nil
		})
		r.notices()
		react := func(id, user, ts string) {
			t.Helper()
			if err := r.svc.HandleChatEvent(t.Context(), bridge.ChatEvent{ID: id, Kind: bridge.EventReactionAdded, Channel: "C0CARE0001",
				User: user, ItemTS: ts, Reaction: "ballot_box_with_check", At: r.clock.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		react("Ev1", "U0EXEC0001", net.SlackTS)  // a watcher
		react("Ev2", "U0RANDOM01", bill.SlackTS) // not a billing member
		if s := r.ticket(net.ConversationKey).State; s != bridge.TicketOpen {
			t.Errorf("network ticket closed by a watcher: %s", s)
		}
		if s := r.ticket(bill.ConversationKey).State; s != bridge.TicketOpen {
			t.Errorf("billing ticket closed by a non-member: %s", s)
		}
		if n := len(r.queued(bridge.KindChatEphemeral)); n != 2 {
			t.Errorf("%d refusals shown, want 2", n)
		}
		react("Ev3", "U0MANAGER1", net.SlackTS)  // network approver
		react("Ev4", "U0BILLING1", bill.SlackTS) // billing member
		for _, k := range []*bridge.Ticket{net, bill} {
			cur := r.ticket(k.ConversationKey)
			if cur.State != bridge.TicketClosed || !cur.ClosedAt.Equal(r.clock.Now()) {
				t.Errorf("ticket %d: %s closed at %v, want closed now", k.ID, cur.State, cur.ClosedAt)
			}
		}
		if got := r.notices(); len(got) != 2 {
			t.Errorf("close notices = %q", got)
		} else {
			contains(t, "close notice", got[0], "Closed by <@U0MANAGER1>")
		}
		if n := len(r.audits(bridge.AuditTicketClosed)); n != 2 {
			t.Errorf("%d close audit records, want 2", n)
		}
		// A closed ticket runs no clock.
		r.clock.Set(jst(2026, 3, 9, 16, 0))
		if n, _ := r.w.CheckSLA(t.Context()); n != 0 {
			t.Errorf("%d SLA alerts on closed tickets", n)
		}

		// The customer writes again: reopened, and the clock runs.
		r.post("still no signal", net.ConversationKey)
		if cur := r.ticket(net.ConversationKey); cur.State != bridge.TicketOpen || !cur.ClosedAt.IsZero() {
			t.Errorf("after a follow-up: %s closed at %v, want open", cur.State, cur.ClosedAt)
		}
		if n := len(r.audits(bridge.AuditTicketReopened)); n != 1 {
			t.Errorf("%d reopen audit records, want 1", n)
		}

		// Answered, then a week of silence: closed automatically.
		r.answer(r.ticket(net.ConversationKey))
		r.notices()
		r.clock.Set(jst(2026, 3, 16, 15, 59))
		if n, err := r.w.AutoClose(t.Context()); err != nil || n != 0 {
			t.Errorf("auto-closed %d, %v before 7 days", n, err)
		}
		r.clock.Set(jst(2026, 3, 16, 16, 1))
		if n, err := r.w.AutoClose(t.Context()); err != nil || n != 1 {
			t.Errorf("auto-closed %d, %v; want 1", n, err)
		}
		if cur := r.ticket(net.ConversationKey); cur.State != bridge.TicketClosed {
			t.Errorf("after a week: %s", cur.State)
		}
		if got := r.notices(); len(got) != 1 {
			t.Errorf("auto-close notices = %q", got)
		} else {
			contains(t, "auto-close notice", got[0], "Closed automatically (7 days without a new post)")
		}
	})
}

// With watch.mirror on, every new ticket also gets an FYI line in the
// watch channel; our own posts do not.
func TestWatchMirror(t *testing.T) {
	cfg := loadConfig(t, func(y string) string {
		return strings.Replace(y, `  digest_time: "09:00"`, "  digest_time: \"09:00\"\n  mirror: true", 1)
	})
	r := newRig(t, openStore(t, t.TempDir()+"/cb.db"), cfg, jst(2026, 3, 9, 10, 0))
	k := r.post("no signal", "")
	var fyi []string
	for _, it := range r.queued(bridge.KindChatPost) {
		var p struct {
			Kind    string `json:"kind"`
			Channel string `json:"channel"`
		}
		_ = json.Unmarshal(it.Payload, &p)
		if p.Kind == string(bridge.MessageFYI) {
			fyi = append(fyi, p.Channel)
			if it.TicketID != k.ID {
				t.Errorf("FYI of ticket %d, want %d", it.TicketID, k.ID)
			}
		}
	}
	if len(fyi) != 1 || fyi[0] != "#care-watch" {
		t.Errorf("FYI copies = %q, want one in #care-watch", fyi)
	}
}
