package xfake

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Accounts used throughout: our official account and two customers.
const (
	meID       = "1000"
	meName     = "SBCare"
	aliceID    = "2001"
	bobID      = "2002"
	userToken  = "user-token"
	oauthToken = "oauth-access"
)

var oauth1Cred = OAuth1Credentials{ConsumerKey: "ckey", ConsumerSecret: "csecret", AccessToken: oauthToken, AccessSecret: "asecret"}

var base = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newServer(t *testing.T, opts ...Option) (*Server, *clock) {
	t.Helper()
	opts = append([]Option{WithUserToken(userToken, meID), WithOAuth1(oauth1Cred, meID), WithKeepAlive(50 * time.Millisecond)}, opts...)
	s := New(opts...)
	t.Cleanup(s.Close)
	c := &clock{t: base}
	s.SetNow(c.now)
	s.AddUser(User{ID: meID, Username: meName, Name: "SB Care"})
	s.AddUser(User{ID: aliceID, Username: "alice", Name: "Alice"})
	s.AddUser(User{ID: bobID, Username: "bob", Name: "Bob"})
	return s, c
}

// response is a decoded HTTP answer.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func do(t *testing.T, s *Server, method, path, auth string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %v\n%s", method, path, err, raw)
		}
	}
	return r
}

const (
	app  = "Bearer " + DefaultAppToken
	user = "Bearer " + userToken
)

func get(t *testing.T, s *Server, path string) response {
	t.Helper()
	return do(t, s, "GET", path, app, nil)
}

func search(t *testing.T, s *Server, q string, extra ...string) response {
	t.Helper()
	v := url.Values{"query": {q}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return get(t, s, "/2/tweets/search/recent?"+v.Encode())
}

func dataIDs(t *testing.T, r response) []string {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	var ids []string
	data, _ := r.body["data"].([]any)
	for _, d := range data {
		ids = append(ids, d.(map[string]any)["id"].(string))
	}
	return ids
}

func mustJSON(t *testing.T, raw []byte, want string) {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("bad JSON %s: %v", raw, err)
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatal(err)
	}
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	if !bytes.Equal(ab, bb) {
		t.Fatalf("body\n got %s\nwant %s", ab, bb)
	}
}

func TestSearchGrammar(t *testing.T) {
	s, c := newServer(t)
	add := func(author, text string, opt ...func(*Tweet)) string {
		c.advance(time.Second)
		tw := Tweet{AuthorID: author, Text: text}
		for _, o := range opt {
			o(&tw)
		}
		return s.AddTweet(tw).ID
	}
	t1 := add(aliceID, "My WiFi is down again @SBCare")
	t2 := add(bobID, "wifi fine here, the router is great")
	t3 := add(aliceID, "billing question: why was I charged twice?")
	t4 := add(bobID, "The router keeps rebooting #outage")
	t5 := add(meID, "Sorry to hear that @alice, we are on it", func(tw *Tweet) { tw.InReplyToTweetID = t1 })
	t6 := add(aliceID, "Wi-Fi and billing both broken", func(tw *Tweet) { tw.Lang = "en" })
	t7 := add(bobID, "ルーターが壊れました", func(tw *Tweet) {})
	t8 := add(bobID, "RT @alice: My WiFi is down again", func(tw *Tweet) { tw.RetweetedTweetID = t1 })

	cases := []struct {
		q    string
		want []string
	}{
		{"wifi", []string{t8, t2, t1}},
		{"WIFI", []string{t8, t2, t1}},
		{"wifi -is:retweet", []string{t2, t1}},
		{"wifi OR billing", []string{t8, t6, t3, t2, t1}},
		{"router -great", []string{t4}},
		{`"router keeps"`, []string{t4}},
		{`"keeps router"`, nil},
		{"wi-fi", []string{t6}},
		{"(wifi OR router) bob", nil},
		{"(wifi OR router) from:bob", []string{t8, t4, t2}},
		{"wifi OR router from:bob", []string{t8, t4, t2, t1}}, // AND binds tighter than OR
		{"@sbcare", []string{t1}},
		{"#outage", []string{t4}},
		{"to:alice", []string{t5}},
		{"from:" + meName + " conversation_id:" + t1, []string{t5}},
		{"conversation_id:" + t1 + " is:reply", []string{t5}},
		{"from:alice -(billing OR wifi)", nil},
		{"from:alice -billing", []string{t1}},
		{"router lang:en", []string{t4, t2}},
		{"ルーター", []string{t7}},
		{"route", nil}, // word match, not substring
	}
	for _, tc := range cases {
		got := dataIDs(t, search(t, s, tc.q))
		if !slices.Equal(got, tc.want) {
			t.Errorf("query %q: got %v, want %v", tc.q, got, tc.want)
		}
	}
}

func TestSearchRejectsBadQueries(t *testing.T) {
	s, _ := newServer(t)
	cases := []struct{ q, msg string }{
		{"wifi has:media", "Reference to invalid operator 'has:media'"},
		{"wifi place_country:US", "Reference to invalid operator 'place_country'"},
		{"wifi before:2026-01-01", "Reference to invalid operator 'before'"},
		{"is:reply", "is/has/lang cannot be used as a standalone operator"},
		{"lang:en -is:retweet", "is/has/lang cannot be used as a standalone operator"},
		{"(wifi OR router", "missing ')'"},
		{"wifi)", "missing EOF at ')'"},
		{"wifi OR", "no viable alternative"},
		{"-wifi", "non-negation term"},
		{"$AAPL", "Reference to invalid operator 'cashtag'"},
	}
	for _, tc := range cases {
		r := search(t, s, tc.q)
		if r.status != 400 {
			t.Errorf("%q: status %d, want 400", tc.q, r.status)
			continue
		}
		if r.body["title"] != "Invalid Request" || r.body["type"] != typeInvalidRequest {
			t.Errorf("%q: not an invalid-request problem: %s", tc.q, r.raw)
		}
		errs := r.body["errors"].([]any)
		e := errs[0].(map[string]any)
		if msg := e["message"].(string); !strings.Contains(msg, tc.msg) || !strings.HasPrefix(msg, "There were errors processing your request: ") {
			t.Errorf("%q: message %q, want it to contain %q", tc.q, msg, tc.msg)
		}
		if p := e["parameters"].(map[string]any)["query"].([]any); p[0] != tc.q {
			t.Errorf("%q: parameters %v", tc.q, p)
		}
	}
	for _, mr := range []string{"9", "101", "x"} {
		r := search(t, s, "wifi", "max_results", mr)
		if r.status != 400 {
			t.Fatalf("max_results=%s: status %d", mr, r.status)
		}
		mustJSON(t, r.raw, fmt.Sprintf(`{"errors":[{"parameters":{"max_results":[%q]},"message":"The `+"`max_results`"+` query parameter value [%s] is not between 10 and 100"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}`, mr, mr))
	}
	if r := search(t, s, ""); r.status != 400 {
		t.Fatalf("empty query: %d", r.status)
	}
	if r := search(t, s, "wifi", "tweet.fields", "author_id,bogus"); r.status != 400 || !strings.Contains(string(r.raw), "[bogus] is not one of") {
		t.Fatalf("bad tweet.fields: %d %s", r.status, r.raw)
	}
}

func TestSearchPagingAndSinceID(t *testing.T) {
	s, c := newServer(t)
	var all []string // oldest first
	for i := range 25 {
		c.advance(time.Minute)
		all = append(all, s.AddTweet(Tweet{AuthorID: aliceID, Text: fmt.Sprintf("outage report %d", i)}).ID)
	}
	s.AddTweet(Tweet{AuthorID: bobID, Text: "unrelated"})
	newestFirst := slices.Clone(all)
	slices.Reverse(newestFirst)

	// Stitch pages; a tweet added between pages must not disturb them.
	var got []string
	tok := ""
	for pages := 0; ; pages++ {
		args := []string{"max_results", "10"}
		if tok != "" {
			args = append(args, "next_token", tok)
		}
		r := search(t, s, "outage", args...)
		ids := dataIDs(t, r)
		meta := r.body["meta"].(map[string]any)
		if int(meta["result_count"].(float64)) != len(ids) || meta["newest_id"] != ids[0] || meta["oldest_id"] != ids[len(ids)-1] {
			t.Fatalf("meta %v does not describe page %v", meta, ids)
		}
		got = append(got, ids...)
		if pages == 0 {
			c.advance(time.Second)
			s.AddTweet(Tweet{AuthorID: aliceID, Text: "outage arrives mid-paging"})
		}
		next, ok := meta["next_token"].(string)
		if !ok {
			break
		}
		tok = next
	}
	if !slices.Equal(got, newestFirst) {
		t.Fatalf("stitched pages\n got %v\nwant %v", got, newestFirst)
	}
	// pagination_token is accepted as a synonym.
	r := search(t, s, "outage", "max_results", "10", "pagination_token", tok)
	if len(dataIDs(t, r)) != 5 {
		t.Fatalf("pagination_token: %s", r.raw)
	}

	// since_id and until_id are exclusive.
	ids := dataIDs(t, search(t, s, "outage report", "since_id", all[20], "until_id", all[24]))
	if want := []string{all[23], all[22], all[21]}; !slices.Equal(ids, want) {
		t.Fatalf("since/until: got %v want %v", ids, want)
	}
	// Polling with since_id = newest_id returns only newer posts.
	r = search(t, s, "outage", "since_id", all[24])
	if ids := dataIDs(t, r); len(ids) != 1 {
		t.Fatalf("poll: %v", ids)
	}
}

