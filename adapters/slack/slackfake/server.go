package slackfake

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// Defaults used when no Option overrides them.
const (
	DefaultBotToken          = "xoxb-0000000000-slackfake-bot"
	DefaultAppToken          = "xapp-1-A0FAKEAPP-0000-slackfake-app"
	DefaultBotUserID         = "UBOT"
	DefaultBotID             = "B0FAKEBOT"
	DefaultBotName           = "carebridge"
	DefaultTeamID            = "T0FAKETEAM"
	DefaultTeamDomain        = "carebridge"
	DefaultAppID             = "A0FAKEAPP"
	DefaultSigningSecret     = "slackfake-signing-secret"
	DefaultVerificationToken = "slackfake-verification-token"
)

// Slack's limits, which the fake enforces unless an Option loosens them.
const (
	// DefaultPostsPerSecond and DefaultPostBurst pace chat.postMessage per
	// channel: Slack allows about one message a second per channel, with
	// short bursts over it.
	DefaultPostsPerSecond = 1
	DefaultPostBurst      = 3

	// UnlistedHistoryPerMinute and UnlistedHistoryMaxItems limit
	// conversations.history and conversations.replies (each method
	// separately) for apps not listed in the Slack Marketplace: new
	// installs since 2025-05, existing ones since 2026-03-03.
	UnlistedHistoryPerMinute = 1
	UnlistedHistoryMaxItems  = 15

	// MarketplaceHistoryPerMinute and MarketplaceHistoryMaxItems are the
	// same limits for a Marketplace app (Tier 3; WithMarketplaceHistory).
	MarketplaceHistoryPerMinute = 50
	MarketplaceHistoryMaxItems  = 1000
)

type config struct {
	botToken, appToken  string
	botUserID, botName  string
	botID               string
	teamID, teamDomain  string
	appID               string
	signingSecret       string
	clock               bridge.Clock
	ratePerSec          float64
	burst               int
	enforceRate         bool
	ackTimeout          time.Duration
	retryDelays         []time.Duration
	pingInterval        time.Duration
	verificationToken   string
	createdAtUnixSecond int64
	historyUnlimited    bool
	historyPerMinute    int // conversations.history/replies calls a minute, per method
	historyMaxItems     int // messages a page at most
}

// Option configures a Server.
type Option func(*config)

// WithBotToken sets the bot token (xoxb-...) that Web API calls must present.
func WithBotToken(token string) Option { return func(c *config) { c.botToken = token } }

// WithAppToken sets the app-level token (xapp-...) that apps.connections.open
// requires.
func WithAppToken(token string) Option { return func(c *config) { c.appToken = token } }

// WithBotUser sets the bot's user ID (default "UBOT") and user name.
func WithBotUser(userID, name string) Option {
	return func(c *config) { c.botUserID, c.botName = userID, name }
}

// WithBotID sets the bot ID ("B...") stamped as bot_id on the bot's messages.
func WithBotID(botID string) Option { return func(c *config) { c.botID = botID } }

// WithTeam sets the workspace ID and domain (permalinks and auth.test url
// use https://<domain>.slack.com/).
func WithTeam(teamID, domain string) Option {
	return func(c *config) { c.teamID, c.teamDomain = teamID, domain }
}

// WithAppID sets the app ID (api_app_id, app_id).
func WithAppID(appID string) Option { return func(c *config) { c.appID = appID } }

// WithSigningSecret sets the secret used to sign HTTP event deliveries.
func WithSigningSecret(secret string) Option { return func(c *config) { c.signingSecret = secret } }

// WithClock injects the clock, the core's bridge.Clock (default: the wall
// clock). It drives message timestamps, event_time, chat.postMessage
// pacing, the history limits and signature timestamps.
func WithClock(clock bridge.Clock) Option { return func(c *config) { c.clock = clock } }

// WithChannelRateLimit sets chat.postMessage pacing per channel: perSecond
// messages per second on average with bursts of up to burst messages
// (default Slack's: DefaultPostsPerSecond, DefaultPostBurst). A test that
// loosens it says why.
func WithChannelRateLimit(perSecond float64, burst int) Option {
	return func(c *config) { c.ratePerSec, c.burst = perSecond, burst }
}

// WithRateLimit turns chat.postMessage pacing on (the default) or off. A
// test that turns it off says why; a fake clock is usually the better
// way.
func WithRateLimit(enforce bool) Option { return func(c *config) { c.enforceRate = enforce } }

