package slackfake_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/carebridge/carebridge/adapters/slack/slackfake"
)

const (
	chanCare = "C0CARE"
	alice    = "U0ALICE"
	bob      = "U0BOB"
)

// testClock is a settable clock that starts at the wall clock, so that
// signatures stay within slack-go's 5-minute window.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Now().Truncate(time.Second)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newFake(t *testing.T, opts ...slackfake.Option) *slackfake.Server {
	t.Helper()
	f := slackfake.New(opts...)
	t.Cleanup(f.Close)
	f.AddChannel(chanCare, "care-network", alice, bob)
	f.AddUser(alice, "alice", false)
	f.AddUser(bob, "bob", false)
	return f
}

func apiFor(f *slackfake.Server) *slack.Client {
	id := f.Identity()
	return slack.New(id.BotToken, slack.OptionAPIURL(f.APIURL()), slack.OptionAppLevelToken(id.AppToken))
}

func wantSlackErr(t *testing.T, err error, code string) {
	t.Helper()
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != code {
		t.Fatalf("want slack error %q, got %T %v", code, err, err)
	}
}

func post(t *testing.T, api *slack.Client, channel string, opts ...slack.MsgOption) (string, string) {
	t.Helper()
	ch, ts, err := api.PostMessage(channel, opts...)
	if err != nil {
		t.Fatalf("PostMessage(%s): %v", channel, err)
	}
	return ch, ts
}

var tsPattern = regexp.MustCompile(`^\d{10}\.\d{6}$`)

func TestAuthTestAndTokens(t *testing.T) {
	f := newFake(t)
	id := f.Identity()
	res, err := apiFor(f).AuthTest()
	if err != nil {
		t.Fatal(err)
	}
	if res.UserID != "UBOT" || res.BotID != id.BotID || res.TeamID != id.TeamID || res.URL != "https://carebridge.slack.com/" {
		t.Fatalf("auth.test = %+v", res)
	}

	_, err = slack.New("xoxb-wrong", slack.OptionAPIURL(f.APIURL())).AuthTest()
	wantSlackErr(t, err, "invalid_auth")
	_, err = slack.New(id.AppToken, slack.OptionAPIURL(f.APIURL())).AuthTest()
	wantSlackErr(t, err, "not_allowed_token_type")
	// apps.connections.open insists on the app-level token.
	_, _, err = slack.New(id.BotToken, slack.OptionAPIURL(f.APIURL()), slack.OptionAppLevelToken(id.BotToken)).StartSocketModeContext(context.Background())
	wantSlackErr(t, err, "not_allowed_token_type")
	_, u, err := apiFor(f).StartSocketModeContext(context.Background())
	if err != nil || !strings.HasPrefix(u, "ws://") || !strings.Contains(u, "ticket=") {
		t.Fatalf("apps.connections.open = %q, %v", u, err)
	}
	if got := f.Calls("auth.test"); got != 3 {
		t.Fatalf("Calls(auth.test) = %d, want 3", got)
	}
}

func TestPostMessageThreadReadBack(t *testing.T) {
	f := newFake(t)
	api := apiFor(f)
	section := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*New post* from @maria", false, false), nil, nil)
	meta := slack.SlackMetadata{EventType: "carebridge_post", EventPayload: map[string]any{"post_id": "x:123"}}
	ch, parent := post(t, api, chanCare, slack.MsgOptionText("New post &lt;b&gt;", false), slack.MsgOptionBlocks(section), slack.MsgOptionMetadata(meta))
	if ch != chanCare || !tsPattern.MatchString(parent) {
		t.Fatalf("channel %q ts %q", ch, parent)
	}
	_, reply := post(t, api, chanCare, slack.MsgOptionText("draft: hello", false), slack.MsgOptionTS(parent))
	human, err := f.UserPosts(chanCare, alice, parent, "lgtm <@UBOT>")
	if err != nil {
		t.Fatal(err)
	}
	_, other := post(t, api, chanCare, slack.MsgOptionText("second post", false))
	if !(parent < reply && reply < human && human < other) {
		t.Fatalf("ts not increasing: %s %s %s %s", parent, reply, human, other)
	}

	msgs := f.Messages(chanCare)
	if len(msgs) != 4 {
		t.Fatalf("%d messages, want 4", len(msgs))
	}
	p := msgs[0]
	if !p.FromBot() || p.User != "UBOT" || p.ThreadTS != "" || p.Text != "New post &lt;b&gt;" {
		t.Fatalf("parent = %+v", p)
	}
	var blocks []map[string]any
	if err := json.Unmarshal(p.Blocks, &blocks); err != nil || len(blocks) != 1 || blocks[0]["type"] != "section" {
		t.Fatalf("blocks = %s (%v)", p.Blocks, err)
	}
	var md slack.SlackMetadata
	if err := json.Unmarshal(p.Metadata, &md); err != nil || md.EventType != "carebridge_post" || md.EventPayload["post_id"] != "x:123" {
		t.Fatalf("metadata = %s (%v)", p.Metadata, err)
	}

	th := f.Thread(chanCare, parent)
	if len(th) != 3 || th[0].TS != parent || th[1].TS != reply || th[2].TS != human {
		t.Fatalf("thread = %+v", th)
	}
	if th[1].ThreadTS != parent || !th[1].FromBot() || th[2].FromBot() || th[2].User != alice {
		t.Fatalf("thread replies = %+v", th[1:])
	}
}

func TestChannelByName(t *testing.T) {
	f := newFake(t)
	api := apiFor(f)
	for _, name := range []string{"#care-network", "care-network"} {
		ch, _ := post(t, api, name, slack.MsgOptionText("hi", false))
		if ch != chanCare {
			t.Fatalf("post to %q answered channel %q", name, ch)
		}
	}
	if n := len(f.Messages(chanCare)); n != 2 {
		t.Fatalf("%d messages", n)
	}
}

func TestPostMessageErrors(t *testing.T) {
	f := newFake(t)
	api := apiFor(f)
	_, _, err := api.PostMessage("C0NOPE", slack.MsgOptionText("x", false))
	wantSlackErr(t, err, "channel_not_found")
	_, _, err = api.PostMessage("#nope", slack.MsgOptionText("x", false))
	wantSlackErr(t, err, "channel_not_found")

	f.AddChannel("C0PRIV", "managers")
	f.SetBotMember("C0PRIV", false)
	_, _, err = api.PostMessage("C0PRIV", slack.MsgOptionText("x", false))
	wantSlackErr(t, err, "not_in_channel")

	_, _, err = api.PostMessage(chanCare)
	wantSlackErr(t, err, "no_text")

	if n := len(f.Messages(chanCare)) + len(f.Messages("C0PRIV")); n != 0 {
		t.Fatalf("refused posts were recorded: %d", n)
	}
	if len(f.Events()) != 0 {
		t.Fatal("refused posts produced events")
	}
}

