package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	slackapi "github.com/slack-go/slack"

	"github.com/carebridge/carebridge/adapters/chart"
	"github.com/carebridge/carebridge/adapters/schedule"
	"github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/adapters/x"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/bridge/watch"
	"github.com/carebridge/carebridge/store"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "-config FILE", "Runs the service: listens on X, mirrors posts into Slack or Microsoft Teams (chat:), serves /healthz, /readyz and /metrics.", stderr)
	path := fs.String("config", "carebridge.yaml", "configuration `file`")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errUsage
	}
	cfg, err := config.Load(*path, config.LevelServe)
	var errs config.Errors
	if errors.As(err, &errs) {
		fmt.Fprintf(stderr, "%s has problems (carebridge check -serve -config %s lists them too):\n%v\n", *path, *path, errs)
		return exitError(1)
	}
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, appOptions{Logger: logger})
	if err != nil {
		return err
	}
	return a.run(ctx)
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format: %q is not text or json", format)
}

// appOptions let tests and the demo adjust the wiring.
type appOptions struct {
	Logger *slog.Logger
	// Clock is the process's one clock: the Service, the watching jobs
	// and their schedule all read it (default bridge.SystemClock).
	Clock    bridge.TimerClock
	Listener net.Listener // default: listen on http.addr
	// StreamOptions tune the X filtered stream (tests shorten timeouts).
	StreamOptions x.StreamOptions
	// PollInterval of the outbox (default 250ms).
	PollInterval time.Duration
	// LeaderCheck is how often leadership is checked (default 5s).
	LeaderCheck time.Duration
}

// app is one running carebridge: the store, the service and the HTTP
// listener.
type app struct {
	cfg     *config.Config
	log     *slog.Logger
	store   *store.Store
	service *bridge.Service
	metrics *metrics
	ln      net.Listener
	srv     *http.Server
	elector *store.Elector // who runs the sources
	// sched runs the watching jobs (SLA, digests, spikes, greetings) while
	// schedElector says this process leads.
	sched        *schedule.Scheduler
	schedElector *store.Elector
	watcher      *watch.Watcher
	eventsPath   string            // where events is mounted
	events       http.Handler      // slack.mode http: the Events API endpoint; Teams: the messaging endpoint
	interactions http.Handler      // slack.mode http: the interactivity Request URL (buttons)
	socket       *slack.SocketMode // slack.mode socket
	meta         *metaParts        // Facebook and Instagram (nil without meta.pages)
}

// chatSurface is the chat surface carebridge runs on: what the core posts
// and acts through, the bot's own user, and how events reach the core.
type chatSurface struct {
	publisher bridge.Publisher
	actions   bridge.ChatActions
	botUserID string
	// receive builds the receivers of events once the core's inbox
	// exists: an HTTP endpoint (path and handler), or Slack's Socket Mode.
	receive func(inbox bridge.ChatEventHandler) (chatReceivers, error)
	// register, if set, changes what registerPlatforms filled in for
	// Slack to this surface's gestures, marks, watchers, pacing, cards.
	register func(opt *bridge.Options)
}

// chatReceivers are how a surface's events reach the core: an HTTP
// endpoint at path (and Slack's interactivity endpoint), or Slack's
// Socket Mode.
type chatReceivers struct {
	path         string
	events       http.Handler
	interactions http.Handler
	socket       *slack.SocketMode
}

// newSlackSurface connects to Slack with the bot token (auth.test tells
// the bot's user).
func newSlackSurface(ctx context.Context, cfg *config.Config, log *slog.Logger, _ appOptions) (*chatSurface, error) {
	sapi := newSlackClient(cfg)
	auth, err := slackAuthTest(ctx, sapi, slackAPIURL(cfg))
	if err != nil {
		return nil, err
	}
	log.Info("slack connected", "team", auth.Team, "bot_user", auth.UserID)
	publisher := slack.NewPublisher(sapi, cfg.Location)
	return &chatSurface{
		publisher: publisher,
		actions:   publisher,
		botUserID: auth.UserID,
		receive: func(inbox bridge.ChatEventHandler) (chatReceivers, error) {
			if cfg.Slack.Mode == "http" {
				secret := cfg.Slack.SigningSecret.Reveal()
				return chatReceivers{path: "/slack/events", events: slack.NewEventsHandler(secret, inbox, log), interactions: slack.NewInteractionsHandler(secret, inbox, log)}, nil
			}
			return chatReceivers{socket: slack.NewSocketMode(sapi, inbox, log, slack.WithSocketDialer(socketDialer()))}, nil
		},
	}, nil
}

