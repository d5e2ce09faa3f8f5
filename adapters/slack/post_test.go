package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/bridge"
)

// proxy stands between the publisher and the fake Slack: it records the
// form of every chat.postMessage and may rewrite the fake's answer.
type proxy struct {
	srv     *httptest.Server
	mu      sync.Mutex
	forms   []url.Values
	rewrite func(body []byte) []byte // applied to 200 answers of chat.postMessage
}

func newProxy(t *testing.T, f *slackfake.Server) *proxy {
	t.Helper()
	target, err := url.Parse(f.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		p.mu.Lock()
		rewrite := p.rewrite
		p.mu.Unlock()
		if rewrite == nil || resp.StatusCode != http.StatusOK || !strings.HasSuffix(resp.Request.URL.Path, "/chat.postMessage") {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body.Close()
		body = rewrite(body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Del("Content-Length")
		return nil
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/chat.postMessage") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			p.mu.Lock()
			p.forms = append(p.forms, form)
			p.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *proxy) apiURL() string { return p.srv.URL + "/api/" }

// publishers returns a publisher over a client made by NewClient and
// one over a bare slack-go client, both over apiURL.
func publishers(token, apiURL string) (guarded, bare *Publisher) {
	return NewPublisher(NewClient(token, nil, slack.OptionAPIURL(apiURL)), time.UTC),
		NewPublisher(slack.New(token, slack.OptionAPIURL(apiURL)), time.UTC)
}

// hugeEcho replaces the echoed message of a chat.postMessage answer with
// one of 45 long sections and a context block holding an element type
// slack-go does not know (Slack adds new ones from time to time).
func hugeEcho(t *testing.T) func([]byte) []byte {
	return func(body []byte) []byte {
		var answer map[string]json.RawMessage
		if err := json.Unmarshal(body, &answer); err != nil {
			t.Errorf("fake answer: %v", err)
			return body
		}
		var blocks []any
		for i := range 45 {
			blocks = append(blocks, map[string]any{"type": "section", "block_id": fmt.Sprint("b", i),
				"text": map[string]any{"type": "mrkdwn", "text": strings.Repeat("電波 &amp; ", 290)}})
		}
		blocks = append(blocks, map[string]any{"type": "context", "block_id": "ctx",
			"elements": []any{map[string]any{"type": "sparkle_badge", "glow": 3}}})
		answer["message"], _ = json.Marshal(map[string]any{
			"type": "message", "ts": json.RawMessage(answer["ts"]), "text": "x", "blocks": blocks,
			"bot_id": "B0FAKEBOT", "metadata": map[string]any{"event_type": "carebridge_outbox", "event_payload": map[string]any{"outbox_id": "1"}},
		})
		out, _ := json.Marshal(answer)
		if len(out) < 100_000 {
			t.Fatalf("echo of %d bytes is not huge", len(out))
		}
		return out
	}
}

// A message Slack posted is reported posted, with the channel and ts
// Slack gave, even when slack-go cannot decode Slack's echo of it (a huge
// one with a block element slack-go does not know). Over a bare slack-go
// client the same answer fails although the message was posted, and the
// outbox would post it again.
func TestPublishEchoSlackGoCannotDecode(t *testing.T) {
	// Two posts to one channel in a row; pacing is not under test.
	f := slackfake.New(slackfake.WithRateLimit(false))
	t.Cleanup(f.Close)
	f.AddChannel("C0NETWORK", "care-network")
	px := newProxy(t, f)
	px.rewrite = hugeEcho(t)
	guarded, bare := publishers(f.Identity().BotToken, px.apiURL())
	ctx := context.Background()
	msg := bridge.ChatMessage{Kind: bridge.MessageParent, OutboxID: 1, Channel: "#care-network", Ticket: &bridge.Ticket{ID: 1}, Post: hostilePost()}

	ref, err := guarded.Publish(ctx, msg)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	posted := f.Messages("C0NETWORK")
	if len(posted) != 1 || ref != (bridge.ChatRef{Channel: "C0NETWORK", TS: posted[0].TS}) {
		t.Fatalf("ref = %+v, posted = %+v", ref, posted)
	}
	// A follow-up is threaded under it: the ts is the real one.
	reply := msg
	reply.Kind, reply.OutboxID, reply.Channel, reply.ThreadTS = bridge.MessageReply, 2, ref.Channel, ref.TS
	r2, err := guarded.Publish(ctx, reply)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	if th := f.Thread("C0NETWORK", ref.TS); len(th) != 2 || th[1].TS != r2.TS {
		t.Errorf("thread = %+v", th)
	}
	// The request is slack-go's own: a form with the token, the blocks
	// and the metadata.
	form := px.forms[0]
	if form.Get("token") != f.Identity().BotToken || !strings.Contains(form.Get("blocks"), `"section"`) ||
		!strings.Contains(form.Get("metadata"), `"outbox_id":"1"`) || form.Get("unfurl_links") != "false" {
		t.Errorf("form %v", form)
	}

	if _, err := bare.Publish(ctx, msg); err == nil || !strings.Contains(err.Error(), "sparkle_badge") {
		t.Errorf("slack-go decoded the echo (%v): this test no longer shows what NewClient guards against", err)
	}
	if n := len(f.Messages("C0NETWORK")); n != 3 {
		t.Errorf("%d messages posted, want 3", n)
	}
}

// Every failure is classified: code, permanence, Retry-After; an answer
// that says ok:false is never taken for a posted message.
func TestPublishClassifies(t *testing.T) {
	f := slackfake.New()
	t.Cleanup(f.Close)
	f.AddChannel("C0NETWORK", "care-network")
	f.AddChannel("C0PRIVATE", "care-private")
	f.SetBotMember("C0PRIVATE", false)
	p, _ := publishers(f.Identity().BotToken, f.APIURL())
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/api/"
	dead.Close()
	deadP, _ := publishers(f.Identity().BotToken, deadURL)
	post := func(channel string) bridge.ChatMessage {
		return bridge.ChatMessage{Kind: bridge.MessageParent, Channel: channel, Ticket: &bridge.Ticket{}, Post: hostilePost()}
	}
	cases := []struct {
		name     string
		setup    func()
		channel  string
		dead     bool
		wantCode string
		perm     bool
		retry    time.Duration
	}{
		{name: "unknown channel", channel: "#nowhere", wantCode: "channel_not_found", perm: true},
		{name: "not in channel", channel: "C0PRIVATE", wantCode: "not_in_channel", perm: true},
		{name: "invalid_auth", setup: func() { f.FailNext("chat.postMessage", 200, "invalid_auth", 1) }, wantCode: "invalid_auth", perm: true},
		{name: "msg_too_long", setup: func() { f.FailNext("chat.postMessage", 200, "msg_too_long", 1) }, wantCode: "msg_too_long", perm: true},
		{name: "unknown code", setup: func() { f.FailNext("chat.postMessage", 200, "fatal_error", 1) }, wantCode: "fatal_error"},
		{name: "429", setup: func() { f.RateLimitStorm("chat.postMessage", 1, 3*time.Second) }, wantCode: "ratelimited", retry: 3 * time.Second},
		{name: "429 retry now", setup: func() { f.RateLimitStorm("chat.postMessage", 1, 0) }, wantCode: "ratelimited"},
		{name: "429 without Retry-After", setup: func() { f.FailNext("chat.postMessage", 429, "", 1) }, wantCode: "429"},
		{name: "500", setup: func() { f.FailNext("chat.postMessage", 500, "", 1) }, wantCode: "500"},
		{name: "502 with a JSON body", setup: func() { f.FailNext("chat.postMessage", 502, "internal_error", 1) }, wantCode: "502"},
		{name: "403", setup: func() { f.FailNext("chat.postMessage", 403, "", 1) }, wantCode: "403", perm: true},
		{name: "outage", setup: func() { f.SetOutage(true) }, wantCode: "503"},
		{name: "network", dead: true, wantCode: "network"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.channel == "" {
				c.channel = "#care-network"
			}
			pub := p
			if c.dead {
				pub = deadP
			}
			if c.setup != nil {
				c.setup()
			}
			_, err := pub.Publish(context.Background(), post(c.channel))
			f.SetOutage(false)
			var se *bridge.SendError
			if !errors.As(err, &se) {
				t.Fatalf("%v, want a *bridge.SendError", err)
			}
			if se.Code != c.wantCode || se.Permanent != c.perm || se.RetryAfter != c.retry {
				t.Errorf("got code %q permanent %v retry %v, want %q %v %v", se.Code, se.Permanent, se.RetryAfter, c.wantCode, c.perm, c.retry)
			}
		})
	}
	if n := len(f.Messages("C0NETWORK")); n != 0 {
		t.Errorf("%d messages posted by failed calls", n)
	}
}
