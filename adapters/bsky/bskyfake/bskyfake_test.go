package bskyfake

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/carebridge/carebridge/bridge/clocktest"
)

func call(t *testing.T, s *Server, method, nsid, query, token string, body any, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, s.URL()+"/xrpc/"+nsid+"?"+query, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func signIn(t *testing.T, s *Server, handle, pw string) string {
	t.Helper()
	resp, out := call(t, s, "POST", "com.atproto.server.createSession", "", "", map[string]string{"identifier": handle, "password": pw}, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("createSession: %d %v", resp.StatusCode, out)
	}
	return out["accessJwt"].(string)
}

func TestSignInLimitAnswers429WithRateLimitHeaders(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC))
	s := New(WithClock(clk))
	defer s.Close()
	s.AddAccount("a.bsky.social", "pw", "A")
	for i := 0; i < SigninsPer5Min; i++ {
		signIn(t, s, "a.bsky.social", "pw")
	}
	resp, out := call(t, s, "POST", "com.atproto.server.createSession", "", "", map[string]string{"identifier": "a.bsky.social", "password": "pw"}, nil)
	if resp.StatusCode != 429 || out["error"] != "RateLimitExceeded" || resp.Header.Get("ratelimit-remaining") != "0" ||
		resp.Header.Get("ratelimit-policy") != "30;w=300" || resp.Header.Get("ratelimit-reset") == "" {
		t.Fatalf("31st sign-in: %d %v %v", resp.StatusCode, out, resp.Header)
	}
	clk.Advance(5 * time.Minute)
	signIn(t, s, "a.bsky.social", "pw")
}

func TestCreateRecordValidatesAndRefusesAReusedKey(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC))
	s := New(WithClock(clk), WithAccessTTL(time.Hour))
	defer s.Close()
	did := s.AddAccount("a.bsky.social", "pw", "A")
	tok := signIn(t, s, "a.bsky.social", "pw")
	rec := func(text string, reply any) map[string]any {
		r := map[string]any{"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-03-09T10:00:00.000Z"}
		if reply != nil {
			r["reply"] = reply
		}
		return map[string]any{"repo": did, "collection": "app.bsky.feed.post", "rkey": "3lbcdefghijk2", "record": r}
	}
	for name, c := range map[string]struct {
		body   map[string]any
		status int
		msg    string
	}{
		"too many graphemes": {rec(strings.Repeat("é", 301), nil), 400, "300 graphemes"},
		"too many bytes":     {rec(strings.Repeat("👨‍👩‍👧‍👦", 130), nil), 400, "3000"},
		"reply without cid":  {rec("hi", map[string]any{"root": map[string]string{"uri": "at://x/app.bsky.feed.post/1"}, "parent": map[string]string{"uri": "at://x/app.bsky.feed.post/1"}}), 400, "strongRef"},
	} {
		resp, out := call(t, s, "POST", "com.atproto.repo.createRecord", "", tok, c.body, nil)
		if resp.StatusCode != c.status || !strings.Contains(out["message"].(string), c.msg) {
			t.Errorf("%s: %d %v", name, resp.StatusCode, out)
		}
	}
	if resp, out := call(t, s, "POST", "com.atproto.repo.createRecord", "", tok, rec("hello", nil), nil); resp.StatusCode != 200 {
		t.Fatalf("valid record: %d %v", resp.StatusCode, out)
	}
	if resp, _ := call(t, s, "POST", "com.atproto.repo.createRecord", "", tok, rec("hello again", nil), nil); resp.StatusCode != 500 {
		t.Errorf("reused key: %d, want 500", resp.StatusCode)
	}
	clk.Advance(time.Hour)
	if resp, out := call(t, s, "GET", "app.bsky.feed.getPosts", "uris=x", tok, nil, nil); resp.StatusCode != 400 || out["error"] != "ExpiredToken" {
		t.Errorf("expired token: %d %v", resp.StatusCode, out)
	}
	if resp, _ := call(t, s, "GET", "chat.bsky.convo.getConvoForMembers", "members="+did, tok, nil, nil); resp.StatusCode != 501 {
		t.Errorf("chat without the proxy header: %d, want 501", resp.StatusCode)
	}
}

func TestJetstreamCursorIsClampedTo36Hours(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC))
	s := New(WithClock(clk))
	defer s.Close()
	did := s.AddAccount("a.bsky.social", "pw", "A")
	s.AddPost(did, "old", PostOptions{})
	clk.Advance(37 * time.Hour)
	s.AddPost(did, "new", PostOptions{})
	s.IdentityEvent(did, "b.bsky.social")
	j := s.NewJetstream()
	conn, _, err := websocket.DefaultDialer.Dial(j.URL()+"?wantedCollections=app.bsky.feed.post&cursor=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var got []Event
	for len(got) < 2 {
		var ev Event
		if err := conn.ReadJSON(&ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	if got[0].Kind != "commit" || !strings.Contains(string(got[0].Commit.Record), `"new"`) || got[1].Kind != "identity" {
		t.Errorf("replay from a cursor older than 36 h: %+v, want the new post and the identity event only", got)
	}
}