// TestPacingPerChannel: by default chat.postMessage is paced per channel
// at Slack's one message a second with a burst of 3.
func TestPacingPerChannel(t *testing.T) {
	if slackfake.DefaultPostsPerSecond != 1 || slackfake.DefaultPostBurst != 3 {
		t.Fatalf("default pacing %v/s burst %d, want Slack's 1/s with a small burst (3)", slackfake.DefaultPostsPerSecond, slackfake.DefaultPostBurst)
	}
	clk := newTestClock()
	f := newFake(t, slackfake.WithClock(clk))
	f.AddChannel("C0OTHER", "other")
	api := apiFor(f)

	for i := range 3 { // the burst
		post(t, api, chanCare, slack.MsgOptionText("burst "+string(rune('a'+i)), false))
	}
	_, _, err := api.PostMessage(chanCare, slack.MsgOptionText("one too many", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("want *slack.RateLimitedError{1s}, got %T %v", err, err)
	}
	post(t, api, "C0OTHER", slack.MsgOptionText("other channel is unaffected", false))

	clk.Advance(time.Second)
	post(t, api, chanCare, slack.MsgOptionText("after a second", false))
	if _, _, err := api.PostMessage(chanCare, slack.MsgOptionText("again too fast", false)); !errors.As(err, &rl) {
		t.Fatalf("want rate limit, got %v", err)
	}

	var texts []string
	for _, m := range f.Messages(chanCare) {
		texts = append(texts, m.Text)
	}
	if want := []string{"burst a", "burst b", "burst c", "after a second"}; !slices.Equal(texts, want) {
		t.Fatalf("recorded %q, want %q", texts, want)
	}
	if got := f.Calls("chat.postMessage"); got != 7 {
		t.Fatalf("Calls = %d, want 7", got)
	}

	// The raw answer: 429, Retry-After, ratelimited.
	resp := rawCall(t, f, "chat.postMessage", url.Values{"token": {f.Identity().BotToken}, "channel": {chanCare}, "text": {"x"}})
	if resp.status != http.StatusTooManyRequests || resp.header.Get("Retry-After") != "1" || resp.body["error"] != "ratelimited" || resp.body["ok"] != false {
		t.Fatalf("raw 429 = %d %v %v", resp.status, resp.header, resp.body)
	}

	// The option that turns pacing off, for tests that post faster than
	// Slack allows on purpose (benchmarks): it must turn it off.
	g := newFake(t, slackfake.WithClock(clk), slackfake.WithRateLimit(false))
	for range 10 {
		post(t, apiFor(g), chanCare, slack.MsgOptionText("unpaced", false))
	}
}

func TestFaults(t *testing.T) {
	f := newFake(t)
	api := apiFor(f)

	f.RateLimitStorm("auth.test", 2, 2*time.Second)
	for range 2 {
		_, err := api.AuthTest()
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
			t.Fatalf("want RateLimitedError{2s}, got %v", err)
		}
	}
	if _, err := api.AuthTest(); err != nil {
		t.Fatalf("storm should be over: %v", err)
	}

	f.FailNext("chat.postMessage", http.StatusInternalServerError, "", 1)
	_, _, err := api.PostMessage(chanCare, slack.MsgOptionText("x", false))
	var sce slack.StatusCodeError
	if !errors.As(err, &sce) || sce.Code != 500 {
		t.Fatalf("want StatusCodeError 500, got %T %v", err, err)
	}
	if len(f.Messages(chanCare)) != 0 {
		t.Fatal("failed post recorded")
	}

	f.FailNext("*", 0, "invalid_auth", 1)
	_, err = api.GetUserInfo(alice)
	wantSlackErr(t, err, "invalid_auth")

	f.SetOutage(true)
	_, err = api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: chanCare})
	if !errors.As(err, &sce) || sce.Code != http.StatusServiceUnavailable {
		t.Fatalf("want 503, got %v", err)
	}
	f.SetOutage(false)
	if _, err := api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: chanCare}); err != nil {
		t.Fatal(err)
	}
}

// TestSetFaults: a fault function fails calls while it says so, each in
// Slack's wire format, and nothing is recorded.
func TestSetFaults(t *testing.T) {
	f := newFake(t)
	api := apiFor(f)
	var n int
	f.SetFaults(func(method string) (slackfake.Fault, bool) {
		if method != "chat.postMessage" {
			return slackfake.Fault{}, false
		}
		n++
		return []slackfake.Fault{{Status: 429, RetryAfter: time.Second}, {Status: 503}, {Error: "internal_error"}}[(n-1)%3], true
	})
	_, _, err := api.PostMessage(chanCare, slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("want RateLimitedError{1s}, got %v", err)
	}
	_, _, err = api.PostMessage(chanCare, slack.MsgOptionText("x", false))
	var sce slack.StatusCodeError
	if !errors.As(err, &sce) || sce.Code != 503 {
		t.Fatalf("want 503, got %v", err)
	}
	_, _, err = api.PostMessage(chanCare, slack.MsgOptionText("x", false))
	wantSlackErr(t, err, "internal_error")
	if _, err := api.AuthTest(); err != nil {
		t.Fatalf("other methods are not affected: %v", err)
	}
	if len(f.Messages(chanCare)) != 0 {
		t.Fatal("a failed post was recorded")
	}
	f.SetFaults(nil)
	if _, _, err := api.PostMessage(chanCare, slack.MsgOptionText("x", false)); err != nil {
		t.Fatal(err)
	}
}

// postPaced posts n messages to a channel at Slack's pace (one a second
// on the fake clock) and returns their ts.
func postPaced(t *testing.T, api *slack.Client, clk *testClock, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		clk.Advance(time.Second)
		_, ts := post(t, api, chanCare, slack.MsgOptionText(fmt.Sprint(i), false))
		out = append(out, ts)
	}
	return out
}