// WithAckTimeout sets how long an HTTP delivery may take to answer and how
// long a Socket Mode envelope may stay unacknowledged before it counts as
// failed (default 3 s, like Slack).
func WithAckTimeout(d time.Duration) Option { return func(c *config) { c.ackTimeout = d } }

// WithRetryDelays sets the pause before each retry of a failed delivery; the
// number of delays is the number of retries (default 0, 1 min, 5 min, like
// Slack). Pass no delays to disable retries.
func WithRetryDelays(delays ...time.Duration) Option {
	return func(c *config) { c.retryDelays = append([]time.Duration{}, delays...) }
}

// WithPingInterval sets how often the Socket Mode server sends WebSocket
// pings (default 10 s; slack-go reconnects after 30 s without one).
func WithPingInterval(d time.Duration) Option { return func(c *config) { c.pingInterval = d } }

// WithMarketplaceHistory gives conversations.history and
// conversations.replies the limits of an app listed in the Slack
// Marketplace (Tier 3: MarketplaceHistoryPerMinute calls a minute per
// method, up to MarketplaceHistoryMaxItems messages a call) instead of the
// unlisted app's the fake enforces by default (UnlistedHistoryPerMinute,
// UnlistedHistoryMaxItems). carebridge's README has operators create a
// Socket Mode app from a manifest, which cannot be listed: the default is
// what they get.
func WithMarketplaceHistory() Option {
	return func(c *config) {
		c.historyPerMinute, c.historyMaxItems = MarketplaceHistoryPerMinute, MarketplaceHistoryMaxItems
	}
}

// WithUnlimitedHistory lifts every limit on conversations.history and
// conversations.replies (calls a minute and messages a call, up to 1,000
// when asked). Slack has no such app; a test that uses it says why.
func WithUnlimitedHistory() Option { return func(c *config) { c.historyUnlimited = true } }

// Identity is what the fake workspace calls itself: the credentials a client
// needs and the IDs that appear in payloads.
type Identity struct {
	BotToken          string // xoxb- token for Web API calls
	AppToken          string // xapp- token for apps.connections.open
	BotUserID         string // the bot's user ID ("UBOT")
	BotID             string // bot_id on the bot's messages
	BotName           string // the bot user's name
	TeamID            string // workspace ID
	TeamDomain        string // workspace domain
	AppID             string // api_app_id
	SigningSecret     string // secret for v0 signatures of HTTP deliveries
	VerificationToken string // legacy "token" field of event payloads
}

// Message is one message as recorded by the fake.
type Message struct {
	Channel  string // channel ID
	TS       string // the message's ts
	ThreadTS string // parent's ts for a thread reply; "" for a top-level message
	User     string // author; the bot user for the bot's posts
	BotID    string // set for messages posted by the bot through the Web API
	Text     string // current text, verbatim as posted
	// Blocks are the blocks the poster sent (raw JSON), nil if none. For
	// human posts they are the rich_text blocks a Slack client would send.
	Blocks   json.RawMessage
	Metadata json.RawMessage // message metadata as posted, nil if none
	History  []Revision      // earlier versions, oldest first
	Deleted  bool            // deleted by chat.delete or UserDeletes
}

// FromBot reports whether the bot posted m.
func (m Message) FromBot() bool { return m.BotID != "" }

// Revision is an earlier version of an edited message.
type Revision struct {
	Text       string          // text of this version
	Blocks     json.RawMessage // blocks of this version, nil if none
	Metadata   json.RawMessage // metadata of this version, nil if none
	ReplacedAt string          // ts of the edit that replaced this version
}

// Server is a fake Slack workspace. It is safe for concurrent use.
type Server struct {
	cfg   config
	srv   *httptest.Server
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	httpc *http.Client
	httpt *http.Transport

	mu        sync.Mutex
	closed    bool
	outage    bool
	pick      func(method string) (Fault, bool) // SetFaults
	calls     map[string]int
	limited   map[string]int // 429s for a channel's rate, per method
	faults    map[string][]fault
	channels  map[string]*channel
	chanOrder []string
	users     map[string]*user
	groups    map[string]*userGroup
	msgs      map[string][]*message // per channel, in post order
	byTS      map[string]*message   // channel+"/"+ts
	ephem     map[string][]Message  // channel+"/"+user
	buckets   map[string]*bucket
	lastMicro int64
	eventSeq  int64

	botProfileJSON []byte // bot_profile of the bot's messages, encoded once

	// event delivery
	events      []*eventRec
	eventByID   map[string]*eventRec
	outstanding int
	httpURL     string
	// interactionsURL is the interactivity Request URL; "" delivers
	// interactions over Socket Mode.
	interactionsURL string
	httpQueue       []*job
	httpSignal      chan struct{}
	smQueue         []*job
	smSignal        chan struct{}
	conns           map[*smConn]struct{}
	tickets         map[string]bool
	envelopes       map[string]*job
	timers          map[*time.Timer]struct{}
	historyCalls    map[string][]time.Time // conversations.history/replies calls in the last minute, per method
	files           *fileState             // file uploads (files.go)
}

