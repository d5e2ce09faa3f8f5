package teamsfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// Server is the fake: one tenant, one team, one bot.
type Server struct {
	srv *httptest.Server

	clock    bridge.Clock
	appID    string
	tenantID string
	secret   string
	botName  string
	teamID   string // the team's id = its General channel's id
	groupID  string // the team's Entra group id

	maxBytes        int
	rateLimit       bool
	retryAfterHdr   bool
	deliveryTimeout time.Duration
	hc              *http.Client

	mu         sync.Mutex
	seq        uint64
	keyCount   int
	lastID     int64
	bfKeys     []*signingKey
	entraKeys  []*signingKey
	current    *signingKey
	tokens     map[string]issuedToken
	tokenCount int
	counts     map[string]int
	channels   map[string]*Channel
	users      map[string]*User // by 29: id and by AAD object id
	messages   map[string]*Message
	order      []string // message ids in posting order
	sends      map[string][]time.Time
	failures   []scriptedFailure
	endpoint   string
	rsc        bool
	installed  bool
	deliveries []Delivery
	graphData  *graphState // Microsoft Graph's groups and tags (graph.go)
}

// Option configures a Server.
type Option func(*Server)

// WithClock makes the fake read time from c (tokens' expiry, JWT times,
// rate limits, message ids). Default: the system clock.
func WithClock(c bridge.Clock) Option { return func(s *Server) { s.clock = c } }

// WithMaxMessageBytes changes the 413 MessageSizeTooBig limit (default
// DefaultMaxMessageBytes). A test that loosens it must say why.
func WithMaxMessageBytes(n int) Option { return func(s *Server) { s.maxBytes = n } }

// WithoutRateLimits turns off the per-thread 429s. A test or demo that
// uses it must say why (a fake clock that does not move is usually the
// better way: the core paces sends).
func WithoutRateLimits() Option { return func(s *Server) { s.rateLimit = false } }

// WithoutRetryAfter sends 429s without a Retry-After header. Microsoft does
// not document whether the connector sends one; clients must cope both
// ways.
func WithoutRetryAfter() Option { return func(s *Server) { s.retryAfterHdr = false } }

// WithRSC sets whether the team granted the app the RSC permission
// ChannelMessage.Read.Group (default true, as the example manifest asks).
// Without it the injector delivers only messages that @mention the bot.
func WithRSC(granted bool) Option { return func(s *Server) { s.rsc = granted } }

// WithBotName sets the bot's display name (default "SBCare").
func WithBotName(name string) Option { return func(s *Server) { s.botName = name } }

// DefaultMaxMessageBytes is the size over which the connector answers 413
// MessageSizeTooBig: about 28 KB for a bot's message, as the Teams
// documentation states it (newer pages say up to 100 KB; the stricter
// figure is the fake's).
const DefaultMaxMessageBytes = 28 * 1024

// New starts a fake with a General channel, the bot installed, and fresh
// keys and credentials.
func New(opts ...Option) *Server {
	s := &Server{
		clock:           bridge.SystemClock{},
		appID:           randomGUID(),
		tenantID:        randomGUID(),
		secret:          "fake-secret~" + randomHex(16),
		botName:         "SBCare",
		groupID:         randomGUID(),
		maxBytes:        DefaultMaxMessageBytes,
		rateLimit:       true,
		retryAfterHdr:   true,
		deliveryTimeout: 15 * time.Second,
		tokens:          map[string]issuedToken{},
		counts:          map[string]int{},
		channels:        map[string]*Channel{},
		users:           map[string]*User{},
		messages:        map[string]*Message{},
		sends:           map[string][]time.Time{},
		rsc:             true,
		installed:       true,
	}
	for _, o := range opts {
		o(s)
	}
	s.current = s.newKey("bf-key-0", []string{"msteams", "skype", "webchat"})
	s.bfKeys = []*signingKey{s.current}
	s.entraKeys = []*signingKey{s.newKey("entra-key-0", nil)}
	s.teamID = s.AddChannel("General")
	s.hc = &http.Client{Timeout: s.deliveryTimeout}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/.well-known/openidconfiguration", s.serveOpenID)
	mux.HandleFunc("GET /v1/.well-known/openid-configuration", s.serveOpenID)
	mux.HandleFunc("GET /v1/.well-known/keys", s.serveKeys(false))
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.serveEntraOpenID)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.serveKeys(true))
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.serveToken)
	s.connectorRoutes(mux)
	s.graphRoutes(mux)
	s.srv = httptest.NewServer(mux)
	return s
}