// TestHistoryPages: conversations.history pages with cursors and honours
// oldest, as Slack does, within the default (unlisted app) limits: the
// pages come a minute apart on the fake clock.
func TestHistoryPages(t *testing.T) {
	clk := newTestClock()
	f := newFake(t, slackfake.WithClock(clk))
	api := apiFor(f)
	all := postPaced(t, api, clk, 25)
	var got []string
	cursor := ""
	pages := 0
	for {
		h, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: chanCare, Limit: 10, Cursor: cursor, Oldest: all[4]})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, m := range h.Messages {
			got = append(got, m.Timestamp)
		}
		if !h.HasMore {
			break
		}
		cursor = h.ResponseMetaData.NextCursor
		clk.Advance(time.Minute)
	}
	if pages != 2 || len(got) != 20 || got[0] != all[24] || got[19] != all[5] {
		t.Fatalf("%d pages, %d messages (%v…%v), want 2 pages of the 20 after oldest, newest first", pages, len(got), got[0], got[len(got)-1])
	}
}

// TestHistoryLimitsByDefault: without options the fake gives
// conversations.history and conversations.replies the limits of an app
// not listed in the Marketplace (the app the README has operators
// create): one call a minute per method, then 429 with the Retry-After
// left of the minute, and at most 15 messages a call.
func TestHistoryLimitsByDefault(t *testing.T) {
	clk := newTestClock()
	f := newFake(t, slackfake.WithClock(clk))
	api := apiFor(f)
	all := postPaced(t, api, clk, 20)
	for range 17 {
		clk.Advance(time.Second)
		post(t, api, chanCare, slack.MsgOptionText("reply", false), slack.MsgOptionTS(all[0]))
	}
	h, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: chanCare, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != slackfake.UnlistedHistoryMaxItems || !h.HasMore || slackfake.UnlistedHistoryMaxItems != 15 {
		t.Errorf("history page of %d messages (has_more %v), want 15 and more", len(h.Messages), h.HasMore)
	}
	msgs, _, _, err := api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: chanCare, Timestamp: all[0], Limit: 200})
	if err != nil {
		t.Fatalf("replies have a budget of their own: %v", err)
	}
	if len(msgs) != 15 {
		t.Errorf("replies page of %d messages, want 15", len(msgs))
	}
	clk.Advance(20 * time.Second)
	for _, call := range []func() error{
		func() error {
			_, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: chanCare})
			return err
		},
		func() error {
			_, _, _, err := api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: chanCare, Timestamp: all[0]})
			return err
		},
	} {
		var rl *slack.RateLimitedError
		if err := call(); !errors.As(err, &rl) || rl.RetryAfter != 40*time.Second {
			t.Errorf("a second call within the minute: %v, want 429 with Retry-After 40s", err)
		}
	}
	resp := rawCall(t, f, "conversations.history", url.Values{"token": {f.Identity().BotToken}, "channel": {chanCare}})
	if resp.status != http.StatusTooManyRequests || resp.header.Get("Retry-After") != "40" || resp.body["error"] != "ratelimited" {
		t.Errorf("raw answer %d %v %v", resp.status, resp.header, resp.body)
	}
	clk.Advance(40 * time.Second)
	if _, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: chanCare}); err != nil {
		t.Errorf("a minute after the first call: %v", err)
	}
}

// TestMarketplaceHistory: WithMarketplaceHistory gives the Marketplace
// app's limits: 50 calls a minute per method, pages of up to 1,000.
func TestMarketplaceHistory(t *testing.T) {
	clk := newTestClock()
	f := newFake(t, slackfake.WithClock(clk), slackfake.WithMarketplaceHistory())
	api := apiFor(f)
	postPaced(t, api, clk, 20)
	for i := range slackfake.MarketplaceHistoryPerMinute {
		h, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: chanCare, Limit: 200})
		if err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		if len(h.Messages) != 20 || h.HasMore {
			t.Fatalf("page of %d messages (has_more %v), want all 20", len(h.Messages), h.HasMore)
		}
	}
	var rl *slack.RateLimitedError
	if _, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: chanCare}); !errors.As(err, &rl) {
		t.Errorf("call 51 within the minute: %v, want 429", err)
	}
	clk.Advance(time.Minute)
	if _, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: chanCare}); err != nil {
		t.Errorf("a minute later: %v", err)
	}
}

func TestUpdateAndDelete(t *testing.T) {
	f := newFake(t)
	api := apiFor(f)
	_, ts := post(t, api, chanCare, slack.MsgOptionText("v1", false))
	if _, _, _, err := api.UpdateMessage(chanCare, ts, slack.MsgOptionText("v2", false)); err != nil {
		t.Fatal(err)
	}
	m := f.Messages(chanCare)[0]
	if m.Text != "v2" || len(m.History) != 1 || m.History[0].Text != "v1" || !tsPattern.MatchString(m.History[0].ReplacedAt) {
		t.Fatalf("after update: %+v", m)
	}
	_, _, _, err := api.UpdateMessage(chanCare, "1111111111.000001", slack.MsgOptionText("x", false))
	wantSlackErr(t, err, "message_not_found")
	human, _ := f.UserPosts(chanCare, alice, "", "mine")
	_, _, _, err = api.UpdateMessage(chanCare, human, slack.MsgOptionText("x", false))
	wantSlackErr(t, err, "cant_update_message")

	if _, _, err := api.DeleteMessage(chanCare, ts); err != nil {
		t.Fatal(err)
	}
	if m := f.Messages(chanCare)[0]; !m.Deleted {
		t.Fatalf("not deleted: %+v", m)
	}
	var subtypes []string
	for _, e := range f.Events() {
		subtypes = append(subtypes, e.Type+"/"+e.Subtype)
	}
	if want := []string{"message/", "message/message_changed", "message/", "message/message_deleted"}; !slices.Equal(subtypes, want) {
		t.Fatalf("events %q, want %q", subtypes, want)
	}
}