func TestSearchEmptyResultShape(t *testing.T) {
	s, _ := newServer(t)
	r := search(t, s, "nothing matches this")
	if r.status != 200 || string(r.raw) != `{"meta":{"result_count":0}}` {
		t.Fatalf("empty result: %d %s", r.status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q", ct)
	}
}

func TestSearchSevenDayWindowAndStaleSinceID(t *testing.T) {
	s, c := newServer(t)
	old := s.AddTweet(Tweet{AuthorID: aliceID, Text: "wifi old", CreatedAt: base.Add(-8 * 24 * time.Hour)})
	fresh := s.AddTweet(Tweet{AuthorID: aliceID, Text: "wifi fresh", CreatedAt: base.Add(-time.Hour)})
	if ids := dataIDs(t, search(t, s, "wifi")); !slices.Equal(ids, []string{fresh.ID}) {
		t.Fatalf("7-day window: %v", ids)
	}
	// Lookup is not limited to 7 days.
	if r := get(t, s, "/2/tweets/"+old.ID); r.body["data"].(map[string]any)["id"] != old.ID {
		t.Fatalf("lookup of old tweet: %s", r.raw)
	}
	r := search(t, s, "wifi", "since_id", old.ID)
	if r.status != 400 {
		t.Fatalf("stale since_id: %d %s", r.status, r.raw)
	}
	cutoff := c.now().Add(-7 * 24 * time.Hour)
	floor := (uint64(cutoff.UnixMilli()) - 1288834974657) << 22
	mustJSON(t, r.raw, fmt.Sprintf(`{"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request",
		"errors":[{"message":"'since_id' must be a tweet id created after %s. Please use a 'since_id' that is larger than %d","parameters":{"since_id":[%q]}}]}`,
		cutoff.Format("2006-01-02T15:04Z"), floor, old.ID))
	// The id the error suggests is accepted.
	if r := search(t, s, "wifi", "since_id", strconv.FormatUint(floor+1, 10)); r.status != 200 {
		t.Fatalf("suggested since_id refused: %s", r.raw)
	}
}

func TestSearchExpansionsAndFields(t *testing.T) {
	s, _ := newServer(t)
	root := s.AddTweet(Tweet{AuthorID: aliceID, Text: "@SBCare my #wifi is down https://example.com/x"})
	reply := s.AddTweet(Tweet{AuthorID: bobID, Text: "@alice @ghost same here", InReplyToTweetID: root.ID})
	r := search(t, s, "same", "tweet.fields", "author_id,conversation_id,created_at,in_reply_to_user_id,lang,referenced_tweets,entities",
		"expansions", "author_id,entities.mentions.username", "user.fields", "created_at,description")
	d := r.body["data"].([]any)[0].(map[string]any)
	if d["conversation_id"] != root.ID || d["in_reply_to_user_id"] != aliceID || d["author_id"] != bobID || d["lang"] != "en" {
		t.Fatalf("fields: %v", d)
	}
	if d["created_at"] != reply.CreatedAt.Format(timeFormat) {
		t.Fatalf("created_at %v vs %v", d["created_at"], reply.CreatedAt)
	}
	refs := d["referenced_tweets"].([]any)[0].(map[string]any)
	if refs["type"] != "replied_to" || refs["id"] != root.ID {
		t.Fatalf("referenced_tweets %v", refs)
	}
	ments := d["entities"].(map[string]any)["mentions"].([]any)
	if m := ments[0].(map[string]any); m["username"] != "alice" || m["id"] != aliceID || m["start"].(float64) != 0 || m["end"].(float64) != 6 {
		t.Fatalf("mention entity %v", m)
	}
	users := r.body["includes"].(map[string]any)["users"].([]any)
	if len(users) != 2 || users[0].(map[string]any)["id"] != bobID || users[1].(map[string]any)["username"] != "alice" {
		t.Fatalf("includes.users %v", users)
	}
	if _, ok := users[0].(map[string]any)["created_at"]; !ok {
		t.Fatalf("user.fields ignored: %v", users[0])
	}
	errs := r.body["errors"].([]any)
	if e := errs[0].(map[string]any); e["resource_type"] != "user" || e["value"] != "ghost" || e["title"] != "Not Found Error" {
		t.Fatalf("partial error %v", e)
	}
	// The snowflake encodes created_at.
	n, _ := strconv.ParseUint(reply.ID, 10, 64)
	if got := time.UnixMilli(int64(n>>22) + 1288834974657).UTC(); !got.Equal(reply.CreatedAt) {
		t.Fatalf("snowflake time %v vs %v", got, reply.CreatedAt)
	}
}

func TestRateLimit(t *testing.T) {
	s, c := newServer(t)
	r := search(t, s, "wifi")
	if r.header.Get("x-rate-limit-limit") != "450" || r.header.Get("x-rate-limit-remaining") != "449" {
		t.Fatalf("default headers: %v", r.header)
	}
	s.SetRateLimit(EndpointSearchRecent, 2, 15*time.Minute)
	reset := strconv.FormatInt(c.now().Add(15*time.Minute).Unix(), 10)
	for i, want := range []string{"1", "0"} {
		r := search(t, s, "wifi")
		if r.status != 200 || r.header.Get("x-rate-limit-remaining") != want || r.header.Get("x-rate-limit-reset") != reset {
			t.Fatalf("request %d: %d %v", i, r.status, r.header)
		}
	}
	r = search(t, s, "wifi")
	if r.status != 429 {
		t.Fatalf("want 429, got %d", r.status)
	}
	mustJSON(t, r.raw, `{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}`)
	if r.header.Get("x-rate-limit-limit") != "2" || r.header.Get("x-rate-limit-remaining") != "0" || r.header.Get("x-rate-limit-reset") != reset {
		t.Fatalf("429 headers: %v", r.header)
	}
	// Other endpoints are unaffected.
	if r := get(t, s, "/2/users/"+aliceID+"/mentions"); r.status != 200 {
		t.Fatalf("mentions: %d", r.status)
	}
	c.advance(15 * time.Minute)
	if r := search(t, s, "wifi"); r.status != 200 || r.header.Get("x-rate-limit-remaining") != "1" {
		t.Fatalf("after reset: %d %v", r.status, r.header)
	}
}

func TestFailNextAndAuth(t *testing.T) {
	s, _ := newServer(t)
	s.FailNext(EndpointSearchRecent, 503, 2)
	for range 2 {
		r := search(t, s, "wifi")
		if r.status != 503 {
			t.Fatalf("want 503, got %d", r.status)
		}
		mustJSON(t, r.raw, `{"title":"Service Unavailable","detail":"Service Unavailable","type":"about:blank","status":503}`)
	}
	if r := search(t, s, "wifi"); r.status != 200 {
		t.Fatalf("third: %d", r.status)
	}

	unauthorized := `{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`
	for _, h := range []string{"", "Bearer nope", "Basic abc", `OAuth oauth_token="other"`} {
		r := do(t, s, "GET", "/2/tweets/search/recent?query=wifi", h, nil)
		if r.status != 401 {
			t.Fatalf("auth %q: %d", h, r.status)
		}
		mustJSON(t, r.raw, unauthorized)
	}
	r := do(t, s, "POST", "/2/tweets", app, map[string]any{"text": "hi"})
	if r.status != 403 {
		t.Fatalf("app-only POST: %d", r.status)
	}
	mustJSON(t, r.raw, `{"title":"Unsupported Authentication","detail":"Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].","type":"https://api.twitter.com/2/problems/unsupported-authentication","status":403}`)
	if r := do(t, s, "GET", "/2/tweets/search/stream/rules", user, nil); r.status != 403 || r.body["title"] != "Unsupported Authentication" {
		t.Fatalf("user token on stream rules: %d %s", r.status, r.raw)
	}
	// Reads accept user context too; a signed OAuth 1.0a request
	// authenticates as the token's user.
	if r := do(t, s, "GET", "/2/users/me", signOAuth1(s, "GET", "/2/users/me", "n1"), nil); r.status != 200 || r.body["data"].(map[string]any)["username"] != meName {
		t.Fatalf("users/me over OAuth1: %d %s", r.status, r.raw)
	}
	logs := s.Requests()
	var kinds []AuthKind
	for _, l := range logs {
		kinds = append(kinds, l.Auth)
	}
	for _, k := range []AuthKind{AuthApp, AuthNone, AuthInvalid, AuthOAuth1} {
		if !slices.Contains(kinds, k) {
			t.Fatalf("request log lacks auth kind %s: %v", k, kinds)
		}
	}
	if l := logs[0]; l.Endpoint != EndpointSearchRecent || l.Status != 503 || l.Query.Get("query") != "wifi" {
		t.Fatalf("first log entry %+v", l)
	}
}

func TestCreateTweet(t *testing.T) {
	s, c := newServer(t)
	mention := s.AddTweet(Tweet{AuthorID: aliceID, Text: "@SBCare my wifi is down"})
	keyword := s.AddTweet(Tweet{AuthorID: bobID, Text: "sbcare wifi is down again"})
	post := func(body map[string]any) response { return do(t, s, "POST", "/2/tweets", user, body) }
	reply := func(to, text string) response {
		return post(map[string]any{"text": text, "reply": map[string]any{"in_reply_to_tweet_id": to}})
	}

	c.advance(time.Minute)
	r := reply(mention.ID, "@alice sorry, we're on it")
	if r.status != 201 {
		t.Fatalf("reply: %d %s", r.status, r.raw)
	}
	d := r.body["data"].(map[string]any)
	id := d["id"].(string)
	if d["text"] != "@alice sorry, we're on it" || d["edit_history_tweet_ids"].([]any)[0] != id || len(d) != 3 {
		t.Fatalf("201 body %s", r.raw)
	}
	if r.header.Get("x-app-limit-24hour-remaining") != "9999" {
		t.Fatalf("24h headers %v", r.header)
	}
	// Duplicate text from the same account.
	r = reply(mention.ID, "@alice sorry, we're on it")
	if r.status != 403 {
		t.Fatalf("duplicate: %d", r.status)
	}
	mustJSON(t, r.raw, `{"detail":"You are not allowed to create a Tweet with duplicate content.","type":"about:blank","title":"Forbidden","status":403}`)
	// A keyword hit that never mentioned us cannot be answered.
	r = reply(keyword.ID, "@bob can we help?")
	if r.status != 403 {
		t.Fatalf("ineligible reply: %d", r.status)
	}
	mustJSON(t, r.raw, `{"detail":"You can only reply to or quote posts where you are mentioned or are the author.","status":403,"title":"Authorization Error","type":"https://api.x.com/2/problems/not-authorized-for-resource"}`)
	if r := post(map[string]any{"text": "look at this", "quote_tweet_id": keyword.ID}); r.status != 403 {
		t.Fatalf("ineligible quote: %d", r.status)
	}
	// Replying to our own post (threading) is allowed.
	if r := reply(id, "and a follow-up"); r.status != 201 {
		t.Fatalf("self-thread: %d %s", r.status, r.raw)
	}
	if r := reply("999", "to nowhere"); r.status != 403 || r.body["title"] != "Forbidden" {
		t.Fatalf("missing target: %d %s", r.status, r.raw)
	}
	// Over 280 weighted characters: 141 CJK characters weigh 282.
	if r := post(map[string]any{"text": strings.Repeat("あ", 141)}); r.status != 400 || r.body["title"] != "Invalid Request" {
		t.Fatalf("over length: %d %s", r.status, r.raw)
	}
	if r := post(map[string]any{"text": strings.Repeat("あ", 140)}); r.status != 201 {
		t.Fatalf("280 weighted: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "POST", "/2/tweets", user, nil); r.status != 400 {
		t.Fatalf("no content type: %d", r.status)
	}

	// Reconcile: our reply is visible to search and to our timeline.
	ids := dataIDs(t, search(t, s, "from:"+meName+" conversation_id:"+mention.ID))
	if len(ids) != 2 || !slices.Contains(ids, id) {
		t.Fatalf("reconcile by search: %v", ids)
	}
	r = get(t, s, "/2/users/"+meID+"/tweets?max_results=5&tweet.fields=referenced_tweets,conversation_id")
	if ids := dataIDs(t, r); len(ids) != 3 || ids[2] != id {
		t.Fatalf("user tweets: %s", r.raw)
	}
	r = get(t, s, "/2/users/"+meID+"/tweets?since_id="+id)
	if ids := dataIDs(t, r); len(ids) != 2 {
		t.Fatalf("user tweets since_id: %s", r.raw)
	}
	sent := s.SentTweets()
	if len(sent) != 3 || sent[0].InReplyToTweetID != mention.ID || sent[0].AuthorID != meID || sent[0].ConversationID != mention.ID || sent[0].InReplyToUserID != aliceID {
		t.Fatalf("SentTweets %+v", sent)
	}
}

func TestCreateTweetEnterprise(t *testing.T) {
	s, _ := newServer(t, WithEnterprise())
	keyword := s.AddTweet(Tweet{AuthorID: bobID, Text: "sbcare wifi is down again"})
	r := do(t, s, "POST", "/2/tweets", user, map[string]any{"text": "@bob can we help?", "reply": map[string]any{"in_reply_to_tweet_id": keyword.ID}})
	if r.status != 201 {
		t.Fatalf("enterprise reply: %d %s", r.status, r.raw)
	}
}

func TestWeightedLength(t *testing.T) {
	cases := []struct {
		text string
		want int
	}{
		{"hello", 5},
		{"café", 4},
		{"日本語", 6},
		{"👍", 2},
		{"👍🏽", 2},
		{"👨‍👩‍👧‍👦", 2},
		{"🇯🇵", 2},
		{"1️⃣", 2},
		{"see https://example.com/a/very/long/path/that/is/long ok", 4 + 23 + 3},
		{"“quotes” — dash", 15},
	}
	for _, tc := range cases {
		if got := weightedLength(tc.text); got != tc.want {
			t.Errorf("weightedLength(%q) = %d, want %d", tc.text, got, tc.want)
		}
	}
	if got := replyWeightedLength("@alice @bob hi"); got != 2 {
		t.Errorf("leading mentions counted: %d", got)
	}
}

func TestDMs(t *testing.T) {
	s, c := newServer(t)
	s.AddUser(User{ID: "3003", Username: "closed", RejectsDMs: true})
	in := s.AddDM(DMEvent{SenderID: aliceID, RecipientID: meID, Text: "my account number is 12345"})
	if in.DMConversationID != meID+"-"+aliceID || in.EventType != "MessageCreate" {
		t.Fatalf("AddDM: %+v", in)
	}
	s.AddDM(DMEvent{SenderID: bobID, RecipientID: meID, Text: "hello from bob", CreatedAt: base.Add(-40 * 24 * time.Hour)})
	c.advance(time.Minute)
	r := do(t, s, "POST", "/2/dm_conversations/with/"+aliceID+"/messages", user, map[string]any{"text": "Thanks, we fixed it"})
	if r.status != 201 {
		t.Fatalf("send DM: %d %s", r.status, r.raw)
	}
	d := r.body["data"].(map[string]any)
	if d["dm_conversation_id"] != meID+"-"+aliceID || d["dm_event_id"] == "" || len(d) != 2 {
		t.Fatalf("send DM body %s", r.raw)
	}
	if r := do(t, s, "POST", "/2/dm_conversations/with/3003/messages", user, map[string]any{"text": "hi"}); r.status != 403 || r.body["title"] != "Forbidden" {
		t.Fatalf("DM to closed account: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "GET", "/2/dm_events", app, nil); r.status != 403 {
		t.Fatalf("DM read with app token: %d", r.status)
	}
	r = do(t, s, "GET", "/2/dm_events?dm_event.fields=sender_id,created_at,dm_conversation_id&event_types=MessageCreate&expansions=sender_id", user, nil)
	data := r.body["data"].([]any)
	if len(data) != 2 { // bob's DM is older than 30 days
		t.Fatalf("dm_events: %s", r.raw)
	}
	own, theirs := data[0].(map[string]any), data[1].(map[string]any)
	if own["sender_id"] != meID || own["text"] != "Thanks, we fixed it" || own["id"] != d["dm_event_id"] || theirs["sender_id"] != aliceID {
		t.Fatalf("dm_events order/sender: %s", r.raw)
	}
	if users := r.body["includes"].(map[string]any)["users"].([]any); len(users) != 2 {
		t.Fatalf("sender expansion: %v", users)
	}
	// Paging one event at a time; per-conversation listing.
	r = do(t, s, "GET", "/2/dm_conversations/with/"+aliceID+"/dm_events?max_results=1", user, nil)
	if ids := dataIDs(t, r); len(ids) != 1 || ids[0] != d["dm_event_id"] {
		t.Fatalf("page 1: %s", r.raw)
	}
	tok := r.body["meta"].(map[string]any)["next_token"].(string)
	r = do(t, s, "GET", "/2/dm_conversations/"+meID+"-"+aliceID+"/dm_events?max_results=1&pagination_token="+tok, user, nil)
	if ids := dataIDs(t, r); len(ids) != 1 || ids[0] != in.ID {
		t.Fatalf("page 2: %s", r.raw)
	}
	if meta := r.body["meta"].(map[string]any); meta["next_token"] != nil || meta["previous_token"] == nil {
		t.Fatalf("page 2 meta: %v", meta)
	}
	if r := do(t, s, "GET", "/2/dm_events?max_results=0", user, nil); r.status != 400 {
		t.Fatalf("max_results=0: %d", r.status)
	}
	if sent := s.SentDMs(); len(sent) != 1 || sent[0].SenderID != meID || sent[0].RecipientID != aliceID {
		t.Fatalf("SentDMs %+v", sent)
	}
}

func TestMentionsCapAndPaging(t *testing.T) {
	s, c := newServer(t)
	for i := range 805 {
		c.advance(time.Second)
		s.AddTweet(Tweet{AuthorID: aliceID, Text: fmt.Sprintf("@sbcare help %d", i)})
	}
	s.AddTweet(Tweet{AuthorID: aliceID, Text: "no mention"})
	seen := map[string]bool{}
	tok := ""
	var prev string
	for {
		p := "/2/users/" + meID + "/mentions?max_results=100"
		if tok != "" {
			p += "&pagination_token=" + tok
		}
		r := get(t, s, p)
		for _, id := range dataIDs(t, r) {
			if seen[id] {
				t.Fatalf("duplicate %s", id)
			}
			if prev != "" && id >= prev && len(id) == len(prev) {
				t.Fatalf("not newest first: %s after %s", id, prev)
			}
			seen[id], prev = true, id
		}
		next, ok := r.body["meta"].(map[string]any)["next_token"].(string)
		if !ok {
			break
		}
		tok = next
	}
	if len(seen) != 800 {
		t.Fatalf("reachable mentions: %d, want 800", len(seen))
	}
	if r := get(t, s, "/2/users/"+meID+"/mentions?max_results=4"); r.status != 400 || !strings.Contains(string(r.raw), "between 5 and 100") {
		t.Fatalf("max_results=4: %d %s", r.status, r.raw)
	}
	if r := get(t, s, "/2/users/"+meID+"/mentions?max_results=5"); len(dataIDs(t, r)) != 5 {
		t.Fatalf("max_results=5: %s", r.raw)
	}
	r := get(t, s, "/2/users/9999/mentions")
	if r.status != 200 || r.body["errors"].([]any)[0].(map[string]any)["resource_type"] != "user" {
		t.Fatalf("unknown user: %s", r.raw)
	}
}

func TestLookup(t *testing.T) {
	s, _ := newServer(t)
	tw := s.AddTweet(Tweet{AuthorID: aliceID, Text: "hello"})
	r := get(t, s, "/2/tweets/"+tw.ID+"?expansions=author_id")
	if r.body["data"].(map[string]any)["text"] != "hello" || r.body["includes"] == nil {
		t.Fatalf("lookup: %s", r.raw)
	}
	r = get(t, s, "/2/tweets/123")
	if r.status != 200 {
		t.Fatalf("not found status %d", r.status)
	}
	mustJSON(t, r.raw, `{"errors":[{"value":"123","detail":"Could not find tweet with id: [123].","title":"Not Found Error","resource_type":"tweet","parameter":"id","resource_id":"123","type":"https://api.twitter.com/2/problems/resource-not-found"}]}`)
	r = get(t, s, "/2/tweets?ids="+tw.ID+",124")
	if ids := dataIDs(t, r); !slices.Equal(ids, []string{tw.ID}) {
		t.Fatalf("ids: %s", r.raw)
	}
	if e := r.body["errors"].([]any)[0].(map[string]any); e["detail"] != "Could not find tweet with ids: [124]." || e["parameter"] != "ids" {
		t.Fatalf("ids partial error: %v", e)
	}
	if r := get(t, s, "/2/tweets/abc"); r.status != 400 {
		t.Fatalf("bad id: %d", r.status)
	}
	r = get(t, s, "/2/users/by/username/ALICE?user.fields=receives_your_dm")
	if d := r.body["data"].(map[string]any); d["id"] != aliceID || d["receives_your_dm"] != true {
		t.Fatalf("by username: %s", r.raw)
	}
	if r := get(t, s, "/2/users/by/username/nobody"); r.body["errors"] == nil {
		t.Fatalf("unknown username: %s", r.raw)
	}
}

// streamReader reads stream lines in the background.
type streamReader struct {
	resp  *http.Response
	lines chan string
}

func openStream(t *testing.T, s *Server, query string) (*http.Response, *streamReader) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL()+"/2/tweets/search/stream"+query, nil)
	req.Header.Set("Authorization", app)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		return resp, nil
	}
	sr := &streamReader{resp: resp, lines: make(chan string, 100)}
	go func() {
		defer close(sr.lines)
		br := bufio.NewReader(resp.Body)
		for {
			l, err := br.ReadString('\n')
			if l != "" {
				sr.lines <- l
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return resp, sr
}

// next returns the next line that is not a keep-alive.
func (sr *streamReader) next(t *testing.T) map[string]any {
	t.Helper()
	deadline := time.After(3 * time.Second)
	for {
		select {
		case l, ok := <-sr.lines:
			if !ok {
				t.Fatal("stream closed")
			}
			if !strings.HasSuffix(l, "\r\n") {
				t.Fatalf("line not terminated by \\r\\n: %q", l)
			}
			if strings.TrimSpace(l) == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("bad line %q: %v", l, err)
			}
			return m
		case <-deadline:
			t.Fatal("no stream message")
		}
	}
}

func addRules(t *testing.T, s *Server, query string, rules ...ruleInput) response {
	t.Helper()
	return do(t, s, "POST", "/2/tweets/search/stream/rules"+query, app, map[string]any{"add": rules})
}

func TestStreamRules(t *testing.T) {
	s, _ := newServer(t)
	r := addRules(t, s, "?dry_run=true", ruleInput{Value: "wifi", Tag: "wifi"})
	if r.status != 201 || len(s.StreamRules()) != 0 {
		t.Fatalf("dry run: %d %s", r.status, r.raw)
	}
	r = addRules(t, s, "", ruleInput{Value: "wifi -is:retweet", Tag: "wifi"}, ruleInput{Value: "@sbcare"}, ruleInput{Value: "has:polls"}, ruleInput{Value: "@sbcare"})
	if r.status != 201 {
		t.Fatalf("add: %d %s", r.status, r.raw)
	}
	sum := r.body["meta"].(map[string]any)["summary"].(map[string]any)
	if sum["created"] != 2.0 || sum["not_created"] != 2.0 || sum["valid"] != 2.0 || sum["invalid"] != 2.0 {
		t.Fatalf("summary %v", sum)
	}
	errs := r.body["errors"].([]any)
	if errs[0].(map[string]any)["title"] != "UnprocessableEntity" || errs[1].(map[string]any)["title"] != "DuplicateRule" {
		t.Fatalf("rule errors %v", errs)
	}
	r = get(t, s, "/2/tweets/search/stream/rules")
	if ids := dataIDs(t, r); len(ids) != 2 {
		t.Fatalf("list: %s", r.raw)
	}
	first := s.StreamRules()[0]
	r = do(t, s, "POST", "/2/tweets/search/stream/rules", app, map[string]any{"delete": map[string]any{"ids": []string{first.ID, "42"}}})
	if sum := r.body["meta"].(map[string]any)["summary"].(map[string]any); r.status != 200 || sum["deleted"] != 1.0 || sum["not_deleted"] != 1.0 {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	r = do(t, s, "POST", "/2/tweets/search/stream/rules", app, map[string]any{"delete": map[string]any{"ids": []string{}}})
	if r.status != 400 {
		t.Fatalf("empty delete: %d", r.status)
	}
	mustJSON(t, r.raw, `{"errors":[{"parameters":{"delete":[]},"message":"JSON doesn't match expected schema"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}`)
	r = do(t, s, "POST", "/2/tweets/search/stream/rules?delete_all=true", app, nil)
	if r.status != 200 || len(s.StreamRules()) != 0 {
		t.Fatalf("delete_all: %d %s", r.status, r.raw)
	}
	if r := get(t, s, "/2/tweets/search/stream/rules"); string(r.raw) != fmt.Sprintf(`{"meta":{"result_count":0,"sent":"%s"}}`, base.Format(timeFormat)) {
		t.Fatalf("empty list: %s", r.raw)
	}
}

func TestStream(t *testing.T) {
	s, _ := newServer(t)
	resp, _ := openStream(t, s, "")
	if resp.StatusCode != 409 {
		t.Fatalf("no rules: %d", resp.StatusCode)
	}
	resp.Body.Close()
	addRules(t, s, "", ruleInput{Value: "wifi -is:retweet", Tag: "wifi"}, ruleInput{Value: "@sbcare"})
	rules := s.StreamRules()

	_, sr := openStream(t, s, "?tweet.fields=author_id,created_at&expansions=author_id")
	if sr == nil {
		t.Fatal("stream refused")
	}
	// Keep-alives arrive.
	select {
	case l := <-sr.lines:
		if l != "\r\n" {
			t.Fatalf("expected keep-alive, got %q", l)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no keep-alive")
	}
	// A second connection is refused.
	resp2, _ := openStream(t, s, "")
	if resp2.StatusCode != 429 {
		t.Fatalf("second connection: %d", resp2.StatusCode)
	}
	b, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	mustJSON(t, b, `{"title":"ConnectionException","detail":"This stream is currently at the maximum allowed connection limit.","connection_issue":"TooManyConnections","type":"https://api.twitter.com/2/problems/streaming-connection"}`)

	s.AddTweet(Tweet{AuthorID: bobID, Text: "nothing to see"})
	tw := s.AddTweet(Tweet{AuthorID: aliceID, Text: "@SBCare wifi down"})
	m := sr.next(t)
	if d := m["data"].(map[string]any); d["id"] != tw.ID || d["author_id"] != aliceID {
		t.Fatalf("stream data %v", m)
	}
	var tags []string
	for _, mr := range m["matching_rules"].([]any) {
		mr := mr.(map[string]any)
		tag, _ := mr["tag"].(string)
		tags = append(tags, mr["id"].(string)+"/"+tag)
	}
	sort.Strings(tags)
	want := []string{rules[0].ID + "/wifi", rules[1].ID + "/"}
	sort.Strings(want)
	if !slices.Equal(tags, want) {
		t.Fatalf("matching_rules %v, want %v", tags, want)
	}
	if users := m["includes"].(map[string]any)["users"].([]any); users[0].(map[string]any)["id"] != aliceID {
		t.Fatalf("includes %v", users)
	}
	// A reply created over the API is streamed as well, as X stores it:
	// with the replied-to author's @handle in front.
	do(t, s, "POST", "/2/tweets", user, map[string]any{"text": "wifi fixed?", "reply": map[string]any{"in_reply_to_tweet_id": tw.ID}})
	if m := sr.next(t); m["data"].(map[string]any)["text"] != "@alice wifi fixed?" {
		t.Fatalf("reply not streamed: %v", m)
	}

	// Operational disconnect: the error line, then EOF.
	if !s.DisconnectStream("") {
		t.Fatal("no stream to disconnect")
	}
	m = sr.next(t)
	e := m["errors"].([]any)[0].(map[string]any)
	if e["title"] != "operational-disconnect" || e["disconnect_type"] != "UpstreamOperationalDisconnect" || e["detail"] == "" {
		t.Fatalf("disconnect message %v", m)
	}
	for l := range sr.lines {
		if strings.TrimSpace(l) != "" {
			t.Fatalf("data after disconnect: %q", l)
		}
	}
	// Reconnect works, and backfill_minutes replays recent matches.
	_, sr = openStream(t, s, "?backfill_minutes=5")
	if sr == nil || s.StreamConnects() != 2 {
		t.Fatalf("reconnect failed (connects=%d)", s.StreamConnects())
	}
	if m := sr.next(t); m["data"].(map[string]any)["id"] != tw.ID {
		t.Fatalf("backfill: %v", m)
	}
}

func TestStreamStallAndClose(t *testing.T) {
	s, _ := newServer(t)
	addRules(t, s, "", ruleInput{Value: "wifi"})
	resp, sr := openStream(t, s, "")
	if err := s.WaitStreamConnected(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-sr.lines // a keep-alive
	if !s.StallStream() {
		t.Fatal("no stream to stall")
	}
	// Drain what may have been in flight, then expect silence across several
	// keep-alive intervals, even when a matching tweet is published.
	time.Sleep(60 * time.Millisecond)
	for len(sr.lines) > 0 {
		<-sr.lines
	}
	s.AddTweet(Tweet{AuthorID: aliceID, Text: "wifi while stalled"})
	select {
	case l := <-sr.lines:
		t.Fatalf("stalled stream sent %q", l)
	case <-time.After(250 * time.Millisecond):
	}
	// The client gives up and reconnects: the server notices and accepts.
	resp.Body.Close()
	_, sr2 := openStream(t, s, "")
	if sr2 == nil {
		t.Fatal("reconnect after stall refused")
	}
	tw := s.AddTweet(Tweet{AuthorID: aliceID, Text: "wifi after reconnect"})
	if m := sr2.next(t); m["data"].(map[string]any)["id"] != tw.ID {
		t.Fatalf("after reconnect: %v", m)
	}
	// Close ends the stream promptly.
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Close hung with an open stream")
	}
	for range sr2.lines {
	}
}

// ---- Shape checks against the recorded fixtures ----

func fixtureDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "testdata", "fixtures", "x") // module root; README there
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("X fixtures not found at %s (%v): they are part of the repository (testdata/fixtures/README.md)", dir, err)
	}
	return dir
}

func readJSON(t *testing.T, path string) map[string]any {
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

// cassetteBody returns the response body of the n-th interaction of a
// tweepy cassette fixture.
func cassetteBody(t *testing.T, name string, n int) map[string]any {
	t.Helper()
	m := readJSON(t, filepath.Join(fixtureDir(t), name))
	return m["interactions"].([]any)[n].(map[string]any)["response"].(map[string]any)["body"].(map[string]any)
}

func jsonlFirst(t *testing.T, name string, pick func(map[string]any) bool) map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtureDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && pick(m) {
			delete(m, "__twarc")
			return m
		}
	}
	t.Fatalf("%s: no matching line", name)
	return nil
}