// newApp wires everything from cfg. The caller runs it with run.
func newApp(ctx context.Context, cfg *config.Config, opt appOptions) (*app, error) {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	st, err := store.Open(ctx, cfg.Store.URL.Reveal(), store.WithLogger(log), store.WithMaxOpenConns(cfg.Store.MaxConnections))
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			st.Close()
		}
	}()
	router, err := cfg.Router()
	if err != nil {
		return nil, err
	}

	// The chat surface: Slack, or Teams (serve_teams.go).
	newSurface := newSlackSurface
	if cfg.Chat == config.ChatTeams {
		newSurface = newTeamsSurface
	}
	surface, err := newSurface(ctx, cfg, log, opt)
	if err != nil {
		return nil, err
	}

	xc := newXClient(cfg, log)
	var accounts []x.Account
	official := map[string]bool{}
	for _, a := range cfg.X.Accounts {
		accounts = append(accounts, x.Account{Handle: a.Handle, UserID: a.UserID})
		official[strings.ToLower(a.Handle)] = true
		official[a.UserID] = true
	}
	norm := x.NewNormalizer(accounts, cfg.X.Enterprise)
	// One authorizer per account, shared by its DM poller and its sends:
	// an OAuth 2.0 refresh spends the refresh token.
	auths := map[string]x.Authorizer{}
	for _, a := range cfg.X.Accounts {
		if auths[a.Handle], err = userAuth(ctx, cfg, a, st, log); err != nil {
			return nil, err
		}
		// Token expiry and signature timestamps on the process's clock.
		switch au := auths[a.Handle].(type) {
		case *x.OAuth2:
			au.Clock = opt.Clock
		case *x.OAuth1:
			au.Clock = opt.Clock
		}
	}
	var sources []bridge.Source
	for _, s := range cfg.X.Searches {
		sources = append(sources, x.NewSearchPoller(xc, norm, s.Name, s.Query, s.Interval.D(), cfg.X.Poll.MaxResults, log))
	}
	for i, a := range cfg.X.Accounts {
		acct := accounts[i]
		if a.Mentions == nil || *a.Mentions {
			sources = append(sources, x.NewMentionsPoller(xc, norm, acct, cfg.X.Poll.MentionsInterval.D(), cfg.X.Poll.MaxResults, log))
		}
		if a.DMs == nil || *a.DMs {
			sources = append(sources, x.NewDMPoller(xc, norm, acct, auths[a.Handle], cfg.X.Poll.DMInterval.D(), log))
		}
	}
	if cfg.X.Stream {
		if opt.StreamOptions.HTTP == nil {
			opt.StreamOptions.HTTP = outboundClient(0, 2)
		}
		var rk []x.RouteKeywords
		for _, r := range cfg.Routes {
			rk = append(rk, x.RouteKeywords{Department: r.Department, Keywords: r.Keywords, Exclude: r.Exclude, Accounts: r.Accounts})
		}
		maxLen := 512
		if cfg.X.Enterprise {
			maxLen = 4096
		}
		sources = append(sources, x.NewStream(xc, norm, x.RulesFromRoutes(rk, maxLen), opt.StreamOptions, log))
	}

	m := newMetrics(st)
	observeCharts := m.preinit(cfg, map[bridge.Platform]int{x.Platform: len(sources)}).observe
	if sp, ok := surface.publisher.(*slack.Publisher); ok {
		sp.SetCharts(slack.ChartOptions{Drawer: chart.Drawer{}, Logger: log, Observe: observeCharts})
	}
	elector := st.Elector("sources")
	watchStore, err := store.Runner[watch.Tx](st)
	if err != nil {
		return nil, err
	}
	var greeters []watch.Account
	for _, a := range cfg.X.Accounts {
		greeters = append(greeters, watch.Account{Platform: x.Platform, Handle: a.Handle, Greeting: a.Greeting, SignOff: a.SignOff})
	}
	watcher, err := watch.New(watch.Options{Store: watchStore, Config: cfg, Accounts: greeters, Clock: opt.Clock, Logger: log, Metrics: m.watch})
	if err != nil {
		return nil, err
	}
	replier := x.NewReplier(xc, accounts, auths)
	sources = append(sources, feedSources(cfg, opt, m, log)...) // blogs and forums (platforms_feed.go)
	bopt := bridge.Options{
		Store:        st,
		Config:       cfg,
		Router:       router,
		Publisher:    surface.publisher,
		Actions:      surface.actions,
		AfterHours:   watcher.AfterHours,
		BotUserID:    surface.botUserID,
		Sources:      sources,
		Clock:        opt.Clock,
		Logger:       log,
		Metrics:      m,
		Official:     official,
		PollInterval: opt.PollInterval,
		Elector:      elector,
		LeaderCheck:  opt.LeaderCheck,
		// The spike check also runs as posts arrive (bridge/watch).
		TicketsOpened: watcher.TicketsOpened,
	}
	registerPlatforms(&bopt, cfg, xParts{replier: replier, fetcher: x.NewFetcher(xc, norm)})
	if err := registerBluesky(ctx, &bopt, cfg, st, router, opt.Clock, log, m.reg); err != nil {
		return nil, err
	}
	metaParts := registerMeta(&bopt, cfg, opt.Clock, log, m)
	if surface.register != nil {
		surface.register(&bopt)
	}
	svc, err := bridge.New(bopt)
	if err != nil {
		return nil, err
	}
	ln := opt.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.HTTP.Addr); err != nil {
			return nil, fmt.Errorf("http.addr: %w", err)
		}
	}
	schedElector := st.Elector("schedules")
	sched, err := schedule.New(schedule.Options{Jobs: watcher, Config: cfg, Clock: opt.Clock, Elector: schedElector, LeaderCheck: opt.LeaderCheck, Logger: log})
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, store: st, service: svc, metrics: m, ln: ln, elector: elector, sched: sched, schedElector: schedElector, watcher: watcher, meta: metaParts}
	r, err := surface.receive(svc.Inbox())
	if err != nil {
		return nil, err
	}
	a.eventsPath, a.events, a.interactions, a.socket = r.path, r.events, r.interactions, r.socket
	a.srv = &http.Server{Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second}
	ok = true
	return a, nil
}

