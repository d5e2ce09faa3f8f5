package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/teams/teamsfake"
	"github.com/carebridge/carebridge/adapters/x"
	"github.com/carebridge/carebridge/adapters/x/xfake"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/clocktest"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/store"
)

// The Teams surface end to end: carebridge in process (newApp, chat:
// teams) between the Teams fake (signed activities in, the Bot Connector
// out, at Teams' limits) and the X fake, on SQLite and PostgreSQL. One
// world per store serves every case, each in a conversation of its own,
// to keep the suite short.

// teamsSpeed is how much faster than the wall clock the world's clock
// runs: Teams' per-thread windows (the fake's) and the core's pacing hold
// as in production, in a twentieth of the time, and no test sleeps on the
// platforms' time.
const teamsSpeed = 20

// teamsWorld is carebridge on Teams, with the people of a care team.
type teamsWorld struct {
	t        *testing.T
	fake     *teamsfake.Server
	x        *xfake.Server
	unsure   *unsureProxy
	clock    *clocktest.Clock
	cfg      *config.Config
	storeURL string
	logs     *syncLog

	staff, manager, lead, exec, stranger teamsfake.User
	channel                              map[string]string // department → channel id

	mu   sync.Mutex
	app  *app
	stop func()
	n    int
}

// syncLog keeps carebridge's log for a failing test.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// The customer on X.
const (
	teamsCustomerID = "7100001"
	teamsCustomer   = "kim_customer"
	teamsAccountID  = "9100001"
)

func newTeamsWorld(t *testing.T, storeURL string) *teamsWorld {
	t.Helper()
	w := &teamsWorld{t: t, storeURL: storeURL, channel: map[string]string{}, logs: &syncLog{}}
	w.clock = clocktest.New(time.Date(2026, 3, 9, 1, 0, 0, 0, time.UTC))
	ctx, cancel := context.WithCancel(context.Background())
	var ticking sync.WaitGroup
	ticking.Add(1)
	go func() {
		defer ticking.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				w.clock.Advance(teamsSpeed * 10 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() { cancel(); ticking.Wait() })

	w.fake = teamsfake.New(teamsfake.WithClock(w.clock))
	t.Cleanup(w.fake.Close)
	w.staff, w.manager, w.lead = w.fake.AddUser("Aiko Staff"), w.fake.AddUser("Ken Manager"), w.fake.AddUser("Lena Lead")
	w.exec, w.stranger = w.fake.AddUser("Eri Executive"), w.fake.AddUser("Sam Sales")
	for _, d := range []string{"network", "devices", "billing", "triage", "watch"} {
		w.channel[d] = w.fake.AddChannel("care-" + d)
	}

	w.x = xfake.New(xfake.WithUserToken("token-"+teamsAccountID, teamsAccountID))
	t.Cleanup(w.x.Close)
	w.x.AddUser(xfake.User{ID: teamsAccountID, Username: "SBCare", Name: "SoftBank Care"})
	w.x.AddUser(xfake.User{ID: teamsCustomerID, Username: teamsCustomer, Name: "Kim"})
	w.unsure = newUnsureProxy(t, w.x.URL())

	id := w.fake.Identity()
	// Billing's second approver and the watcher are named by AAD groups,
	// which carebridge resolves through Graph: Lena approves Billing as a
	// member of "Billing leads", Eri watches as a member of "Executives".
	billingLeads, executives := w.fake.AddGroup(w.lead.AADObjectID), w.fake.AddGroup(w.exec.AADObjectID)
	var b strings.Builder
	fmt.Fprintf(&b, "timezone: UTC\nstore:\n  url: %q\nhttp:\n  addr: 127.0.0.1:0\nchat: teams\n", storeURL)
	fmt.Fprintf(&b, "teams:\n  app_id: %s\n  tenant_id: %s\n  client_secret: %q\n  service_url: %s\n  token_url: %s\n  openid_url: %s\n  graph_url: %s\n",
		id.AppID, id.TenantID, id.ClientSecret, w.fake.ServiceURL(), w.fake.TokenURL(), w.fake.OpenIDMetadataURL(), w.fake.GraphURL())
	b.WriteString("  departments:\n")
	for _, d := range []string{"network", "devices", "billing", "triage"} {
		second := w.lead.AADObjectID
		if d == "billing" {
			second = "group:" + billingLeads
		}
		fmt.Fprintf(&b, "    - department: %s\n      team: %s\n      channel: %q\n      approvers: [%s, %q]\n",
			d, id.TeamGroupID, w.channel[d], w.manager.AADObjectID, second)
		if d == "network" {
			b.WriteString("      escalation: {tag: \"TmV0d29ya09uQ2FsbFRhZw\", name: \"Network on-call\"}\n")
		}
	}
	fmt.Fprintf(&b, "  watch: {team: %s, channel: %q}\n  watchers: [%q]\n", id.TeamGroupID, w.channel["watch"], "group:"+executives)
	fmt.Fprintf(&b, "x:\n  api_base_url: %s\n  bearer_token: %s\n  accounts:\n    - handle: SBCare\n      user_id: %q\n      mentions: false\n      dms: false\n      oauth2:\n        access_token: token-%s\n",
		w.unsure.srv.URL, xfake.DefaultAppToken, teamsAccountID, teamsAccountID)
	b.WriteString(`departments:
  - {id: network, name: Network team}
  - {id: devices, name: Devices}
  - {id: billing, name: Billing}
  - {id: triage, name: Triage}
routes:
  - {department: network, keywords: [signal, outage]}
  - {department: devices, keywords: [iphone, battery]}
  - {department: billing, keywords: [bill, refund]}
triage: triage
outbox:
  workers: 4
  max_backoff: 10s
  lease: 10m
`)
	path := filepath.Join(t.TempDir(), "carebridge.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.LevelServe)
	if err != nil {
		t.Fatalf("config:\n%v\n%s", err, b.String())
	}
	w.cfg = cfg
	w.start()
	t.Cleanup(func() {
		w.stopApp()
		if t.Failed() {
			t.Logf("carebridge log:\n%s", w.logs.String())
		}
	})
	return w
}

// start runs carebridge in process and points the Teams fake at its
// messaging endpoint.
func (w *teamsWorld) start() {
	w.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	var logw io.Writer = w.logs
	if testing.Verbose() && os.Getenv("CAREBRIDGE_TEST_LOG") != "" {
		logw = io.MultiWriter(w.logs, os.Stderr)
	}
	logger := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, w.cfg, appOptions{Logger: logger, Listener: ln, Clock: w.clock, PollInterval: 20 * time.Millisecond, LeaderCheck: time.Second})
	if err != nil {
		cancel()
		w.t.Fatalf("newApp: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	w.fake.SetEndpoint("http://" + ln.Addr().String() + w.cfg.Teams.Endpoint)
	var once sync.Once
	w.mu.Lock()
	w.app = a
	w.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				w.t.Errorf("carebridge stopped with %v", err)
			}
		})
	}
	w.mu.Unlock()
}