func TestReactions(t *testing.T) {
	f := newFake(t)
	api := apiFor(f)
	_, ts := post(t, api, chanCare, slack.MsgOptionText("draft", false))
	ref := slack.NewRefToMessage(chanCare, ts)
	if err := api.AddReaction("eyes", ref); err != nil {
		t.Fatal(err)
	}
	if err := api.AddReaction("white_check_mark", ref); err != nil {
		t.Fatal(err)
	}
	wantSlackErr(t, api.AddReaction("eyes", ref), "already_reacted")
	if err := f.UserReacts(chanCare, ts, alice, "white_check_mark"); err != nil {
		t.Fatal(err)
	}
	if got := f.Reactions(chanCare, ts); !slices.Equal(got, []string{"eyes", "white_check_mark"}) {
		t.Fatalf("Reactions = %q", got)
	}
	if err := api.RemoveReaction("eyes", ref); err != nil {
		t.Fatal(err)
	}
	wantSlackErr(t, api.RemoveReaction("eyes", ref), "no_reaction")
	if got := f.Reactions(chanCare, ts); !slices.Equal(got, []string{"white_check_mark"}) {
		t.Fatalf("Reactions = %q", got)
	}
	wantSlackErr(t, api.AddReaction("eyes", slack.NewRefToMessage(chanCare, "1111111111.000001")), "message_not_found")
	wantSlackErr(t, api.AddReaction("eyes", slack.NewRefToMessage("C0NOPE", ts)), "channel_not_found")
}

func TestDirectoryMethods(t *testing.T) {
	f := newFake(t)
	api := apiFor(f)
	f.AddUserGroup("S0MGRS", "care-managers", alice, bob)
	users, err := api.GetUserGroupMembers("S0MGRS")
	if err != nil || !slices.Equal(users, []string{alice, bob}) {
		t.Fatalf("usergroup = %v, %v", users, err)
	}
	_, err = api.GetUserGroupMembers("S0NOPE")
	wantSlackErr(t, err, "no_such_subteam")

	var all []string
	cursor := ""
	for {
		page, next, err := api.GetUsersInConversation(&slack.GetUsersInConversationParameters{ChannelID: chanCare, Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(all, []string{alice, bob, "UBOT"}) {
		t.Fatalf("members = %v", all)
	}

	info, err := api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: chanCare, IncludeNumMembers: true})
	if err != nil || info.Name != "care-network" || !info.IsMember || info.NumMembers != 3 {
		t.Fatalf("conversations.info = %+v, %v", info, err)
	}
	_, err = api.GetConversationInfo(&slack.GetConversationInfoInput{ChannelID: "C0NOPE"})
	wantSlackErr(t, err, "channel_not_found")

	u, err := api.GetUserInfo(alice)
	if err != nil || u.Name != "alice" || u.IsBot {
		t.Fatalf("users.info = %+v, %v", u, err)
	}
	b, err := api.GetUserInfo("UBOT")
	if err != nil || !b.IsBot || b.Profile.BotID != f.Identity().BotID {
		t.Fatalf("users.info bot = %+v, %v", b, err)
	}
	_, err = api.GetUserInfo("U0NOPE")
	wantSlackErr(t, err, "user_not_found")
}

func TestPermalinkAndEphemeral(t *testing.T) {
	f := newFake(t)
	api := apiFor(f)
	_, parent := post(t, api, chanCare, slack.MsgOptionText("post", false))
	_, reply := post(t, api, chanCare, slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent))

	link, err := api.GetPermalink(&slack.PermalinkParameters{Channel: chanCare, Ts: parent})
	if want := "https://carebridge.slack.com/archives/C0CARE/p" + strings.Replace(parent, ".", "", 1); err != nil || link != want {
		t.Fatalf("permalink = %q, %v; want %q", link, err, want)
	}
	link, err = api.GetPermalink(&slack.PermalinkParameters{Channel: chanCare, Ts: reply})
	if err != nil || !strings.Contains(link, "/p"+strings.Replace(reply, ".", "", 1)+"?thread_ts="+parent+"&cid=C0CARE") {
		t.Fatalf("reply permalink = %q, %v", link, err)
	}
	_, err = api.GetPermalink(&slack.PermalinkParameters{Channel: chanCare, Ts: "1111111111.000001"})
	wantSlackErr(t, err, "message_not_found")

	events := len(f.Events())
	ts, err := api.PostEphemeral(chanCare, alice, slack.MsgOptionText("only you can see this", false), slack.MsgOptionTS(parent))
	if err != nil || !tsPattern.MatchString(ts) {
		t.Fatalf("ephemeral = %q, %v", ts, err)
	}
	eph := f.Ephemerals(chanCare, alice)
	if len(eph) != 1 || eph[0].TS != ts || eph[0].Text != "only you can see this" || eph[0].ThreadTS != parent {
		t.Fatalf("Ephemerals = %+v", eph)
	}
	_, err = api.PostEphemeral(chanCare, "U0CAROL", slack.MsgOptionText("x", false))
	wantSlackErr(t, err, "user_not_in_channel")
	if len(f.Events()) != events {
		t.Fatal("ephemeral messages must not produce events")
	}
	if len(f.Messages(chanCare)) != 2 {
		t.Fatal("ephemeral messages must not be channel messages")
	}
}

type rawResponse struct {
	status int
	header http.Header
	body   map[string]any
}

func rawDo(t *testing.T, req *http.Request) rawResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &body)
	return rawResponse{resp.StatusCode, resp.Header, body}
}

func rawCall(t *testing.T, f *slackfake.Server, method string, form url.Values) rawResponse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.APIURL()+method, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return rawDo(t, req)
}

func rawJSON(t *testing.T, f *slackfake.Server, method, token string, body any) rawResponse {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, f.APIURL()+method, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return rawDo(t, req)
}

func TestWireFormats(t *testing.T) {
	f := newFake(t)
	tok := f.Identity().BotToken

	// JSON body: blocks and metadata as JSON values, token in the header.
	r := rawJSON(t, f, "chat.postMessage", tok, map[string]any{
		"channel":  "#care-network",
		"text":     "json post",
		"blocks":   []any{map[string]any{"type": "divider"}},
		"metadata": map[string]any{"event_type": "carebridge_post", "event_payload": map[string]any{"id": 1}},
	})
	if r.status != 200 || r.body["ok"] != true || r.body["channel"] != chanCare {
		t.Fatalf("json post = %d %v", r.status, r.body)
	}
	m := f.Messages(chanCare)[0]
	if string(m.Blocks) != `[{"type":"divider"}]` || !strings.Contains(string(m.Metadata), "carebridge_post") {
		t.Fatalf("json post recorded %+v", m)
	}
	// A JSON body's token field is not a credential.
	r = rawJSON(t, f, "auth.test", "", map[string]any{"token": tok})
	if r.body["error"] != "not_authed" {
		t.Fatalf("json token in body = %v", r.body)
	}
	r = rawJSON(t, f, "chat.postMessage", tok, map[string]any{"channel": chanCare, "text": "x", "blocks": "not json"})
	if r.body["error"] != "invalid_blocks" {
		t.Fatalf("bad blocks = %v", r.body)
	}
	// Form body with the token in it.
	r = rawCall(t, f, "conversations.info", url.Values{"token": {tok}, "channel": {chanCare}})
	if r.body["ok"] != true || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("form call = %v %v", r.header, r.body)
	}
	// GET with query string and Bearer.
	req, _ := http.NewRequest(http.MethodGet, f.APIURL()+"users.info?user="+alice, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if r = rawDo(t, req); r.body["ok"] != true {
		t.Fatalf("GET = %v", r.body)
	}
	if r = rawCall(t, f, "chat.scheduleMessage", url.Values{"token": {tok}}); r.status != 200 || r.body["error"] != "unknown_method" {
		t.Fatalf("unknown method = %d %v", r.status, r.body)
	}
	if r = rawCall(t, f, "auth.test", nil); r.body["error"] != "not_authed" {
		t.Fatalf("no token = %v", r.body)
	}
	f.RateLimitStorm("auth.test", 1, 1500*time.Millisecond)
	if r = rawCall(t, f, "auth.test", url.Values{"token": {tok}}); r.status != 429 || r.header.Get("Retry-After") != "2" || r.body["error"] != "ratelimited" {
		t.Fatalf("storm = %d %v %v", r.status, r.header, r.body)
	}
}

