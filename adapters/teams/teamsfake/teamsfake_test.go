package teamsfake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/teams/teamsfake"
	"github.com/carebridge/carebridge/bridge/clocktest"
)

type conn struct {
	t     *testing.T
	fake  *teamsfake.Server
	token string
}

func connect(t *testing.T, opts ...teamsfake.Option) (*conn, *clocktest.Clock) {
	clock := clocktest.New(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	fake := teamsfake.New(append([]teamsfake.Option{teamsfake.WithClock(clock)}, opts...)...)
	t.Cleanup(fake.Close)
	id := fake.Identity()
	resp, err := http.PostForm(fake.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {id.AppID},
		"client_secret": {id.ClientSecret}, "scope": {"https://api.botframework.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" || tok.ExpiresIn != 3600 {
		t.Fatalf("token: %v %+v", err, tok)
	}
	return &conn{t: t, fake: fake, token: tok.AccessToken}, clock
}

// do makes a connector call and returns the status, the error code and
// the decoded body.
func (c *conn) do(method, path, body string) (int, string, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, strings.TrimSuffix(c.fake.ServiceURL(), "/")+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	code := ""
	if e, ok := out["error"].(map[string]any); ok {
		code, _ = e["code"].(string)
	}
	return resp.StatusCode, code, out
}

func conv(id string) string { return "/v3/conversations/" + url.PathEscape(id) }

func TestConnectorIsStrict(t *testing.T) {
	c, clock := connect(t)
	id := c.fake.Identity()
	ch := c.fake.AddChannel("care")
	create := func(body string) (int, string, map[string]any) { return c.do("POST", "/v3/conversations", body) }
	msg := `{"type":"message","text":"hi"}`

	if s, code, _ := create(`{"isGroup":true,"channelData":{"channel":{"id":"` + ch + `"}},"tenantId":"` + id.TenantID + `"}`); s != 400 || code != "BadSyntax" {
		t.Fatalf("without activity: %d %s", s, code)
	}
	if s, code, _ := create(`{"isGroup":true,"channelData":{"channel":{"id":"` + ch + `"}},"activity":` + msg + `}`); s != 400 || code != "BadSyntax" {
		t.Fatalf("without tenant: %d %s", s, code)
	}
	if s, code, _ := create(`{"isGroup":true,"members":[{"id":"29:1a"}],"activity":` + msg + `,"tenantId":"` + id.TenantID + `"}`); s != 400 || code != "BadSyntax" {
		t.Fatalf("group chat: %d %s", s, code)
	}
	s, _, out := create(`{"isGroup":true,"channelData":{"channel":{"id":"` + ch + `"}},"activity":` + msg + `,"tenantId":"` + id.TenantID + `"}`)
	root, _ := out["activityId"].(string)
	if s != 201 || len(root) != 13 || out["id"] != ch+";messageid="+root {
		t.Fatalf("create: %d %v", s, out)
	}
	s, _, out = c.do("POST", conv(ch+";messageid="+root)+"/activities", msg)
	reply, _ := out["id"].(string)
	if s != 201 || reply == "" || reply == root {
		t.Fatalf("reply: %d %v", s, out)
	}
	if th := c.fake.Thread(ch, root); len(th) != 2 || th[1].ID != reply {
		t.Fatalf("thread %+v", th)
	}
	// A reply is updated through its thread's conversation only.
	if s, code, _ := c.do("PUT", conv(ch)+"/activities/"+reply, `{"type":"message","text":"new"}`); s != 404 || code != "NotFound" {
		t.Fatalf("update through the bare channel: %d %s", s, code)
	}
	if s, _, _ := c.do("PUT", conv(ch+";messageid="+root)+"/activities/"+reply, `{"type":"message","text":"new"}`); s != 200 {
		t.Fatalf("update: %d", s)
	}
	if m, _ := c.fake.Message(reply); m.Text != "new" || m.Updates != 1 {
		t.Fatalf("updated message %+v", m)
	}
	// Over the size limit.
	big := `{"type":"message","text":"` + strings.Repeat("x", teamsfake.DefaultMaxMessageBytes) + `"}`
	if s, code, _ := c.do("POST", conv(ch+";messageid="+root)+"/activities", big); s != 413 || code != "MessageSizeTooBig" {
		t.Fatalf("oversize: %d %s", s, code)
	}
	// An hour later the token has expired.
	clock.Advance(time.Hour)
	if s, _, _ := c.do("POST", conv(ch+";messageid="+root)+"/activities", msg); s != 401 {
		t.Fatalf("expired token: %d", s)
	}
}

// Per thread (a channel): 7 a second and 60 in 30 seconds.
func TestConnectorThrottlesPerThread(t *testing.T) {
	c, clock := connect(t)
	id := c.fake.Identity()
	ch := c.fake.AddChannel("care")
	other := c.fake.AddChannel("other")
	post := func(channel string) (int, http.Header) {
		req, _ := http.NewRequest("POST", strings.TrimSuffix(c.fake.ServiceURL(), "/")+"/v3/conversations", strings.NewReader(
			`{"isGroup":true,"channelData":{"channel":{"id":"`+channel+`"}},"activity":{"type":"message","text":"x"},"tenantId":"`+id.TenantID+`"}`))
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	for i := range 7 {
		if s, _ := post(ch); s != 201 {
			t.Fatalf("send %d: %d", i, s)
		}
	}
	if s, h := post(ch); s != 429 || h.Get("Retry-After") != "1" {
		t.Fatalf("8th in a second: %d Retry-After %q", s, h.Get("Retry-After"))
	}
	if s, _ := post(other); s != 201 {
		t.Fatalf("another channel is throttled too: %d", s)
	}
	sent := 7
	for sent < 60 {
		clock.Advance(300 * time.Millisecond)
		if s, _ := post(ch); s == 201 {
			sent++
		}
	}
	clock.Advance(2 * time.Second) // clear of the 7/s and 8/2 s windows
	if s, h := post(ch); s != 429 || h.Get("Retry-After") == "" || h.Get("Retry-After") == "1" {
		t.Fatalf("61st in 30 s: %d Retry-After %q", s, h.Get("Retry-After"))
	}
	clock.Advance(30 * time.Second)
	if s, _ := post(ch); s != 201 {
		t.Fatalf("after the window: %d", s)
	}
}

func TestTokenEndpointChecksTheClient(t *testing.T) {
	c, _ := connect(t)
	id := c.fake.Identity()
	for _, tc := range []struct {
		url, secret string
		status      int
		code        string
	}{
		{c.fake.TokenURL(), "wrong", 401, "invalid_client"},
		{strings.Replace(c.fake.TokenURL(), id.TenantID, "botframework.com", 1), id.ClientSecret, 400, "unauthorized_client"},
	} {
		resp, err := http.PostForm(tc.url, url.Values{"grant_type": {"client_credentials"}, "client_id": {id.AppID},
			"client_secret": {tc.secret}, "scope": {"https://api.botframework.com/.default"}})
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != tc.status || e.Error != tc.code {
			t.Errorf("%s: %d %s", tc.url, resp.StatusCode, e.Error)
		}
	}
}
