package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/bridge"
)

// gateHandler blocks its first call until release is closed, then hands
// every call to rec.
type gateHandler struct {
	rec     *chatRecorder
	entered chan bridge.ChatEvent
	release chan struct{}
	once    sync.Once
}

func newGate() *gateHandler {
	return &gateHandler{rec: &chatRecorder{}, entered: make(chan bridge.ChatEvent, 1), release: make(chan struct{})}
}

func (g *gateHandler) HandleChatEvent(ctx context.Context, ev bridge.ChatEvent) error {
	first := false
	g.once.Do(func() { first = true })
	if first {
		g.entered <- ev
		select {
		case <-g.release:
		case <-ctx.Done():
		}
	}
	return g.rec.HandleChatEvent(ctx, ev)
}

func (g *gateHandler) waitEntered(t *testing.T) bridge.ChatEvent {
	t.Helper()
	select {
	case ev := <-g.entered:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("the handler was not called")
	}
	return bridge.ChatEvent{}
}

// TestSocketModeOwnEchoIgnored: Slack's echoes of the bot's own posts,
// edits, deletions and reactions are acked at once and never reach the
// handler.
func TestSocketModeOwnEchoIgnored(t *testing.T) {
	rec := &chatRecorder{}
	// Six bot actions in a row on one channel: chat.postMessage pacing is
	// not what this test is about.
	rig := newSMRig(t, rec, slackfake.WithRateLimit(false))
	f, api := rig.fake, rig.api
	_, ts, err := api.PostMessage(eventsChannel, slack.MsgOptionText("mirror of a post", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessage(eventsChannel, slack.MsgOptionText("draft", false), slack.MsgOptionTS(ts)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.UpdateMessage(eventsChannel, ts, slack.MsgOptionText("mirror, edited", false)); err != nil {
		t.Fatal(err)
	}
	if err := api.AddReaction("hourglass_flowing_sand", slack.NewRefToMessage(eventsChannel, ts)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.DeleteMessage(eventsChannel, ts); err != nil {
		t.Fatal(err)
	}
	human, err := f.UserPosts(eventsChannel, "U0ALICE", "", "a human")
	if err != nil {
		t.Fatal(err)
	}
	fakeIdle(t, f)
	calls, _ := rec.snapshot()
	if len(calls) != 1 || calls[0].TS != human || calls[0].Bot {
		t.Errorf("handler calls %+v, want only the human post", calls)
	}
	events := f.Events()
	if len(events) != 6 {
		t.Fatalf("fake produced %d events, want 6", len(events))
	}
	for _, e := range events {
		if !e.Delivered || e.Attempts != 1 {
			t.Errorf("event %s (%s %s): delivered=%v attempts=%d, want acked at once", e.ID, e.Type, e.Subtype, e.Delivered, e.Attempts)
		}
	}
	for _, e := range events[:5] {
		if !strings.Contains(rig.logs.String(), `msg="slack socket mode: event ignored" event_id=`+e.ID) {
			t.Errorf("the bot's event %s (%s %s) was not logged as ignored", e.ID, e.Type, e.Subtype)
		}
	}
}

// eventPayloads gathers Events API payloads: the captured fixtures, the
// fuzz corpus, the fake's events for human and bot actions, and edge
// cases of the bot rules.
func eventPayloads(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	_ = filepath.WalkDir(slackFixtureDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") || strings.Contains(path, "slack-api-specs") {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil {
			out["fixture "+filepath.Base(path)] = b
		}
		return nil
	})
	for _, dir := range []string{"testdata/fuzz/FuzzEventsHandler", "testdata/fuzz/FuzzSocketFrame"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[1], "[]byte(") {
				continue
			}
			s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
			if err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
			out["corpus "+e.Name()] = []byte(s)
		}
	}

	// A dozen human and bot actions in a row, to capture their payloads:
	// pacing is not under test.
	fake := slackfake.New(slackfake.WithRateLimit(false))
	defer fake.Close()
	fake.AddChannel(eventsChannel, "care-network", "U0ALICE", "U0BOB")
	id := fake.Identity()
	api := slack.New(id.BotToken, slack.OptionAPIURL(fake.APIURL()))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	parent, err := fake.UserPosts(eventsChannel, "U0ALICE", "", "my bill <https://x.example|is wrong>")
	must(err)
	reply, err := fake.UserPosts(eventsChannel, "U0BOB", parent, "we are on it")
	must(err)
	must(fake.UserReacts(eventsChannel, reply, "U0ALICE", "+1::skin-tone-3"))
	must(fake.UserUnreacts(eventsChannel, reply, "U0ALICE", "+1::skin-tone-3"))
	must(fake.UserEdits(eventsChannel, reply, "we are on it!"))
	must(fake.UserDeletes(eventsChannel, reply))
	_, mirror, err := api.PostMessage(eventsChannel, slack.MsgOptionText("mirror", false))
	must(err)
	_, _, err = api.PostMessage(eventsChannel, slack.MsgOptionText("draft", false), slack.MsgOptionTS(mirror))
	must(err)
	_, _, _, err = api.UpdateMessage(eventsChannel, mirror, slack.MsgOptionText("mirror, closed", false))
	must(err)
	must(api.AddReaction("white_check_mark", slack.NewRefToMessage(eventsChannel, mirror)))
	must(fake.UserReacts(eventsChannel, mirror, "U0BOB", "white_check_mark"))
	_, _, err = api.DeleteMessage(eventsChannel, mirror)
	must(err)
	for _, e := range fake.Events() {
		out["fake "+e.Type+" "+e.Subtype+" "+e.ID] = e.Payload
	}

	for name, inner := range map[string]string{
		"bot_message":                  `{"type":"message","subtype":"bot_message","bot_id":"B1","text":"hi","ts":"1.0","channel":"C1"}`,
		"bot reply broadcast":          `{"type":"message","subtype":"thread_broadcast","bot_id":"B1","text":"hi","ts":"2.0","thread_ts":"1.0","channel":"C1"}`,
		"bot message without ts":       `{"type":"message","bot_id":"B1","text":"hi","channel":"C1"}`,
		"bot_id key in capitals":       `{"type":"message","BOT_ID":"B1","text":"hi","ts":"1.0","channel":"C1"}`,
		"empty bot_id":                 `{"type":"message","bot_id":"","user":"U1","text":"hi","ts":"1.0","channel":"C1"}`,
		"duplicate bot_id, last empty": `{"type":"message","bot_id":"B1","bot_id":"","user":"U1","text":"hi","ts":"1.0","channel":"C1"}`,
		"edit of a bot message":        `{"type":"message","subtype":"message_changed","channel":"C1","message":{"bot_id":"B1","text":"new","ts":"1.0"},"previous_message":{"text":"old"}}`,
		"edit, nested bot_message":     `{"type":"message","subtype":"message_changed","channel":"C1","message":{"subtype":"bot_message","text":"new","ts":"1.0"}}`,
		"edit without message":         `{"type":"message","subtype":"message_changed","channel":"C1","ts":"2.0","user":"U1","text":"x"}`,
		"edit, message null":           `{"type":"message","subtype":"message_changed","channel":"C1","message":null,"ts":"2.0"}`,
		"edit by a human":              `{"type":"message","subtype":"message_changed","channel":"C1","message":{"user":"U1","text":"new","ts":"1.0"},"previous_message":{"text":"old"}}`,
		"edit, top-level bot_id":       `{"type":"message","subtype":"message_changed","bot_id":"B1","channel":"C1","message":{"user":"U1","text":"new","ts":"1.0"}}`,
		"deletion of a bot message":    `{"type":"message","subtype":"message_deleted","channel":"C1","deleted_ts":"1.0","previous_message":{"bot_id":"B1","ts":"1.0"}}`,
		"deletion, no previous":        `{"type":"message","subtype":"message_deleted","channel":"C1","deleted_ts":"1.0"}`,
		"deletion by a human":          `{"type":"message","subtype":"message_deleted","channel":"C1","deleted_ts":"1.0","previous_message":{"user":"U1","ts":"1.0"}}`,
		"channel_join":                 `{"type":"message","subtype":"channel_join","user":"U1","text":"joined","ts":"1.0","channel":"C1"}`,
		"message_replied":              `{"type":"message","subtype":"message_replied","channel":"C1","message":{"user":"U1","ts":"1.0"}}`,
		"bot's own user, no bot_id":    `{"type":"message","user":"UBOT","text":"hi","ts":"1.0","channel":"C1"}`,
		"bot_id of the wrong type":     `{"type":"message","bot_id":5,"text":"hi","ts":"1.0","channel":"C1"}`,
		"text of the wrong type":       `{"type":"message","bot_id":"B1","text":5,"ts":"1.0","channel":"C1"}`,
		"blocks slack-go cannot read":  `{"type":"message","bot_id":"B1","blocks":[{"type":"rich_text","elements":"oops"}],"text":"hi","ts":"1.0","channel":"C1"}`,
		"bot reaction":                 `{"type":"reaction_added","user":"UBOT","reaction":"x","item":{"type":"message","channel":"C1","ts":"1.0"}}`,
		"event not an object":          `"message"`,
	} {
		out["case "+name] = envelopeJSON(inner)
	}
	// The envelope's "event" twice: decodeEvents reads the last one only.
	out["case duplicate event key"] = []byte(`{"type":"event_callback","event_id":"Ev1","event":{"type":"message","bot_id":"B1"},` +
		`"event":{"type":"message","user":"U1","text":"hi","ts":"1.0","channel":"C1"}}`)
	out["case no event_id"] = []byte(`{"type":"event_callback","event":{"type":"message","bot_id":"B1","ts":"1.0","channel":"C1"}}`)
	out["case app_rate_limited"] = []byte(`{"type":"app_rate_limited","minute_rate_limited":1,"team_id":"T1"}`)
	return out
}