// ---- Socket Mode ----

type smHarness struct {
	sm     *socketmode.Client
	events chan socketmode.Event
	cancel context.CancelFunc
	done   chan error
}

func startSocketMode(t *testing.T, f *slackfake.Server) *smHarness {
	t.Helper()
	sm := socketmode.New(apiFor(f))
	ctx, cancel := context.WithCancel(context.Background())
	h := &smHarness{sm: sm, events: make(chan socketmode.Event, 256), cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- sm.RunContext(ctx) }()
	go func() {
		for {
			select {
			case e := <-sm.Events:
				select {
				case h.events <- e:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
			t.Error("socketmode client did not stop")
		}
	})
	waitFor(t, "a socket connection", func() bool { return f.SocketConnections() == 1 })
	return h
}

// next returns the next events_api event, skipping connection events.
func (h *smHarness) next(t *testing.T) (socketmode.Event, slackevents.EventsAPIEvent) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e := <-h.events:
			if e.Type != socketmode.EventTypeEventsAPI {
				continue
			}
			return e, e.Data.(slackevents.EventsAPIEvent)
		case <-timeout:
			t.Fatal("no events_api event within 5s")
		}
	}
}

func (h *smHarness) none(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e := <-h.events:
			if e.Type == socketmode.EventTypeEventsAPI {
				t.Fatalf("unexpected event %+v", e.Request)
			}
		case <-deadline:
			return
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func eventID(e slackevents.EventsAPIEvent) string {
	if cb, ok := e.Data.(*slackevents.EventsAPICallbackEvent); ok {
		return cb.EventID
	}
	return ""
}

func TestSocketModeDelivery(t *testing.T) {
	f := newFake(t, slackfake.WithPingInterval(100*time.Millisecond))
	api := apiFor(f)
	h := startSocketMode(t, f)

	ts, err := f.UserPosts(chanCare, alice, "", "hi <@UBOT> &amp; team")
	if err != nil {
		t.Fatal(err)
	}
	e, ev := h.next(t)
	if ev.Type != slackevents.CallbackEvent || e.Request.EnvelopeID == "" || e.Request.RetryAttempt != 0 {
		t.Fatalf("envelope %+v", e.Request)
	}
	msg, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok || msg.User != alice || msg.TimeStamp != ts || msg.Channel != chanCare || msg.Text != "hi <@UBOT> &amp; team" || msg.BotID != "" || msg.ThreadTimeStamp != "" {
		t.Fatalf("message event %+v", ev.InnerEvent.Data)
	}
	if !strings.HasPrefix(eventID(ev), "Ev") || ev.TeamID != f.Identity().TeamID || ev.APIAppID != f.Identity().AppID {
		t.Fatalf("envelope fields %+v", ev)
	}
	h.sm.Ack(*e.Request)

	// The bot's own post comes back with bot_id set.
	_, botTS := post(t, api, chanCare, slack.MsgOptionText("draft reply", false), slack.MsgOptionTS(ts))
	e, ev = h.next(t)
	msg = ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if msg.BotID != f.Identity().BotID || msg.User != "UBOT" || msg.TimeStamp != botTS || msg.ThreadTimeStamp != ts {
		t.Fatalf("bot message event %+v", msg)
	}
	h.sm.Ack(*e.Request)

	if err := f.UserReacts(chanCare, botTS, alice, "white_check_mark"); err != nil {
		t.Fatal(err)
	}
	e, ev = h.next(t)
	ra, ok := ev.InnerEvent.Data.(*slackevents.ReactionAddedEvent)
	if !ok || ra.User != alice || ra.Reaction != "white_check_mark" || ra.ItemUser != "UBOT" || ra.Item.Channel != chanCare || ra.Item.Timestamp != botTS || ra.Item.Type != "message" {
		t.Fatalf("reaction event %+v", ev.InnerEvent.Data)
	}
	h.sm.Ack(*e.Request)

	reply, _ := f.UserPosts(chanCare, bob, ts, "edit me")
	e, ev = h.next(t)
	if m := ev.InnerEvent.Data.(*slackevents.MessageEvent); m.ThreadTimeStamp != ts || m.TimeStamp != reply {
		t.Fatalf("thread reply %+v", m)
	}
	h.sm.Ack(*e.Request)

	if err := f.UserEdits(chanCare, reply, "edited"); err != nil {
		t.Fatal(err)
	}
	e, ev = h.next(t)
	ch := ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if ch.SubType != "message_changed" || ch.Message.Timestamp != reply || ch.Message.Text != "edited" || ch.PreviousMessage.Text != "edit me" || ch.Message.Edited == nil {
		t.Fatalf("message_changed %+v / %+v", ch, ch.Message)
	}
	h.sm.Ack(*e.Request)

	if err := f.UserDeletes(chanCare, reply); err != nil {
		t.Fatal(err)
	}
	e, ev = h.next(t)
	if d := ev.InnerEvent.Data.(*slackevents.MessageEvent); d.SubType != "message_deleted" || d.DeletedTimeStamp != reply {
		t.Fatalf("message_deleted %+v", d)
	}
	h.sm.Ack(*e.Request)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := f.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range f.Events() {
		if !e.Delivered || e.Attempts != 1 {
			t.Fatalf("event %s delivered=%v attempts=%d", e.ID, e.Delivered, e.Attempts)
		}
	}
}

func TestSocketModeRedelivery(t *testing.T) {
	f := newFake(t, slackfake.WithAckTimeout(150*time.Millisecond), slackfake.WithRetryDelays(0, 20*time.Millisecond))
	h := startSocketMode(t, f)

	if _, err := f.UserPosts(chanCare, alice, "", "ack me late"); err != nil {
		t.Fatal(err)
	}
	first, ev1 := h.next(t) // not acked
	second, ev2 := h.next(t)
	if second.Request.RetryAttempt != 1 || second.Request.RetryReason != "timeout" || eventID(ev1) != eventID(ev2) || first.Request.EnvelopeID == second.Request.EnvelopeID {
		t.Fatalf("redelivery: first %+v second %+v", first.Request, second.Request)
	}
	h.sm.Ack(*second.Request)
	h.none(t, 300*time.Millisecond)
	if e := f.Events()[0]; !e.Delivered || e.Attempts != 2 {
		t.Fatalf("event after ack: %+v", e)
	}

	// Never acked: first attempt plus two retries, then Slack gives up.
	if _, err := f.UserPosts(chanCare, alice, "", "never acked"); err != nil {
		t.Fatal(err)
	}
	var attempts []int
	for range 3 {
		e, _ := h.next(t)
		attempts = append(attempts, e.Request.RetryAttempt)
	}
	if !slices.Equal(attempts, []int{0, 1, 2}) {
		t.Fatalf("retry attempts %v", attempts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := f.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if e := f.Events()[1]; e.Delivered || e.Attempts != 3 {
		t.Fatalf("abandoned event: %+v", e)
	}

	// Duplicate delivery on demand: same event_id, new envelope.
	id := f.Events()[0].ID
	if err := f.Redeliver(id, 2); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		e, ev := h.next(t)
		if eventID(ev) != id || e.Request.RetryAttempt != 0 {
			t.Fatalf("duplicate %+v", e.Request)
		}
		h.sm.Ack(*e.Request)
	}
	if err := f.Redeliver("EvNOPE", 1); err == nil {
		t.Fatal("Redeliver of an unknown event must fail")
	}
}

func TestSocketModeReconnect(t *testing.T) {
	f := newFake(t)
	h := startSocketMode(t, f)
	f.Disconnect("")
	waitFor(t, "a second apps.connections.open", func() bool { return f.Calls("apps.connections.open") == 2 })
	waitFor(t, "the new connection", func() bool { return f.SocketConnections() == 1 })
	// The client reports a second "connected".
	connected := 0
	deadline := time.After(5 * time.Second)
	for connected < 2 {
		select {
		case e := <-h.events:
			if e.Type == socketmode.EventTypeConnected {
				connected++
			}
		case <-deadline:
			t.Fatalf("saw %d connected events", connected)
		}
	}
	ts, _ := f.UserPosts(chanCare, alice, "", "after reconnect")
	e, ev := h.next(t)
	if m := ev.InnerEvent.Data.(*slackevents.MessageEvent); m.TimeStamp != ts {
		t.Fatalf("event after reconnect %+v", m)
	}
	h.sm.Ack(*e.Request)
}

// ---- HTTP Events API ----

type httpHit struct {
	retryNum, retryReason, eventID, userAgent string
	sigOK, verifierOK                         bool
}

type eventsReceiver struct {
	secret string
	mu     sync.Mutex
	hits   []httpHit
	answer func(n int, w http.ResponseWriter, r *http.Request) // n counts from 1
}

func (rc *eventsReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts := r.Header.Get("X-Slack-Request-Timestamp")
	mac := hmac.New(sha256.New, []byte(rc.secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	want := "v0=" + hex.EncodeToString(mac.Sum(nil))
	hit := httpHit{
		retryNum:    r.Header.Get("X-Slack-Retry-Num"),
		retryReason: r.Header.Get("X-Slack-Retry-Reason"),
		userAgent:   r.UserAgent(),
		sigOK:       hmac.Equal([]byte(want), []byte(r.Header.Get("X-Slack-Signature"))),
	}
	if sv, err := slack.NewSecretsVerifier(r.Header, rc.secret); err == nil {
		_, _ = sv.Write(body)
		hit.verifierOK = sv.Ensure() == nil
	}
	if ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken()); err == nil {
		hit.eventID = eventID(ev)
	}
	rc.mu.Lock()
	rc.hits = append(rc.hits, hit)
	n := len(rc.hits)
	rc.mu.Unlock()
	if rc.answer != nil {
		rc.answer(n, w, r)
	}
}

func (rc *eventsReceiver) got() []httpHit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.hits)
}

func TestHTTPDeliverySignedWithRetries(t *testing.T) {
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	rc := &eventsReceiver{secret: secret, answer: func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	f := newFake(t, slackfake.WithSigningSecret(secret), slackfake.WithRetryDelays(0, 10*time.Millisecond, 10*time.Millisecond))
	f.DeliverHTTP(srv.URL)
	if _, err := f.UserPosts(chanCare, alice, "", "over http"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := f.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	hits := rc.got()
	if len(hits) != 3 {
		t.Fatalf("%d deliveries, want 3: %+v", len(hits), hits)
	}
	id := f.Events()[0].ID
	for i, h := range hits {
		wantNum, wantReason := "", ""
		if i > 0 {
			wantNum, wantReason = string(rune('0'+i)), "http_error"
		}
		if !h.sigOK || !h.verifierOK || h.eventID != id || h.retryNum != wantNum || h.retryReason != wantReason || !strings.HasPrefix(h.userAgent, "Slackbot") {
			t.Fatalf("delivery %d = %+v", i, h)
		}
	}
	if e := f.Events()[0]; !e.Delivered || e.Attempts != 3 {
		t.Fatalf("event = %+v", e)
	}

	// Duplicate delivery: the same event again, freshly signed.
	if err := f.Redeliver(id, 2); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	hits = rc.got()
	if len(hits) != 5 || hits[3].eventID != id || hits[4].eventID != id || hits[3].retryNum != "" || !hits[4].sigOK {
		t.Fatalf("duplicates = %+v", hits[3:])
	}
}

func TestHTTPDeliveryTimeoutAndNoRetry(t *testing.T) {
	rc := &eventsReceiver{secret: slackfake.DefaultSigningSecret}
	rc.answer = func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1: // too slow: Slack gives up waiting and retries
			select {
			case <-time.After(time.Second):
			case <-r.Context().Done():
			}
		case 3: // refuse without retries
			w.Header().Set("X-Slack-No-Retry", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	f := newFake(t, slackfake.WithAckTimeout(100*time.Millisecond), slackfake.WithRetryDelays(0, 0, 0))
	f.DeliverHTTP(srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()

	f.UserPosts(chanCare, alice, "", "slow")
	if err := f.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	hits := rc.got()
	if len(hits) != 2 || hits[1].retryNum != "1" || hits[1].retryReason != "http_timeout" {
		t.Fatalf("timeout retry = %+v", hits)
	}

	f.UserPosts(chanCare, alice, "", "refused")
	if err := f.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if hits = rc.got(); len(hits) != 3 {
		t.Fatalf("X-Slack-No-Retry must stop retries: %+v", hits)
	}
	if e := f.Events()[1]; e.Delivered || e.Attempts != 1 {
		t.Fatalf("refused event = %+v", e)
	}
}

func TestVerifyURL(t *testing.T) {
	f := newFake(t)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
		if err != nil || ev.Type != slackevents.URLVerification {
			http.Error(w, "bad", 400)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, ev.Data.(*slackevents.EventsAPIURLVerificationEvent).Challenge)
	}))
	defer echo.Close()
	if err := f.VerifyURL(context.Background(), echo.URL); err != nil {
		t.Fatal(err)
	}
	wrong := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "nope") }))
	defer wrong.Close()
	if err := f.VerifyURL(context.Background(), wrong.URL); err == nil {
		t.Fatal("a wrong echo must fail verification")
	}
}

