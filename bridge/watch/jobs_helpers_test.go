package watch_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/clocktest"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/bridge/watch"
	"github.com/carebridge/carebridge/store"
	"github.com/carebridge/carebridge/store/storetest"
)

// testConfig is a small configuration in Asia/Tokyo: office hours 09:00–18:00
// on weekdays, a 1h first-response and 2h next-response target for
// network, escalation to S0NETONCALL.
const testConfig = `
timezone: Asia/Tokyo
x:
  accounts:
    - handle: SBCare
      user_id: "1"
    - handle: SBCareWiFi
      user_id: "2"
      greeting: "Wi-Fi team here, {weekday} {date}."
departments:
  - id: network
    name: Network team
    channel: "#care-network"
    approvers: [U0MANAGER1]
    escalation: S0NETONCALL
    sla: {first_response: 1h, next_response: 2h, warn_at: 0.8}
  - id: billing
    name: Billing
    channel: "#care-billing"
    approvers: [U0MANAGER2]
    members: [U0BILLING1]
  - id: triage
    name: Triage
    channel: "#care-triage"
    approvers: [U0MANAGER1]
routes:
  - department: network
    keywords: [outage, signal, 圏外]
    tag: outage
  - department: billing
    keywords: [bill, refund]
  - department: billing
    keywords: [thanks]
    tag: praise
triage: triage
slack:
  watchers: [U0EXEC0001]
watch:
  channel: "#care-watch"
  digest_time: "09:00"
office_hours:
  open: "09:00"
  close: "18:00"
  holidays: ["2026-03-20"]
  greeting: "Good morning from @SBCare ({date})."
  sign_off: "We are back tomorrow at 09:00 ({date})."
spikes:
  window: 15m
  factor: 3
  min_posts: 20
  cooldown: 1h
tickets:
  auto_close_after: 7d
`

// testAccounts are the official accounts of testConfig, as the composition
// root lists them for the Watcher.
var testAccounts = []watch.Account{{Platform: platform, Handle: "SBCare"}, {Platform: platform, Handle: "SBCareWiFi", Greeting: "Wi-Fi team here, {weekday} {date}."}}

// platform is the network of the test posts; the watching jobs do not
// depend on it.
const platform bridge.Platform = "x"

func loadConfig(t *testing.T, edit func(string) string) *config.Config {
	t.Helper()
	y := testConfig
	if edit != nil {
		y = edit(y)
	}
	cfg, err := config.Parse([]byte(y), "test.yaml", config.LevelRouting, config.Options{})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

var tokyo = mustLoc("Asia/Tokyo")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// jst is a wall time in Tokyo.
func jst(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, tokyo)
}

var quiet = slog.New(slog.DiscardHandler)

// eachStore runs fn against a fresh SQLite store and, when
// CAREBRIDGE_TEST_POSTGRES_URL is set, a fresh PostgreSQL schema.
func eachStore(t *testing.T, fn func(t *testing.T, open func() *store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "cb.db")
		fn(t, func() *store.Store { return openStore(t, path) })
	})
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("CAREBRIDGE_TEST_POSTGRES_URL")
		if base == "" {
			t.Skip("CAREBRIDGE_TEST_POSTGRES_URL is not set")
		}
		u := storetest.FreshPostgresSchema(t, base)
		fn(t, func() *store.Store { return openStore(t, u) })
	})
}

func openStore(t *testing.T, url string) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), url, store.WithLogger(quiet))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rig is a store, a Service (for ingest and chat events) and a Watcher
// sharing one clock.
type rig struct {
	t     *testing.T
	st    *store.Store
	cfg   *config.Config
	clock *clocktest.Clock
	svc   *bridge.Service
	w     *watch.Watcher
	seq   int
}

func newRig(t *testing.T, s *store.Store, cfg *config.Config, now time.Time) *rig {
	t.Helper()
	r := &rig{t: t, st: s, cfg: cfg, clock: clocktest.New(now)}
	router, err := cfg.Router()
	if err != nil {
		t.Fatal(err)
	}
	r.svc, err = bridge.New(bridge.Options{Store: s, Config: cfg, Router: router, Clock: r.clock, Logger: quiet,
		Official: map[string]bool{"sbcare": true, "sbcarewifi": true}, Watchers: []string{"U0EXEC0001"}})
	if err != nil {
		t.Fatal(err)
	}
	r.w = newWatcher(t, s, cfg, r.clock)
	return r
}