func (w *teamsWorld) stopApp() {
	w.mu.Lock()
	stop := w.stop
	w.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// convo is one customer conversation and its Teams thread.
type convo struct {
	tweet, channel, root string
}

// conversation publishes a customer's post on X, hands it to carebridge
// as its pollers would, and returns the thread it opened in dept's
// channel. mention: the post mentions @SBCare (a public reply is
// possible); otherwise it is a keyword hit that only a DM can answer.
func (w *teamsWorld) conversation(dept, text string, mention bool) convo {
	w.t.Helper()
	w.n++
	if mention {
		text = "@SBCare " + text
	}
	tw := w.x.AddTweet(xfake.Tweet{AuthorID: teamsCustomerID, Text: text})
	elig, mentions := bridge.EligibleDMOnly, []string(nil)
	if mention {
		elig, mentions = bridge.EligiblePublic, []string{"sbcare"}
	}
	now := w.clock.Now()
	post := bridge.Post{Platform: x.Platform, ExternalID: tw.ID, Source: bridge.SourceSearch, AuthorID: teamsCustomerID,
		AuthorHandle: teamsCustomer, AuthorName: "Kim", Text: text, CreatedAt: now, ReceivedAt: now,
		URL: "https://x.com/" + teamsCustomer + "/status/" + tw.ID, ConversationKey: tw.ID, Eligibility: elig, Mentions: mentions, Lang: "en"}
	if mention {
		post.Source = bridge.SourceMention
	}
	w.mu.Lock()
	a := w.app
	w.mu.Unlock()
	if _, err := a.service.Ingest(context.Background(), bridge.Batch{Posts: []bridge.Post{post}}); err != nil {
		w.t.Fatal(err)
	}
	c := convo{tweet: tw.ID, channel: w.channel[dept]}
	eventually(w.t, 20*time.Second, "the post in "+dept+"'s channel", func() (bool, string) {
		for _, m := range w.fake.Posts(c.channel) {
			if m.FromBot && strings.Contains(string(m.Card), "/status/"+tw.ID+`"`) {
				c.root = m.ID
				return true, ""
			}
		}
		var all []string
		for _, m := range w.fake.Posts(c.channel) {
			all = append(all, m.Plain()+" "+string(m.Card))
		}
		return false, strings.Join(all, "\n")
	})
	return c
}

// say has u reply in the conversation's thread and returns the message id.
func (w *teamsWorld) say(u teamsfake.User, c convo, text string) string {
	w.t.Helper()
	d, err := w.fake.UserReplies(context.Background(), u, c.channel, c.root, text, false)
	if err != nil {
		w.t.Fatal(err)
	}
	return d.ActivityID
}

// card waits for the draft card showing text in the thread, while it
// still offers its buttons, and returns its id.
func (w *teamsWorld) card(c convo, text string) string {
	w.t.Helper()
	var id string
	eventually(w.t, 20*time.Second, "the draft card of "+text, func() (bool, string) {
		for _, m := range w.fake.Thread(c.channel, c.root) {
			if m.FromBot && len(m.Card) > 0 && strings.Contains(m.Plain(), text) && len(m.Buttons()) > 0 {
				id = m.ID
				return true, ""
			}
		}
		return false, w.threadText(c)
	})
	return id
}

func (w *teamsWorld) click(u teamsfake.User, cardID, button string) teamsfake.Delivery {
	w.t.Helper()
	d, err := w.fake.UserClicks(context.Background(), u, cardID, button)
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

// cardShows waits until the card reads want (and has no buttons left
// once decided).
func (w *teamsWorld) cardShows(cardID, want string, decided bool) {
	w.t.Helper()
	eventually(w.t, 20*time.Second, "the card reading "+want, func() (bool, string) {
		m, ok := w.fake.Message(cardID)
		if !ok {
			return false, "no card"
		}
		return strings.Contains(m.Plain(), want) && (!decided || len(m.Buttons()) == 0), m.Plain()
	})
}

// notice waits for a line of the bot in the thread containing want and
// returns the message.
func (w *teamsWorld) notice(c convo, want string) teamsfake.Message {
	w.t.Helper()
	var got teamsfake.Message
	eventually(w.t, 20*time.Second, "a notice with "+want, func() (bool, string) {
		for _, m := range w.fake.Thread(c.channel, c.root) {
			if m.FromBot && len(m.Card) == 0 && !m.IsRoot() && strings.Contains(m.Plain(), want) {
				got = m
				return true, ""
			}
		}
		return false, w.threadText(c)
	})
	return got
}

func (w *teamsWorld) threadText(c convo) string {
	var lines []string
	for _, m := range w.fake.Thread(c.channel, c.root) {
		who := "bot"
		if !m.FromBot {
			who = m.From.Name
		}
		lines = append(lines, who+": "+strings.ReplaceAll(m.Plain(), "\n", " / "))
	}
	return strings.Join(lines, "\n")
}

func (w *teamsWorld) replies(c convo) []xfake.Tweet {
	var out []xfake.Tweet
	for _, t := range w.x.SentTweets() {
		if t.InReplyToTweetID == c.tweet {
			out = append(out, t)
		}
	}
	return out
}

func (w *teamsWorld) dms(text string) []xfake.DMEvent {
	var out []xfake.DMEvent
	for _, d := range w.x.SentDMs() {
		if d.Text == text {
			out = append(out, d)
		}
	}
	return out
}

// settle lets carebridge work through what it was given for a moment of
// wall time (the clock runs meanwhile) before a test checks that nothing
// happened.
func settle() { time.Sleep(400 * time.Millisecond) }

// audits returns the audit records of kind, oldest first.
func (w *teamsWorld) audits(kind bridge.AuditKind) []bridge.AuditRecord {
	w.t.Helper()
	st, err := store.Open(context.Background(), w.storeURL, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		w.t.Fatal(err)
	}
	defer st.Close()
	var out []bridge.AuditRecord
	if err := eachAudit(context.Background(), st, bridge.AuditFilter{}, func(r bridge.AuditRecord) error {
		if r.Kind == kind {
			out = append(out, r)
		}
		return nil
	}); err != nil {
		w.t.Fatal(err)
	}
	return out
}

func TestTeamsEndToEnd(t *testing.T) {
	for name, open := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			w := newTeamsWorld(t, open(t))
			t.Run("answers", w.answers)
			t.Run("refusals", w.refusals)
			t.Run("guards and edits", w.guardsAndEdits)
			t.Run("without RSC", w.withoutRSC)
			t.Run("hostile requests", w.hostile)
			t.Run("crash mid-send", w.crashMidSend)
			t.Run("escalation", w.escalation)
			t.Run("bundles", w.bundles) // last: it floods the billing channel (and restarts carebridge, which escalation stopped)
		})
	}
}

