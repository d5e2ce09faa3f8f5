package main

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/x"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/store"
)

// recordingProxy is a forward proxy for tests: plain-HTTP requests for
// slack.test and x.test go to the fakes; CONNECT tunnels (HTTPS, and every
// WebSocket through a proxy) are recorded and refused.
type recordingProxy struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD host path"
}

func newRecordingProxy(t *testing.T, routes map[string]string) *recordingProxy {
	p := &recordingProxy{}
	rp := &httputil.ReverseProxy{FlushInterval: -1, ErrorLog: log.New(io.Discard, "", 0), Rewrite: func(r *httputil.ProxyRequest) {
		target, _ := url.Parse(routes[r.In.URL.Host])
		r.SetURL(target)
		r.Out.URL.Path = r.In.URL.Path // target has no path of its own here
	}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.Host+" "+r.URL.Path)
		p.mu.Unlock()
		if _, ok := routes[r.URL.Host]; r.Method == http.MethodConnect || !ok {
			http.Error(w, "tunnel refused by the test proxy", http.StatusForbidden)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *recordingProxy) saw(prefix string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.ContainsFunc(p.seen, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

func (p *recordingProxy) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.seen, "\n")
}

// Every outbound client honours HTTP_PROXY and HTTPS_PROXY: serve's Slack
// Web API client, its X client (search, mentions and DM polls), the
// filtered stream, the OAuth 2.0 refresh, the Socket Mode dialer and the
// clients of check -online and x-login (the same constructors). Go never
// proxies loopback addresses, so the clients are pointed at slack.test and
// x.test, which only the proxy can reach.
func TestOutboundProxy(t *testing.T) {
	w := newCLIWorld(t)
	proxy := newRecordingProxy(t, map[string]string{"slack.test": w.slack.URL(), "x.test": w.x.URL()})
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("HTTPS_PROXY", proxy.URL)
	t.Setenv("NO_PROXY", "")
	w.slack.AddChannel("C0NETWORK", "care-network", "U0MANAGER1")
	w.slack.AddChannel("C0TRIAGE", "care-triage")

	path := w.config(t, func(s string) string {
		s = strings.Replace(s, w.slack.APIURL(), "http://slack.test/api/", 1)
		s = strings.Replace(s, "api_base_url: "+w.x.URL(), "api_base_url: http://x.test\n  stream: true\n  searches:\n    - name: signal\n      query: signal", 1)
		return s
	})
	cfg, err := config.Load(path, config.LevelServe)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(ctx, cfg, appOptions{Logger: slog.New(slog.DiscardHandler), Listener: ln, LeaderCheck: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("newApp through the proxy: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	want := []string{
		"POST slack.test /api/auth.test",
		"POST slack.test /api/apps.connections.open",
		"GET x.test /2/tweets/search/recent",
		"GET x.test /2/users/9000000/mentions",
		"GET x.test /2/dm_events",
		"GET x.test /2/tweets/search/stream",
	}
	deadline := time.Now().Add(15 * time.Second)
	for slices.ContainsFunc(want, func(p string) bool { return !proxy.saw(p) }) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	for _, p := range want {
		if !proxy.saw(p) {
			t.Errorf("no %q through the proxy; it saw:\n%s", p, proxy.log())
		}
	}

	// The OAuth 2.0 refresh of an account (serve's userAuth).
	st, err := store.Open(context.Background(), cfg.Store.URL.Reveal(), store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acct := cfg.X.Accounts[0]
	acct.OAuth2 = &config.OAuth2{ClientID: "cid", AccessToken: config.NewSecret("a"), RefreshToken: config.NewSecret("r")}
	au, err := userAuth(context.Background(), cfg, acct, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	_ = au.(*x.OAuth2).Refresh(context.Background()) // the fake refuses the token; the request is what counts
	if !proxy.saw("POST x.test /2/oauth2/token") {
		t.Errorf("the OAuth 2.0 refresh did not go through the proxy:\n%s", proxy.log())
	}

	// WebSockets (Socket Mode) and HTTPS go through a CONNECT tunnel.
	if _, _, err := socketDialer().Dial("ws://slack.test/link/?ticket=1", nil); err == nil {
		t.Error("the Socket Mode dial bypassed the refusing proxy")
	}
	if !proxy.saw("CONNECT slack.test:80") {
		t.Errorf("the Socket Mode dialer did not use the proxy:\n%s", proxy.log())
	}
	cfg.Slack.APIBaseURL = "https://slack.test/api/"
	_, err = slackAuthTest(context.Background(), newSlackClient(cfg), slackAPIURL(cfg))
	if !proxy.saw("CONNECT slack.test:443") {
		t.Errorf("HTTPS did not use HTTPS_PROXY:\n%s", proxy.log())
	}
	if err == nil || !strings.Contains(err.Error(), "cannot reach Slack at https://slack.test/api/") {
		t.Errorf("a proxy refusing the tunnel: %v", err)
	}
}
