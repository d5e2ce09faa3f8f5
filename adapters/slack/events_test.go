package slack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/bridge"
)

const (
	eventsSecret  = "test-signing-secret-0123456789"
	eventsChannel = "C0CARE"
)

// ---- helpers ----

// chatRecorder is a bridge.ChatEventHandler that records what it receives
// and fails the first failFirst calls.
type chatRecorder struct {
	mu        sync.Mutex
	failFirst int
	calls     []bridge.ChatEvent // every call, failed ones included
	handled   []bridge.ChatEvent // calls that returned nil
}

func (r *chatRecorder) HandleChatEvent(ctx context.Context, ev bridge.ChatEvent) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("recorder: handler context has no deadline")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, ev)
	if len(r.calls) <= r.failFirst {
		return fmt.Errorf("recorder: induced failure %d", len(r.calls))
	}
	r.handled = append(r.handled, ev)
	return nil
}

func (r *chatRecorder) snapshot() (calls, handled []bridge.ChatEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bridge.ChatEvent(nil), r.calls...), append([]bridge.ChatEvent(nil), r.handled...)
}

// waitHandled waits until n events were handled successfully.
func (r *chatRecorder) waitHandled(t *testing.T, n int) []bridge.ChatEvent {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, handled := r.snapshot()
		if len(handled) >= n {
			return handled
		}
		if time.Now().After(deadline) {
			calls, _ := r.snapshot()
			t.Fatalf("waited for %d handled events, have %d (calls: %+v)", n, len(handled), calls)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// capturedLogs collects a test's logs; they are printed if the test fails.
type capturedLogs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *capturedLogs) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *capturedLogs) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func captureLogs(t *testing.T) (*slog.Logger, *capturedLogs) {
	t.Helper()
	b := &capturedLogs{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", b.String())
		}
	})
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

type stoppedClock struct{ t time.Time }

func (c stoppedClock) Now() time.Time { return c.t }

// slackSignature returns Slack's v0 signature of body at Unix time ts.
func slackSignature(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%d:", ts)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// testSignature signs with the test secret.
func testSignature(ts int64, body []byte) string { return slackSignature(eventsSecret, ts, body) }

// signedRequest builds a request signed as Slack would at Unix time ts.
func signedRequest(t *testing.T, url string, body []byte, ts int64, secret string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", slackSignature(secret, ts, body))
	return req
}

// httpRig is a fake Slack delivering events over HTTP to an EventsHandler.
type httpRig struct {
	fake    *slackfake.Server
	url     string
	rec     *chatRecorder
	logs    *capturedLogs
	mu      sync.Mutex
	retries []string // X-Slack-Retry-Num of each request, "" for first attempts
}

func (r *httpRig) retryNums() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.retries...)
}

func newHTTPRig(t *testing.T, rec *chatRecorder, opts ...EventsOption) *httpRig {
	t.Helper()
	log, logs := captureLogs(t)
	rig := &httpRig{rec: rec, logs: logs}
	h := NewEventsHandler(eventsSecret, rec, log, opts...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rig.mu.Lock()
		rig.retries = append(rig.retries, r.Header.Get("X-Slack-Retry-Num"))
		rig.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close) // runs after fake.Close
	rig.url = srv.URL + "/slack/events"
	rig.fake = slackfake.New(slackfake.WithSigningSecret(eventsSecret),
		slackfake.WithRetryDelays(10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond))
	t.Cleanup(rig.fake.Close)
	rig.fake.AddChannel(eventsChannel, "care-network", "U0ALICE", "U0BOB")
	rig.fake.DeliverHTTP(rig.url)
	return rig
}

