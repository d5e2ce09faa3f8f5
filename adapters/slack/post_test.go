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
	"reflect"
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

// publishers returns a publisher that posts directly and one that posts
// through slack-go, both over apiURL.
func publishers(token, apiURL string) (direct, viaSlackGo *Publisher) {
	api := slack.New(token, slack.OptionAPIURL(apiURL))
	return NewPublisher(api, time.UTC, WithDirectPost(http.DefaultClient, apiURL, token)), NewPublisher(api, time.UTC)
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

// Slack's echo of the posted message is not read: a huge one with a block
// element slack-go cannot decode still publishes, with the channel and ts
// Slack gave. Through slack-go, the same answer fails although the
// message was posted, and the outbox would post it again.
func TestPublishIgnoresEchoedMessage(t *testing.T) {
	f := slackfake.New(slackfake.WithRateLimit(false))
	t.Cleanup(f.Close)
	f.AddChannel("C0NETWORK", "care-network")
	px := newProxy(t, f)
	px.rewrite = hugeEcho(t)
	direct, viaSlackGo := publishers(f.Identity().BotToken, px.apiURL())
	ctx := context.Background()
	msg := bridge.ChatMessage{Kind: bridge.MessageParent, OutboxID: 1, Channel: "#care-network", Ticket: &bridge.Ticket{ID: 1}, Post: hostilePost()}

	ref, err := direct.Publish(ctx, msg)
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
	r2, err := direct.Publish(ctx, reply)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	if th := f.Thread("C0NETWORK", ref.TS); len(th) != 2 || th[1].TS != r2.TS {
		t.Errorf("thread = %+v", th)
	}

	if _, err := viaSlackGo.Publish(ctx, msg); err == nil || !strings.Contains(err.Error(), "sparkle_badge") {
		t.Errorf("slack-go decoded the echo (%v): this test no longer shows what direct posting spares", err)
	}
}

// The request sent directly is the one slack-go sends: same form fields,
// same values, blocks and metadata included.
func TestDirectPostSendsSlackGoRequest(t *testing.T) {
	f := slackfake.New(slackfake.WithRateLimit(false))
	t.Cleanup(f.Close)
	f.AddChannel("C0NETWORK", "care-network")
	px := newProxy(t, f)
	direct, viaSlackGo := publishers(f.Identity().BotToken, px.apiURL())
	ctx := context.Background()
	ticket := &bridge.Ticket{ID: 7, Department: "network", Matched: []string{"電波"}, Account: "SBCare"}
	msgs := []bridge.ChatMessage{
		{Kind: bridge.MessageParent, OutboxID: 41, Channel: "C0NETWORK", Ticket: ticket, Post: hostilePost(), History: "first contact"},
		{Kind: bridge.MessageReply, OutboxID: 42, Channel: "C0NETWORK", ThreadTS: "1700000000.000100", Ticket: ticket, Post: hostilePost()},
		{Kind: bridge.MessageNotice, OutboxID: 43, Channel: "C0NETWORK", Text: "*note* <&>"},
		{Kind: bridge.MessageParent, OutboxID: 44, Channel: "C0NETWORK"}, // no post: no blocks
	}
	for _, m := range msgs {
		if _, err := direct.Publish(ctx, m); err != nil {
			t.Fatalf("direct %d: %v", m.OutboxID, err)
		}
		if _, err := viaSlackGo.Publish(ctx, m); err != nil {
			t.Fatalf("slack-go %d: %v", m.OutboxID, err)
		}
	}
	if len(px.forms) != 2*len(msgs) {
		t.Fatalf("%d requests", len(px.forms))
	}
	for i, m := range msgs {
		got, want := px.forms[2*i], px.forms[2*i+1]
		if !reflect.DeepEqual(got, want) {
			t.Errorf("outbox %d: direct form\n%v\nslack-go form\n%v", m.OutboxID, got, want)
		}
		if got.Get("blocks") == "" || got.Get("token") != f.Identity().BotToken {
			t.Errorf("outbox %d: form lacks blocks or token: %v", m.OutboxID, got)
		}
	}
}

// Every failure is classified as it is through slack-go: same code, same
// permanence, same Retry-After, same message.
func TestDirectPostClassifiesLikeSlackGo(t *testing.T) {
	f := slackfake.New(slackfake.WithRateLimit(false))
	t.Cleanup(f.Close)
	f.AddChannel("C0NETWORK", "care-network")
	f.AddChannel("C0PRIVATE", "care-private")
	f.SetBotMember("C0PRIVATE", false)
	direct, viaSlackGo := publishers(f.Identity().BotToken, f.APIURL())
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/api/"
	dead.Close()
	deadDirect, deadSlackGo := publishers(f.Identity().BotToken, deadURL)
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
			d, s := direct, viaSlackGo
			if c.dead {
				d, s = deadDirect, deadSlackGo
			}
			var errs [2]*bridge.SendError
			for i, p := range []*Publisher{d, s} {
				if c.setup != nil {
					c.setup()
				}
				_, err := p.Publish(context.Background(), post(c.channel))
				f.SetOutage(false)
				if !errors.As(err, &errs[i]) {
					t.Fatalf("publisher %d: %v, want a *bridge.SendError", i, err)
				}
			}
			got, want := errs[0], errs[1]
			if got.Code != want.Code || got.Permanent != want.Permanent || got.RetryAfter != want.RetryAfter || got.Error() != want.Error() {
				t.Errorf("direct %+v (%v)\nslack-go %+v (%v)", *got, got, *want, want)
			}
			if got.Code != c.wantCode || got.Permanent != c.perm || got.RetryAfter != c.retry {
				t.Errorf("got code %q permanent %v retry %v, want %q %v %v", got.Code, got.Permanent, got.RetryAfter, c.wantCode, c.perm, c.retry)
			}
		})
	}
	if n := len(f.Messages("C0NETWORK")); n != 0 {
		t.Errorf("%d messages posted by failed calls", n)
	}
}