// Close shuts the fake down.
func (s *Server) Close() { s.srv.Close() }

// URL is the fake's base URL.
func (s *Server) URL() string { return s.srv.URL }

// ServiceURL is the connector base the fake's activities carry (with a
// trailing slash, as Teams sends it).
func (s *Server) ServiceURL() string { return s.srv.URL + "/teams/" }

// TokenURL is the token endpoint of the fake's tenant.
func (s *Server) TokenURL() string { return s.srv.URL + "/" + s.tenantID + "/oauth2/v2.0/token" }

// OpenIDMetadataURL is the Bot Framework OpenID metadata on the fake.
func (s *Server) OpenIDMetadataURL() string {
	return s.srv.URL + "/v1/.well-known/openidconfiguration"
}

// Identity is the bot's registration, as an operator copies it from Azure.
type Identity struct {
	AppID        string // Microsoft App ID
	TenantID     string
	ClientSecret string
	BotID        string // "28:<app id>", the bot's id in activities
	BotName      string
	TeamID       string // the team's id (its General channel's id)
	TeamGroupID  string // the team's Entra group id
}

// Identity returns the bot's credentials and ids.
func (s *Server) Identity() Identity {
	return Identity{
		AppID: s.appID, TenantID: s.tenantID, ClientSecret: s.secret,
		BotID: "28:" + s.appID, BotName: s.botName, TeamID: s.teamID, TeamGroupID: s.groupID,
	}
}

// Channel is a channel of the team.
type Channel struct {
	ID   string // "19:…@thread.tacv2"
	Name string
}

// AddChannel creates a channel and returns its id.
func (s *Server) AddChannel(name string) string {
	id := "19:" + randomHex(16) + "@thread.tacv2"
	s.mu.Lock()
	s.channels[id] = &Channel{ID: id, Name: name}
	s.mu.Unlock()
	return id
}

// User is a person of the tenant.
type User struct {
	ID          string // Teams user id, "29:…"
	AADObjectID string // Entra object id (what carebridge keys people on)
	Name        string
}

// AddUser creates a member of the team.
func (s *Server) AddUser(name string) User {
	u := &User{ID: "29:1" + randomHex(20), AADObjectID: randomGUID(), Name: name}
	s.mu.Lock()
	s.users[u.ID] = u
	s.users[u.AADObjectID] = u
	s.mu.Unlock()
	return *u
}

// SetRSC grants or withdraws ChannelMessage.Read.Group (see WithRSC).
func (s *Server) SetRSC(granted bool) {
	s.mu.Lock()
	s.rsc = granted
	s.mu.Unlock()
}

// SetEndpoint sets the bot's messaging endpoint, where the injector posts.
func (s *Server) SetEndpoint(url string) {
	s.mu.Lock()
	s.endpoint = url
	s.mu.Unlock()
}

// Count reports how many requests an endpoint got: "token", "openid",
// "jwks", "create", "send", "update", "delete", "member", and "401" for
// connector calls refused for their token, "429" for throttled ones;
// "graph" for Microsoft Graph calls, "graph_401" for those refused for
// their token.
func (s *Server) Count(what string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[what]
}

func (s *Server) count(what string) {
	s.mu.Lock()
	s.counts[what]++
	s.mu.Unlock()
}

func (s *Server) nextSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return s.seq
}

// newMessageID returns a message id as Teams makes them: the epoch
// milliseconds (13 digits), unique and increasing. Callers hold s.mu.
func (s *Server) newMessageID() string {
	id := s.clock.Now().UnixMilli()
	if id <= s.lastID {
		id = s.lastID + 1
	}
	s.lastID = id
	return fmt.Sprint(id)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomGUID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// sortedMessages returns the messages matching keep in posting order.
// Callers hold s.mu.
func (s *Server) sortedMessages(keep func(*Message) bool) []Message {
	var out []Message
	for _, id := range s.order {
		if m := s.messages[id]; keep(m) {
			out = append(out, m.clone())
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}
