package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/carebridge/carebridge/adapters/x"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/store"
)

// onlineTimeout bounds each call of `check -online`.
const onlineTimeout = 15 * time.Second

// checkOnline tries what `serve` will use with cfg's credentials: the
// store, Slack's bot token (auth.test) and app-level token
// (apps.connections.open, in socket mode), X's app bearer token (a user
// lookup) and every official account's user credentials (GET
// /2/users/me). It prints one line per check and returns exitError(1) if
// any failed. It changes nothing: pending migrations are left to `serve`
// and `migrate`, and an expired OAuth 2.0 access token is reported, not
// refreshed (X's refresh tokens are single-use: a refresh here would spend
// the token a running `serve` holds).
func checkOnline(ctx context.Context, cfg *config.Config, w io.Writer) error {
	fmt.Fprintln(w, "Online:")
	failed := 0
	line := func(what string, err error, ok string) {
		if err != nil {
			failed++
			fmt.Fprintf(w, "  FAIL %-16s %v\n", what, err)
			return
		}
		fmt.Fprintf(w, "  ok   %-16s %s\n", what, ok)
	}
	call := func(fn func(ctx context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, onlineTimeout)
		defer cancel()
		return fn(cctx)
	}
	quiet := slog.New(slog.DiscardHandler)

	var st *store.Store
	err := call(func(ctx context.Context) error {
		var err error
		st, err = store.Open(ctx, cfg.Store.URL.Reveal(), store.WithoutMigrations(), store.WithLogger(quiet))
		if err != nil {
			return err
		}
		return st.Ping(ctx)
	})
	if err != nil {
		line("store", fmt.Errorf("cannot open the store: %w", err), "")
	} else {
		defer st.Close()
		line("store", nil, st.Dialect()+" answers")
	}

	sapi := newSlackClient(cfg)
	apiURL := slackAPIURL(cfg)
	err = call(func(ctx context.Context) error {
		auth, err := slackAuthTest(ctx, sapi, apiURL)
		if err == nil {
			line("slack bot token", nil, fmt.Sprintf("team %s (%s), bot user %s (auth.test)", auth.Team, auth.TeamID, auth.UserID))
		}
		return err
	})
	if err != nil {
		line("slack bot token", err, "")
	}
	if cfg.Slack.Mode == "socket" {
		err = call(func(ctx context.Context) error {
			_, _, err := sapi.StartSocketModeContext(ctx)
			if err != nil {
				return describeSlackError("the app-level token (slack.app_token)", "apps.connections.open", apiURL, err)
			}
			return nil
		})
		line("slack app token", err, "Socket Mode connections may open (apps.connections.open)")
	}

	xc := newXClient(cfg, quiet)
	if len(cfg.X.Accounts) > 0 {
		handle := cfg.X.Accounts[0].Handle
		err = call(func(ctx context.Context) error {
			u, err := xc.UserByUsername(ctx, handle)
			if err != nil {
				return describeXError("the app bearer token (x.bearer_token)", "GET /2/users/by/username/"+handle, cfg.X.APIBaseURL, err)
			}
			if u.ID == "" {
				return fmt.Errorf("x: the bearer token works, but X knows no user @%s", handle)
			}
			return nil
		})
		line("x bearer token", err, "reads work (GET /2/users/by/username/"+handle+")")
	}
	for _, a := range cfg.X.Accounts {
		what := "x @" + a.Handle
		if a.OAuth2 != nil && st == nil {
			line(what, fmt.Errorf("not checked: an OAuth 2.0 account's current tokens are in the store"), "")
			continue
		}
		err := call(func(ctx context.Context) error {
			auth, err := userAuth(ctx, cfg, a, st, quiet)
			if err != nil {
				return fmt.Errorf("%w (on a new store, run carebridge migrate first)", err)
			}
			if o, ok := auth.(*x.OAuth2); ok {
				access, expiry := o.Token()
				if !expiry.IsZero() && time.Until(expiry) < time.Minute {
					return fmt.Errorf("the OAuth 2.0 access token expired at %s; serve refreshes it (check does not: that would spend the single-use refresh token)", expiry.Format(time.RFC3339))
				}
				auth = x.Bearer(access)
			}
			u, err := xc.Me(ctx, auth)
			if err != nil {
				return describeXError("the account's user credentials were refused", "GET /2/users/me", cfg.X.APIBaseURL, err)
			}
			if u.ID != a.UserID {
				return fmt.Errorf("the credentials are @%s's (user id %s), not user_id %s", u.Username, u.ID, a.UserID)
			}
			return nil
		})
		line(what, err, "user context works (GET /2/users/me: user "+a.UserID+")")
	}
	if failed > 0 {
		fmt.Fprintf(w, "%d online check%s failed\n", failed, plural(failed))
		return exitError(1)
	}
	return nil
}