// httpOutcome is what the HTTP receiver hands to its handler for a
// payload (nil: nothing).
func httpOutcome(t *testing.T, payload []byte) []bridge.ChatEvent {
	t.Helper()
	now := time.Now()
	rec := &chatRecorder{}
	h := NewEventsHandler(eventsSecret, rec, nil, WithEventsClock(stoppedClock{now}))
	req := httptest.NewRequest(http.MethodPost, "/slack/events", bytes.NewReader(payload))
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("X-Slack-Signature", testSignature(now.Unix(), payload))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	calls, _ := rec.snapshot()
	return calls
}

// socketOutcome is what the Socket Mode receiver hands to its handler for
// a payload arriving in an events_api envelope, and whether it acked the
// envelope.
func socketOutcome(t *testing.T, payload []byte) ([]bridge.ChatEvent, bool) {
	t.Helper()
	rec := &chatRecorder{}
	s := NewSocketMode(slack.New("xoxb-test"), rec, nil)
	frame, err := json.Marshal(map[string]any{"type": "events_api", "envelope_id": "env-1", "payload": json.RawMessage(payload),
		"accepts_response_payload": false, "retry_attempt": 0, "retry_reason": ""})
	if err != nil {
		t.Fatal(err)
	}
	acks := &recordedAcks{}
	ev, _ := smEvent(frame)
	conns := 0
	if err := s.dispatch(t.Context(), acks, ev, &conns); err != nil {
		t.Fatal(err)
	}
	calls, _ := rec.snapshot()
	return calls, len(acks.ids) == 1 && acks.ids[0] == "env-1"
}

