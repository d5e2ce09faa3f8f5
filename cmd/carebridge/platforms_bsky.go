package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carebridge/carebridge/adapters/bsky"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/bridge/route"
	"github.com/carebridge/carebridge/store"
)

// registerBluesky adds Bluesky to opt when accounts are configured: its
// rules, replier and fetcher, our accounts (handles and DIDs), and its
// sources — each account's notifications poller and, with
// bluesky.jetstream.listen, keyword listening on Jetstream matched by the
// routes' router. It runs after registerPlatforms.
func registerBluesky(ctx context.Context, opt *bridge.Options, cfg *config.Config, st *store.Store, router *route.Router, clock bridge.TimerClock, log *slog.Logger, reg prometheus.Registerer) error {
	b := cfg.Bluesky
	if len(b.Accounts) == 0 {
		return nil
	}
	if clock == nil {
		clock = bridge.SystemClock{}
	}
	tokens, err := store.Runner[tokenStore](st)
	if err != nil {
		return err
	}
	var accounts []bsky.Account
	for _, a := range b.Accounts {
		pds := a.PDSURL
		if pds == "" {
			pds = b.PDSURL
		}
		accounts = append(accounts, bsky.Account{Handle: strings.TrimPrefix(a.Handle, "@"), AppPassword: a.AppPassword.Reveal(), PDS: pds})
	}
	c := bsky.NewClient(accounts, bsky.ClientOptions{HTTP: outboundClient(30*time.Second, 0), Clock: clock, Logger: log, State: bskyState{tokens}})
	opt.Networks = append(opt.Networks, bsky.Network{})
	if opt.Repliers == nil {
		opt.Repliers = map[bridge.Platform]bridge.Replier{}
	}
	if opt.Fetchers == nil {
		opt.Fetchers = map[bridge.Platform]bridge.PostFetcher{}
	}
	if opt.Accounts == nil {
		opt.Accounts = map[bridge.Platform][]string{}
	}
	opt.Repliers[bsky.Platform] = bsky.NewReplier(c)
	opt.Fetchers[bsky.Platform] = bsky.NewFetcher(c)
	opt.Accounts[bsky.Platform] = c.Handles()
	if opt.Official == nil {
		opt.Official = map[string]bool{}
	}
	for _, a := range accounts {
		opt.Official[strings.ToLower(a.Handle)] = true
		// The DID marks our own posts on Jetstream, which carries no
		// handle. The saved session knows it; otherwise this signs in.
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		s, err := c.Session(sctx, a.Handle)
		cancel()
		if err != nil {
			log.Error("bluesky account not signed in at start; until a restart, its own posts are recognised by handle only", "account", a.Handle, "err", err)
			continue
		}
		opt.Official[s.DID] = true
	}
	for i, a := range b.Accounts {
		if a.Mentions == nil || *a.Mentions {
			opt.Sources = append(opt.Sources, bsky.NewNotifications(c, accounts[i].Handle, b.NotificationsInterval.D(), clock, log))
		}
	}
	if b.ListenKeywords() {
		js := bsky.NewJetstream(c, bsky.JetstreamOptions{
			Instances: b.Jetstream.Instances,
			Silence:   b.Jetstream.Silence.D(),
			Rewind:    b.Jetstream.Rewind.D(),
			Match: func(p *bridge.Post) bool {
				return router.Route(route.Input{Text: p.Text, Mentions: p.Mentions}).Rule >= 0
			},
			Dialer: socketDialer(),
			Clock:  clock,
			Logger: log,
		})
		opt.Sources = append(opt.Sources, js)
		registerJetstreamMetrics(reg, js)
	}
	return nil
}

// registerJetstreamMetrics exports the Jetstream source's counts.
func registerJetstreamMetrics(reg prometheus.Registerer, js *bsky.Jetstream) {
	if reg == nil {
		return
	}
	for _, m := range []struct {
		name, help string
		get        func(bsky.JetstreamStats) int
	}{
		{"events", "Jetstream events read (posts, deletes, identity and account events).", func(s bsky.JetstreamStats) int { return s.Events }},
		{"posts", "Posts read from Jetstream.", func(s bsky.JetstreamStats) int { return s.Posts }},
		{"matched", "Posts from Jetstream a route matched (or that mention us, or continue a conversation).", func(s bsky.JetstreamStats) int { return s.Matched }},
		{"reconnects", "Jetstream connections that ended and were replaced.", func(s bsky.JetstreamStats) int { return s.Reconnects }},
		{"silent", "Jetstream sockets the watchdog dropped for silence.", func(s bsky.JetstreamStats) int { return s.Silent }},
	} {
		get := m.get
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "carebridge_bluesky_jetstream_" + m.name + "_total", Help: m.help},
			func() float64 { return float64(get(js.Stats())) }))
	}
}

// checkBluesky adds Bluesky's line to `carebridge check`.
func checkBluesky(w io.Writer, cfg *config.Config) {
	b := cfg.Bluesky
	if len(b.Accounts) == 0 {
		return
	}
	listen := "keyword listening off"
	if b.ListenKeywords() {
		listen = fmt.Sprintf("keyword listening on Jetstream (%d instance%s)", len(b.Jetstream.Instances), plural(len(b.Jetstream.Instances)))
	}
	fmt.Fprintf(w, "  Bluesky: %d account%s, %s\n", len(b.Accounts), plural(len(b.Accounts)), listen)
}

// bskyState keeps the Bluesky sessions and chosen record keys in the
// store's cursor table, as the X OAuth 2.0 tokens are: small values read
// at start and written in a transaction of their own.
type bskyState struct{ tokens bridge.TxRunner[tokenStore] }

func (s bskyState) Get(ctx context.Context, key string) (v string, err error) {
	err = s.tokens.WithTx(ctx, func(tx tokenStore) error {
		v, err = tx.Cursor(ctx, key)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	return v, nil
}

func (s bskyState) Set(ctx context.Context, key, value string) error {
	return s.tokens.WithTx(ctx, func(tx tokenStore) error { return tx.SetCursor(ctx, key, value, time.Now()) })
}