func keys(v any) []string {
	m, _ := v.(map[string]any)
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// itemKeys is the union of the keys of a list's objects.
func itemKeys(v any) []string {
	set := map[string]bool{}
	list, _ := v.([]any)
	for _, it := range list {
		for _, k := range keys(it) {
			set[k] = true
		}
	}
	var ks []string
	for k := range set {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func sameKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("%s: keys %v, fixture has %v", what, got, want)
	}
}

// subsetKeys fails when we send a key the real API never sends there.
func subsetKeys(t *testing.T, what string, got, allowed []string) {
	t.Helper()
	for _, k := range got {
		if !slices.Contains(allowed, k) {
			t.Errorf("%s: key %q is not in the fixture's %v", what, k, allowed)
		}
	}
}

func TestShapesMatchFixtures(t *testing.T) {
	fixtureDir(t)
	s, c := newServer(t)
	root := s.AddTweet(Tweet{AuthorID: aliceID, Text: "@SBCare Tweepy #wifi down https://example.com/x"})
	for i := range 11 {
		c.advance(time.Second)
		s.AddTweet(Tweet{AuthorID: bobID, Text: fmt.Sprintf("@alice tweepy too %d @SBCare", i), InReplyToTweetID: root.ID})
	}

	t.Run("search default fields", func(t *testing.T) {
		fx := cassetteBody(t, "tweepy_v2_search_recent.json", 0)
		r := search(t, s, "tweepy")
		sameKeys(t, "top level", keys(r.body), keys(fx))
		sameKeys(t, "tweet", itemKeys(r.body["data"]), itemKeys(fx["data"]))
		sameKeys(t, "meta", keys(r.body["meta"]), keys(fx["meta"]))
	})
	t.Run("search with fields and expansions", func(t *testing.T) {
		fx := readJSON(t, filepath.Join(fixtureDir(t), "python-twitter-testdata", "apis_searches_search_tweets_query.json"))
		page := jsonlFirst(t, "twarc_v2_search_page_kpop_ko_en_with_errors.jsonl", func(map[string]any) bool { return true })
		r := search(t, s, "tweepy", "tweet.fields", "author_id,created_at,entities,in_reply_to_user_id,lang,referenced_tweets,conversation_id,public_metrics,possibly_sensitive,reply_settings",
			"expansions", "author_id,referenced_tweets.id,entities.mentions.username", "user.fields", "created_at,description,protected,verified,profile_image_url,public_metrics,url")
		allowedTop := append(keys(fx), "errors")
		subsetKeys(t, "top level", keys(r.body), allowedTop)
		known := knownTweetKeys(t)
		subsetKeys(t, "tweet", itemKeys(r.body["data"]), known)
		subsetKeys(t, "includes", keys(r.body["includes"]), keys(page["includes"]))
		subsetKeys(t, "includes.users", itemKeys(r.body["includes"].(map[string]any)["users"]), itemKeys(page["includes"].(map[string]any)["users"]))
		subsetKeys(t, "includes.tweets", itemKeys(r.body["includes"].(map[string]any)["tweets"]), known)
		sameKeys(t, "meta", keys(r.body["meta"]), keys(page["meta"]))

		r = get(t, s, "/2/tweets/"+root.ID+"?tweet.fields=entities")
		ents := r.body["data"].(map[string]any)["entities"].(map[string]any)
		fxEnts := fx["data"].([]any)[0].(map[string]any)["entities"].(map[string]any)
		sameKeys(t, "entities.urls", itemKeys(ents["urls"]), itemKeys(fxEnts["urls"]))
		sameKeys(t, "entities.mentions", itemKeys(ents["mentions"]), append(itemKeys(fxEnts["mentions"]), "id"))
		hashtags := readJSON(t, filepath.Join(fixtureDir(t), "python-twitter-testdata", "apis_searches_search_tweets_query.json"))["includes"].(map[string]any)["tweets"].([]any)[2].(map[string]any)["entities"].(map[string]any)["hashtags"]
		sameKeys(t, "entities.hashtags", itemKeys(ents["hashtags"]), itemKeys(hashtags))
	})
	t.Run("partial errors", func(t *testing.T) {
		page := jsonlFirst(t, "twarc_v2_search_page_kpop_ko_en_with_errors.jsonl", func(map[string]any) bool { return true })
		s.AddTweet(Tweet{AuthorID: bobID, Text: "tweepy @nobodyknown"})
		r := search(t, s, "nobodyknown", "expansions", "entities.mentions.username")
		sameKeys(t, "errors[]", itemKeys(r.body["errors"]), itemKeys(page["errors"]))
	})
	t.Run("mentions", func(t *testing.T) {
		fx := cassetteBody(t, "tweepy_v2_users_mentions.json", 0)
		r := get(t, s, "/2/users/"+meID+"/mentions")
		sameKeys(t, "top level", keys(r.body), keys(fx))
		sameKeys(t, "tweet", itemKeys(r.body["data"]), itemKeys(fx["data"]))
		sameKeys(t, "meta", keys(r.body["meta"]), keys(fx["meta"]))
		fx2 := readJSON(t, filepath.Join(fixtureDir(t), "python-twitter-testdata", "apis_timeline_timeline_mentions.json"))
		r = get(t, s, "/2/users/"+meID+"/mentions?tweet.fields=created_at,public_metrics")
		sameKeys(t, "tweet with fields", itemKeys(r.body["data"]), append(itemKeys(fx2["data"]), "edit_history_tweet_ids"))
		sameKeys(t, "public_metrics", keys(r.body["data"].([]any)[0].(map[string]any)["public_metrics"]),
			append(keys(fx2["data"].([]any)[0].(map[string]any)["public_metrics"]), "bookmark_count", "impression_count"))
	})
	t.Run("tweet lookup and users/me", func(t *testing.T) {
		fx := cassetteBody(t, "tweepy_v2_get_tweet.json", 0)
		r := get(t, s, "/2/tweets/"+root.ID)
		sameKeys(t, "lookup", keys(r.body), keys(fx))
		sameKeys(t, "lookup data", keys(r.body["data"]), keys(fx["data"]))
		fx = cassetteBody(t, "tweepy_v2_users_me.json", 0)
		r = do(t, s, "GET", "/2/users/me", user, nil)
		sameKeys(t, "users/me", keys(r.body), keys(fx))
		sameKeys(t, "users/me data", keys(r.body["data"]), keys(fx["data"]))
	})
	t.Run("post tweet", func(t *testing.T) {
		for _, fx := range []map[string]any{
			cassetteBody(t, "tweepy_v2_create_and_delete_tweet.json", 0),
			readJSON(t, filepath.Join(fixtureDir(t), "python-twitter-testdata", "apis_tweet_create_tweet_resp.json")),
		} {
			r := do(t, s, "POST", "/2/tweets", user, map[string]any{"text": "shape " + strconv.Itoa(len(s.SentTweets()))})
			sameKeys(t, "create", keys(r.body), keys(fx))
			// Newer responses add edit_history_tweet_ids (reference §1.2).
			sameKeys(t, "create data", keys(r.body["data"]), append(keys(fx["data"]), "edit_history_tweet_ids"))
		}
	})
	t.Run("dm events", func(t *testing.T) {
		send := cassetteBody(t, "tweepy_v2_dm_conversations_and_dm_events.json", 0)
		r := do(t, s, "POST", "/2/dm_conversations/with/"+aliceID+"/messages", user, map[string]any{"text": "Testing 1"})
		sameKeys(t, "dm create", keys(r.body), keys(send))
		sameKeys(t, "dm create data", keys(r.body["data"]), keys(send["data"]))
		do(t, s, "POST", "/2/dm_conversations/with/"+aliceID+"/messages", user, map[string]any{"text": "Testing 2"})

		fx := cassetteBody(t, "tweepy_v2_dm_conversations_and_dm_events.json", 5)
		r = do(t, s, "GET", "/2/dm_conversations/with/"+aliceID+"/dm_events?max_results=1", user, nil)
		sameKeys(t, "dm events", keys(r.body), keys(fx))
		sameKeys(t, "dm event", itemKeys(r.body["data"]), itemKeys(fx["data"]))
		subsetKeys(t, "dm meta", keys(r.body["meta"]), keys(fx["meta"]))
		fx2 := readJSON(t, filepath.Join(fixtureDir(t), "python-twitter-testdata", "apis_dm_events_events_by_conversation.json"))
		r = do(t, s, "GET", "/2/dm_events?dm_event.fields=dm_conversation_id,created_at,sender_id", user, nil)
		sameKeys(t, "dm event with fields", itemKeys(r.body["data"]), itemKeys(fx2["data"]))
		empty := cassetteBody(t, "tweepy_v2_dm_conversations_and_dm_events.json", 3)
		r = do(t, s, "GET", "/2/dm_conversations/with/"+bobID+"/dm_events", user, nil)
		mustJSON(t, r.raw, mustMarshal(t, empty))
	})
	t.Run("stream rules", func(t *testing.T) {
		dir := filepath.Join(fixtureDir(t), "python-twitter-testdata")
		post := readJSON(t, filepath.Join(dir, "streams_post_rules.json"))
		summary := readJSON(t, filepath.Join(dir, "models_meta_stream.json"))
		r := addRules(t, s, "", ruleInput{Value: "tweepy", Tag: "t"}, ruleInput{Value: "wifi"})
		sameKeys(t, "add", keys(r.body), keys(post))
		sameKeys(t, "add data", itemKeys(r.body["data"]), itemKeys(post["data"]))
		sameKeys(t, "add meta", keys(r.body["meta"]), keys(post["meta"]))
		sameKeys(t, "add summary", keys(r.body["meta"].(map[string]any)["summary"]), keys(summary["summary"]))
		list := readJSON(t, filepath.Join(dir, "streams_get_rules.json"))
		r = get(t, s, "/2/tweets/search/stream/rules")
		sameKeys(t, "list", keys(r.body), keys(list))
		sameKeys(t, "list data", itemKeys(r.body["data"]), itemKeys(list["data"]))
		subsetKeys(t, "list meta", keys(r.body["meta"]), []string{"sent", "result_count"})
		del := readJSON(t, filepath.Join(dir, "streams_delete_rules.json"))
		r = do(t, s, "POST", "/2/tweets/search/stream/rules", app, map[string]any{"delete": map[string]any{"values": []string{"wifi"}}})
		sameKeys(t, "delete", keys(r.body), keys(del))
		sameKeys(t, "delete summary", keys(r.body["meta"].(map[string]any)["summary"]), keys(del["meta"].(map[string]any)["summary"]))
		bad := readJSON(t, filepath.Join(dir, "streams_delete_error.json"))
		r = do(t, s, "POST", "/2/tweets/search/stream/rules", app, map[string]any{"delete": map[string]any{}})
		sameKeys(t, "400", keys(r.body), keys(bad))
		sameKeys(t, "400 errors[]", itemKeys(r.body["errors"]), itemKeys(bad["errors"]))
	})
	t.Run("stream lines", func(t *testing.T) {
		line := jsonlFirst(t, "twarc_v2_filtered_stream.jsonl", func(m map[string]any) bool {
			d, ok := m["data"].(map[string]any)
			return ok && d["in_reply_to_user_id"] != nil
		})
		disc := jsonlFirst(t, "twarc_v2_filtered_stream.jsonl", func(m map[string]any) bool { return m["errors"] != nil })
		_, sr := openStream(t, s, "?tweet.fields=author_id,conversation_id,created_at,entities,in_reply_to_user_id,lang,referenced_tweets,public_metrics,possibly_sensitive,reply_settings&expansions=author_id,referenced_tweets.id&user.fields=created_at,description,protected,verified,profile_image_url,public_metrics,url")
		if sr == nil {
			t.Fatal("stream refused")
		}
		s.AddTweet(Tweet{AuthorID: bobID, Text: "@alice tweepy reply", InReplyToTweetID: root.ID})
		m := sr.next(t)
		sameKeys(t, "line", keys(m), keys(line))
		subsetKeys(t, "line data", keys(m["data"]), knownTweetKeys(t))
		subsetKeys(t, "line includes", keys(m["includes"]), keys(line["includes"]))
		sameKeys(t, "matching_rules[]", itemKeys(m["matching_rules"]), itemKeys(line["matching_rules"]))
		s.DisconnectStream("")
		m = sr.next(t)
		sameKeys(t, "disconnect", keys(m), keys(disc))
		sameKeys(t, "disconnect errors[]", itemKeys(m["errors"]), itemKeys(disc["errors"]))
	})
}

// knownTweetKeys is every tweet key seen in the recorded fixtures.
func knownTweetKeys(t *testing.T) []string {
	t.Helper()
	dir := fixtureDir(t)
	set := map[string]bool{}
	addAll := func(v any) {
		for _, k := range itemKeys(v) {
			set[k] = true
		}
	}
	page := jsonlFirst(t, "twarc_v2_search_page_kpop_ko_en_with_errors.jsonl", func(map[string]any) bool { return true })
	addAll(page["data"])
	addAll(page["includes"].(map[string]any)["tweets"])
	addAll(readJSON(t, filepath.Join(dir, "python-twitter-testdata", "apis_searches_search_tweets_query.json"))["data"])
	addAll([]any{readJSON(t, filepath.Join(dir, "python-twitter-testdata", "models_tweet.json"))})
	addAll(jsonlFirst(t, "twarc_v2_edited_tweet.jsonl", func(map[string]any) bool { return true })["data"])
	for _, k := range keys(jsonlFirst(t, "twarc_v2_filtered_stream.jsonl", func(m map[string]any) bool { return m["data"] != nil })["data"]) {
		set[k] = true
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	return out
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConcurrentUse(t *testing.T) {
	s, _ := newServer(t)
	addRules(t, s, "", ruleInput{Value: "load"})
	_, sr := openStream(t, s, "")
	var wg sync.WaitGroup
	errs := make(chan error, 160)
	send := func(method, path, body string) {
		req, _ := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", user)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			errs <- err
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			errs <- fmt.Errorf("%s %s: %d", method, path, resp.StatusCode)
		}
	}
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				s.AddTweet(Tweet{AuthorID: aliceID, Text: fmt.Sprintf("load %d %d @SBCare", i, j)})
				send("GET", "/2/tweets/search/recent?query=load", "")
				send("POST", "/2/tweets", fmt.Sprintf(`{"text":"answer %d %d"}`, i, j))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for range 80 {
		sr.next(t)
	}
	if n := len(s.SentTweets()); n != 80 {
		t.Fatalf("sent %d", n)
	}
}

// A reply is stored as X stores it: the replied-to author's @handle and
// the other handles leading that post in front of the text sent; search,
// mentions and the user timeline return it that way.
func TestReplyStoredWithLeadingMentions(t *testing.T) {
	s, c := newServer(t)
	root := s.AddTweet(Tweet{AuthorID: aliceID, Text: "@SBCare @bob my wifi is down"})
	reply := func(to, text string, exclude ...string) response {
		body := map[string]any{"text": text, "reply": map[string]any{"in_reply_to_tweet_id": to, "exclude_reply_user_ids": exclude}}
		return do(t, s, "POST", "/2/tweets", user, body)
	}
	c.advance(time.Minute)
	r := reply(root.ID, "Sorry, we're on it")
	if r.status != 201 {
		t.Fatalf("reply: %d %s", r.status, r.raw)
	}
	id := r.body["data"].(map[string]any)["id"].(string)
	if got, _ := s.Tweet(id); got.Text != "@alice @bob Sorry, we're on it" {
		t.Fatalf("stored text %q", got.Text)
	}
	if sent := s.SentTweets(); len(sent) != 1 || sent[0].Text != "Sorry, we're on it" {
		t.Fatalf("SentTweets %+v, want the text as sent", sent)
	}
	for _, path := range []string{"/2/users/" + meID + "/tweets", "/2/users/" + aliceID + "/mentions",
		"/2/tweets/search/recent?query=" + url.QueryEscape("from:"+meName)} {
		r := get(t, s, path)
		data, _ := r.body["data"].([]any)
		if len(data) == 0 || data[0].(map[string]any)["text"] != "@alice @bob Sorry, we're on it" {
			t.Errorf("%s: %s", path, r.raw)
		}
	}
	// The same answer again is X's duplicate, whichever form it is sent in.
	c.advance(time.Minute)
	if r := reply(root.ID, "Sorry, we're on it"); r.status != 403 || !strings.Contains(string(r.raw), "duplicate") {
		t.Errorf("duplicate: %d %s", r.status, r.raw)
	}
	if r := reply(root.ID, "@alice @bob Sorry, we're on it"); r.status != 403 {
		t.Errorf("duplicate with the handles written out: %d %s", r.status, r.raw)
	}
	// exclude_reply_user_ids leaves out a participant, never the author.
	r = reply(root.ID, "Checking the line now", bobID, aliceID)
	if got, _ := s.Tweet(r.body["data"].(map[string]any)["id"].(string)); got.Text != "@alice Checking the line now" {
		t.Errorf("with exclusions: %q", got.Text)
	}
	// A reply to our own reply keeps the thread's participants; a reply to
	// our own original post has nothing in front.
	r = reply(id, "Fixed now")
	if got, _ := s.Tweet(r.body["data"].(map[string]any)["id"].(string)); got.Text != "@alice @bob Fixed now" {
		t.Errorf("self-thread: %q", got.Text)
	}
	own := do(t, s, "POST", "/2/tweets", user, map[string]any{"text": "Maintenance tonight"})
	r = reply(own.body["data"].(map[string]any)["id"].(string), "Done")
	if got, _ := s.Tweet(r.body["data"].(map[string]any)["id"].(string)); got.Text != "Done" {
		t.Errorf("reply to our own post: %q", got.Text)
	}
}

// DropAnswerNext carries a request out and loses its answer;
// HoldAnswerNext carries it out and answers when released.
func TestAnswerFaults(t *testing.T) {
	s, _ := newServer(t)
	s.DropAnswerNext(EndpointCreateTweet, 1)
	b, _ := json.Marshal(map[string]any{"text": "lost answer"})
	req, _ := http.NewRequest("POST", s.URL()+"/2/tweets", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", user)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("got an answer %d, want a dropped connection", resp.StatusCode)
	}
	if sent := s.SentTweets(); len(sent) != 1 || sent[0].Text != "lost answer" {
		t.Fatalf("the post was not created: %+v", sent)
	}
	if logs := s.Requests(); logs[len(logs)-1].Status != 0 {
		t.Errorf("logged status %d, want 0", logs[len(logs)-1].Status)
	}

	release := make(chan struct{})
	s.HoldAnswerNext(EndpointCreateTweet, release)
	done := make(chan response, 1)
	go func() { done <- do(t, s, "POST", "/2/tweets", user, map[string]any{"text": "slow answer"}) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.SentTweets()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	r := get(t, s, "/2/tweets/search/recent?query="+url.QueryEscape("from:"+meName+" slow"))
	if ids := dataIDs(t, r); len(ids) != 1 {
		t.Fatalf("the held post is not searchable: %s", r.raw)
	}
	select {
	case <-done:
		t.Fatal("answered before release")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if r := <-done; r.status != 201 {
		t.Fatalf("held answer: %d %s", r.status, r.raw)
	}
}

// reply_settings: an author who limits replies to the accounts mentioned
// (or followed) gets X's "Reply to this conversation is not allowed" 403
// for anyone else, Enterprise apps included, in the whole conversation.
func TestReplySettings(t *testing.T) {
	s, _ := newServer(t, WithEnterprise())
	s.AddUser(User{ID: bobID, Username: "bob", Name: "Bob", Follows: []string{meID}})
	reply := func(to string, text string) response {
		return do(t, s, "POST", "/2/tweets", user, map[string]any{"text": text, "reply": map[string]any{"in_reply_to_tweet_id": to}})
	}
	closed := s.AddTweet(Tweet{AuthorID: aliceID, Text: "wifi down, only my friends may answer", ReplySettings: ReplyMentionedUsers})
	r := reply(closed.ID, "can we help?")
	if r.status != 403 {
		t.Fatalf("restricted reply: %d %s", r.status, r.raw)
	}
	mustJSON(t, r.raw, `{"detail":"Reply to this conversation is not allowed because you have not been mentioned or otherwise engaged by the author of the post you are replying to.","type":"about:blank","title":"Forbidden","status":403}`)
	if got := get(t, s, "/2/tweets/"+closed.ID+"?tweet.fields=reply_settings"); got.body["data"].(map[string]any)["reply_settings"] != "mentionedUsers" {
		t.Errorf("reply_settings rendered %s", got.raw)
	}
	// Inside the conversation, too.
	inside := s.AddTweet(Tweet{AuthorID: bobID, Text: "same here", InReplyToTweetID: closed.ID})
	if r := reply(inside.ID, "can we help you both?"); r.status != 403 {
		t.Errorf("reply inside a restricted conversation: %d %s", r.status, r.raw)
	}
	// Mentioned accounts may reply; so may followed ones under "following".
	open := s.AddTweet(Tweet{AuthorID: aliceID, Text: "@SBCare wifi down", ReplySettings: ReplyMentionedUsers})
	if r := reply(open.ID, "on it"); r.status != 201 {
		t.Errorf("mentioned: %d %s", r.status, r.raw)
	}
	followed := s.AddTweet(Tweet{AuthorID: bobID, Text: "router dead", ReplySettings: ReplyFollowing})
	if r := reply(followed.ID, "sorry to hear"); r.status != 201 {
		t.Errorf("followed: %d %s", r.status, r.raw)
	}
	notFollowed := s.AddTweet(Tweet{AuthorID: aliceID, Text: "router dead too", ReplySettings: ReplyFollowing})
	if r := reply(notFollowed.ID, "sorry to hear"); r.status != 403 {
		t.Errorf("not followed: %d %s", r.status, r.raw)
	}
}

// signOAuth1 is the Authorization header of a request signed with
// oauth1Cred (the fake's signature function, checked against X's
// documented example in TestOAuth1SignatureVerified).
func signOAuth1(s *Server, method, pathQuery, nonce string) string {
	u, _ := url.Parse(s.URL() + pathQuery)
	oauth := map[string]string{"oauth_consumer_key": oauth1Cred.ConsumerKey, "oauth_nonce": nonce, "oauth_signature_method": "HMAC-SHA1",
		"oauth_timestamp": "1773144000", "oauth_token": oauth1Cred.AccessToken, "oauth_version": "1.0"}
	oauth["oauth_signature"] = oauth1Signature(method, u, nil, oauth, oauth1Cred.ConsumerSecret, oauth1Cred.AccessSecret)
	var parts []string
	for k, v := range oauth {
		parts = append(parts, k+`="`+enc(v)+`"`)
	}
	sort.Strings(parts)
	return "OAuth " + strings.Join(parts, ", ")
}

// The fake checks OAuth 1.0a signatures: X's documented example signs as
// documented; a request signed for another query, another method, with a
// wrong secret or replayed is a 401; a JSON body is not signed.
func TestOAuth1SignatureVerified(t *testing.T) {
	// X's "Creating a signature" example (a form body, v1.1).
	u, _ := url.Parse("https://api.twitter.com/1.1/statuses/update.json?include_entities=true")
	form, _ := url.ParseQuery("status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21")
	got := oauth1Signature("POST", u, form, map[string]string{
		"oauth_consumer_key": "xvz1evFS4wEEPTGEFPHBog", "oauth_nonce": "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
		"oauth_signature_method": "HMAC-SHA1", "oauth_timestamp": "1318622958",
		"oauth_token": "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", "oauth_version": "1.0",
	}, "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE")
	if got != "hCtSmYh+iHYCEqBWrE7C7hYmtUk=" {
		t.Fatalf("X's example signs as %s", got)
	}

	s, _ := newServer(t)
	if r := do(t, s, "GET", "/2/users/me", signOAuth1(s, "GET", "/2/users/me", "a"), nil); r.status != 200 {
		t.Fatalf("signed: %d %s", r.status, r.raw)
	}
	if r := do(t, s, "GET", "/2/users/me", signOAuth1(s, "GET", "/2/users/me", "a"), nil); r.status != 401 {
		t.Errorf("replayed nonce: %d", r.status)
	}
	q := "/2/users/" + meID + "/tweets?max_results=5"
	if r := do(t, s, "GET", "/2/users/"+meID+"/tweets?max_results=6", signOAuth1(s, "GET", q, "b"), nil); r.status != 401 {
		t.Errorf("signed for another query: %d", r.status)
	}
	if r := do(t, s, "GET", q, signOAuth1(s, "POST", q, "c"), nil); r.status != 401 {
		t.Errorf("signed for another method: %d", r.status)
	}
	bad := strings.Replace(signOAuth1(s, "GET", "/2/users/me", "d"), `oauth_consumer_key="ckey"`, `oauth_consumer_key="other"`, 1)
	if r := do(t, s, "GET", "/2/users/me", bad, nil); r.status != 401 {
		t.Errorf("another consumer key: %d", r.status)
	}
	// A JSON body is not part of the signature: the same header signs any
	// body.
	r := do(t, s, "POST", "/2/tweets", signOAuth1(s, "POST", "/2/tweets", "e"), map[string]any{"text": "signed without the body"})
	if r.status != 201 {
		t.Fatalf("JSON POST: %d %s", r.status, r.raw)
	}
	if l := s.Requests(); l[len(l)-1].Auth != AuthOAuth1 || l[len(l)-1].UserID != meID {
		t.Errorf("logged as %+v", l[len(l)-1])
	}
}

// By default the fake holds X's published limits, per app for app-only
// requests and per user for user-context ones: 100 posts per user per 15
// minutes, then 429 until the window resets on the fake clock; another
// user's window is their own.
func TestDefaultRateLimitsPerAppAndUser(t *testing.T) {
	s, c := newServer(t, WithUserToken("other-token", bobID))
	if r := search(t, s, "wifi"); r.header.Get("x-rate-limit-limit") != "450" {
		t.Errorf("app search limit %s, want 450", r.header.Get("x-rate-limit-limit"))
	}
	if r := do(t, s, "GET", "/2/tweets/search/recent?query=wifi", user, nil); r.header.Get("x-rate-limit-limit") != "300" || r.header.Get("x-rate-limit-remaining") != "299" {
		t.Errorf("user search headers %v, want 300 and its own window", r.header)
	}
	reset := strconv.FormatInt(c.now().Add(15*time.Minute).Unix(), 10)
	for i := range 100 {
		r := do(t, s, "POST", "/2/tweets", user, map[string]any{"text": "post " + strconv.Itoa(i)})
		if r.status != 201 || r.header.Get("x-rate-limit-limit") != "100" || r.header.Get("x-rate-limit-remaining") != strconv.Itoa(99-i) {
			t.Fatalf("post %d: %d %v", i, r.status, r.header)
		}
	}
	r := do(t, s, "POST", "/2/tweets", user, map[string]any{"text": "one too many"})
	if r.status != 429 || r.header.Get("x-rate-limit-remaining") != "0" || r.header.Get("x-rate-limit-reset") != reset {
		t.Fatalf("101st post: %d %v", r.status, r.header)
	}
	if r := do(t, s, "POST", "/2/tweets", "Bearer other-token", map[string]any{"text": "another user"}); r.status != 201 {
		t.Errorf("another user's post: %d %s", r.status, r.raw)
	}
	c.advance(15 * time.Minute)
	if r := do(t, s, "POST", "/2/tweets", user, map[string]any{"text": "next window"}); r.status != 201 || r.header.Get("x-rate-limit-remaining") != "99" {
		t.Errorf("after the window: %d %v", r.status, r.header)
	}
	if n := len(s.SentTweets()); n != 102 {
		t.Errorf("%d posts created, want 102", n)
	}
}

// The OAuth 2.0 PKCE flow: authorize redirects with the state and a code;
// the code is good once, for the verifier of its challenge; refresh tokens
// are single-use; the access token authenticates as the approving user.
func TestOAuth2PKCE(t *testing.T) {
	s := New(WithOAuth2Client("cid", "csecret", "42"))
	defer s.Close()
	s.AddUser(User{ID: "42", Username: "SBCare"})
	verifier := strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {"cid"}, "redirect_uri": {"http://127.0.0.1:1/callback"},
		"scope": {"tweet.read users.read offline.access"}, "state": {"st"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authorize := func() string {
		t.Helper()
		resp, err := noRedirect.Get(s.URL() + "/i/oauth2/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc.Query().Get("state") != "st" || loc.Query().Get("code") == "" {
			t.Fatalf("authorize: %d %s", resp.StatusCode, loc)
		}
		return loc.Query().Get("code")
	}
	token := func(form url.Values) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", s.URL()+"/2/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("cid", "csecret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	exchange := url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {"http://127.0.0.1:1/callback"}}
	exchange.Set("code", authorize())
	exchange.Set("code_verifier", strings.Repeat("w", 50))
	if code, out := token(exchange); code != 400 || out["error"] != "invalid_request" {
		t.Errorf("wrong verifier: %d %v", code, out)
	}
	if code, _ := token(exchange); code != 400 {
		t.Errorf("a refused code was accepted again: %d", code)
	}
	exchange.Set("code", authorize())
	exchange.Set("code_verifier", verifier)
	code, out := token(exchange)
	if code != 200 || out["token_type"] != "bearer" || out["expires_in"] != float64(7200) || out["refresh_token"] == nil {
		t.Fatalf("exchange: %d %v", code, out)
	}
	if code, _ := token(exchange); code != 400 {
		t.Errorf("a used code was accepted again: %d", code)
	}
	req, _ := http.NewRequest("GET", s.URL()+"/2/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+out["access_token"].(string))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"username":"SBCare"`) {
		t.Errorf("users/me with the new token: %s", body)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {out["refresh_token"].(string)}}
	if code, next := token(refresh); code != 200 || next["refresh_token"] == out["refresh_token"] {
		t.Errorf("refresh: %d %v", code, next)
	}
	if code, _ := token(refresh); code != 400 {
		t.Errorf("a spent refresh token was accepted: %d", code)
	}
}