// TestSocketModeMatchesHTTP feeds the same payloads to both receivers,
// whether slack-go's parser accepts them or not: Socket Mode hands on
// exactly the events the HTTP receiver hands on, less bots' events, and
// acks every envelope (the handler succeeds).
func TestSocketModeMatchesHTTP(t *testing.T) {
	payloads := eventPayloads(t)
	bots, delivered, refused := 0, 0, 0
	for name, p := range payloads {
		httpGot := httpOutcome(t, p)
		var want []bridge.ChatEvent
		for _, ev := range httpGot {
			if ev.Bot {
				bots++
			} else {
				want = append(want, ev)
			}
		}
		got, acked := socketOutcome(t, p)
		if !acked {
			t.Errorf("%s: not acked", name)
		}
		if len(got) != len(want) || (len(got) == 1 && got[0] != want[0]) {
			t.Errorf("%s:\nsocket %+v\n  http %+v", name, got, httpGot)
		}
		if _, err := slackevents.ParseEvent(p, slackevents.OptionNoVerifyToken()); err != nil {
			refused++
		}
		delivered += len(got)
	}
	if bots < 5 || delivered < 8 || refused < 3 {
		t.Errorf("vacuous: %d bots' events, %d delivered, %d refused by slack-go's parser, of %d payloads", bots, delivered, refused, len(payloads))
	}
	t.Logf("%d payloads: %d bots' events, %d delivered, %d refused by slack-go's parser", len(payloads), bots, delivered, refused)
}