// ---- shapes against the captured fixtures ----

func fixtureDir(t *testing.T) string {
	dir := filepath.Join("..", "..", "..", "testdata", "fixtures", "slack") // module root; README there
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("Slack fixtures not found at %s (%v): they are part of the repository (testdata/fixtures/README.md)", dir, err)
	}
	return dir
}

func loadJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func keysOf(v any) []string {
	m, _ := v.(map[string]any)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func obj(v any, path ...string) map[string]any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	m, _ := v.(map[string]any)
	return m
}

func sameKeys(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := keysOf(got), keysOf(want); !slices.Equal(g, w) {
		t.Errorf("%s: keys %v, fixture has %v", what, g, w)
	}
}

func subsetKeys(t *testing.T, what string, got any, allowed map[string]bool) {
	t.Helper()
	for _, k := range keysOf(got) {
		if !allowed[k] {
			t.Errorf("%s: key %q appears in no fixture", what, k)
		}
	}
}

func TestEventShapesMatchFixtures(t *testing.T) {
	dir := fixtureDir(t)
	zNormal := loadJSON(t, filepath.Join(dir, "zulip_message_normal_text.json"))
	zBot := loadJSON(t, filepath.Join(dir, "zulip_message_from_bot.json"))
	zMention := loadJSON(t, filepath.Join(dir, "zulip_message_user_mentions.json"))
	java := map[string]map[string]any{}
	for _, n := range []string{"MessagePayload", "MessageRepliedPayload", "MessageChangedPayload", "MessageDeletedPayload", "MessageBotPayload", "MessageThreadBroadcastPayload", "ReactionAddedPayload"} {
		java[n] = loadJSON(t, filepath.Join(dir, "java-slack-sdk-shape-samples", "events", n+".json"))
	}
	// Every key any fixture shows on a message object.
	msgKeys := map[string]bool{}
	for _, m := range []map[string]any{
		obj(zNormal, "event"), obj(zBot, "event"), obj(zMention, "event"),
		obj(java["MessagePayload"], "event"), obj(java["MessageBotPayload"], "event"),
		obj(java["MessageThreadBroadcastPayload"], "event"),
		obj(java["MessageRepliedPayload"], "event", "message"),
		obj(java["MessageChangedPayload"], "event", "message"), obj(java["MessageChangedPayload"], "event", "previous_message"),
		obj(java["MessageDeletedPayload"], "event", "previous_message"),
	} {
		for k := range m {
			msgKeys[k] = true
		}
	}

	f := newFake(t)
	api := apiFor(f)
	top, _ := f.UserPosts(chanCare, alice, "", "hello <@UBOT> see <https://example.com|this> &lt;3")
	f.UserPosts(chanCare, bob, top, "a reply")
	_, botTS := post(t, api, chanCare, slack.MsgOptionText("bot text", false))
	api.UpdateMessage(chanCare, botTS, slack.MsgOptionText("bot text v2", false))
	f.UserEdits(chanCare, top, "hello again")
	f.UserReacts(chanCare, botTS, alice, "thumbsup")
	f.UserUnreacts(chanCare, botTS, alice, "thumbsup")
	f.UserDeletes(chanCare, top)

	evs := f.Events()
	if len(evs) != 8 {
		t.Fatalf("%d events", len(evs))
	}
	if !bytes.Contains(evs[0].Payload, []byte(`"hello <@UBOT> see <https://example.com|this> &lt;3"`)) {
		t.Errorf("text must be sent verbatim, without \\u003c escapes: %s", evs[0].Payload)
	}
	payloads := make([]map[string]any, len(evs))
	for i, e := range evs {
		if err := json.Unmarshal(e.Payload, &payloads[i]); err != nil {
			t.Fatal(err)
		}
		sameKeys(t, "envelope of "+e.Type+"/"+e.Subtype, payloads[i], zNormal)
		auths, _ := payloads[i]["authorizations"].([]any)
		zAuths, _ := zNormal["authorizations"].([]any)
		if len(auths) != 1 {
			t.Fatalf("authorizations = %v", payloads[i]["authorizations"])
		}
		sameKeys(t, "authorization", auths[0], zAuths[0])
		if !regexp.MustCompile(`^Ev[0-9A-Z]{10}$`).MatchString(e.ID) || payloads[i]["event_id"] != e.ID || payloads[i]["type"] != "event_callback" {
			t.Errorf("event id %q / %v", e.ID, payloads[i]["event_id"])
		}
		var ctxJSON map[string]string
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(payloads[i]["event_context"].(string), "4-"))
		if err != nil || json.Unmarshal(raw, &ctxJSON) != nil || ctxJSON["cid"] != chanCare {
			t.Errorf("event_context %v", payloads[i]["event_context"])
		}
	}
	ev := func(i int) map[string]any { return obj(payloads[i], "event") }

	sameKeys(t, "human message", ev(0), obj(zNormal, "event"))
	blocks := ev(0)["blocks"].([]any)
	zBlocks := obj(zNormal, "event")["blocks"].([]any)
	sameKeys(t, "rich_text block", blocks[0], zBlocks[0])

	subsetKeys(t, "thread reply", ev(1), msgKeys)
	if ev(1)["thread_ts"] != top || ev(1)["parent_user_id"] != alice {
		t.Errorf("thread reply %v", ev(1))
	}
	sameKeys(t, "bot message", ev(2), obj(zBot, "event"))
	sameKeys(t, "bot_profile", ev(2)["bot_profile"], obj(zBot, "event", "bot_profile"))

	for _, i := range []int{3, 4} {
		sameKeys(t, "message_changed", ev(i), obj(java["MessageChangedPayload"], "event"))
		subsetKeys(t, "message_changed.message", ev(i)["message"], msgKeys)
		subsetKeys(t, "message_changed.previous_message", ev(i)["previous_message"], msgKeys)
		sameKeys(t, "edited", obj(ev(i), "message", "edited"), obj(java["MessageChangedPayload"], "event", "message", "edited"))
	}
	for _, i := range []int{5, 6} {
		sameKeys(t, ev(i)["type"].(string), ev(i), obj(java["ReactionAddedPayload"], "event"))
		sameKeys(t, "reaction item", ev(i)["item"], obj(java["ReactionAddedPayload"], "event", "item"))
	}
	sameKeys(t, "message_deleted", ev(7), obj(java["MessageDeletedPayload"], "event"))
	subsetKeys(t, "message_deleted.previous_message", ev(7)["previous_message"], msgKeys)
}