// newWatcher builds a Watcher over s, seeing its transactions as watch.Tx
// as the composition root does.
func newWatcher(t *testing.T, s *store.Store, cfg *config.Config, c bridge.Clock) *watch.Watcher {
	t.Helper()
	runner, err := store.Runner[watch.Tx](s)
	if err != nil {
		t.Fatal(err)
	}
	w, err := watch.New(watch.Options{Store: runner, Config: cfg, Accounts: testAccounts, Clock: c, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// post ingests a customer post at the clock's time and returns its ticket.
func (r *rig) post(text string, conv string) *bridge.Ticket {
	r.t.Helper()
	r.seq++
	id := fmt.Sprintf("%d", 1000+r.seq)
	if conv == "" {
		conv = id
	}
	p := bridge.Post{Platform: platform, ExternalID: id, Source: bridge.SourceSearch, AuthorID: "u" + id,
		AuthorHandle: "cust" + id, Text: text, CreatedAt: r.clock.Now(), URL: "https://x.com/cust" + id + "/status/" + id,
		ConversationKey: conv, Eligibility: bridge.EligiblePublic}
	if conv != id {
		p.InReplyTo = conv
	}
	if _, err := r.svc.Ingest(r.t.Context(), bridge.Batch{Posts: []bridge.Post{p}}); err != nil {
		r.t.Fatalf("ingest: %v", err)
	}
	return r.ticket(conv)
}

func (r *rig) ticket(conv string) *bridge.Ticket {
	r.t.Helper()
	var k *bridge.Ticket
	r.tx(func(tx *store.Tx) error {
		all, err := tx.ListTickets(r.t.Context(), bridge.TicketFilter{})
		for i := range all {
			if all[i].ConversationKey == conv {
				k = &all[i]
			}
		}
		return err
	})
	if k == nil {
		r.t.Fatalf("no ticket for conversation %s", conv)
	}
	return k
}

func (r *rig) tx(fn func(tx *store.Tx) error) {
	r.t.Helper()
	if err := allTx(r.st).WithTx(r.t.Context(), fn); err != nil {
		r.t.Fatalf("tx: %v", err)
	}
}

// answer records an answer to k at the clock's time, as the sender does.
func (r *rig) answer(k *bridge.Ticket) {
	r.t.Helper()
	now := r.clock.Now().UTC()
	r.tx(func(tx *store.Tx) error {
		cur, err := tx.TicketByID(r.t.Context(), k.ID)
		if err != nil {
			return err
		}
		cur.State, cur.AnsweredAt, cur.UpdatedAt = bridge.TicketAnswered, now, now
		if cur.FirstResponseAt.IsZero() {
			cur.FirstResponseAt = now
		}
		return tx.UpdateTicket(r.t.Context(), cur)
	})
}

// queued claims the outbox rows of kind queued since the last call.
func (r *rig) queued(kind string) []bridge.OutboxItem {
	r.t.Helper()
	var all []bridge.OutboxItem
	for {
		items, err := r.st.ClaimOutbox(r.t.Context(), bridge.ClaimParams{Now: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 1000,
			Lease: time.Hour, Owner: "test", Kinds: []string{kind}})
		if err != nil {
			r.t.Fatal(err)
		}
		if len(items) == 0 {
			sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
			return all
		}
		// Done, so that later rows of the same thread can be claimed.
		for _, it := range items {
			r.tx(func(tx *store.Tx) error { return tx.CompleteOutbox(r.t.Context(), it.ID, "test", r.clock.Now()) })
		}
		all = append(all, items...)
	}
}

// notices returns the texts of thread notices queued since the last call.
func (r *rig) notices() []string {
	r.t.Helper()
	var out []string
	for _, it := range r.queued(bridge.KindChatPost) {
		var p struct {
			Kind string `json:"kind"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(it.Payload, &p); err != nil {
			r.t.Fatal(err)
		}
		if p.Kind == string(bridge.MessageNotice) {
			out = append(out, p.Text)
		}
	}
	return out
}

// reports returns the reports queued since the last call.
func (r *rig) reports() []bridge.ReportPayload {
	r.t.Helper()
	var out []bridge.ReportPayload
	for _, it := range r.queued(bridge.KindChatReport) {
		var p bridge.ReportPayload
		if err := json.Unmarshal(it.Payload, &p); err != nil {
			r.t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// audits lists the audit records of kind.
func (r *rig) audits(kind bridge.AuditKind) []bridge.AuditRecord {
	r.t.Helper()
	var out []bridge.AuditRecord
	r.tx(func(tx *store.Tx) error {
		all, err := tx.AuditRecords(r.t.Context(), bridge.AuditFilter{})
		for _, a := range all {
			if a.Kind == kind {
				out = append(out, a)
			}
		}
		return err
	})
	return out
}

// field returns the value of the field labelled label in report rep.
func field(rep bridge.Report, label string) string {
	for _, s := range rep.Sections {
		for _, f := range s.Fields {
			if f.Label == label {
				return f.Value
			}
		}
	}
	return "(no field " + label + ")"
}

// section returns the section with heading h.
func section(rep bridge.Report, h string) bridge.ReportSection {
	for _, s := range rep.Sections {
		if s.Heading == h {
			return s
		}
	}
	return bridge.ReportSection{Text: "(no section " + h + ")"}
}

func contains(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s = %q, want it to contain %q", what, s, sub)
	}
}

// allTx sees the store's transactions whole, for the tests' own reads and
// writes.
func allTx(s *store.Store) bridge.TxRunner[*store.Tx] {
	r, err := store.Runner[*store.Tx](s)
	if err != nil {
		panic(err)
	}
	return r
}