// TestSocketModeDisconnectInFlight: a disconnect frame arriving while an
// event is being handled: the event is acked on the old connection, a new
// connection is opened and later events arrive on it.
func TestSocketModeDisconnectInFlight(t *testing.T) {
	g := newGate()
	rig := newSMRigWith(t, g, []EventsOption{WithEventTimeout(10 * time.Second)}, slackfake.WithAckTimeout(5*time.Second))
	f := rig.fake
	if _, err := f.UserPosts(eventsChannel, "U0ALICE", "", "in flight"); err != nil {
		t.Fatal(err)
	}
	g.waitEntered(t)
	f.Disconnect("warning")
	close(g.release)
	if _, err := f.UserPosts(eventsChannel, "U0ALICE", "", "after"); err != nil {
		t.Fatal(err)
	}
	got := g.rec.waitHandled(t, 2)
	fakeIdle(t, f)
	if got[0].Text != "in flight" || got[1].Text != "after" {
		t.Errorf("handled %+v", got)
	}
	for _, e := range f.Events() {
		if !e.Delivered || e.Attempts != 1 {
			t.Errorf("event %s: delivered=%v attempts=%d, want acked once", e.ID, e.Delivered, e.Attempts)
		}
	}
	logs := rig.logs.String()
	if n := strings.Count(logs, `msg="slack socket mode connected"`); n != 2 {
		t.Errorf("connected %d times, want 2", n)
	}
	if strings.Contains(logs, "level=WARN") {
		t.Error("a requested disconnect logged a warning")
	}
}

// TestSocketModeDroppedConnection: the connection is cut while an event is
// being handled; the receiver reconnects, the event is acked (on the new
// connection, or after Slack delivered it again) and later events
// arrive; nothing is lost.
func TestSocketModeDroppedConnection(t *testing.T) {
	g := newGate()
	rig := newSMRigWith(t, g, []EventsOption{WithEventTimeout(10 * time.Second)})
	f := rig.fake
	if _, err := f.UserPosts(eventsChannel, "U0ALICE", "", "in flight"); err != nil {
		t.Fatal(err)
	}
	first := g.waitEntered(t)
	if n := f.DropSockets(); n != 1 {
		t.Fatalf("dropped %d connections", n)
	}
	close(g.release)
	if _, err := f.UserPosts(eventsChannel, "U0BOB", "", "after"); err != nil {
		t.Fatal(err)
	}
	fakeIdle(t, f)
	calls, handled := g.rec.snapshot()
	events := f.Events()
	// slack-go queues the ack of the event in flight and sends it on the
	// next connection; the fake takes it there (whether Slack does is
	// not verified). Otherwise the event is redelivered and handled again.
	if ev := events[0]; !ev.Delivered || ev.Attempts > 2 {
		t.Errorf("the event in flight: delivered=%v attempts=%d, want acked, at most after one redelivery", ev.Delivered, ev.Attempts)
	}
	if ev := events[1]; !ev.Delivered {
		t.Errorf("the later event was not delivered")
	}
	texts := map[string]int{}
	for _, ev := range handled {
		texts[ev.Text]++
	}
	if texts["in flight"] != events[0].Attempts || texts["after"] != 1 || calls[0] != first {
		t.Errorf("handled %+v after %d deliveries of the event in flight", handled, events[0].Attempts)
	}
	logs := rig.logs.String()
	if n := strings.Count(logs, `msg="slack socket mode connected"`); n != 2 {
		t.Errorf("connected %d times, want 2", n)
	}
}

// TestSocketModeSilentConnection: without pings for the ping timeout the
// receiver opens a new connection; Slack's pings keep a quiet connection
// open.
func TestSocketModeSilentConnection(t *testing.T) {
	t.Run("no pings", func(t *testing.T) {
		rec := &chatRecorder{}
		rig := newSMRigWith(t, rec, []EventsOption{WithSocketPingTimeout(200 * time.Millisecond)}, slackfake.WithPingInterval(time.Hour))
		waitUntil(t, "a reconnection", func() bool {
			return strings.Count(rig.logs.String(), `msg="slack socket mode connected"`) >= 2
		})
		if _, err := rig.fake.UserPosts(eventsChannel, "U0ALICE", "", "still received"); err != nil {
			t.Fatal(err)
		}
		rec.waitHandled(t, 1)
	})
	t.Run("pings", func(t *testing.T) {
		rig := newSMRigWith(t, &chatRecorder{}, []EventsOption{WithSocketPingTimeout(300 * time.Millisecond)}, slackfake.WithPingInterval(50*time.Millisecond))
		time.Sleep(time.Second) // three ping timeouts without a frame: pings alone must keep the connection
		if n := strings.Count(rig.logs.String(), `msg="slack socket mode connected"`); n != 1 {
			t.Errorf("connected %d times, want 1", n)
		}
	})
}