func TestWebAPIResponseShapesMatchFixtures(t *testing.T) {
	dir := fixtureDir(t)
	api := func(name string) map[string]any {
		return loadJSON(t, filepath.Join(dir, "java-slack-sdk-shape-samples", "api", name+".json"))
	}
	examples := loadJSON(t, filepath.Join(dir, "slack-api-specs", "web_api_response_examples_extracted.json"))
	allowed := func(ms ...map[string]any) map[string]bool {
		out := map[string]bool{}
		for _, m := range ms {
			for k := range m {
				out[k] = true
			}
		}
		return out
	}

	f := newFake(t)
	tok := f.Identity().BotToken
	call := func(method string, form url.Values) map[string]any {
		t.Helper()
		form.Set("token", tok)
		r := rawCall(t, f, method, form)
		if r.body["ok"] != true {
			t.Fatalf("%s: %v", method, r.body)
		}
		return r.body
	}

	pm := call("chat.postMessage", url.Values{"channel": {chanCare}, "text": {"hi"}})
	subsetKeys(t, "chat.postMessage", pm, allowed(obj(examples, "chat.postMessage", "ok_example")))
	zBot := loadJSON(t, filepath.Join(dir, "zulip_message_from_bot.json"))
	subsetKeys(t, "chat.postMessage message", pm["message"], allowed(obj(examples, "chat.postMessage", "ok_example", "message"), obj(zBot, "event")))
	ts := pm["ts"].(string)
	up := call("chat.update", url.Values{"channel": {chanCare}, "ts": {ts}, "text": {"v2"}})
	subsetKeys(t, "chat.update", up, allowed(obj(examples, "chat.update", "ok_example")))

	subsetKeys(t, "auth.test", call("auth.test", url.Values{}), allowed(api("auth.test")))
	subsetKeys(t, "chat.getPermalink", call("chat.getPermalink", url.Values{"channel": {chanCare}, "message_ts": {ts}}), allowed(api("chat.getPermalink")))
	subsetKeys(t, "chat.postEphemeral", call("chat.postEphemeral", url.Values{"channel": {chanCare}, "user": {alice}, "text": {"psst"}}), allowed(api("chat.postEphemeral")))
	subsetKeys(t, "reactions.add", call("reactions.add", url.Values{"channel": {chanCare}, "timestamp": {ts}, "name": {"eyes"}}), allowed(api("reactions.add")))

	ci := call("conversations.info", url.Values{"channel": {chanCare}, "include_num_members": {"true"}, "include_locale": {"true"}})
	subsetKeys(t, "conversations.info", ci, allowed(api("conversations.info")))
	subsetKeys(t, "conversations.info channel", ci["channel"], allowed(obj(api("conversations.info"), "channel"), obj(examples, "conversations.info", "ok_example", "channel")))

	ui := call("users.info", url.Values{"user": {"UBOT"}, "include_locale": {"true"}})
	subsetKeys(t, "users.info", ui, allowed(api("users.info")))
	subsetKeys(t, "users.info user", ui["user"], allowed(obj(api("users.info"), "user")))
	subsetKeys(t, "users.info profile", obj(ui, "user", "profile"), allowed(obj(api("users.info"), "user", "profile")))
}