func fakeIdle(t *testing.T, f *slackfake.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

func postRequest(t *testing.T, req *http.Request) (int, string, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// ---- PlainText ----

func TestPlainText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "Hello there", "Hello there"},
		{"entities", "a &amp; b &lt;c&gt;", "a & b <c>"},
		{"typed mention stays as typed", "&lt;@U123&gt; hi", "<@U123> hi"},
		{"typed broadcast stays as typed", "&lt;!channel&gt;", "<!channel>"},
		{"double escape unescaped once", "&amp;lt;@U1&amp;gt;", "&lt;@U1&gt;"},
		{"bare link", "see <https://example.com/a>", "see https://example.com/a"},
		{"labelled link gives the url", "<https://example.com|example.com>", "https://example.com"},
		{"disguised link gives the real url", "<https://evil.example/login|https://bank.example>", "https://evil.example/login"},
		{"link with escaped query", "<https://x.example/?a=1&amp;b=2|x>", "https://x.example/?a=1&b=2"},
		{"mailto", "<mailto:kim@example.com|kim@example.com>", "kim@example.com"},
		{"mailto without label", "write <mailto:kim@example.com>", "write kim@example.com"},
		{"user mention", "<@U123> thanks", "@U123 thanks"},
		{"user mention with legacy name", "<@U123|kim>", "@U123"},
		{"channel with name", "<#C123|general>", "#general"},
		{"channel without name", "<#C123>", "#C123"},
		{"here", "<!here> look", "@here look"},
		{"channel broadcast", "<!channel>", "@channel"},
		{"everyone with label", "<!everyone|everyone>", "@everyone"},
		{"user group", "<!subteam^S123|@support>", "@support"},
		{"user group without label", "<!subteam^S123>", "@S123"},
		{"date fallback", "<!date^1392734382^{date_short}|Feb 18, 2014>", "Feb 18, 2014"},
		{"mixed", "Hi <@U1>, call &lt;0800&gt; &amp; see <https://a.example|docs> in <#C9|help>",
			"Hi @U1, call <0800> & see https://a.example in #help"},
		{"unclosed bracket kept", "a < b", "a < b"},
		{"bracket before token", "x <<@U1>", "x <@U1"},
		{"unicode", "電波が弱い <@U1> 🙏", "電波が弱い @U1 🙏"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PlainText(tc.in); got != tc.want {
				t.Errorf("PlainText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// ---- Convert ----

// envelopeJSON wraps an inner event in an Events API envelope.
func envelopeJSON(inner string) []byte {
	return []byte(`{"token":"legacy","team_id":"T1","api_app_id":"A1","type":"event_callback","event_id":"Ev1","event_time":1700000000,` +
		`"authorizations":[{"team_id":"T1","user_id":"UBOT","is_bot":true,"is_enterprise_install":false}],"event":` + inner + `}`)
}

func TestConvert(t *testing.T) {
	at := time.Unix(1700000000, 0).UTC()
	// slackevents.ParseEvent (used by Socket Mode) rejects these payloads;
	// decodeEvents (used over HTTP and as Socket Mode's fallback) copes.
	slackGoFails := map[string]bool{"reaction to a file ignored": true, "message with a block slack-go cannot decode": true}
	for _, tc := range []struct {
		name  string
		inner string
		want  *bridge.ChatEvent // nil: ignored
	}{
		{"top-level message",
			`{"type":"message","channel":"C1","user":"U2","text":"hi &amp; <https://a.example|a>","ts":"1.000100","event_ts":"1.000100","channel_type":"channel"}`,
			&bridge.ChatEvent{Kind: bridge.EventMessage, Channel: "C1", User: "U2", TS: "1.000100", Text: "hi & https://a.example"}},
		{"thread reply",
			`{"type":"message","channel":"C1","user":"U2","text":"draft","ts":"2.000000","thread_ts":"1.000100","parent_user_id":"UBOT"}`,
			&bridge.ChatEvent{Kind: bridge.EventMessage, Channel: "C1", User: "U2", TS: "2.000000", ThreadTS: "1.000100", Text: "draft"}},
		{"thread broadcast",
			`{"type":"message","subtype":"thread_broadcast","channel":"C1","user":"U2","text":"also here","ts":"3.000000","thread_ts":"1.000100","root":{"ts":"1.000100","text":"root","user":"UBOT"}}`,
			&bridge.ChatEvent{Kind: bridge.EventMessage, Channel: "C1", User: "U2", TS: "3.000000", ThreadTS: "1.000100", Text: "also here"}},
		{"modern bot message",
			`{"type":"message","channel":"C1","user":"UBOT","bot_id":"B1","app_id":"A1","text":"mirror","ts":"4.000000"}`,
			&bridge.ChatEvent{Kind: bridge.EventMessage, Channel: "C1", User: "UBOT", Bot: true, TS: "4.000000", Text: "mirror"}},
		{"classic bot_message ignored",
			`{"type":"message","subtype":"bot_message","channel":"C1","bot_id":"B2","text":"webhook","ts":"5.000000"}`, nil},
		{"channel_join ignored",
			`{"type":"message","subtype":"channel_join","channel":"C1","user":"U3","text":"<@U3> has joined","ts":"6.000000"}`, nil},
		{"message_replied ignored",
			`{"type":"message","subtype":"message_replied","channel":"C1","ts":"6.5","message":{"ts":"1.000100","text":"root"}}`, nil},
		{"message_changed",
			`{"type":"message","subtype":"message_changed","hidden":true,"channel":"C1","ts":"7.000000","event_ts":"7.000000",` +
				`"message":{"type":"message","user":"U2","text":"new &lt;text&gt;","ts":"2.000000","thread_ts":"1.000100","edited":{"user":"U2","ts":"7.000000"}},` +
				`"previous_message":{"type":"message","user":"U2","text":"draft","ts":"2.000000","thread_ts":"1.000100"}}`,
			&bridge.ChatEvent{Kind: bridge.EventMessageChanged, Channel: "C1", User: "U2", ItemTS: "2.000000", ThreadTS: "1.000100", Text: "new <text>"}},
		{"message_changed with the same text ignored",
			`{"type":"message","subtype":"message_changed","channel":"C1","ts":"8.000000",` +
				`"message":{"user":"U2","text":"draft","ts":"2.000000","attachments":[{"title":"unfurl"}]},"previous_message":{"user":"U2","text":"draft","ts":"2.000000"}}`, nil},
		{"message_changed without nested message ignored",
			`{"type":"message","subtype":"message_changed","channel":"C1","ts":"8.500000","text":"x"}`, nil},
		{"message_changed by a bot",
			`{"type":"message","subtype":"message_changed","channel":"C1","ts":"9.000000",` +
				`"message":{"user":"UOTHER","bot_id":"B7","text":"v2","ts":"4.000000"},"previous_message":{"user":"UOTHER","bot_id":"B7","text":"v1","ts":"4.000000"}}`,
			&bridge.ChatEvent{Kind: bridge.EventMessageChanged, Channel: "C1", User: "UOTHER", Bot: true, ItemTS: "4.000000", Text: "v2"}},
		{"message_deleted",
			`{"type":"message","subtype":"message_deleted","hidden":true,"channel":"C1","ts":"10.000000","deleted_ts":"2.000000",` +
				`"previous_message":{"type":"message","user":"U2","text":"draft","ts":"2.000000","thread_ts":"1.000100"}}`,
			&bridge.ChatEvent{Kind: bridge.EventMessageDeleted, Channel: "C1", User: "U2", ItemTS: "2.000000", ThreadTS: "1.000100"}},
		{"message_deleted without previous message",
			`{"type":"message","subtype":"message_deleted","channel":"C1","ts":"10.5","deleted_ts":"2.000000"}`,
			&bridge.ChatEvent{Kind: bridge.EventMessageDeleted, Channel: "C1", ItemTS: "2.000000"}},
		{"reaction_added with skin tone",
			`{"type":"reaction_added","user":"U5","reaction":"+1::skin-tone-4","item_user":"U2","item":{"type":"message","channel":"C1","ts":"2.000000"},"event_ts":"11.000000"}`,
			&bridge.ChatEvent{Kind: bridge.EventReactionAdded, Channel: "C1", User: "U5", ItemTS: "2.000000", Reaction: "+1"}},
		{"reaction_removed",
			`{"type":"reaction_removed","user":"U5","reaction":"white_check_mark","item":{"type":"message","channel":"C1","ts":"2.000000"},"event_ts":"12.000000"}`,
			&bridge.ChatEvent{Kind: bridge.EventReactionRemoved, Channel: "C1", User: "U5", ItemTS: "2.000000", Reaction: "white_check_mark"}},
		{"the bot's own reaction",
			`{"type":"reaction_added","user":"UBOT","reaction":"eyes","item":{"type":"message","channel":"C1","ts":"2.000000"},"event_ts":"13.000000"}`,
			&bridge.ChatEvent{Kind: bridge.EventReactionAdded, Channel: "C1", User: "UBOT", Bot: true, ItemTS: "2.000000", Reaction: "eyes"}},
		{"reaction to a file ignored",
			`{"type":"reaction_added","user":"U5","reaction":"eyes","item":{"type":"file","file":"F1"},"event_ts":"14.000000"}`, nil},
		{"message with a block slack-go cannot decode",
			`{"type":"message","channel":"C1","user":"U2","text":"hi","ts":"1.000100","blocks":[{"type":"rich_text","elements":"oops"}]}`,
			&bridge.ChatEvent{Kind: bridge.EventMessage, Channel: "C1", User: "U2", TS: "1.000100", Text: "hi"}},
		{"message without ts ignored", `{"type":"message","channel":"C1","user":"U2","text":"x"}`, nil},
		{"message without channel ignored", `{"type":"message","user":"U2","text":"x","ts":"1.0"}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := envelopeJSON(tc.inner)
			d, err := decodeEvents(body)
			if err != nil {
				t.Fatalf("decodeEvents: %v", err)
			}
			got, ok := Convert(d.api, d.env.EventID, at)
			check := func(path string, got bridge.ChatEvent, ok bool) {
				t.Helper()
				if tc.want == nil {
					if ok {
						t.Errorf("%s: got %+v, want ignored", path, got)
					}
					return
				}
				want := *tc.want
				want.ID, want.At = "Ev1", at
				if !ok || got != want {
					t.Errorf("%s:\n got %+v (ok=%v)\nwant %+v", path, got, ok, want)
				}
			}
			check("decodeEvents", got, ok)
			// slack-go's own parser (as used by Socket Mode) gives the same.
			parsed, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
			if slackGoFails[tc.name] {
				if err == nil {
					t.Log("slackevents.ParseEvent now accepts this payload")
				}
				return
			}
			if err != nil {
				t.Fatalf("slackevents.ParseEvent: %v", err)
			}
			id, _ := callbackMeta(parsed)
			got, ok = Convert(parsed, id, at)
			check("slackevents.ParseEvent", got, ok)
		})
	}
}

func TestConvertEdgeCases(t *testing.T) {
	msg := slackevents.MessageEvent{Type: "message", Channel: "C1", User: "U1", Text: "x", TimeStamp: "1.000001"}
	ev := slackevents.EventsAPIEvent{Type: slackevents.CallbackEvent, InnerEvent: slackevents.EventsAPIInnerEvent{Type: "message", Data: msg}}
	if got, ok := Convert(ev, "Ev9", time.Time{}); !ok || got.Kind != bridge.EventMessage || got.At != time.Unix(1, 1000).UTC() {
		t.Errorf("value MessageEvent: %+v %v", got, ok)
	}
	if _, ok := Convert(ev, "", time.Time{}); ok {
		t.Error("an event without id must be ignored")
	}
	ev.Type = slackevents.URLVerification
	if _, ok := Convert(ev, "Ev9", time.Time{}); ok {
		t.Error("a non-callback must be ignored")
	}
	ev = slackevents.EventsAPIEvent{Type: slackevents.CallbackEvent, InnerEvent: slackevents.EventsAPIInnerEvent{Type: "app_mention", Data: &slackevents.AppMentionEvent{}}}
	if _, ok := Convert(ev, "Ev9", time.Time{}); ok {
		t.Error("app_mention must be ignored")
	}
	var nilMsg *slackevents.MessageEvent
	ev.InnerEvent.Data = nilMsg
	if _, ok := Convert(ev, "Ev9", time.Time{}); ok {
		t.Error("a nil message must be ignored")
	}
}

// TestConvertFixtures runs the captured payloads through the HTTP decoder.
func TestConvertFixtures(t *testing.T) {
	dir := slackFixtureDir
	for _, tc := range []struct {
		file string
		want bridge.ChatEvent
	}{
		{"zulip_message_normal_text.json", bridge.ChatEvent{ID: "Ev079SP4TP1P", Kind: bridge.EventMessage, Channel: "C06NRA6JLER",
			User: "U06NU4E26M9", TS: "1719209506.817929", Text: "Hello, this is a normal text message", At: time.Unix(1719209506, 0).UTC()}},
		{"zulip_message_user_mentions.json", bridge.ChatEvent{ID: "Ev079B6N3H53", Kind: bridge.EventMessage, Channel: "C06NRA6JLER",
			User: "U06NU4E26M9", TS: "1719209649.631399", Text: "@U074VRHQ11T @U074G5E1ANR @U06NU4E26M9 hello, this is a message with mentions"}},
		{"zulip_message_from_bot.json", bridge.ChatEvent{ID: "Ev078H33MYDV", Kind: bridge.EventMessage, Channel: "C06NRA6JLER",
			User: "U074G5E1ANR", Bot: true, TS: "1718856814.111759", Text: "<Desdemona> koo", At: time.Unix(1718856814, 0).UTC()}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body, err := os.ReadFile(dir + "/" + tc.file)
			if err != nil {
				t.Fatalf("fixture absent (it is part of the repository, testdata/fixtures): %v", err)
			}
			d, err := decodeEvents(body)
			if err != nil {
				t.Fatal(err)
			}
			id, at := callbackMeta(d.api)
			got, ok := Convert(d.api, id, at)
			if !ok {
				t.Fatal("ignored")
			}
			if tc.want.At.IsZero() {
				tc.want.At = got.At // not asserted
			}
			if got != tc.want {
				t.Errorf("\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// ---- HTTP Events API ----

func TestEventsHTTPMessage(t *testing.T) {
	rec := &chatRecorder{}
	rig := newHTTPRig(t, rec)
	parent, err := rig.fake.UserPosts(eventsChannel, "U0ALICE", "", "my wifi is down")
	if err != nil {
		t.Fatal(err)
	}
	reply, err := rig.fake.UserPosts(eventsChannel, "U0BOB", parent, "Sorry &amp; see <https://help.example/wifi?a=1&amp;b=2|our guide>, <@U0ALICE>")
	if err != nil {
		t.Fatal(err)
	}
	got := rec.waitHandled(t, 2)
	events := rig.fake.Events()
	want := bridge.ChatEvent{ID: events[1].ID, Kind: bridge.EventMessage, Channel: eventsChannel, User: "U0BOB",
		TS: reply, ThreadTS: parent, Text: "Sorry & see https://help.example/wifi?a=1&b=2, @U0ALICE", At: got[1].At}
	if got[1] != want {
		t.Errorf("reply:\n got %+v\nwant %+v", got[1], want)
	}
	if got[1].At.IsZero() || got[0].ThreadTS != "" || got[0].TS != parent || got[0].ID != events[0].ID {
		t.Errorf("parent: %+v", got[0])
	}
	fakeIdle(t, rig.fake)
	for _, e := range rig.fake.Events() {
		if !e.Delivered || e.Attempts != 1 {
			t.Errorf("event %s: delivered=%v attempts=%d", e.ID, e.Delivered, e.Attempts)
		}
	}
	if logs := rig.logs.String(); strings.Contains(logs, eventsSecret) || strings.Contains(logs, slackfake.DefaultVerificationToken) {
		t.Error("a secret was logged")
	}
}

func TestEventsHTTPRefusals(t *testing.T) {
	rec := &chatRecorder{}
	rig := newHTTPRig(t, rec)
	now := time.Now().Unix()
	msg := envelopeJSON(`{"type":"message","channel":"C1","user":"U2","text":"hi","ts":"1.000100"}`)
	for _, tc := range []struct {
		name    string
		req     func() *http.Request
		status  int
		noRetry bool
	}{
		{"wrong secret", func() *http.Request { return signedRequest(t, rig.url, msg, now, "another-secret") }, http.StatusUnauthorized, false},
		{"tampered body", func() *http.Request {
			r := signedRequest(t, rig.url, msg, now, eventsSecret)
			r.Body = io.NopCloser(bytes.NewReader(bytes.Replace(msg, []byte("hi"), []byte("ho"), 1)))
			return r
		}, http.StatusUnauthorized, false},
		{"no signature", func() *http.Request {
			r := signedRequest(t, rig.url, msg, now, eventsSecret)
			r.Header.Del("X-Slack-Signature")
			return r
		}, http.StatusUnauthorized, false},
		{"no timestamp", func() *http.Request {
			r := signedRequest(t, rig.url, msg, now, eventsSecret)
			r.Header.Del("X-Slack-Request-Timestamp")
			return r
		}, http.StatusUnauthorized, false},
		{"signature without v0=", func() *http.Request {
			r := signedRequest(t, rig.url, msg, now, eventsSecret)
			r.Header.Set("X-Slack-Signature", strings.TrimPrefix(r.Header.Get("X-Slack-Signature"), "v0="))
			return r
		}, http.StatusUnauthorized, false},
		{"stale timestamp", func() *http.Request { return signedRequest(t, rig.url, msg, now-6*60, eventsSecret) }, http.StatusUnauthorized, false},
		{"future timestamp", func() *http.Request { return signedRequest(t, rig.url, msg, now+6*60, eventsSecret) }, http.StatusUnauthorized, false},
		{"oversized body", func() *http.Request {
			big := append(append([]byte(`{"type":"event_callback","pad":"`), bytes.Repeat([]byte("a"), MaxEventBody)...), `"}`...)
			return signedRequest(t, rig.url, big, now, eventsSecret)
		}, http.StatusRequestEntityTooLarge, true},
		{"malformed JSON", func() *http.Request {
			return signedRequest(t, rig.url, []byte(`{"type":"event_callback",`), now, eventsSecret)
		}, http.StatusBadRequest, true},
		{"not an object", func() *http.Request { return signedRequest(t, rig.url, []byte(`[1,2]`), now, eventsSecret) }, http.StatusBadRequest, true},
		{"no type", func() *http.Request { return signedRequest(t, rig.url, []byte(`{}`), now, eventsSecret) }, http.StatusBadRequest, true},
		{"callback without event_id", func() *http.Request {
			return signedRequest(t, rig.url, bytes.Replace(msg, []byte(`"event_id":"Ev1"`), []byte(`"event_id":""`), 1), now, eventsSecret)
		}, http.StatusBadRequest, true},
		{"callback without event", func() *http.Request {
			return signedRequest(t, rig.url, []byte(`{"type":"event_callback","event_id":"Ev2","event":null}`), now, eventsSecret)
		}, http.StatusBadRequest, true},
		{"wrongly typed field", func() *http.Request {
			return signedRequest(t, rig.url, envelopeJSON(`{"type":"message","channel":"C1","user":"U2","text":5,"ts":"1.0"}`), now, eventsSecret)
		}, http.StatusBadRequest, true},
		{"GET", func() *http.Request {
			r := signedRequest(t, rig.url, nil, now, eventsSecret)
			r.Method = http.MethodGet
			return r
		}, http.StatusMethodNotAllowed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, hdr := postRequest(t, tc.req())
			if status != tc.status {
				t.Errorf("status %d (%s), want %d", status, body, tc.status)
			}
			if got := hdr.Get("X-Slack-No-Retry") == "1"; got != tc.noRetry {
				t.Errorf("X-Slack-No-Retry set=%v, want %v", got, tc.noRetry)
			}
		})
	}
	if calls, _ := rec.snapshot(); len(calls) != 0 {
		t.Errorf("handler called for refused requests: %+v", calls)
	}
}

func TestEventsHTTPInjectedClock(t *testing.T) {
	then := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := &chatRecorder{}
	h := NewEventsHandler(eventsSecret, rec, nil, WithEventsClock(stoppedClock{then}))
	body := envelopeJSON(`{"type":"message","channel":"C1","user":"U2","text":"hi","ts":"1.000100"}`)
	for _, tc := range []struct {
		ts     int64
		status int
	}{
		{then.Unix(), http.StatusOK},
		{then.Unix() - 299, http.StatusOK},
		{then.Unix() + 299, http.StatusOK},
		{then.Unix() - 301, http.StatusUnauthorized},
		{time.Now().Unix(), http.StatusUnauthorized}, // far from the handler's clock
	} {
		req := httptest.NewRequest(http.MethodPost, "/slack/events", bytes.NewReader(body))
		req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(tc.ts, 10))
		req.Header.Set("X-Slack-Signature", testSignature(tc.ts, body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != tc.status {
			t.Errorf("ts %d: status %d, want %d", tc.ts-then.Unix(), w.Code, tc.status)
		}
	}
	if _, handled := rec.snapshot(); len(handled) != 3 {
		t.Errorf("handled %d events, want 3", len(handled))
	}
	// An empty secret refuses everything.
	h = NewEventsHandler("", rec, nil)
	req := httptest.NewRequest(http.MethodPost, "/slack/events", bytes.NewReader(body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("empty secret: status %d", w.Code)
	}
}

func TestEventsHTTPIgnored(t *testing.T) {
	rec := &chatRecorder{}
	rig := newHTTPRig(t, rec)
	now := time.Now().Unix()
	for _, body := range []string{
		string(envelopeJSON(`{"type":"app_home_opened","user":"U1","channel":"D1","tab":"home"}`)),
		string(envelopeJSON(`{"type":"brand_new_event_type","whatever":{"x":[1,2,3]}}`)),
		string(envelopeJSON(`{"type":"message","subtype":"channel_join","channel":"C1","user":"U3","ts":"1.0"}`)),
		string(envelopeJSON(`{"type":"reaction_added","user":"U5","reaction":"eyes","item":{"type":"file","file":"F1"}}`)),
		`{"type":"some_future_outer_type","x":1}`,
	} {
		status, resp, _ := postRequest(t, signedRequest(t, rig.url, []byte(body), now, eventsSecret))
		if status != http.StatusOK {
			t.Errorf("%s: status %d (%s), want 200", body, status, resp)
		}
	}
	if calls, _ := rec.snapshot(); len(calls) != 0 {
		t.Errorf("handler called for ignored events: %+v", calls)
	}
}

func TestEventsHTTPURLVerification(t *testing.T) {
	rig := newHTTPRig(t, &chatRecorder{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rig.fake.VerifyURL(ctx, rig.url); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	status, resp, hdr := postRequest(t, signedRequest(t, rig.url, body, time.Now().Unix(), eventsSecret))
	if status != http.StatusOK || resp != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Errorf("status %d, body %q, content type %q", status, resp, hdr.Get("Content-Type"))
	}
	// Unsigned challenges are refused.
	req, _ := http.NewRequest(http.MethodPost, rig.url, bytes.NewReader(body))
	if status, _, _ := postRequest(t, req); status != http.StatusUnauthorized {
		t.Errorf("unsigned url_verification: status %d", status)
	}
}

func TestEventsHTTPAppRateLimited(t *testing.T) {
	rig := newHTTPRig(t, &chatRecorder{})
	body := []byte(`{"token":"x","type":"app_rate_limited","team_id":"T1","minute_rate_limited":1518467820,"api_app_id":"A1"}`)
	if status, resp, _ := postRequest(t, signedRequest(t, rig.url, body, time.Now().Unix(), eventsSecret)); status != http.StatusOK {
		t.Errorf("status %d (%s)", status, resp)
	}
	if logs := rig.logs.String(); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "minute_rate_limited=1518467820") {
		t.Errorf("no warning logged:\n%s", logs)
	}
}

func TestEventsHTTPHandlerErrorRetried(t *testing.T) {
	rec := &chatRecorder{failFirst: 1}
	rig := newHTTPRig(t, rec)
	ts, err := rig.fake.UserPosts(eventsChannel, "U0ALICE", "", "hello")
	if err != nil {
		t.Fatal(err)
	}
	handled := rec.waitHandled(t, 1)
	fakeIdle(t, rig.fake)
	calls, _ := rec.snapshot()
	if len(calls) != 2 || calls[0].ID != calls[1].ID || handled[0].TS != ts {
		t.Errorf("calls %+v", calls)
	}
	if got := rig.retryNums(); len(got) != 2 || got[0] != "" || got[1] != "1" {
		t.Errorf("X-Slack-Retry-Num of the deliveries: %q, want [\"\" \"1\"]", got)
	}
	if ev := rig.fake.Events()[0]; !ev.Delivered || ev.Attempts != 2 {
		t.Errorf("delivered=%v attempts=%d", ev.Delivered, ev.Attempts)
	}
	if !strings.Contains(rig.logs.String(), "induced failure") {
		t.Error("the handler error was not logged")
	}
}

func TestEventsHTTPHandlerTimeout(t *testing.T) {
	block := chatHandlerFunc(func(ctx context.Context, _ bridge.ChatEvent) error {
		<-ctx.Done()
		return fmt.Errorf("store: %w", ctx.Err())
	})
	h := NewEventsHandler(eventsSecret, block, nil, WithEventTimeout(50*time.Millisecond))
	body := envelopeJSON(`{"type":"message","channel":"C1","user":"U2","text":"hi","ts":"1.000100"}`)
	now := time.Now().Unix()
	req := httptest.NewRequest(http.MethodPost, "/slack/events", bytes.NewReader(body))
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now, 10))
	req.Header.Set("X-Slack-Signature", testSignature(now, body))
	w := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusInternalServerError || time.Since(start) > 2*time.Second {
		t.Errorf("status %d after %v", w.Code, time.Since(start))
	}
}

type chatHandlerFunc func(context.Context, bridge.ChatEvent) error

func (f chatHandlerFunc) HandleChatEvent(ctx context.Context, ev bridge.ChatEvent) error {
	return f(ctx, ev)
}

func TestEventsHTTPRedeliveredSameID(t *testing.T) {
	rec := &chatRecorder{}
	rig := newHTTPRig(t, rec)
	if _, err := rig.fake.UserPosts(eventsChannel, "U0ALICE", "", "hello"); err != nil {
		t.Fatal(err)
	}
	rec.waitHandled(t, 1)
	id := rig.fake.Events()[0].ID
	if err := rig.fake.Redeliver(id, 3); err != nil {
		t.Fatal(err)
	}
	rec.waitHandled(t, 4)
	fakeIdle(t, rig.fake)
	calls, _ := rec.snapshot()
	if len(calls) != 4 {
		t.Fatalf("%d calls, want the first delivery and 3 redeliveries", len(calls))
	}
	for _, c := range calls {
		if c != calls[0] || c.ID != id {
			t.Errorf("redelivery differs: %+v vs %+v", c, calls[0])
		}
	}
}

// ---- Socket Mode ----

type smRig struct {
	fake     *slackfake.Server
	api      *slack.Client
	logs     *capturedLogs
	stop     func() // cancels Run and checks it returned nil, leaving no goroutine
	stopOnce sync.Once
}

// shutdown stops the receiver now (the test's cleanup then does nothing).
func (r *smRig) shutdown() { r.stopOnce.Do(r.stop) }

// newSMRig runs a SocketMode against a fake until the test ends; it then
// checks that Run returned nil and left no goroutine behind.
func newSMRig(t *testing.T, rec bridge.ChatEventHandler, fakeOpts ...slackfake.Option) *smRig {
	t.Helper()
	return newSMRigWith(t, rec, nil, fakeOpts...)
}

// newSMRigWith is newSMRig with receiver options (after the rig's own: a
// 2 s ping timeout).
func newSMRigWith(t *testing.T, rec bridge.ChatEventHandler, smOpts []EventsOption, fakeOpts ...slackfake.Option) *smRig {
	t.Helper()
	log, logs := captureLogs(t)
	fake := slackfake.New(append([]slackfake.Option{
		slackfake.WithAckTimeout(300 * time.Millisecond),
		slackfake.WithRetryDelays(0, 0, 0),
		slackfake.WithPingInterval(100 * time.Millisecond),
	}, fakeOpts...)...)
	t.Cleanup(fake.Close)
	fake.AddChannel(eventsChannel, "care-network", "U0ALICE", "U0BOB")
	id := fake.Identity()
	api := slack.New(id.BotToken, slack.OptionAPIURL(fake.APIURL()), slack.OptionAppLevelToken(id.AppToken))
	sm := NewSocketMode(api, rec, log, append([]EventsOption{WithSocketPingTimeout(2 * time.Second)}, smOpts...)...)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sm.Run(ctx) }()
	rig := &smRig{fake: fake, api: api, logs: logs}
	rig.stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after cancel", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		checkNoSocketModeGoroutines(t)
	}
	t.Cleanup(func() { rig.stopOnce.Do(rig.stop) })
	waitUntil(t, "a socket mode connection", func() bool { return fake.SocketConnections() == 1 })
	return rig
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// socketModeGoroutine returns the stack of a goroutine of the receiver
// or of slack-go's socketmode client, or "".
func socketModeGoroutine() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "slack-go/slack/socketmode.") || strings.Contains(g, "adapters/slack.(*SocketMode)") {
			return g
		}
	}
	return ""
}

// checkNoSocketModeGoroutines fails if goroutines of the receiver or of
// slack-go's socketmode client outlive Run.
func checkNoSocketModeGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		leaked := socketModeGoroutine()
		if leaked == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutine left after Run returned:\n%s", leaked)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSocketModeEvents(t *testing.T) {
	rec := &chatRecorder{}
	rig := newSMRig(t, rec)
	if socketModeGoroutine() == "" {
		t.Fatal("no socket mode goroutine seen while running: the leak check would be vacuous")
	}
	f := rig.fake
	parent, err := f.UserPosts(eventsChannel, "U0ALICE", "", "my bill is wrong")
	if err != nil {
		t.Fatal(err)
	}
	reply, err := f.UserPosts(eventsChannel, "U0BOB", parent, "We &amp; you: <mailto:care@example.com|care@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { return f.UserReacts(eventsChannel, reply, "U0ALICE", "white_check_mark::skin-tone-2") },
		func() error { return f.UserUnreacts(eventsChannel, reply, "U0ALICE", "white_check_mark::skin-tone-2") },
		func() error { return f.UserEdits(eventsChannel, reply, "Fixed: <https://bill.example|your bill>") },
		func() error { return f.UserDeletes(eventsChannel, reply) },
		func() error {
			_, _, err := rig.api.PostMessage(eventsChannel, slack.MsgOptionText("mirror of a post", false), slack.MsgOptionTS(parent))
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	fakeIdle(t, f) // every event acked, the bot's echo included
	_, got := rec.snapshot()
	events := f.Events()
	if len(events) != 7 {
		t.Fatalf("fake produced %d events", len(events))
	}
	// The echo of the bot's own post is acked without reaching the
	// handler (the core ignores bots' events).
	if len(got) != 6 {
		t.Fatalf("handled %d events, want the 6 human ones: %+v", len(got), got)
	}
	want := []bridge.ChatEvent{
		{Kind: bridge.EventMessage, Channel: eventsChannel, User: "U0ALICE", TS: parent, Text: "my bill is wrong"},
		{Kind: bridge.EventMessage, Channel: eventsChannel, User: "U0BOB", TS: reply, ThreadTS: parent, Text: "We & you: care@example.com"},
		{Kind: bridge.EventReactionAdded, Channel: eventsChannel, User: "U0ALICE", ItemTS: reply, Reaction: "white_check_mark"},
		{Kind: bridge.EventReactionRemoved, Channel: eventsChannel, User: "U0ALICE", ItemTS: reply, Reaction: "white_check_mark"},
		{Kind: bridge.EventMessageChanged, Channel: eventsChannel, User: "U0BOB", ItemTS: reply, ThreadTS: parent, Text: "Fixed: https://bill.example"},
		{Kind: bridge.EventMessageDeleted, Channel: eventsChannel, User: "U0BOB", ItemTS: reply, ThreadTS: parent},
	}
	for i := range want {
		w, g := want[i], got[i]
		w.ID, w.At = events[i].ID, g.At
		if g != w || g.At.IsZero() {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if e := events[6]; e.Type != "message" || !strings.Contains(string(e.Payload), `"bot_id"`) {
		t.Errorf("event 6 is not the bot's echo: %s", e.Payload)
	}
	for _, e := range events {
		if !e.Delivered || e.Attempts != 1 {
			t.Errorf("event %s (%s): delivered=%v attempts=%d", e.ID, e.Type, e.Delivered, e.Attempts)
		}
	}
}

func TestSocketModeUnackedRedelivered(t *testing.T) {
	rec := &chatRecorder{failFirst: 1}
	rig := newSMRig(t, rec)
	ts, err := rig.fake.UserPosts(eventsChannel, "U0ALICE", "", "hello")
	if err != nil {
		t.Fatal(err)
	}
	handled := rec.waitHandled(t, 1)
	fakeIdle(t, rig.fake)
	calls, _ := rec.snapshot()
	if len(calls) != 2 || calls[0] != calls[1] || handled[0].TS != ts {
		t.Errorf("calls: %+v", calls)
	}
	if ev := rig.fake.Events()[0]; !ev.Delivered || ev.Attempts != 2 {
		t.Errorf("delivered=%v attempts=%d, want an unacked first attempt and an acked retry", ev.Delivered, ev.Attempts)
	}
	if !strings.Contains(rig.logs.String(), "not acknowledged") {
		t.Error("the failure was not logged")
	}
}

func TestSocketModeReconnects(t *testing.T) {
	rec := &chatRecorder{}
	rig := newSMRig(t, rec)
	if _, err := rig.fake.UserPosts(eventsChannel, "U0ALICE", "", "before"); err != nil {
		t.Fatal(err)
	}
	rec.waitHandled(t, 1)
	rig.fake.Disconnect("refresh_requested")
	if _, err := rig.fake.UserPosts(eventsChannel, "U0ALICE", "", "after"); err != nil {
		t.Fatal(err)
	}
	got := rec.waitHandled(t, 2)
	if got[1].Text != "after" {
		t.Errorf("after reconnect: %+v", got[1])
	}
	waitUntil(t, "the new connection", func() bool { return rig.fake.SocketConnections() == 1 })
	if n := strings.Count(rig.logs.String(), `msg="slack socket mode connected"`); n < 2 {
		t.Errorf("connected %d times, want a reconnection", n)
	}
	// And it keeps receiving.
	if _, err := rig.fake.UserPosts(eventsChannel, "U0BOB", "", "still here"); err != nil {
		t.Fatal(err)
	}
	rec.waitHandled(t, 3)
}

// recordedAcks records the acks the receiver hands to slack-go.
type recordedAcks struct {
	mu  sync.Mutex
	ids []string
}

func (a *recordedAcks) AckCtx(_ context.Context, id string, _ any) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ids = append(a.ids, id)
	return nil
}

// smEvent is the event slack-go's socketmode client emits for a frame, as
// its (unexported) parseEvent builds it: an events_api envelope whose
// payload slackevents.ParseEvent accepts comes as EventTypeEventsAPI with
// the request; a frame it cannot parse comes as EventTypeErrorBadMessage
// with the raw frame. disconnect is true for a disconnect request, which
// slack-go handles itself.
func smEvent(frame []byte) (ev socketmode.Event, disconnect bool) {
	bad := func(err error) (socketmode.Event, bool) {
		return socketmode.Event{Type: socketmode.EventTypeErrorBadMessage,
			Data: &socketmode.ErrorBadMessage{Cause: err, Message: json.RawMessage(frame)}}, false
	}
	req := &socketmode.Request{}
	if err := json.Unmarshal(frame, req); err != nil {
		return bad(err)
	}
	switch req.Type {
	case socketmode.RequestTypeHello:
		return socketmode.Event{Type: socketmode.EventTypeHello, Request: req}, false
	case socketmode.RequestTypeDisconnect:
		return socketmode.Event{Type: socketmode.EventTypeDisconnect, Request: req}, true
	case socketmode.RequestTypeEventsAPI:
		ev, err := slackevents.ParseEvent(req.Payload, slackevents.OptionNoVerifyToken())
		if err != nil {
			return bad(err)
		}
		return socketmode.Event{Type: socketmode.EventTypeEventsAPI, Data: ev, Request: req}, false
	case socketmode.RequestTypeSlashCommands:
		var cmd slack.SlashCommand
		if err := json.Unmarshal(req.Payload, &cmd); err != nil {
			return bad(err)
		}
		return socketmode.Event{Type: socketmode.EventTypeSlashCommand, Data: cmd, Request: req}, false
	case socketmode.RequestTypeInteractive:
		var cb slack.InteractionCallback
		if err := json.Unmarshal(req.Payload, &cb); err != nil {
			return bad(err)
		}
		return socketmode.Event{Type: socketmode.EventTypeInteractive, Data: cb, Request: req}, false
	}
	return bad(errors.New("unsupported type"))
}

// TestSocketModeBadMessage feeds the receiver frames slack-go's socketmode
// client could not parse: a block it cannot decode still yields the chat
// event, an unknown event type and a malformed frame with an envelope id
// are acked, and an unreadable frame is dropped.
func TestSocketModeBadMessage(t *testing.T) {
	payload := envelopeJSON(`{"type":"message","channel":"C1","user":"U2","text":"hi","ts":"1.000100","blocks":[{"type":"rich_text","elements":"oops"}]}`)
	if _, err := slackevents.ParseEvent(payload, slackevents.OptionNoVerifyToken()); err == nil {
		t.Error("slack-go now parses this payload: find another one it refuses")
	}
	frame, _ := json.Marshal(map[string]any{"type": "events_api", "envelope_id": "env-1", "payload": json.RawMessage(payload)})
	unknown, _ := json.Marshal(map[string]any{"type": "events_api", "envelope_id": "env-2",
		"payload": json.RawMessage(envelopeJSON(`{"type":"brand_new_event_type"}`))})
	rec := &chatRecorder{}
	log, _ := captureLogs(t)
	s := NewSocketMode(slack.New("xoxb-test"), rec, log)
	acks := &recordedAcks{}
	conns := 0
	for _, f := range [][]byte{frame, unknown, []byte(`not json`), []byte(`{"type":"events_api","envelope_id":"env-3","retry_attempt":"x"}`),
		[]byte(`{"type":"brand_new_request","envelope_id":"env-4"}`)} {
		ev, _ := smEvent(f)
		if f[0] == '{' && ev.Type != socketmode.EventTypeErrorBadMessage {
			t.Errorf("%s: slack-go parses it (%s)", f, ev.Type)
		}
		if err := s.dispatch(t.Context(), acks, ev, &conns); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	_, handled := rec.snapshot()
	if len(handled) != 1 || handled[0].Text != "hi" || handled[0].ID != "Ev1" {
		t.Errorf("handled %+v", handled)
	}
	if want := []string{"env-1", "env-2", "env-3", "env-4"}; !slices.Equal(acks.ids, want) {
		t.Errorf("acks %v, want %v", acks.ids, want)
	}
}

func TestSocketModeInvalidToken(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	api := slack.New(fake.Identity().BotToken, slack.OptionAPIURL(fake.APIURL()), slack.OptionAppLevelToken("xapp-wrong"))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := NewSocketMode(api, &chatRecorder{}, nil).Run(ctx)
	if err == nil {
		t.Fatal("Run with a wrong app token returned nil")
	}
	if ctx.Err() != nil || !strings.Contains(err.Error(), "invalid_auth") || !strings.Contains(err.Error(), "app-level token") {
		t.Errorf("Run returned %q (after %v), want at once an error naming the app-level token and invalid_auth", err, ctx.Err())
	}
	checkNoSocketModeGoroutines(t)
}
