package slack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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

// slackFixtureDir holds captured Slack payloads (testdata/fixtures at the
// module root; see its README for sources and licences).
const slackFixtureDir = "../../testdata/fixtures/slack"

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

// FuzzVerifySignature checks Slack's v0 scheme on arbitrary secrets,
// timestamps, bodies and header values: a signature made for a body
// verifies for exactly that body, secret and timestamp — never for a
// mutated body, another secret or another timestamp — and arbitrary
// header values are refused cleanly, without panics.
func FuzzVerifySignature(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	addFixtureSeeds2 := func(add func(body []byte)) {
		_ = filepath.WalkDir(slackFixtureDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") || strings.Contains(path, "slack-api-specs") {
				return nil
			}
			if b, err := os.ReadFile(path); err == nil && len(b) < 64<<10 {
				add(b)
			}
			return nil
		})
	}
	addFixtureSeeds2(func(b []byte) { f.Add("8f742231b10e8888abcd99yyyzzz85a5", int64(0), b, uint16(3), byte('x'), "", "") })
	f.Add(eventsSecret, int64(0), envelopeJSON(`{"type":"message","channel":"C1","user":"U2","text":"hi","ts":"1.000100"}`), uint16(0), byte(1), "", "")
	f.Add(eventsSecret, int64(-299), []byte(`{}`), uint16(1), byte(0x80), "", "")
	f.Add("s", int64(301), []byte(``), uint16(0), byte(0), "1772366400", "v0=")
	f.Add("s", int64(0), []byte(`x`), uint16(0), byte(0), "+1772366400", "v0=ZZ")
	f.Add("s", int64(0), []byte(`x`), uint16(0), byte(0), "1772366400 ", "V0=00")
	f.Add("s", int64(0), []byte(`x`), uint16(0), byte(0), "99999999999999999999", "v1=00")
	f.Add("", int64(0), []byte(`x`), uint16(0), byte(0), "", "")
	f.Fuzz(func(t *testing.T, secret string, skew int64, body []byte, pos uint16, flip byte, tsHdr, sigHdr string) {
		ts := now.Unix() + skew%(10*60)
		hdr := http.Header{}
		hdr.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
		hdr.Set("X-Slack-Signature", slackSignature(secret, ts, body))
		err := verifySignature([]byte(secret), hdr, body, now)
		fresh := ts >= now.Unix()-int64(SignatureMaxAge/time.Second) && ts <= now.Unix()+int64(SignatureMaxAge/time.Second)
		switch {
		case secret == "":
			if err == nil {
				t.Fatal("verified without a secret")
			}
		case fresh && err != nil:
			t.Fatalf("a valid signature was refused: %v", err)
		case !fresh && err == nil:
			t.Fatalf("a timestamp %d s off was accepted", ts-now.Unix())
		}
		if secret == "" || !fresh {
			return
		}
		// A mutated body never verifies.
		var mutated []byte
		if len(body) == 0 || flip == 0 {
			mutated = append(append([]byte(nil), body...), 'x')
		} else {
			mutated = append([]byte(nil), body...)
			mutated[int(pos)%len(mutated)] ^= flip
		}
		if verifySignature([]byte(secret), hdr, mutated, now) == nil {
			t.Fatalf("the signature of %q verified for %q", body, mutated)
		}
		// Another secret never verifies.
		if verifySignature([]byte(secret+"x"), hdr, body, now) == nil {
			t.Fatal("verified under another secret")
		}
		// Another timestamp (signed for ts, sent with ts+1) never verifies.
		moved := hdr.Clone()
		moved.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts+1, 10))
		if verifySignature([]byte(secret), moved, body, now) == nil && ts+1-now.Unix() <= int64(SignatureMaxAge/time.Second) {
			t.Fatal("verified with another timestamp")
		}
		// Arbitrary header values are refused unless the signature is the
		// HMAC of that exact timestamp text and body: nothing else passes.
		odd := http.Header{}
		odd.Set("X-Slack-Request-Timestamp", tsHdr)
		odd.Set("X-Slack-Signature", sigHdr)
		if verifySignature([]byte(secret), odd, body, now) == nil && !strings.EqualFold(sigHdr, slackSignatureWithTS(secret, tsHdr, body)) {
			t.Fatalf("arbitrary headers %q / %q verified", tsHdr, sigHdr)
		}
	})
}

// slackSignatureWithTS signs with the timestamp header's exact text.
func slackSignatureWithTS(secret, tsHdr string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + tsHdr + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}