type channel struct {
	id, name  string
	members   []string
	botMember bool
	created   int64
}

type user struct {
	id, name string
	isBot    bool
}

type userGroup struct {
	id, handle string
	users      []string
}

type reaction struct{ name, user string }

type message struct {
	channel, ts, threadTS string
	parentUser            string
	user, botID           string
	text                  string
	blocks, metadata      json.RawMessage
	clientMsgID           string
	blockID               string
	editedBy, editedTS    string
	history               []Revision
	deleted               bool
	reactions             []reaction
}

// New starts a fake Slack on a local port. Close it when done.
func New(opts ...Option) *Server {
	cfg := config{
		botToken:          DefaultBotToken,
		appToken:          DefaultAppToken,
		botUserID:         DefaultBotUserID,
		botName:           DefaultBotName,
		botID:             DefaultBotID,
		teamID:            DefaultTeamID,
		teamDomain:        DefaultTeamDomain,
		appID:             DefaultAppID,
		signingSecret:     DefaultSigningSecret,
		verificationToken: DefaultVerificationToken,
		clock:             bridge.SystemClock{},
		ratePerSec:        DefaultPostsPerSecond,
		burst:             DefaultPostBurst,
		historyPerMinute:  UnlistedHistoryPerMinute,
		historyMaxItems:   UnlistedHistoryMaxItems,
		enforceRate:       true,
		ackTimeout:        3 * time.Second,
		retryDelays:       []time.Duration{0, time.Minute, 5 * time.Minute},
		pingInterval:      10 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.clock == nil {
		cfg.clock = bridge.SystemClock{}
	}
	if cfg.ratePerSec <= 0 {
		cfg.ratePerSec = 1
	}
	if cfg.burst < 1 {
		cfg.burst = 1
	}
	if cfg.ackTimeout <= 0 {
		cfg.ackTimeout = 3 * time.Second
	}
	if cfg.pingInterval <= 0 {
		cfg.pingInterval = 10 * time.Second
	}
	cfg.createdAtUnixSecond = cfg.clock.Now().Unix()

	ctx, stop := context.WithCancel(context.Background())
	transport := &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: false,
		MaxIdleConns:      10,
		IdleConnTimeout:   30 * time.Second,
	}
	s := &Server{
		cfg:   cfg,
		ctx:   ctx,
		stop:  stop,
		httpt: transport,
		httpc: &http.Client{
			Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		calls:      map[string]int{},
		limited:    map[string]int{},
		faults:     map[string][]fault{},
		channels:   map[string]*channel{},
		users:      map[string]*user{},
		groups:     map[string]*userGroup{},
		msgs:       map[string][]*message{},
		byTS:       map[string]*message{},
		ephem:      map[string][]Message{},
		buckets:    map[string]*bucket{},
		eventByID:  map[string]*eventRec{},
		httpSignal: make(chan struct{}, 1),
		smSignal:   make(chan struct{}),
		conns:      map[*smConn]struct{}{},
		tickets:    map[string]bool{},
		envelopes:  map[string]*job{},
		timers:     map[*time.Timer]struct{}{},
	}
	s.users[cfg.botUserID] = &user{id: cfg.botUserID, name: cfg.botName, isBot: true}

	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.handleAPI)
	mux.HandleFunc("/link/", s.handleSocket)
	mux.HandleFunc("/upload/", s.handleUpload)
	s.srv = httptest.NewServer(mux)

	s.wg.Add(1)
	go s.httpWorker()
	return s
}

// URL is the server's base URL ("http://127.0.0.1:port"). The slack-go API
// URL is URL()+"/api/".
func (s *Server) URL() string { return s.srv.URL }

// APIURL is URL()+"/api/", ready for slack.OptionAPIURL.
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// Identity returns the workspace's credentials and IDs.
func (s *Server) Identity() Identity {
	c := s.cfg
	return Identity{
		BotToken: c.botToken, AppToken: c.appToken,
		BotUserID: c.botUserID, BotID: c.botID, BotName: c.botName,
		TeamID: c.teamID, TeamDomain: c.teamDomain, AppID: c.appID,
		SigningSecret: c.signingSecret, VerificationToken: c.verificationToken,
	}
}