// newSlackClient returns the slack-go client of cfg's bot (and app-level)
// token, over the outbound transport. It keeps a connection per outbox
// worker alive: Go's default transport keeps 2 idle connections per host,
// so concurrent workers would open a new connection for most messages.
func newSlackClient(cfg *config.Config) *slackapi.Client {
	opts := []slackapi.Option{slackapi.OptionAPIURL(slackAPIURL(cfg))}
	if cfg.Slack.AppToken.IsSet() {
		opts = append(opts, slackapi.OptionAppLevelToken(cfg.Slack.AppToken.Reveal()))
	}
	return slack.NewClient(cfg.Slack.BotToken.Reveal(), outboundClient(0, cfg.Outbox.Workers), opts...)
}

// slackAPIURL is slack.api_base_url with the trailing slash slack-go needs.
func slackAPIURL(cfg *config.Config) string {
	u := cfg.Slack.APIBaseURL
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

// newXClient returns the X API client reading with cfg's app bearer token,
// over the outbound transport.
func newXClient(cfg *config.Config, log *slog.Logger) *x.Client {
	return x.NewClient(cfg.X.APIBaseURL, x.Bearer(cfg.X.BearerToken.Reveal()), x.WithLogger(log),
		x.WithHTTPClient(outboundClient(30*time.Second, cfg.Outbox.Workers)))
}

// userAuth builds the user-context authorizer of an official account. An
// OAuth 2.0 account starts from the tokens saved by its last refresh (X's
// refresh tokens are single-use, so the configured one is spent by then),
// unless the configured refresh token changed since: then the operator
// re-authorized the account and the configuration wins.
func userAuth(ctx context.Context, cfg *config.Config, a config.Account, st *store.Store, log *slog.Logger) (x.Authorizer, error) {
	switch {
	case a.OAuth1 != nil:
		o := a.OAuth1
		return &x.OAuth1{ConsumerKey: o.ConsumerKey.Reveal(), ConsumerSecret: o.ConsumerSecret.Reveal(), Token: o.AccessToken.Reveal(), TokenSecret: o.AccessSecret.Reveal()}, nil
	case a.OAuth2 != nil:
		c := a.OAuth2
		o := x.NewOAuth2(strings.TrimSuffix(cfg.X.APIBaseURL, "/")+"/2/oauth2/token", c.ClientID, c.ClientSecret.Reveal(), c.AccessToken.Reveal(), c.RefreshToken.Reveal())
		o.HTTP = outboundClient(30*time.Second, 2)
		key := "x:oauth2:" + a.Handle
		sum := sha256.Sum256([]byte(c.RefreshToken.Reveal()))
		configured := hex.EncodeToString(sum[:])
		tokens, err := store.Runner[tokenStore](st)
		if err != nil {
			return nil, err
		}
		var raw string
		if err := tokens.WithTx(ctx, func(tx tokenStore) (err error) {
			raw, err = tx.Cursor(ctx, key)
			return err
		}); err != nil {
			return nil, fmt.Errorf("x.accounts %s: read saved OAuth 2.0 tokens: %w", a.Handle, err)
		}
		var saved savedTokens
		if raw != "" && json.Unmarshal([]byte(raw), &saved) == nil && saved.Configured == configured && saved.Access != "" {
			o.SetTokens(saved.Access, saved.Refresh, saved.Expiry)
		}
		o.OnRefresh = func(ctx context.Context, access, refresh string, expiry time.Time) {
			b, _ := json.Marshal(savedTokens{Access: access, Refresh: refresh, Expiry: expiry, Configured: configured})
			err := tokens.WithTx(ctx, func(tx tokenStore) error { return tx.SetCursor(ctx, key, string(b), time.Now()) })
			if err != nil {
				log.Error("OAuth 2.0 tokens refreshed but not saved: after a restart this account must be re-authorized",
					"account", a.Handle, "err", err)
			}
		}
		return o, nil
	}
	return x.Bearer(cfg.X.BearerToken.Reveal()), nil
}

// tokenStore keeps an account's refreshed OAuth 2.0 tokens, in the store's
// cursor table.
type tokenStore interface {
	Cursor(ctx context.Context, key string) (string, error)
	SetCursor(ctx context.Context, key, value string, now time.Time) error
}

// savedTokens are an OAuth 2.0 account's tokens after a refresh, kept in
// the store's cursor table. Configured is a SHA-256 of the configured
// refresh token they descend from.
type savedTokens struct {
	Access     string    `json:"access"`
	Refresh    string    `json:"refresh"`
	Expiry     time.Time `json:"expiry"`
	Configured string    `json:"configured"`
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.store.Ping(ctx); err != nil {
			http.Error(w, "not ready: database unreachable: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
		a.meta.readyDetail(w)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{}))
	if a.interactions != nil {
		mux.Handle("POST /slack/interactions", a.interactions) // buttons (bundles' Answer)
	}
	if a.events != nil {
		mux.Handle("POST "+a.eventsPath, a.events)
	}
	a.meta.mount(mux, a.service)
	return mux
}

// run serves until ctx ends, then shuts down gracefully: the HTTP
// listener stops, sources stop, in-flight sends finish (30 s at most).
func (a *app) run(ctx context.Context) error {
	defer a.store.Close()
	if err := a.service.Start(ctx); err != nil {
		return err
	}
	a.sched.Start()
	errc := make(chan error, 2)
	go func() { errc <- a.srv.Serve(a.ln) }()
	sockCtx, stopSocket := context.WithCancel(ctx)
	defer stopSocket()
	if a.socket != nil {
		go func() {
			if err := a.socket.Run(sockCtx); err != nil && sockCtx.Err() == nil {
				errc <- fmt.Errorf("slack socket mode: %w", err)
			}
		}()
	}
	a.log.Info("carebridge serving", "addr", a.ln.Addr().String(), "departments", len(a.cfg.Departments))
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	a.log.Info("shutting down")
	stopSocket()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = a.srv.Shutdown(sctx)
	if err := a.service.Stop(sctx); err != nil {
		a.log.Warn("stop", "err", err)
	}
	if err := a.sched.Stop(); err != nil {
		a.log.Warn("stop schedules", "err", err)
	}
	if err := a.elector.Resign(sctx); err != nil {
		a.log.Warn("resign leadership", "err", err)
	}
	if err := a.schedElector.Resign(sctx); err != nil {
		a.log.Warn("resign schedule leadership", "err", err)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}
