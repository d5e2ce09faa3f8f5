package slack

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/carebridge/carebridge/bridge"
)

// slackFixtureDir holds captured Slack payloads (outside the module).
const slackFixtureDir = "../../../shared/data/fixtures/slack"

// addFixtureSeeds adds the event payloads of the fixture directory; it
// adds nothing when the directory is absent.
func addFixtureSeeds(f *testing.F) {
	_ = filepath.WalkDir(slackFixtureDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") || strings.Contains(path, "slack-api-specs") {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > 64<<10 {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
		return nil
	})
}

// FuzzEventsHandler sends validly signedRequest random bodies: the handler never
// panics, answers 200, 400 or 413, and never hands on an event without a
// kind, an id or a channel.
func FuzzEventsHandler(f *testing.F) {
	addFixtureSeeds(f)
	for _, inner := range []string{
		`{"type":"message","channel":"C1","user":"U2","text":"hi <@U1> &amp; <https://a|b>","ts":"1.000100","thread_ts":"1.000000"}`,
		`{"type":"message","subtype":"message_changed","channel":"C1","ts":"2.0","message":{"user":"U2","text":"new","ts":"1.0"},"previous_message":{"text":"old"}}`,
		`{"type":"message","subtype":"message_deleted","channel":"C1","ts":"2.0","deleted_ts":"1.0","previous_message":{"user":"U2"}}`,
		`{"type":"reaction_added","user":"U5","reaction":"+1::skin-tone-2","item":{"type":"message","channel":"C1","ts":"1.0"}}`,
		`{"type":"reaction_removed","user":"U5","reaction":"x","item":{"type":"file","file":"F1"}}`,
		`{"type":"app_mention","user":"U1","text":"<@UBOT>","ts":"1.0","channel":"C1"}`,
		`{"type":"message","blocks":[{"type":"rich_text","elements":"oops"}],"channel":"C1","ts":"1.0"}`,
		`null`,
	} {
		f.Add(envelopeJSON(inner))
	}
	f.Add([]byte(`{"type":"url_verification","challenge":"abc"}`))
	f.Add([]byte(`{"type":"app_rate_limited","minute_rate_limited":1}`))
	f.Add([]byte(`{"type":"event_callback","event_id":"Ev1","event":{"type":"message"}}`))
	f.Add([]byte(`{"type":"event_callback","event_id":"","event":{}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := stoppedClock{now}
	ts := now.Unix()
	f.Fuzz(func(t *testing.T, body []byte) {
		calls := 0
		check := chatHandlerFunc(func(_ context.Context, ev bridge.ChatEvent) error {
			calls++
			if ev.Kind == "" || ev.ID == "" || ev.Channel == "" {
				t.Errorf("handler got an incomplete event %+v", ev)
			}
			switch ev.Kind {
			case bridge.EventMessage:
				if ev.TS == "" {
					t.Errorf("message without ts: %+v", ev)
				}
			case bridge.EventMessageChanged, bridge.EventMessageDeleted:
				if ev.ItemTS == "" {
					t.Errorf("%s without item ts: %+v", ev.Kind, ev)
				}
			case bridge.EventReactionAdded, bridge.EventReactionRemoved:
				if ev.ItemTS == "" || ev.Reaction == "" || strings.Contains(ev.Reaction, "::") {
					t.Errorf("bad reaction event: %+v", ev)
				}
			default:
				t.Errorf("unknown kind %q", ev.Kind)
			}
			return nil
		})
		h := NewEventsHandler(eventsSecret, check, nil, WithEventsClock(clock))
		req := httptest.NewRequest(http.MethodPost, "/slack/events", bytes.NewReader(body))
		req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("X-Slack-Signature", testSignature(ts, body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Errorf("status %d for %q", w.Code, body)
		}
		if calls > 1 || (calls == 1 && w.Code != http.StatusOK) {
			t.Errorf("%d handler calls, status %d", calls, w.Code)
		}
	})
}

// FuzzPlainText checks that PlainText never panics, keeps valid UTF-8
// valid, returns escaped text exactly as it was typed (so an escaped
// "&lt;@U1&gt;" is text, never turned into a mention's "@U1", and
// "&amp;lt;@" gives "&lt;@", never "<@"), and produces no "<" of its own:
// apart from the escaped "&lt;"s the person typed, every "<" of the
// output is a raw "<" of the input that opened no token, so text without
// raw "<" (all that Slack sends besides tokens) yields no "<@" that was
// not typed as "&lt;@".
func FuzzPlainText(f *testing.F) {
	for _, s := range []string{
		"", "plain", "<@U123>", "&lt;@U123&gt;", "&amp;lt;@U1&amp;gt;", "<!here> <!channel|channel>",
		"<https://evil.example|https://bank.example>", "<mailto:a@b.example|a@b.example>", "<#C1|general>",
		"<!subteam^S1|@team>", "<!date^1^{date}|Jan 1>", "x <<@U1>", "&lt;<@U1>", "<", ">", "<|>", "<@>", "電波 <@U1>",
		"\xff<@\xfe>", "&amp;&lt;&gt;&", "<<!here>", "&lt;<!here>", "<https://a.example/?q=1&amp;r=2>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := PlainText(s)
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Errorf("PlainText(%q) = %q: invalid UTF-8", s, out)
		}
		if got := PlainText(Escape(s)); got != s {
			t.Errorf("PlainText(Escape(%q)) = %q", s, got)
		}
		// Hide the escaped "<"s the person typed: what "<"s remain must
		// come from the input's raw ones.
		hidden := strings.ReplaceAll(s, "&lt;", "&amp;lt;")
		outHidden := PlainText(hidden)
		if n, raw := strings.Count(outHidden, "<"), strings.Count(hidden, "<"); n > raw {
			t.Errorf("PlainText(%q) = %q: %d \"<\" from %d raw", hidden, outHidden, n, raw)
		}
		if !strings.Contains(s, "<") && strings.Contains(outHidden, "<@") {
			t.Errorf("PlainText(%q) = %q: \"<@\" from no raw \"<\"", hidden, outHidden)
		}
	})
}