// ---- lifecycle ----

func TestCloseLeavesNoGoroutines(t *testing.T) {
	f := slackfake.New(slackfake.WithPingInterval(20*time.Millisecond), slackfake.WithAckTimeout(50*time.Millisecond), slackfake.WithRetryDelays(time.Hour))
	f.AddChannel(chanCare, "care-network", alice)
	// A raw Socket Mode client that reads but never acks, so a retry timer
	// is pending at Close.
	_, wsURL, err := apiFor(f).StartSocketModeContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Origin": {"https://api.slack.com"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var hello map[string]any
	if err := conn.ReadJSON(&hello); err != nil || hello["type"] != "hello" {
		t.Fatalf("hello = %v, %v", hello, err)
	}
	f.UserPosts(chanCare, alice, "", "unacked")
	var env map[string]any
	if err := conn.ReadJSON(&env); err != nil || env["type"] != "events_api" || env["envelope_id"] == "" {
		t.Fatalf("envelope = %v, %v", env, err)
	}
	// An HTTP delivery stuck in a slow handler.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // lets net/http notice the client going away
		<-r.Context().Done()
	}))
	defer slow.Close()
	g := slackfake.New(slackfake.WithAckTimeout(time.Hour))
	g.AddChannel(chanCare, "care-network")
	g.DeliverHTTP(slow.URL)
	g.UserPosts(chanCare, alice, "", "stuck")
	time.Sleep(50 * time.Millisecond)

	done := make(chan struct{})
	go func() { f.Close(); g.Close(); f.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "slackfake.(*Server)") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left after Close:\n%s", stacks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