// answers: a public reply approved from its card, a dm: draft approved
// with the card's reaction, a public draft sent as a DM, a rejection.
func (w *teamsWorld) answers(t *testing.T) {
	w.t = t
	c := w.conversation("devices", "my iphone battery dies by noon", true)
	const answer = "Sorry! Settings › Battery shows what drains it — could you check?"
	w.say(w.staff, c, answer)
	card := w.card(c, answer)
	if m, _ := w.fake.Message(card); !strings.Contains(m.Plain(), "by Aiko Staff") || !strings.Contains(m.Plain(), "Public reply as @SBCare") {
		t.Errorf("the card does not say who wrote it and as whom it goes out:\n%s", m.Plain())
	}
	d := w.click(w.manager, card, "Approve")
	if d.Status != http.StatusOK {
		t.Errorf("the click was answered %d", d.Status)
	}
	eventually(t, 20*time.Second, "the public reply on X", func() (bool, string) { return len(w.replies(c)) == 1, "" })
	if r := w.replies(c)[0]; r.Text != "@"+teamsCustomer+" "+answer && r.Text != answer {
		t.Errorf("reply = %q", r.Text)
	}
	w.cardShows(card, "Sent publicly as @SBCare", true)
	w.cardShows(card, "Ken Manager", true)
	w.notice(c, "Sent publicly as @SBCare, approved by @Ken Manager")

	// dm: drafts go out by DM; the like reaction on the card approves.
	const dmText = "Could you DM us the phone's serial number?"
	w.say(w.staff, c, "dm: "+dmText)
	dmCard := w.card(c, dmText)
	if _, err := w.fake.UserReacts(context.Background(), w.lead, dmCard, "like"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the DM", func() (bool, string) { return len(w.dms(dmText)) == 1, "" })
	w.cardShows(dmCard, "Sent by DM", true)

	// Send as DM turns a public draft into a DM.
	const private = "We'd like to check your line settings privately."
	w.say(w.staff, c, private)
	w.click(w.manager, w.card(c, private), "Send as DM")
	eventually(t, 20*time.Second, "the draft sent as a DM", func() (bool, string) { return len(w.dms(private)) == 1, "" })

	// Reject: nothing goes out, the card names who rejected.
	const hasty = "Have you tried turning it off and on?"
	w.say(w.staff, c, hasty)
	rejected := w.card(c, hasty)
	w.click(w.lead, rejected, "Reject")
	w.cardShows(rejected, "Rejected", true)
	w.cardShows(rejected, "Lena Lead", true)
	settle()
	if n := len(w.replies(c)); n != 1 {
		t.Errorf("%d public replies, want the first one only", n)
	}
	if len(w.audits(bridge.AuditRejected)) == 0 {
		t.Error("the rejection is not in the audit log")
	}
}

// refusals: an approver's own draft, someone who is not an approver (nor
// in the approvers' group), a watcher (through the watchers' group) —
// each refused by name in the thread, nothing sent; an approver through
// an AAD group approves; and a duplicated activity acts once.
func (w *teamsWorld) refusals(t *testing.T) {
	w.t = t
	c := w.conversation("billing", "I was charged twice on my bill", true)
	const own = "We have refunded the second charge."
	w.say(w.manager, c, own)
	card := w.card(c, own)
	w.click(w.manager, card, "Approve")
	w.notice(c, "@Ken Manager: You wrote this draft, so another approver has to approve it")
	w.click(w.stranger, card, "Approve")
	w.notice(c, "@Sam Sales: Only Billing's approvers can approve or reject answers, so your “Approve” was ignored.")
	if _, err := w.fake.UserReacts(context.Background(), w.exec, card, "like"); err != nil {
		t.Fatal(err)
	}
	w.notice(c, "@Eri Executive: You're watching this conversation, so your “Approve” does not approve or reject anything")
	w.say(w.exec, c, "Please answer this one quickly.")
	w.notice(c, "@Eri Executive: You're watching this conversation — Billing answers customers")
	settle()
	if n := len(w.replies(c)); n != 0 {
		t.Fatalf("refused gestures sent %d replies", n)
	}
	for _, k := range []bridge.AuditKind{bridge.AuditSelfApproval, bridge.AuditUnauthorized, bridge.AuditWatcherRefused} {
		if len(w.audits(k)) == 0 {
			t.Errorf("no %s in the audit log", k)
		}
	}

	// Another approver, a member of Billing's approver group, approves;
	// Teams delivers the click twice (a connector retry): one reply, one
	// approval.
	d := w.click(w.lead, card, "Approve")
	if _, err := w.fake.Redeliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the reply", func() (bool, string) { return len(w.replies(c)) == 1, "" })
	settle()
	if n := len(w.replies(c)); n != 1 {
		t.Errorf("a redelivered click sent %d replies", n)
	}
	// And a redelivered draft message is one draft.
	const twice = "Thank you for your patience."
	msg, err := w.fake.UserReplies(context.Background(), w.staff, c.channel, c.root, twice, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.fake.Redeliver(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	w.card(c, twice)
	settle()
	cards := 0
	for _, m := range w.fake.Thread(c.channel, c.root) {
		if m.FromBot && len(m.Card) > 0 && strings.Contains(m.Plain(), twice) {
			cards++
		}
	}
	if cards != 1 {
		t.Errorf("a redelivered reply made %d draft cards", cards)
	}
}

// guardsAndEdits: personal data blocked then sent by dm:, a public reply
// where only a DM is possible, an edit after approval, a delete.
func (w *teamsWorld) guardsAndEdits(t *testing.T) {
	w.t = t
	c := w.conversation("network", "no signal at home since yesterday", true)
	w.say(w.staff, c, "Please call our engineer at 090-1234-5678.")
	w.notice(c, "can't go out")
	settle()
	for _, m := range w.fake.Thread(c.channel, c.root) {
		if len(m.Card) > 0 && strings.Contains(m.Plain(), "090-1234-5678") {
			t.Fatalf("a blocked draft got a card approvers could press:\n%s", m.Plain())
		}
	}
	const dm = "Our engineer can call you at 090-1234-5678."
	w.say(w.staff, c, "dm: "+dm)
	w.click(w.manager, w.card(c, dm), "Approve")
	eventually(t, 20*time.Second, "the DM with the number", func() (bool, string) { return len(w.dms(dm)) == 1, "" })

	// A keyword hit that did not mention us can only be answered by DM.
	hit := w.conversation("network", "outage in Osaka again, no signal", false)
	w.say(w.staff, hit, "We are on it, sorry!")
	w.notice(hit, "can't go out")

	// An edit after approval: X fails until the edit has been seen, so
	// the first answer retries and the second waits behind it, approved
	// but not sent. The edit takes the approval back; the card shows the
	// new text and asks again.
	w.x.FailNext(xfake.EndpointCreateTweet, 503, 1_000_000)
	const first = "The base station is being repaired."
	const second, edited = "Service is back.", "Service is back since 14:00."
	fid := w.say(w.staff, c, first)
	w.click(w.manager, w.card(c, first), "Approve")
	w.notice(c, "Not sent yet")
	sid := w.say(w.staff, c, second)
	scard := w.card(c, second)
	w.click(w.manager, scard, "Approve")
	w.cardShows(scard, "Approved", true)
	if _, err := w.fake.UserEdits(context.Background(), w.staff, sid, edited); err != nil {
		t.Fatal(err)
	}
	w.notice(c, "edited after it was approved")
	w.cardShows(scard, edited, false)
	w.x.FailNext(xfake.EndpointCreateTweet, 0, 0) // X is back
	eventually(t, 20*time.Second, "the first answer, once X is back", func() (bool, string) {
		for _, r := range w.replies(c) {
			if strings.HasSuffix(r.Text, first) {
				return true, ""
			}
		}
		return false, ""
	})
	settle()
	for _, r := range w.replies(c) {
		if strings.Contains(r.Text, "Service is back") {
			t.Fatalf("the edited draft went out without a new approval: %q", r.Text)
		}
	}
	w.click(w.lead, w.card(c, edited), "Approve")
	eventually(t, 20*time.Second, "the edited answer", func() (bool, string) {
		for _, r := range w.replies(c) {
			if strings.HasSuffix(r.Text, edited) {
				return true, ""
			}
		}
		return false, ""
	})
	// An edit after sending is not relayed.
	if _, err := w.fake.UserEdits(context.Background(), w.staff, fid, "Edited after it went out."); err != nil {
		t.Fatal(err)
	}
	w.notice(c, "edits are not relayed")

	// A deleted draft is withdrawn: its card says so and offers nothing.
	const gone = "Never mind this one."
	gid := w.say(w.staff, c, gone)
	gcard := w.card(c, gone)
	if _, err := w.fake.UserDeletes(context.Background(), w.staff, gid); err != nil {
		t.Fatal(err)
	}
	w.cardShows(gcard, "Withdrawn", true)
}

// hostile: requests Teams did not sign, or signed wrongly, are refused
// with a 4xx and leave no row; so are oversize and malformed bodies.
func (w *teamsWorld) hostile(t *testing.T) {
	w.t = t
	c := w.conversation("billing", "refund for my bill please", true)
	before := len(w.audits(bridge.AuditDraftCreated))
	msg := func(id, text string) []byte {
		return []byte(fmt.Sprintf(`{"type":"message","id":%q,"channelId":"msteams","serviceUrl":%q,"text":%q,
"from":{"id":%q,"name":"Aiko Staff","aadObjectId":%q},"recipient":{"id":"28:%s"},
"conversation":{"isGroup":true,"conversationType":"channel","id":"%s;messageid=%s"},
"channelData":{"teamsChannelId":%q,"tenant":{"id":%q}}}`, id, w.fake.ServiceURL(), text, w.staff.ID, w.staff.AADObjectID,
			w.fake.Identity().AppID, c.channel, c.root, c.channel, w.fake.Identity().TenantID))
	}
	for i, tc := range []struct {
		name string
		body []byte
		opt  teamsfake.DeliveryOptions
	}{
		{"no token", msg("9000000000001", "refund sent"), teamsfake.DeliveryOptions{NoToken: true}},
		{"expired token", msg("9000000000002", "refund sent"), teamsfake.DeliveryOptions{IssuedAt: -2 * time.Hour}},
		{"another bot's token", msg("9000000000003", "refund sent"), teamsfake.DeliveryOptions{Audience: "00000000-0000-0000-0000-000000000001"}},
		{"unsigned", msg("9000000000004", "refund sent"), teamsfake.DeliveryOptions{Alg: "none"}},
		{"oversize", msg("9000000000005", strings.Repeat("refund ", 60000)), teamsfake.DeliveryOptions{}},
		{"malformed JSON", []byte(`{"type":"message","id":"9000000000006","serviceUrl":"` + w.fake.ServiceURL() + `","text":`), teamsfake.DeliveryOptions{}},
	} {
		d, err := w.fake.Deliver(context.Background(), tc.body, tc.opt)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if d.Status < 400 || d.Status > 499 {
			t.Errorf("%d %s: answered %d, want a 4xx", i, tc.name, d.Status)
		}
	}
	settle()
	if after := len(w.audits(bridge.AuditDraftCreated)); after != before {
		t.Errorf("hostile requests created %d drafts", after-before)
	}
	for _, m := range w.fake.Thread(c.channel, c.root) {
		if m.FromBot && !m.IsRoot() {
			t.Errorf("a hostile request got an answer in the thread:\n%s", m.Plain())
		}
	}
}

// crashMidSend: the reply reaches X but carebridge never hears back and
// then crashes; the next process checks X before sending again, so the
// customer gets one answer, and the card says it went out.
func (w *teamsWorld) crashMidSend(t *testing.T) {
	w.t = t
	c := w.conversation("devices", "battery swollen on my iphone", true)
	const answer = "Please stop using it and bring it to any shop; we replace it for free."
	w.say(w.staff, c, answer)
	card := w.card(c, answer)
	w.unsure.armed.Store(true)
	w.click(w.manager, card, "Approve")
	eventually(t, 20*time.Second, "the reply on X", func() (bool, string) { return len(w.replies(c)) == 1, "" })
	w.stopApp()
	w.start()
	// The lease of the row the first process held runs out.
	w.clock.Advance(w.cfg.Outbox.Lease.D())
	w.cardShows(card, "Sent publicly", true)
	settle()
	if n := len(w.replies(c)); n != 1 {
		t.Fatalf("the customer got %d replies, want 1", n)
	}
	if len(w.audits(bridge.AuditSentAlreadyOnCheck)) != 1 {
		t.Errorf("the reply was not found on X by a check before sending again (no %s record)", bridge.AuditSentAlreadyOnCheck)
	}
}

// escalation: an SLA breach mentions the department's escalation tag as
// a Teams tag mention; and the audit trail verifies.
func (w *teamsWorld) escalation(t *testing.T) {
	w.t = t
	c := w.conversation("network", "signal gone for a day now", true)
	w.clock.Advance(2 * time.Hour) // the first-response target is 1h
	w.mu.Lock()
	a := w.app
	w.mu.Unlock()
	if _, err := a.watcher.CheckSLA(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := w.notice(c, "SLA breached")
	tagged := false
	for _, e := range m.Entities {
		tagged = tagged || (e.Type == "tag" && e.ID == "TmV0d29ya09uQ2FsbFRhZw" && e.Name == "Network on-call")
	}
	if !tagged || !strings.Contains(m.Plain(), "@Network on-call") {
		t.Errorf("the breach does not mention the escalation tag: %q, entities %+v", m.Plain(), m.Entities)
	}
	w.stopApp()
	st, err := store.Open(context.Background(), w.storeURL, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out bytes.Buffer
	if err := auditVerify(context.Background(), st, &out); err != nil || !strings.Contains(out.String(), "audit verify: OK") {
		t.Errorf("audit verify: %v\n%s", err, out.String())
	}
}

// check validates a Teams configuration, says what the bot cannot see
// without the RSC permission, and names a Teams problem with its line.
func TestCheckTeams(t *testing.T) {
	const example = "../../examples/carebridge-teams.yaml"
	code, out, errs := carebridge(t, "", "check", "-config", example)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"OK\n", "Teams: messaging endpoint POST /teams/messages", "RSC permission ChannelMessage.Read.Group",
		"without it the bot sees only messages that @mention it"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), `channel: "19:8a7b6c5d4e3f40312a1b2c3d4e5f6071@thread.tacv2"`, "channel: C0BILLING", 1)
	path := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = carebridge(t, "", "check", "-config", path)
	if code != 1 || !strings.Contains(out, `teams.departments[1].channel: "C0BILLING" is not a Teams channel id (19:…@thread.tacv2) (line `) {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}

// withoutRSC: a team that did not grant ChannelMessage.Read.Group tells
// the bot only about messages that @mention it, so only those become
// drafts (the mention is not part of the answer).
func (w *teamsWorld) withoutRSC(t *testing.T) {
	w.t = t
	c := w.conversation("devices", "my battery drains overnight", true)
	w.fake.SetRSC(false)
	defer w.fake.SetRSC(true)
	const unheard = "Does it happen with the screen off too?"
	w.say(w.staff, c, unheard)
	const heard = "Could you check Settings › Battery for us?"
	if _, err := w.fake.UserReplies(context.Background(), w.staff, c.channel, c.root, heard, true); err != nil {
		t.Fatal(err)
	}
	card := w.card(c, heard)
	if m, _ := w.fake.Message(card); !slices.Contains(strings.Split(m.Plain(), "\n"), heard) {
		t.Errorf("the bot's mention is part of the draft:\n%s", m.Plain())
	}
	for _, m := range w.fake.Thread(c.channel, c.root) {
		if m.FromBot && strings.Contains(m.Plain(), unheard) {
			t.Errorf("a reply the bot cannot see without RSC became a draft:\n%s", m.Plain())
		}
	}
}

// bundles: a flood of passive posts deeper than Teams' pace can show
// within bundles.target (the default: a minute at 0.5 messages a second)
// is shown in bundle cards, with a status message; Answer on a bundled
// post opens its own thread, once.
func (w *teamsWorld) bundles(t *testing.T) {
	w.t = t
	w.stopApp() // escalation stopped it to verify the audit log
	w.start()
	const flood = 40
	channel := w.channel["billing"]
	var posts []bridge.Post
	now := w.clock.Now()
	for i := range flood {
		id := fmt.Sprintf("1890000000000%06d", i)
		author := fmt.Sprintf("payer%02d", i)
		posts = append(posts, bridge.Post{Platform: x.Platform, ExternalID: id, Source: bridge.SourceSearch, AuthorID: "9" + id,
			AuthorHandle: author, AuthorName: author, Text: fmt.Sprintf("my bill doubled this month (%d)", i), CreatedAt: now, ReceivedAt: now,
			URL: "https://x.com/" + author + "/status/" + id, ConversationKey: id, Eligibility: bridge.EligibleDMOnly, Lang: "en"})
	}
	w.mu.Lock()
	a := w.app
	w.mu.Unlock()
	if _, err := a.service.Ingest(context.Background(), bridge.Batch{Posts: posts}); err != nil {
		t.Fatal(err)
	}
	shown := func() (bundles []teamsfake.Message, singles, status int, entries map[string]int) {
		entries = map[string]int{}
		for _, m := range w.fake.Posts(channel) {
			switch p := m.Plain(); {
			case strings.Contains(p, "new posts for Billing"):
				bundles = append(bundles, m)
			case strings.Contains(p, "Heavy traffic"), strings.Contains(p, "Traffic back to normal"):
				status++
				continue
			case !strings.Contains(p, "my bill doubled"), strings.HasPrefix(p, "Spike:"): // the spike alert quotes a few
				continue
			default:
				singles++
			}
			for i := range flood {
				if strings.Contains(string(m.Card), fmt.Sprintf("/status/1890000000000%06d\"", i)) {
					entries[fmt.Sprint(i)]++
				}
			}
		}
		return
	}
	var bundles []teamsfake.Message
	eventually(t, 20*time.Second, "every post shown", func() (bool, string) {
		var singles, status int
		var entries map[string]int
		bundles, singles, status, entries = shown()
		return len(entries) == flood, fmt.Sprintf("%d bundles, %d singles, %d status, %d of %d posts", len(bundles), singles, status, len(entries), flood)
	})
	_, _, status, entries := shown()
	for i, n := range entries {
		if n != 1 {
			t.Errorf("post %s shown %d times", i, n)
		}
	}
	if t.Failed() {
		for _, m := range w.fake.Posts(channel) {
			t.Logf("%s: %s", m.ID, strings.ReplaceAll(m.Plain(), "\n", " / "))
		}
	}
	if len(bundles) == 0 || status != 1 {
		t.Fatalf("%d bundles, %d status messages; want the flood bundled and one status", len(bundles), status)
	}
	// Answer on the first bundle's second entry (every entry has a
	// button, in the order of the entries).
	b := bundles[0]
	order := regexp.MustCompile(`my bill doubled this month \(([0-9]+)\)`).FindAllStringSubmatch(b.Plain(), -1)
	if len(order) < 2 || len(b.Buttons()) != len(order) {
		t.Fatalf("bundle with %d entries and %d buttons:\n%s", len(order), len(b.Buttons()), b.Plain())
	}
	target, _ := strconv.Atoi(order[1][1])
	d, err := w.fake.UserClicksNth(context.Background(), w.staff, b.ID, "Answer", 1)
	if err != nil || d.Status != http.StatusOK {
		t.Fatalf("click: %v %d", err, d.Status)
	}
	url := fmt.Sprintf("/status/1890000000000%06d", target)
	var thread string
	eventually(t, 20*time.Second, "the post's own thread", func() (bool, string) {
		for _, m := range w.fake.Posts(channel) {
			if strings.Contains(m.Plain(), "Opened from a bundle by Aiko Staff") {
				if !strings.Contains(string(m.Card), url) {
					return false, "opened for another post: " + m.Plain()
				}
				thread = m.ID
				return true, ""
			}
		}
		return false, "not yet"
	})
	// A second click (another person's) opens nothing more.
	if _, err := w.fake.UserClicksNth(context.Background(), w.manager, b.ID, "Answer", 1); err != nil {
		t.Fatal(err)
	}
	settle()
	n := 0
	for _, m := range w.fake.Posts(channel) {
		if strings.Contains(m.Plain(), "Opened from a bundle") {
			n++
		}
	}
	if n != 1 || thread == "" {
		t.Errorf("%d threads opened from the bundle, want 1", n)
	}
	if len(w.audits(bridge.AuditThreadOpened)) != 1 {
		t.Errorf("thread_opened audits: %d, want 1", len(w.audits(bridge.AuditThreadOpened)))
	}
}
