package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/carebridge/carebridge/adapters/x"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/store"
)

// X's OAuth 2.0 refresh tokens are single-use: after a refresh, a restart
// must continue from the saved tokens, not from the (spent) configured
// ones — unless the operator re-authorized the account and configured new
// tokens, which then win.
func TestOAuth2TokensSurviveRestart(t *testing.T) {
	var n atomic.Int32
	var lastRefresh atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/2/oauth2/token" {
			http.NotFound(w, r)
			return
		}
		lastRefresh.Store(r.FormValue("refresh_token"))
		i := n.Add(1)
		fmt.Fprintf(w, `{"token_type":"bearer","access_token":"access-%d","refresh_token":"refresh-%d","expires_in":7200}`, i+1, i+1)
	}))
	defer srv.Close()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "cb.db"), store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := &config.Config{}
	cfg.X.APIBaseURL = srv.URL
	acct := config.Account{Handle: "SBCare", UserID: "1", OAuth2: &config.OAuth2{
		ClientID: "cid", ClientSecret: config.NewSecret("cs"),
		AccessToken: config.NewSecret("access-1"), RefreshToken: config.NewSecret("refresh-1"),
	}}
	log := slog.New(slog.DiscardHandler)
	bearer := func(a x.Authorizer) string {
		t.Helper()
		req := httptest.NewRequest("GET", "/2/users/me", nil)
		if err := a.Authorize(ctx, req, nil); err != nil {
			t.Fatal(err)
		}
		return req.Header.Get("Authorization")
	}

	first, err := userAuth(ctx, cfg, acct, st, log)
	if err != nil {
		t.Fatal(err)
	}
	if got := bearer(first); got != "Bearer access-1" {
		t.Fatalf("first start uses %q, want the configured token", got)
	}
	if err := first.(*x.OAuth2).Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	// Restart with the same configuration: the saved tokens are used, and
	// the next refresh spends refresh-2, not the spent refresh-1.
	second, err := userAuth(ctx, cfg, acct, st, log)
	if err != nil {
		t.Fatal(err)
	}
	if got := bearer(second); got != "Bearer access-2" {
		t.Errorf("after a restart the account uses %q, want the refreshed access-2", got)
	}
	if err := second.(*x.OAuth2).Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lastRefresh.Load(); got != "refresh-2" {
		t.Errorf("second refresh sent %v, want refresh-2", got)
	}

	// The operator re-authorizes: new configured tokens win.
	acct.OAuth2.AccessToken, acct.OAuth2.RefreshToken = config.NewSecret("access-new"), config.NewSecret("refresh-new")
	third, err := userAuth(ctx, cfg, acct, st, log)
	if err != nil {
		t.Fatal(err)
	}
	if got := bearer(third); got != "Bearer access-new" {
		t.Errorf("after re-authorization the account uses %q, want access-new", got)
	}
}
