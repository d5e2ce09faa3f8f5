package x

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/x/xfake"
	"github.com/carebridge/carebridge/bridge"
)

// The worked example of X's "Creating a signature" documentation.
func TestOAuth1SignatureMatchesXDocumentation(t *testing.T) {
	o := &OAuth1{
		ConsumerKey:    "xvz1evFS4wEEPTGEFPHBog",
		ConsumerSecret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
		Token:          "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
		TokenSecret:    "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
		Clock:          fixedClock(time.Unix(1318622958, 0)),
		nonce:          func() string { return "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg" },
	}
	body := "status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21"
	req, _ := http.NewRequest("POST", "https://api.twitter.com/1.1/statuses/update.json?include_entities=true", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := o.Authorize(context.Background(), req, []byte(body)); err != nil {
		t.Fatal(err)
	}
	h := req.Header.Get("Authorization")
	if !strings.Contains(h, `oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"`) {
		t.Errorf("Authorization = %s", h)
	}
	if !strings.HasPrefix(h, "OAuth ") || !strings.Contains(h, `oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"`) {
		t.Errorf("Authorization = %s", h)
	}
}

// A test vector for what production sends: an X API v2 POST with a JSON
// body. RFC 5849 §3.4.1.3.1 puts only query and form-body parameters in
// the signature base string, so the body is not signed; with the keys,
// nonce and timestamp of X's documented example the base string is
//
//	POST&https%3A%2F%2Fapi.x.com%2F2%2Ftweets&oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0
//
// and its HMAC-SHA1 is lr+tV/DKclEvXKVjG6tgaSSLV0k= (computed independently
// with Python's hmac and urllib.parse.quote(safe="-._~")).
func TestOAuth1SignatureJSONBodyVector(t *testing.T) {
	o := &OAuth1{
		ConsumerKey:    "xvz1evFS4wEEPTGEFPHBog",
		ConsumerSecret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
		Token:          "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
		TokenSecret:    "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
		Clock:          fixedClock(time.Unix(1318622958, 0)),
		nonce:          func() string { return "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg" },
	}
	for _, body := range []string{`{"text":"Hello Ladies + Gentlemen, a signed OAuth request!"}`, `{"text":"status=other","reply":{"in_reply_to_tweet_id":"1"}}`} {
		req, _ := http.NewRequest("POST", "https://api.x.com/2/tweets", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if err := o.Authorize(context.Background(), req, []byte(body)); err != nil {
			t.Fatal(err)
		}
		if h := req.Header.Get("Authorization"); !strings.Contains(h, `oauth_signature="lr%2BtV%2FDKclEvXKVjG6tgaSSLV0k%3D"`) {
			t.Errorf("body %s: Authorization = %s", body, h)
		}
	}
}

// The fake X verifies OAuth 1.0a signatures: replies and DMs signed by
// OAuth1 go out; a wrong token secret is refused with a permanent error.
func TestOAuth1SignedRequestsAcceptedByX(t *testing.T) {
	cred := xfake.OAuth1Credentials{ConsumerKey: "ck-app", ConsumerSecret: "cs-app", AccessToken: "at-sbcare", AccessSecret: "as-sbcare"}
	w := newWorld(t, xfake.WithOAuth1(cred, ourID))
	o := &OAuth1{ConsumerKey: cred.ConsumerKey, ConsumerSecret: cred.ConsumerSecret, Token: cred.AccessToken, TokenSecret: cred.AccessSecret, Clock: w}
	r := NewReplier(w.c, []Account{{Handle: ourHandle, UserID: ourID}}, map[string]Authorizer{ourHandle: o})
	root := w.tweet("42", "@SBCare Q&A: is the 5G outage over? 100% down here")
	if _, err := r.Reply(t.Context(), ourHandle, root.ID, "Yes — fixed at 10:05. Sorry! (details: https://status.example.com/?id=5&x=é)"); err != nil {
		t.Fatalf("signed reply: %v", err)
	}
	if _, err := r.SendDM(t.Context(), ourHandle, "42", "Could you DM us your line number?"); err != nil {
		t.Fatalf("signed DM: %v", err)
	}
	if _, found, err := r.FindDM(t.Context(), ourHandle, "42", "Could you DM us your line number?"); err != nil || !found {
		t.Fatalf("signed DM read: %v %v", found, err)
	}
	for _, l := range w.fake.Requests() {
		if l.Method == "POST" && (l.Auth != xfake.AuthOAuth1 || l.Status/100 != 2) {
			t.Errorf("%s %s: auth %s, status %d", l.Method, l.Path, l.Auth, l.Status)
		}
	}
	wrong := *o
	wrong.TokenSecret = "not-the-secret"
	r2 := NewReplier(w.c, []Account{{Handle: ourHandle, UserID: ourID}}, map[string]Authorizer{ourHandle: &wrong})
	if _, err := r2.Post(t.Context(), ourHandle, "Good morning"); err == nil || !bridge.IsPermanent(err) || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("wrong token secret: %v, want a permanent 401", err)
	}
}

func TestOAuth2RefreshesExpiredToken(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		user, pass, ok := r.BasicAuth()
		if r.FormValue("grant_type") != "refresh_token" || r.FormValue("refresh_token") != "r1" || !ok || user != "cid" || pass != "secret" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{"token_type":"bearer","access_token":"a2","refresh_token":"r2","expires_in":7200,"scope":"tweet.write"}`))
	}))
	defer srv.Close()
	o := NewOAuth2(srv.URL, "cid", "secret", "a1", "r1")
	var saved string
	o.OnRefresh = func(_ context.Context, access, refresh string, _ time.Time) { saved = access + "/" + refresh }
	req, _ := http.NewRequest("GET", "http://x/2/users/me", nil)
	if err := o.Authorize(context.Background(), req, nil); err != nil || req.Header.Get("Authorization") != "Bearer a1" {
		t.Fatalf("first: %v %q", err, req.Header.Get("Authorization"))
	}
	o.expiry = time.Now() // expired
	if err := o.Authorize(context.Background(), req, nil); err != nil || req.Header.Get("Authorization") != "Bearer a2" {
		t.Fatalf("after expiry: %v %q", err, req.Header.Get("Authorization"))
	}
	if calls != 1 || saved != "a2/r2" {
		t.Errorf("calls %d saved %q", calls, saved)
	}
	// A refresh the server refuses is an error naming the status.
	o2 := NewOAuth2(srv.URL, "cid", "wrong", "a1", "r1")
	if err := o2.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("refused refresh: %v", err)
	}
}

// A refresh whose answer is unusable fails without echoing the answer,
// which may hold a token, or the credentials sent.
func TestOAuth2RefreshErrorsHoldNoToken(t *testing.T) {
	for _, answer := range []string{
		`{"token_type":"bearer","access_token":"SECRET-NEW-ACCESS-1","refresh_token":"SECRET-NEW-REFRESH-2"`, // cut short
		`{"refresh_token":"SECRET-NEW-REFRESH-2"}`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(answer))
		}))
		o := NewOAuth2(srv.URL, "client", "SECRET-CLIENT-3", "SECRET-OLD-ACCESS-4", "SECRET-OLD-REFRESH-5")
		err := o.Refresh(context.Background())
		srv.Close()
		if err == nil {
			t.Fatalf("answer %s: no error", answer)
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("the error shows a secret: %v", err)
		}
	}
}

// An OAuth 2.0 user token X no longer accepts (401) is refreshed once and
// the post goes out; concurrent posts that all met the 401 share one
// refresh, because X's refresh tokens are single-use.
func TestOAuth2RefreshesAfter401(t *testing.T) {
	w := newWorld(t)
	var refreshes atomic.Int32
	tokens := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		n := refreshes.Add(1)
		if r.FormValue("refresh_token") != fmt.Sprintf("r%d", n) {
			http.Error(rw, `{"error":"invalid_request","error_description":"Value passed for the token was invalid."}`, http.StatusBadRequest)
			return
		}
		access := fmt.Sprintf("a%d", n+1)
		w.fake.AddUserToken(access, ourID)
		fmt.Fprintf(rw, `{"token_type":"bearer","access_token":%q,"refresh_token":"r%d","expires_in":7200}`, access, n+1)
	}))
	defer tokens.Close()
	o := NewOAuth2(tokens.URL, "cid", "secret", "a-revoked", "r1")
	var saved []string
	var mu sync.Mutex
	o.OnRefresh = func(_ context.Context, access, refresh string, _ time.Time) {
		mu.Lock()
		saved = append(saved, access+"/"+refresh)
		mu.Unlock()
	}
	r := NewReplier(w.c, []Account{{Handle: ourHandle, UserID: ourID}}, map[string]Authorizer{ourHandle: o})

	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.Post(t.Context(), ourHandle, fmt.Sprintf("Good morning %d", i))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("post %d: %v", i, err)
		}
	}
	if n := len(w.fake.SentTweets()); n != 5 {
		t.Errorf("%d posts on X, want 5", n)
	}
	if n := refreshes.Load(); n != 1 || len(saved) != 1 || saved[0] != "a2/r2" {
		t.Errorf("%d refreshes, saved %v; want one refresh saving a2/r2", n, saved)
	}

	// A refresh X refuses (the refresh token was revoked too) is a
	// permanent error naming the refresh, not a loop.
	o2 := NewOAuth2(tokens.URL, "cid", "secret", "a-revoked", "r-revoked")
	r2 := NewReplier(w.c, []Account{{Handle: ourHandle, UserID: ourID}}, map[string]Authorizer{ourHandle: o2})
	_, err := r2.Post(t.Context(), ourHandle, "Good evening")
	if err == nil || !bridge.IsPermanent(err) || !strings.Contains(err.Error(), "refresh after 401") {
		t.Errorf("refused refresh: %v", err)
	}
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// movableClock is a clock a test sets.
type movableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movableClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *movableClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// The access token's expiry is read on the clock the authorizer is given.
func TestOAuth2ExpiryFollowsItsClock(t *testing.T) {
	refreshes := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refreshes++
		fmt.Fprintf(w, `{"token_type":"bearer","access_token":"a%d","refresh_token":"r%d","expires_in":7200}`, refreshes+1, refreshes+1)
	}))
	defer srv.Close()
	clock := &movableClock{t: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}
	o := NewOAuth2(srv.URL, "cid", "", "a1", "r1")
	o.Clock = clock
	if err := o.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://x/2/users/me", nil)
	clock.set(clock.Now().Add(118 * time.Minute)) // 2 minutes left: still good
	if err := o.Authorize(t.Context(), req, nil); err != nil || refreshes != 1 || req.Header.Get("Authorization") != "Bearer a2" {
		t.Fatalf("before expiry: %v, %d refreshes, %q", err, refreshes, req.Header.Get("Authorization"))
	}
	clock.set(clock.Now().Add(90 * time.Second)) // 30 s left: refreshed first
	if err := o.Authorize(t.Context(), req, nil); err != nil || refreshes != 2 || req.Header.Get("Authorization") != "Bearer a3" {
		t.Fatalf("near expiry: %v, %d refreshes, %q", err, refreshes, req.Header.Get("Authorization"))
	}
}

// A refresh the token endpoint refuses (400, 401) is an error naming the
// status and the RFC 6749 error code, never the answer's text, which may
// quote a token: not in the error, not in the log of the poller that met
// it.
func TestOAuth2RefusedRefreshShowsNoBody(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		code   string
	}{
		{400, `{"error":"invalid_request","error_description":"Value passed for the token was invalid: SECRET-REFRESH-r1x9Qe"}`, "invalid_request"},
		{401, `{"error":"unauthorized_client","error_description":"Missing valid authorization header for SECRET-REFRESH-r1x9Qe"}`, "unauthorized_client"},
		{400, `{"error":"SECRET-REFRESH-r1x9Qe"}`, ""},
		{401, `token SECRET-REFRESH-r1x9Qe is revoked`, ""},
	} {
		t.Run(fmt.Sprint(c.status, c.code), func(t *testing.T) {
			w := newWorld(t)
			tokens := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("Content-Type", "application/json")
				rw.WriteHeader(c.status)
				rw.Write([]byte(c.body))
			}))
			defer tokens.Close()
			o := NewOAuth2(tokens.URL, "cid", "secret", "a-revoked", "SECRET-REFRESH-r1x9Qe")
			err := o.Refresh(t.Context())
			want := fmt.Sprintf("HTTP %d", c.status)
			if c.code != "" {
				want += ": " + c.code
			}
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "SECRET") {
				t.Errorf("Refresh: %v; want %q and no token", err, want)
			}

			// The same refusal met by a DM poller after X's 401.
			var logs syncBuffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			xc := NewClient(w.fake.URL(), Bearer(xfake.DefaultAppToken), WithLogger(log))
			src := NewDMPoller(xc, w.norm, Account{Handle: ourHandle, UserID: ourID}, o, time.Hour, log)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- src.Run(ctx, newSink()) }()
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(logs.String(), "x poll failed") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			<-done
			out := logs.String()
			if !strings.Contains(out, "refresh after 401") || !strings.Contains(out, want) {
				t.Errorf("log does not name the refused refresh:\n%s", out)
			}
			if strings.Contains(out, "SECRET") {
				t.Errorf("the log shows the token endpoint's answer:\n%s", out)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
