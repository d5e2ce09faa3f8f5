package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	slackad "github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/adapters/x/xfake"
	"github.com/carebridge/carebridge/bridge/config"
)

// tableRows counts the rows of every table of the store at storeURL.
func tableRows(t *testing.T, storeURL string) map[string]int {
	t.Helper()
	db, err := sqlx.Open(dbDriver(storeURL), dbDSN(storeURL))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	if dbDriver(storeURL) == "postgres" {
		err = db.Select(&tables, `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`)
	} else {
		err = db.Select(&tables, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1`)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 5 {
		t.Fatalf("only %d tables found: %v", len(tables), tables)
	}
	out := map[string]int{}
	for _, tb := range tables {
		var n int
		if err := db.Get(&n, `SELECT COUNT(*) FROM "`+tb+`"`); err != nil {
			t.Fatalf("count %s: %v", tb, err)
		}
		out[tb] = n
	}
	return out
}

// settledRows waits until the row counts stop changing and returns them.
func settledRows(t *testing.T, storeURL string) map[string]int {
	t.Helper()
	var last map[string]int
	eventually(t, 30*time.Second, "the store to settle", func() (bool, string) {
		now := tableRows(t, storeURL)
		same := maps.Equal(now, last)
		last = now
		if !same {
			time.Sleep(300 * time.Millisecond)
		}
		return same, fmt.Sprint(now)
	})
	return last
}

// rowDiff describes the tables whose counts differ.
func rowDiff(before, after map[string]int) string {
	var out []string
	for _, tb := range slices.Sorted(maps.Keys(after)) {
		if before[tb] != after[tb] {
			out = append(out, fmt.Sprintf("%s %d→%d", tb, before[tb], after[tb]))
		}
	}
	return strings.Join(out, ", ")
}

// signSlack returns Slack's v0 signature of body at Unix time ts.
func signSlack(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%d:", ts)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// postEvent sends body to carebridge's /slack/events with the given
// timestamp and signature headers and returns the status and body.
func postEvent(t *testing.T, addr string, body []byte, ts, sig string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/slack/events", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if ts != "" {
		req.Header.Set("X-Slack-Request-Timestamp", ts)
	}
	if sig != "" {
		req.Header.Set("X-Slack-Signature", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestHostileEventRequests posts hostile requests to the running app's
// Events API endpoint, backed by the real store, and checks each answer and
// that none of them leaves a row in any table — while a genuine request
// built the same way does (so the counting can see a change).
func TestHostileEventRequests(t *testing.T) {
	for name, storeURL := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			testHostileEventRequests(t, storeURL(t))
		})
	}
}

func testHostileEventRequests(t *testing.T, storeURL string) {
	w := newReplyWorld(t, storeURL, true)
	_, thread := w.conversation("@SBCare my iphone battery gets hot")
	secret := w.slack.Identity().SigningSecret
	n := 0
	// A staff reply in the conversation's thread: accepted, it would
	// become a draft.
	staffReply := func(eventID, text string) []byte {
		n++
		ts := fmt.Sprintf("%d.%06d", time.Now().Unix(), 900000+n)
		return []byte(fmt.Sprintf(`{"token":"legacy","team_id":"T0FAKETEAM","api_app_id":"A0FAKEAPP","type":"event_callback",`+
			`"event_id":%q,"event_time":%d,"event":{"type":"message","channel":"C0DEVICES","channel_type":"channel",`+
			`"user":%q,"text":%q,"ts":%q,"thread_ts":%q,"event_ts":%q}}`,
			eventID, time.Now().Unix(), staff, text, ts, thread, ts))
	}
	now := func() int64 { return time.Now().Unix() }
	signed := func(body []byte, at int64) (string, string) {
		return strconv.FormatInt(at, 10), signSlack(secret, at, body)
	}
	before := settledRows(t, w.store)

	for _, tc := range []struct {
		name   string
		send   func() (int, string)
		status int
	}{
		{"bad signature", func() (int, string) {
			body := staffReply("EvHOSTILE1", "Please reset your phone.")
			ts, _ := signed(body, now())
			return postEvent(t, w.addr, body, ts, signSlack("not-the-signing-secret", now(), body))
		}, http.StatusUnauthorized},
		{"tampered body", func() (int, string) {
			body := staffReply("EvHOSTILE2", "Please reset your phone.")
			ts, sig := signed(body, now())
			return postEvent(t, w.addr, bytes.Replace(body, []byte("reset"), []byte("throw away"), 1), ts, sig)
		}, http.StatusUnauthorized},
		{"unsigned", func() (int, string) {
			return postEvent(t, w.addr, staffReply("EvHOSTILE3", "Please reset your phone."), "", "")
		}, http.StatusUnauthorized},
		{"stale timestamp", func() (int, string) {
			body := staffReply("EvHOSTILE4", "Please reset your phone.")
			ts, sig := signed(body, now()-10*60)
			return postEvent(t, w.addr, body, ts, sig)
		}, http.StatusUnauthorized},
		{"oversized body", func() (int, string) {
			body := staffReply("EvHOSTILE5", strings.Repeat("a", 1<<20))
			ts, sig := signed(body, now())
			return postEvent(t, w.addr, body, ts, sig)
		}, http.StatusRequestEntityTooLarge},
		{"malformed JSON", func() (int, string) {
			body := staffReply("EvHOSTILE6", "Please reset your phone.")
			body = body[:len(body)-7]
			ts, sig := signed(body, now())
			return postEvent(t, w.addr, body, ts, sig)
		}, http.StatusBadRequest},
		{"unknown event type", func() (int, string) {
			body := []byte(fmt.Sprintf(`{"type":"event_callback","team_id":"T0FAKETEAM","event_id":"EvHOSTILE7","event_time":%d,`+
				`"event":{"type":"brand_new_event","channel":"C0DEVICES","user":%q,"ts":"1.000001"}}`, now(), staff))
			ts, sig := signed(body, now())
			return postEvent(t, w.addr, body, ts, sig)
		}, http.StatusOK},
		{"unknown outer type", func() (int, string) {
			body := []byte(`{"type":"some_future_type","event_id":"EvHOSTILE8"}`)
			ts, sig := signed(body, now())
			return postEvent(t, w.addr, body, ts, sig)
		}, http.StatusOK},
	} {
		status, resp := tc.send()
		if status != tc.status {
			t.Errorf("%s: status %d (%q), want %d", tc.name, status, resp, tc.status)
		}
		if after := tableRows(t, w.store); !maps.Equal(before, after) {
			t.Errorf("%s left rows behind: %s", tc.name, rowDiff(before, after))
			before = after
		}
	}

	// The same request, correctly signed, is taken: rows appear (the draft,
	// its audit record, the event id, the outbox rows) — so the counts
	// above could have seen a change. Its redelivery adds nothing.
	body := staffReply("EvGENUINE1", "Could you tell us which iOS version you have?")
	ts, sig := signed(body, now())
	if status, resp := postEvent(t, w.addr, body, ts, sig); status != http.StatusOK {
		t.Fatalf("genuine request: status %d (%q)", status, resp)
	}
	after := tableRows(t, w.store)
	if maps.Equal(before, after) {
		t.Fatal("a genuine event left no row either: the counting sees nothing")
	}
	t.Logf("a genuine event wrote: %s", rowDiff(before, after))
	settled := settledRows(t, w.store)
	if status, _ := postEvent(t, w.addr, body, ts, sig); status != http.StatusOK {
		t.Errorf("redelivery: status %d", status)
	}
	if again := tableRows(t, w.store); !maps.Equal(settled, again) {
		t.Errorf("the redelivered event wrote rows: %s", rowDiff(settled, again))
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecretsNeverShown runs carebridge with every secret the
// configuration can hold set to a distinctive value — Slack's bot and app
// tokens and signing secret, the X bearer token, an OAuth 2.0 account's
// client secret, access and refresh tokens, an OAuth 1.0a account's four
// credentials, and on PostgreSQL the database password — drives a reply
// through, makes X and Slack fail (refused bearer and OAuth 1.0a calls, a
// Slack invalid_auth, forged event requests), and then searches the debug
// log, /metrics, `audit export` (both formats), `audit verify` and `check`
// for every value: none may appear.
func TestSecretsNeverShown(t *testing.T) {
	for name, storeURL := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			testSecretsNeverShown(t, storeURL(t))
		})
	}
}

func testSecretsNeverShown(t *testing.T, storeURL string) {
	secrets := map[string]string{
		"slack bot token":        "xoxb-4711-SECRETBOT-7f3a9c",
		"slack app token":        "xapp-1-SECRETAPP-51be02",
		"slack signing secret":   "SECRETSIGNING-e8d4c1",
		"x bearer token":         "SECRETBEARER-0a9b7d",
		"oauth2 client secret":   "SECRETCLIENT-9d2e44",
		"oauth2 access token":    "SECRETACCESS2-33c1aa",
		"oauth2 refresh token":   "SECRETREFRESH-6b0f12",
		"oauth1 consumer key":    "SECRETCKEY-11aa90",
		"oauth1 consumer secret": "SECRETCSECRET-22bb81",
		"oauth1 access token":    "SECRETATOKEN-33cc72",
		"oauth1 access secret":   "SECRETASECRET-44dd63",
	}
	if strings.HasPrefix(storeURL, "postgres://postgres@") {
		secrets["database password"] = "SECRETDBPASS5e6f"
		storeURL = strings.Replace(storeURL, "postgres://postgres@", "postgres://postgres:"+secrets["database password"]+"@", 1)
	}
	logs := &syncBuffer{}
	h := newHarness(t, storeURL, harnessOptions{http: true, brands: []string{"SBCare"}, logs: logs,
		x: []xfake.Option{xfake.WithAppToken(secrets["x bearer token"])},
		slack: []slackfake.Option{slackfake.WithBotToken(secrets["slack bot token"]),
			slackfake.WithAppToken(secrets["slack app token"]), slackfake.WithSigningSecret(secrets["slack signing secret"])}})
	// SBCare (9000000) answers with an OAuth 2.0 token the fake knows;
	// AppleSupport (9000001) has OAuth 1.0a credentials it does not know:
	// its replies fail and are logged.
	src := h.cfgSrc
	for _, r := range [][2]string{
		{"bearer_token: " + xfake.DefaultAppToken, "bearer_token: " + secrets["x bearer token"]},
		{"      oauth2:\n        access_token: token-9000000\n", "      oauth2:\n        client_id: carebridge\n" +
			"        client_secret: " + secrets["oauth2 client secret"] + "\n        access_token: " + secrets["oauth2 access token"] +
			"\n        refresh_token: " + secrets["oauth2 refresh token"] + "\n"},
		{"      oauth2:\n        access_token: token-9000001\n", "      oauth1:\n        consumer_key: " + secrets["oauth1 consumer key"] +
			"\n        consumer_secret: " + secrets["oauth1 consumer secret"] + "\n        access_token: " + secrets["oauth1 access token"] +
			"\n        access_secret: " + secrets["oauth1 access secret"] + "\n"},
	} {
		if !strings.Contains(src, r[0]) {
			t.Fatalf("harness configuration lacks %q:\n%s", r[0], src)
		}
		src = strings.Replace(src, r[0], r[1], 1)
	}
	if err := os.WriteFile(h.configPath(), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(h.configPath(), config.LevelServe)
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	h.cfg, h.cfgSrc = cfg, src
	h.x.AddUserToken(secrets["oauth2 access token"], "9000000")
	h.x.AddUser(xfake.User{ID: "7000001", Username: "ucustomer", Name: "Kim"})
	h.slack.AddUser(staff, "aiko", false)
	h.slack.AddUser(manager, "ken", false)
	w := &replyWorld{harness: h, t: t}
	stop := h.start()

	// A reply goes out.
	defer func() {
		if t.Failed() {
			t.Logf("log:\n%.6000s", logs.String())
		}
	}()
	tweet, thread := w.conversation("@SBCare my iphone battery dies by noon")
	draft := w.say(staff, thread, "Sorry! Settings › Battery shows what drains it.")
	w.waitReaction(draft, slackad.DraftMarks.Pending)
	w.react(manager, draft, cfg.Approvals.ApproveEmoji)
	w.waitNotice(thread, "Sent publicly as @SBCare")
	if len(w.repliesTo(tweet)) != 1 {
		t.Fatal("the reply did not go out")
	}
	// A reply as AppleSupport is refused by X (OAuth 1.0a credentials it
	// does not know), X refuses the mentions poll's token a few times,
	// Slack refuses the bot token once, and forged requests arrive.
	_, thread2 := w.conversation("@AppleSupport my ipad won't charge")
	draft2 := w.say(staff, thread2, "Please try another cable.")
	w.waitReaction(draft2, slackad.DraftMarks.Pending)
	w.react(manager, draft2, cfg.Approvals.ApproveEmoji)
	h.x.FailNext(xfake.EndpointMentions, http.StatusUnauthorized, 3)
	h.slack.FailNext("chat.postMessage", 200, "invalid_auth", 1)
	h.x.AddTweet(xfake.Tweet{AuthorID: "7000001", Text: "@SBCare my ipad too"})
	body := []byte(`{"type":"event_callback","event_id":"EvFORGED","event":{"type":"message","channel":"C0DEVICES","user":"U0STAFF01","text":"x","ts":"1.0"}}`)
	postEvent(t, h.addr, body, strconv.FormatInt(time.Now().Unix(), 10), signSlack("guessed", time.Now().Unix(), body))
	postEvent(t, h.addr, body, strconv.FormatInt(time.Now().Unix()-3600, 10), signSlack(secrets["slack signing secret"], time.Now().Unix()-3600, body))
	eventually(t, 30*time.Second, "the failures logged", func() (bool, string) {
		l := logs.String()
		ok := strings.Contains(l, "invalid_auth") && strings.Contains(l, "request refused") && strings.Contains(l, "401")
		return ok, fmt.Sprintf("%d bytes of log", len(l))
	})

	resp, err := http.Get("http://" + h.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsText, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	stop()

	outputs := map[string]string{"log": logs.String(), "/metrics": string(metricsText)}
	// A broken copy of the configuration: its problems are printed too.
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	brokenSrc := strings.Replace(strings.Replace(src, "mode: http", "mode: pigeon", 1), "signing_secret: ", "signing_secret_file: /nonexistent\n  signing_secret: ", 1)
	if err := os.WriteFile(broken, []byte(brokenSrc), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"check", "-serve", "-config", broken}, &out, &out); code == 0 || !strings.Contains(out.String(), "pigeon") {
		t.Errorf("check of a broken configuration: exit %d\n%s", code, out.String())
	}
	outputs["check -serve (broken)"] = out.String()
	for _, args := range [][]string{
		{"check", "-serve", "-config", h.configPath()},
		{"audit", "export", "-config", h.configPath(), "-format", "jsonl"},
		{"audit", "export", "-config", h.configPath(), "-format", "csv"},
		{"audit", "verify", "-config", h.configPath()},
		{"check", "-config", h.configPath()},
	} {
		var out bytes.Buffer
		code := run(context.Background(), args, &out, &out)
		if code != 0 {
			t.Errorf("%s: exit %d\n%s", strings.Join(args[:2], " "), code, out.String())
		}
		outputs[strings.Join(args, " ")] = out.String()
	}
	if export := outputs["audit export -config "+h.configPath()+" -format jsonl"]; !strings.Contains(export, `"kind":"sent"`) {
		t.Errorf("the audit export lacks the reply: %.500s", export)
	}
	for where, text := range outputs {
		for what, value := range secrets {
			if i := strings.Index(text, value); i >= 0 {
				t.Errorf("the %s shows the %s: …%s…", where, what, text[max(0, i-200):min(len(text), i+len(value)+50)])
			}
		}
	}
	total := 0
	for _, text := range outputs {
		total += len(text)
	}
	t.Logf("searched %d bytes (log %d, metrics %d, audit export, audit verify, check) for %d secrets",
		total, len(outputs["log"]), len(outputs["/metrics"]), len(secrets))
}

// messageBody is the customer's text as a mirrored parent message shows
// it: its section blocks after the author line, concatenated (long posts
// are cut into several), still escaped.
func messageBody(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var blocks []struct {
		Type string `json:"type"`
		Text struct {
			Text string `json:"text"`
		} `json:"text"`
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i, bl := range blocks {
		if bl.Type == "section" && i > 0 {
			b.WriteString(bl.Text.Text)
		}
	}
	return b.String()
}

// TestHostileMirror has customers post what could ping, disguise, reorder
// or overflow a Slack channel, and checks exactly what the channel shows:
// the text as written (entities and all), no live markup, hidden controls
// made visible, 10,000 characters in one message.
func TestHostileMirror(t *testing.T) {
	for name, storeURL := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			testHostileMirror(t, storeURL(t))
		})
	}
}

func testHostileMirror(t *testing.T, storeURL string) {
	w := newReplyWorld(t, storeURL, false)
	var long strings.Builder
	long.WriteString("@SBCare iphone ")
	for utf8.RuneCountInString(long.String()) < 10000 {
		long.WriteString("文字 & <!here> ok\n")
	}
	longText := string([]rune(long.String())[:10000])
	// What X gives back for invalid UTF-8: JSON carries U+FFFD.
	var invalid string
	b, _ := json.Marshal("@SBCare iphone bad \xff\xfe bytes \xc3")
	json.Unmarshal(b, &invalid)

	for _, tc := range []struct {
		name, text, shown string
	}{
		{"broadcasts and mentions", "@SBCare <!channel> <!here> <!everyone> iphone <@U0MANAGER> <#C0BILLING|care-billing> <!subteam^S1|@oncall>", ""},
		{"disguised links", "@SBCare iphone reset at <https://evil.example|https://bank.example> or <mailto:x@evil.example|support@apple.com> <https://evil.example>", ""},
		{"entities as typed", "@SBCare iphone &lt;@U0MANAGER&gt; &amp;lt; &gt; & < > &#60;!here&#62;", ""},
		{"markdown and code", "@SBCare iphone *bold* _it_ ~gone~ `code` ```block``` > quote", ""},
		{"right-to-left override", "@SBCare iphone see invoice\u202Efdp.exe and \u2066isolated\u2069 \u200Fmark", "@SBCare iphone see invoice[U+202E]fdp.exe and [U+2066]isolated[U+2069] [U+200F]mark"},
		{"zero-width characters", "@SBCare iphone pay\u200Bpal.com \u2060here\uFEFF family 👨\u200D👩\u200D👧", "@SBCare iphone pay[U+200B]pal.com [U+2060]here[U+FEFF] family 👨\u200D👩\u200D👧"},
		{"invalid UTF-8", invalid, "@SBCare iphone bad \uFFFD\uFFFD bytes \uFFFD"},
		{"10,000 characters", longText, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.t = t
			shown := tc.shown
			if shown == "" {
				shown = tc.text
			}
			tweet, thread := w.conversation(tc.text)
			var msg *slackfake.Message
			for _, m := range w.slack.Messages("C0DEVICES") {
				if m.TS == thread {
					msg = &m
				}
			}
			if msg == nil {
				t.Fatalf("message %s not found", thread)
			}
			body := messageBody(t, msg.Blocks)
			if strings.ContainsAny(body, "<>") {
				t.Errorf("live markup in the message body: %.300q", body)
			}
			if got := slackad.Unescape(body); got != shown {
				t.Errorf("the channel shows\n%.400q\nwant\n%.400q", got, shown)
			}
			if strings.ContainsAny(msg.Text, "<>") {
				t.Errorf("live markup in the notification text: %q", msg.Text)
			}
			if n := len(w.mirrors()[tweet]); n != 1 {
				t.Errorf("mirrored %d times", n)
			}
		})
	}
	w.t = t
	// Nothing but the bot wrote in the channel.
	for _, m := range w.slack.Messages("C0DEVICES") {
		if !m.FromBot() {
			t.Errorf("a message not from the bot: %+v", m)
		}
	}
}

// TestWatcherCannotRelease lists the executive both as a watcher and as an
// approver of every department: the ✅, 📩 and ❌ reactions still release
// nothing, the refusals are audited, and the real approver's ✅ then
// sends the draft once.
func TestWatcherCannotRelease(t *testing.T) {
	for name, storeURL := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			testWatcherCannotRelease(t, storeURL(t))
		})
	}
}

func testWatcherCannotRelease(t *testing.T, storeURL string) {
	h := newHarness(t, storeURL, harnessOptions{brands: []string{"SBCare"}, searches: []string{"from:ucustomer"}})
	src := strings.ReplaceAll(h.cfgSrc, "approvers: [U0MANAGER]", "approvers: [U0MANAGER, "+executive+"]")
	if src == h.cfgSrc {
		t.Fatal("the harness configuration names no approvers")
	}
	if err := os.WriteFile(h.configPath(), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(h.configPath(), config.LevelServe)
	if err != nil {
		t.Fatal(err)
	}
	h.cfg, h.cfgSrc = cfg, src
	h.x.AddUser(xfake.User{ID: "7000001", Username: "ucustomer", Name: "Kim"})
	h.slack.AddUser(staff, "aiko", false)
	h.slack.AddUser(manager, "ken", false)
	h.slack.AddUser(executive, "ceo", false)
	w := &replyWorld{harness: h, t: t}
	w.stop = h.start()
	a := cfg.Approvals

	tweet, thread := w.conversation("@SBCare my iphone keeps restarting")
	draft := w.say(staff, thread, "Please update to the latest iOS; that fixes the restarts.")
	w.waitReaction(draft, slackad.DraftMarks.Pending)
	for _, emoji := range []string{a.ApproveEmoji, a.ApproveDMEmoji, a.RejectEmoji} {
		w.react(executive, draft, emoji)
	}
	eventually(t, 30*time.Second, "three notes to the watcher", func() (bool, string) {
		n := 0
		for _, m := range w.slack.Ephemerals("C0DEVICES", executive) {
			if strings.Contains(m.Text, "You're watching this conversation") {
				n++
			}
		}
		return n == 3, fmt.Sprint(n, " notes")
	})
	w.nothingSent(tweet, "Please update")
	for _, m := range w.slack.Thread("C0DEVICES", thread) {
		if m.FromBot() && (strings.Contains(m.Text, "Rejected") || strings.Contains(m.Text, "Sent")) {
			t.Errorf("a watcher's reaction decided: %q", m.Text)
		}
	}
	w.react(manager, draft, a.ApproveEmoji)
	w.waitNotice(thread, "Sent publicly as @SBCare, approved by <@"+manager+">")
	if n := len(w.repliesTo(tweet)); n != 1 {
		t.Errorf("%d replies, want 1", n)
	}
	w.stop()
	var out bytes.Buffer
	run(context.Background(), []string{"audit", "export", "-config", h.configPath(), "-format", "jsonl"}, &out, &out)
	if n := strings.Count(out.String(), `"kind":"watcher_refused","actor":"`+executive+`"`); n != 3 {
		t.Errorf("%d watcher_refused records by the watcher, want 3:\n%s", n, out.String())
	}
}