// Close stops the server: it closes Socket Mode connections, abandons
// pending deliveries and waits for every goroutine the fake started.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for t := range s.timers {
		t.Stop()
	}
	clear(s.timers)
	conns := make([]*smConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	s.stop()
	for _, c := range conns {
		c.shutdown()
	}
	s.srv.Close()
	s.wg.Wait()
	s.httpt.CloseIdleConnections()
}

// AddChannel adds (or replaces) a public channel. The bot is a member
// unless SetBotMember says otherwise; members are the human members.
func (s *Server) AddChannel(id, name string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.TrimPrefix(name, "#")
	if old, ok := s.channels[id]; ok {
		old.name, old.members = name, slices.Clone(members)
		return
	}
	s.channels[id] = &channel{id: id, name: name, members: slices.Clone(members), botMember: true,
		created: s.cfg.clock.Now().Unix()}
	s.chanOrder = append(s.chanOrder, id)
}

// SetBotMember puts the bot into or out of a channel. Posting where the bot
// is not a member fails with not_in_channel. It returns false if the channel
// is unknown.
func (s *Server) SetBotMember(channelID string, member bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[channelID]
	if ok {
		ch.botMember = member
	}
	return ok
}

// AddUser adds (or replaces) a user that users.info knows.
func (s *Server) AddUser(id, name string, isBot bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[id] = &user{id: id, name: name, isBot: isBot}
}

// AddUserGroup adds (or replaces) a user group ("S...") for
// usergroups.users.list.
func (s *Server) AddUserGroup(id, handle string, users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = &userGroup{id: id, handle: handle, users: slices.Clone(users)}
}

func (m *message) export() Message {
	return Message{
		Channel: m.channel, TS: m.ts, ThreadTS: m.threadTS, User: m.user, BotID: m.botID,
		Text: m.text, Blocks: cloneRaw(m.blocks), Metadata: cloneRaw(m.metadata),
		History: slices.Clone(m.history), Deleted: m.deleted,
	}
}

func cloneRaw(r json.RawMessage) json.RawMessage {
	if r == nil {
		return nil
	}
	return slices.Clone(r)
}

// Messages returns every message of a channel (top-level and thread
// replies, human and bot, deleted ones flagged) in post order. Only
// accepted messages are recorded: a post refused with an error or a 429
// leaves no trace.
func (s *Server) Messages(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.msgs[channelID]))
	for _, m := range s.msgs[channelID] {
		out = append(out, m.export())
	}
	return out
}

// Thread returns a thread in post order: the parent (if it exists) followed
// by the replies whose thread_ts is threadTS.
func (s *Server) Thread(channelID, threadTS string) []Message {
	if threadTS == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs[channelID] {
		if m.ts == threadTS || m.threadTS == threadTS {
			out = append(out, m.export())
		}
	}
	return out
}

// Reactions returns the reaction names the bot currently has on a message,
// in the order it added them.
func (s *Server) Reactions(channelID, ts string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byTS[channelID+"/"+ts]
	if m == nil {
		return nil
	}
	var out []string
	for _, r := range m.reactions {
		if r.user == s.cfg.botUserID {
			out = append(out, r.name)
		}
	}
	return out
}

// Ephemerals returns the ephemeral messages the bot showed to user in a
// channel, in post order (TS is the message_ts Slack returned).
func (s *Server) Ephemerals(channelID, userID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ephem[channelID+"/"+userID])
}

// RateLimited returns how many chat.postMessage requests the fake refused
// with 429 for going over a channel's rate (WithChannelRateLimit), faults
// injected with SetFaults or RateLimitStorm not counted.
func (s *Server) RateLimited(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited[method]
}

// Calls returns how many requests reached a Web API method (for example
// "chat.postMessage"), including refused, failed and rate-limited ones.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// scheduleLocked runs f under s.mu after d, unless the server is closed
// first. The caller holds s.mu.
func (s *Server) scheduleLocked(d time.Duration, f func()) *time.Timer {
	if s.closed {
		return nil
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.timers, t)
		if s.closed {
			return
		}
		f()
	})
	s.timers[t] = struct{}{}
	return t
}

func (s *Server) stopTimerLocked(t *time.Timer) {
	if t != nil {
		t.Stop()
		delete(s.timers, t)
	}
}