// TestSocketModeTokenRefused: apps.connections.open refusing the token
// ends Run at once with an error naming Slack's code; other failures are
// retried.
func TestSocketModeTokenRefused(t *testing.T) {
	for _, tc := range []struct {
		name, code string
		token      func(slackfake.Identity) string
		fault      string // FailNext error for apps.connections.open
	}{
		{"unknown token", "invalid_auth", func(slackfake.Identity) string { return "xapp-unknown" }, ""},
		{"bot token", "not_allowed_token_type", func(id slackfake.Identity) string { return id.BotToken }, ""},
		{"not authed", "not_authed", func(id slackfake.Identity) string { return id.AppToken }, "not_authed"},
		{"revoked", "token_revoked", func(id slackfake.Identity) string { return id.AppToken }, "token_revoked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := slackfake.New()
			t.Cleanup(fake.Close)
			if tc.fault != "" {
				fake.FailNext("apps.connections.open", http.StatusOK, tc.fault, 1)
			}
			log, logs := captureLogs(t)
			api := slack.New(fake.Identity().BotToken, slack.OptionAPIURL(fake.APIURL()), slack.OptionAppLevelToken(tc.token(fake.Identity())))
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err := NewSocketMode(api, &chatRecorder{}, log).Run(ctx)
			if err == nil || ctx.Err() != nil {
				t.Fatalf("Run returned %v (ctx %v), want an error at once", err, ctx.Err())
			}
			if !strings.Contains(err.Error(), tc.code) || !strings.Contains(err.Error(), "app-level token") {
				t.Errorf("error %q does not name the app-level token and %s", err, tc.code)
			}
			if !strings.Contains(logs.String(), `level=ERROR msg="slack socket mode: invalid app-level token" error_code=`+tc.code) {
				t.Error("not logged")
			}
			// slack-go gives up by itself on invalid_auth, not_authed and
			// token_revoked; for the other codes the receiver stops it
			// from slack-go's connection error event, before slack-go's
			// first backoff (100 ms) ends, unless this machine is so busy
			// that one more attempt slips in.
			if n := fake.Calls("apps.connections.open"); n < 1 || n > 2 || (n == 2 && tc.code != "not_allowed_token_type") {
				t.Errorf("apps.connections.open called %d times, want 1", n)
			}
			checkNoSocketModeGoroutines(t)
		})
	}
	t.Run("transient errors retried", func(t *testing.T) {
		rec := &chatRecorder{}
		rig := newSMRigWith(t, rec, nil)
		rig.fake.FailNext("apps.connections.open", http.StatusOK, "internal_error", 2)
		rig.fake.FailNext("apps.connections.open", http.StatusServiceUnavailable, "", 1)
		rig.fake.Disconnect("refresh_requested")
		waitUntil(t, "a reconnection", func() bool {
			return strings.Count(rig.logs.String(), `msg="slack socket mode connected"`) == 2
		})
		if n := strings.Count(rig.logs.String(), `msg="slack socket mode connection failed; retrying"`); n != 3 {
			t.Errorf("%d failures logged, want 3", n)
		}
		if _, err := rig.fake.UserPosts(eventsChannel, "U0ALICE", "", "back"); err != nil {
			t.Fatal(err)
		}
		rec.waitHandled(t, 1)
	})
}

// TestSocketModeStopsCleanly: cancelling Run closes the connection and
// logs no warning.
func TestSocketModeStopsCleanly(t *testing.T) {
	rec := &chatRecorder{}
	rig := newSMRig(t, rec)
	if _, err := rig.fake.UserPosts(eventsChannel, "U0ALICE", "", "hello"); err != nil {
		t.Fatal(err)
	}
	rec.waitHandled(t, 1)
	rig.shutdown()
	waitUntil(t, "the fake to see the connection closed", func() bool { return rig.fake.SocketConnections() == 0 })
	logs := rig.logs.String()
	if strings.Contains(logs, "level=WARN") || strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "use of closed network connection") {
		t.Errorf("stopping logged a warning or an error:\n%s", logs)
	}
	if !strings.Contains(logs, `msg="slack socket mode stopped"`) {
		t.Error("the stop was not logged")
	}
}

// TestSocketModeDialer: the WebSocket is dialled with the dialer given.
func TestSocketModeDialer(t *testing.T) {
	var mu sync.Mutex
	dials := 0
	d := &websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dials++
		mu.Unlock()
		var nd net.Dialer
		return nd.DialContext(ctx, network, addr)
	}}
	rec := &chatRecorder{}
	rig := newSMRigWith(t, rec, []EventsOption{WithSocketDialer(d)})
	if _, err := rig.fake.UserPosts(eventsChannel, "U0ALICE", "", "hello"); err != nil {
		t.Fatal(err)
	}
	rec.waitHandled(t, 1)
	mu.Lock()
	defer mu.Unlock()
	if dials != 1 {
		t.Errorf("the dialer given dialled %d times, want 1", dials)
	}
}
