package xfake

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultAppToken is the app-only Bearer token the fake accepts unless
// WithAppToken sets another.
const DefaultAppToken = "xfake-app-token"

// DefaultKeepAlive is the filtered stream's keep-alive interval, as on X.
const DefaultKeepAlive = 20 * time.Second

// Endpoint names an X API endpoint for rate limits, FailNext and RequestLog.
type Endpoint string

// The endpoints the fake serves. Reads of the three DM event lists share one
// limit, as on X.
const (
	EndpointSearchRecent      Endpoint = "GET /2/tweets/search/recent"
	EndpointTweetLookup       Endpoint = "GET /2/tweets" // also GET /2/tweets/:id
	EndpointCreateTweet       Endpoint = "POST /2/tweets"
	EndpointCreateTweetApp24h Endpoint = "POST /2/tweets (app, 24 h)"
	EndpointMentions          Endpoint = "GET /2/users/:id/mentions"
	EndpointUserTweets        Endpoint = "GET /2/users/:id/tweets"
	EndpointUsersMe           Endpoint = "GET /2/users/me"
	EndpointUserLookup        Endpoint = "GET /2/users/:id" // also /2/users/by/username/:username
	EndpointDMEvents          Endpoint = "GET /2/dm_events" // and both per-conversation lists
	EndpointSendDM            Endpoint = "POST /2/dm_conversations/:id/messages"
	EndpointStream            Endpoint = "GET /2/tweets/search/stream"
	EndpointStreamRulesGet    Endpoint = "GET /2/tweets/search/stream/rules"
	EndpointStreamRulesPost   Endpoint = "POST /2/tweets/search/stream/rules"
)

// defaultLimits are X's published limits per 15-minute window (24 hours
// for the app's post cap): app is the limit of requests made with the
// app-only token (shared by the whole app), user the limit of each user's
// user-context requests; 0 where X does not allow that kind. Reference §1.8:
// the pay-per-use table where it has the endpoint, else the per-endpoint
// pages it cites (mentions [x24], DM reads [x27] — 300, not the secondary
// 15 of [x33] — DM sends [x26]). User timelines and user lookups are not
// in the reference: X's v2 pages give 1,500/900 and 300/900.
// SetRateLimit overrides an endpoint's limits.
var defaultLimits = map[Endpoint]struct {
	app, user int
	window    time.Duration
}{
	EndpointSearchRecent:      {450, 300, 15 * time.Minute},
	EndpointTweetLookup:       {3500, 5000, 15 * time.Minute},
	EndpointCreateTweet:       {0, 100, 15 * time.Minute},
	EndpointCreateTweetApp24h: {10000, 0, 24 * time.Hour},
	EndpointMentions:          {450, 180, 15 * time.Minute},
	EndpointUserTweets:        {1500, 900, 15 * time.Minute},
	EndpointUsersMe:           {0, 75, 15 * time.Minute},
	EndpointUserLookup:        {300, 900, 15 * time.Minute},
	EndpointDMEvents:          {0, 300, 15 * time.Minute},
	EndpointSendDM:            {0, 200, 15 * time.Minute},
	EndpointStream:            {50, 0, 15 * time.Minute},
	EndpointStreamRulesGet:    {450, 0, 15 * time.Minute},
	EndpointStreamRulesPost:   {100, 0, 15 * time.Minute},
}

// AuthKind is how a request authenticated.
type AuthKind string

// Authentication kinds recorded in RequestLog.
const (
	AuthNone       AuthKind = "none"        // no Authorization header
	AuthInvalid    AuthKind = "invalid"     // a header the fake did not accept
	AuthApp        AuthKind = "app"         // app-only Bearer token
	AuthUserBearer AuthKind = "user-bearer" // OAuth 2.0 user-context Bearer token
	AuthOAuth1     AuthKind = "oauth1"      // OAuth 1.0a user context
)

// RequestLog is one request the fake answered.
type RequestLog struct {
	Time     time.Time
	Method   string
	Path     string
	Query    url.Values
	Endpoint Endpoint // empty for unknown routes
	Auth     AuthKind
	UserID   string // the authenticated user, for user-context requests
	Body     string // request body (first 64 KiB)
	Status   int
}

// Option configures New.
type Option func(*config)

type config struct {
	appToken   string
	userTokens map[string]string
	oauth1     map[string]oauth1User // by access token
	enterprise bool
	keepAlive  time.Duration
	// oauth2Clients are the apps' OAuth 2.0 clients by id (oauth2.go).
	oauth2Clients map[string]oauth2Client
}

// WithAppToken sets the app-only Bearer token (default DefaultAppToken).
func WithAppToken(token string) Option { return func(c *config) { c.appToken = token } }

// WithUserToken registers an OAuth 2.0 user-context Bearer token that
// authenticates as userID. User context is needed for POST /2/tweets, DMs and
// GET /2/users/me.
func WithUserToken(token, userID string) Option {
	return func(c *config) { c.userTokens[token] = userID }
}

// AddUserToken registers an OAuth 2.0 user-context Bearer token for userID
// on a running server, like WithUserToken.
func (s *Server) AddUserToken(token, userID string) {
	s.tokMu.Lock()
	s.cfg.userTokens[token] = userID
	s.tokMu.Unlock()
}

// WithEnterprise makes the fake behave like an Enterprise app: replies and
// quotes are not restricted to posts that mentioned the account, and queries
// may be 4096 characters long instead of 512.
func WithEnterprise() Option { return func(c *config) { c.enterprise = true } }

// WithKeepAlive sets the filtered stream's keep-alive interval (default 20 s).
func WithKeepAlive(d time.Duration) Option { return func(c *config) { c.keepAlive = d } }

// Server is an in-process fake of the X API v2. It is safe for concurrent use.
type Server struct {
	ts      *httptest.Server
	cfg     config
	clock   atomic.Pointer[func() time.Time]
	closing chan struct{}
	once    sync.Once

	mu          sync.Mutex
	users       map[string]*User
	usersByName map[string]*User
	tweets      map[string]*tweetRec
	tweetList   []*tweetRec // newest first
	dms         []*dmRec    // newest first
	usedIDs     map[uint64]bool
	nonces      map[string]bool // OAuth 1.0a token, timestamp and nonce seen
	rules       []*ruleRec
	stream      *streamConn
	connects    int
	buckets     map[bucketKey]*bucket
	limits      map[Endpoint]rateLimit
	faults      map[Endpoint]*fault
	afterFaults map[Endpoint][]answerFault
	logs        []RequestLog
	sentTweets  []string
	sentDMs     []*dmRec
	tokMu       sync.RWMutex // guards cfg.userTokens after New
	oauth2      oauth2State  // the OAuth 2.0 flow's codes and refresh tokens
}

type bucket struct {
	limit  int
	window time.Duration
	used   int
	reset  time.Time
}

type fault struct {
	status int
	n      int
}

// New starts a fake X API server. Close it when done.
func New(opts ...Option) *Server {
	cfg := config{
		appToken:   DefaultAppToken,
		userTokens: map[string]string{},
		oauth1:     map[string]oauth1User{},
		keepAlive:  DefaultKeepAlive,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{
		cfg:         cfg,
		closing:     make(chan struct{}),
		users:       map[string]*User{},
		usersByName: map[string]*User{},
		tweets:      map[string]*tweetRec{},
		usedIDs:     map[uint64]bool{},
		nonces:      map[string]bool{},
		buckets:     map[bucketKey]*bucket{},
		limits:      map[Endpoint]rateLimit{},
		faults:      map[Endpoint]*fault{},
		afterFaults: map[Endpoint][]answerFault{},
	}
	now := time.Now
	s.clock.Store(&now)
	s.ts = httptest.NewServer(s.routes())
	return s
}

// URL returns the base URL, like http://127.0.0.1:port; clients append
// /2/... to it.
func (s *Server) URL() string { return s.ts.URL }

// Client returns an *http.Client configured for the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close ends open streams and shuts the server down.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.ts.CloseClientConnections()
		s.ts.Close()
	})
}

// SetNow replaces the clock used for created_at of new posts, the 7-day
// search window, the 30-day DM window and rate-limit resets.
func (s *Server) SetNow(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.clock.Store(&now)
}

func (s *Server) now() time.Time { return (*s.clock.Load())().UTC() }

// SetRateLimit sets an endpoint's limit per window, for the app and for
// each user alike, and starts fresh windows. Beyond the limit the endpoint
// answers 429 with x-rate-limit-* headers until the window resets by the
// server clock.
func (s *Server) SetRateLimit(endpoint Endpoint, limit int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits[endpoint] = rateLimit{limit: limit, window: window}
	for k := range s.buckets {
		if k.ep == endpoint {
			delete(s.buckets, k)
		}
	}
}

// rateLimit is an override set by SetRateLimit.
type rateLimit struct {
	limit  int
	window time.Duration
}

// bucketKey names a rate-limit window: an endpoint and who spends it (a
// user id, or "" for the app).
type bucketKey struct {
	ep   Endpoint
	user string
}

// FailNext makes the next n requests to endpoint fail with status and a
// problem body (for example 503 Service Unavailable). Authentication is
// still checked first; failed requests do not consume rate limit.
func (s *Server) FailNext(endpoint Endpoint, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.faults, endpoint)
		return
	}
	s.faults[endpoint] = &fault{status: status, n: n}
}

// Requests returns the requests answered so far, oldest first.
func (s *Server) Requests() []RequestLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RequestLog(nil), s.logs...)
}

// SentTweets returns the tweets created through POST /2/tweets, oldest
// first, with Text as the client sent it. The API (and Tweet) return a
// reply's text as X stores it, with the @handles X put in front.
func (s *Server) SentTweets() []Tweet {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Tweet, 0, len(s.sentTweets))
	for _, id := range s.sentTweets {
		rec := s.tweets[id]
		t := cloneTweet(&rec.Tweet)
		t.Text = rec.requestText
		out = append(out, t)
	}
	return out
}

// SentDMs returns the messages sent through the DM endpoints, oldest first.
func (s *Server) SentDMs() []DMEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DMEvent, 0, len(s.sentDMs))
	for _, d := range s.sentDMs {
		out = append(out, d.DMEvent)
	}
	return out
}

// Tweet returns a stored tweet by id.
func (s *Server) Tweet(id string) (Tweet, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tweets[id]
	if t == nil {
		return Tweet{}, false
	}
	return cloneTweet(&t.Tweet), true
}

// auth is the resolved identity of a request.
type auth struct {
	kind   AuthKind
	userID string
}

func (a auth) user() bool { return a.kind == AuthUserBearer || a.kind == AuthOAuth1 }

func (s *Server) authenticate(r *http.Request, body []byte) auth {
	h := r.Header.Get("Authorization")
	if h == "" {
		return auth{kind: AuthNone}
	}
	scheme, rest, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "bearer":
		tok := strings.TrimSpace(rest)
		if tok == s.cfg.appToken {
			return auth{kind: AuthApp}
		}
		s.tokMu.RLock()
		uid, ok := s.cfg.userTokens[tok]
		s.tokMu.RUnlock()
		if ok {
			return auth{kind: AuthUserBearer, userID: uid}
		}
	case "oauth":
		if uid, ok := s.authenticateOAuth1(r, rest, body); ok {
			return auth{kind: AuthOAuth1, userID: uid}
		}
	}
	return auth{kind: AuthInvalid}
}

// authNeed says which authentication an endpoint accepts.
type authNeed int

const (
	authAny  authNeed = iota // app-only or user context
	authUser                 // user context only
	authApp                  // app-only only (filtered stream)
)

// call is one request being served.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	ep   Endpoint
	auth auth
	body []byte
	now  time.Time
}

// statusRecorder logs a request when its status is written.
type statusRecorder struct {
	http.ResponseWriter
	s      *Server
	entry  RequestLog
	logged bool
}

func (sr *statusRecorder) WriteHeader(code int) {
	if !sr.logged {
		sr.logged = true
		sr.entry.Status = code
		sr.s.mu.Lock()
		sr.s.logs = append(sr.s.logs, sr.entry)
		sr.s.mu.Unlock()
	}
	sr.ResponseWriter.WriteHeader(code)
}

func (sr *statusRecorder) Write(b []byte) (int, error) {
	if !sr.logged {
		sr.WriteHeader(http.StatusOK)
	}
	return sr.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the recorder.
func (sr *statusRecorder) Flush() {
	if f, ok := sr.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (sr *statusRecorder) Unwrap() http.ResponseWriter { return sr.ResponseWriter }

const maxBody = 1 << 20

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, ep Endpoint, need authNeed, fn func(*call)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, ep, need, fn) })
	}
	h("GET /2/tweets/search/recent", EndpointSearchRecent, authAny, s.handleSearch)
	h("GET /2/tweets/{id}", EndpointTweetLookup, authAny, s.handleTweetByID)
	h("GET /2/tweets", EndpointTweetLookup, authAny, s.handleTweetsByIDs)
	h("POST /2/tweets", EndpointCreateTweet, authUser, s.handleCreateTweet)
	h("GET /2/users/me", EndpointUsersMe, authUser, s.handleMe)
	h("GET /2/users/{id}", EndpointUserLookup, authAny, s.handleUserByID)
	h("GET /2/users/by/username/{username}", EndpointUserLookup, authAny, s.handleUserByName)
	h("GET /2/users/{id}/mentions", EndpointMentions, authAny, s.handleMentions)
	h("GET /2/users/{id}/tweets", EndpointUserTweets, authAny, s.handleUserTweets)
	h("GET /2/dm_events", EndpointDMEvents, authUser, s.handleDMEvents)
	h("GET /2/dm_conversations/with/{pid}/dm_events", EndpointDMEvents, authUser, s.handleDMEvents)
	h("GET /2/dm_conversations/{cid}/dm_events", EndpointDMEvents, authUser, s.handleDMEvents)
	h("POST /2/dm_conversations/with/{pid}/messages", EndpointSendDM, authUser, s.handleSendDM)
	h("POST /2/dm_conversations/{cid}/messages", EndpointSendDM, authUser, s.handleSendDM)
	h("GET /2/tweets/search/stream", EndpointStream, authApp, s.handleStream)
	h("GET /2/tweets/search/stream/rules", EndpointStreamRulesGet, authApp, s.handleGetRules)
	h("POST /2/tweets/search/stream/rules", EndpointStreamRulesPost, authApp, s.handlePostRules)
	s.oauth2Routes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		sr := s.recorder(w, r, "", auth{kind: AuthNone}, nil)
		writeProblem(sr, http.StatusNotFound, problem{Title: "Not Found Error", Detail: "Sorry, that page does not exist.", Type: "about:blank"})
	})
	return mux
}

func (s *Server) recorder(w http.ResponseWriter, r *http.Request, ep Endpoint, a auth, body []byte) *statusRecorder {
	if len(body) > 64<<10 {
		body = body[:64<<10]
	}
	return &statusRecorder{ResponseWriter: w, s: s, entry: RequestLog{
		Time: s.now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
		Endpoint: ep, Auth: a.kind, UserID: a.userID, Body: string(body),
	}}
}

// serve runs the checks every endpoint shares, in X's order: authentication,
// injected faults, rate limit; then the handler.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, ep Endpoint, need authNeed, fn func(*call)) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	a := s.authenticate(r, body)
	sr := s.recorder(w, r, ep, a, body)
	w = sr
	switch {
	case a.kind == AuthNone || a.kind == AuthInvalid:
		writeProblem(w, http.StatusUnauthorized, problemUnauthorized)
		return
	case need == authUser && a.kind == AuthApp:
		writeProblem(w, http.StatusForbidden, unsupportedAuth("OAuth 2.0 Application-Only", "[OAuth 1.0a User Context, OAuth 2.0 User Context]"))
		return
	case need == authApp && a.kind == AuthOAuth1:
		writeProblem(w, http.StatusForbidden, unsupportedAuth("OAuth 1.0a User Context", "[OAuth 2.0 Application-Only]"))
		return
	case need == authApp && a.kind == AuthUserBearer:
		writeProblem(w, http.StatusForbidden, unsupportedAuth("OAuth 2.0 User Context", "[OAuth 2.0 Application-Only]"))
		return
	}
	now := s.now()
	s.mu.Lock()
	if f := s.faults[ep]; f != nil && f.n > 0 {
		f.n--
		status := f.status
		s.setRateHeadersLocked(w.Header(), ep, a, now, false)
		s.mu.Unlock()
		if status == http.StatusTooManyRequests {
			writeProblem(w, status, problemTooManyRequests)
		} else {
			writeProblem(w, status, problem{Title: http.StatusText(status), Detail: http.StatusText(status), Type: "about:blank", Status: status})
		}
		return
	}
	ok := s.setRateHeadersLocked(w.Header(), ep, a, now, true)
	if ok && ep == EndpointCreateTweet {
		ok = s.setApp24hHeadersLocked(w.Header(), a, now)
	}
	s.mu.Unlock()
	if !ok {
		writeProblem(w, http.StatusTooManyRequests, problemTooManyRequests)
		return
	}
	w.Header().Set("api-version", "2.160")
	s.mu.Lock()
	after := s.afterFaults[ep]
	if len(after) > 0 {
		s.afterFaults[ep] = after[1:]
	}
	s.mu.Unlock()
	if len(after) == 0 {
		fn(&call{w: w, r: r, ep: ep, auth: a, body: body, now: now})
		return
	}
	// The request is carried out; its answer is held back or lost.
	rec := httptest.NewRecorder()
	for k, v := range w.Header() {
		rec.Header()[k] = v
	}
	fn(&call{w: rec, r: r, ep: ep, auth: a, body: body, now: now})
	f := after[0]
	if f.release != nil {
		select {
		case <-f.release:
		case <-s.closing:
		case <-r.Context().Done():
		}
	}
	if f.drop {
		sr.entry.Status = 0 // logged as unanswered
		s.mu.Lock()
		s.logs = append(s.logs, sr.entry)
		s.mu.Unlock()
		if conn, _, err := http.NewResponseController(sr.ResponseWriter).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// answerFault changes what happens to the answer of a request the fake
// carried out.
type answerFault struct {
	drop    bool            // close the connection without an answer
	release <-chan struct{} // hold the answer until closed
}

// DropAnswerNext makes the next n requests to endpoint take effect (a post
// is created, a DM sent) and then close the connection without an answer:
// the client cannot know whether X acted, as after a network failure.
// RequestLog records them with Status 0.
func (s *Server) DropAnswerNext(endpoint Endpoint, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.afterFaults[endpoint] = append(s.afterFaults[endpoint], answerFault{drop: true})
	}
}

// HoldAnswerNext makes the next request to endpoint take effect at once
// (a created post is visible to search, timelines and the stream) and
// hold its answer until release is closed, as when X is slow to answer a
// POST it already carried out.
func (s *Server) HoldAnswerNext(endpoint Endpoint, release <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterFaults[endpoint] = append(s.afterFaults[endpoint], answerFault{release: release})
}

func (s *Server) bucketLocked(ep Endpoint, a auth, now time.Time) *bucket {
	k := bucketKey{ep: ep}
	if a.user() {
		k.user = a.userID
	}
	b := s.buckets[k]
	if b == nil {
		b = &bucket{}
		if o, ok := s.limits[ep]; ok {
			b.limit, b.window = o.limit, o.window
		} else if d, ok := defaultLimits[ep]; ok {
			b.limit, b.window = d.app, d.window
			if k.user != "" {
				b.limit = d.user
			}
		} else {
			b.limit, b.window = 900, 15*time.Minute
		}
		b.reset = now.Add(b.window)
		s.buckets[k] = b
	}
	if !now.Before(b.reset) {
		b.used = 0
		b.reset = now.Add(b.window)
	}
	return b
}

// setRateHeadersLocked sets the x-rate-limit-* headers of a's window,
// consuming one request when consume is set. It reports false when the
// limit is exhausted.
func (s *Server) setRateHeadersLocked(h http.Header, ep Endpoint, a auth, now time.Time, consume bool) bool {
	b := s.bucketLocked(ep, a, now)
	ok := b.used < b.limit
	if ok && consume {
		b.used++
	}
	h.Set("x-rate-limit-limit", strconv.Itoa(b.limit))
	h.Set("x-rate-limit-remaining", strconv.Itoa(max(b.limit-b.used, 0)))
	h.Set("x-rate-limit-reset", strconv.FormatInt(b.reset.Unix(), 10))
	return ok
}

// setApp24hHeadersLocked handles POST /2/tweets' additional per-app 24-hour
// limit and its x-app-limit-24hour-* headers.
func (s *Server) setApp24hHeadersLocked(h http.Header, a auth, now time.Time) bool {
	b := s.bucketLocked(EndpointCreateTweetApp24h, auth{kind: AuthApp}, now)
	ok := b.used < b.limit
	if ok {
		b.used++
	} else {
		// The 15-minute request was not sent after all.
		s.bucketLocked(EndpointCreateTweet, a, now).used--
		s.setRateHeadersLocked(h, EndpointCreateTweet, a, now, false)
	}
	h.Set("x-app-limit-24hour-limit", strconv.Itoa(b.limit))
	h.Set("x-app-limit-24hour-remaining", strconv.Itoa(max(b.limit-b.used, 0)))
	h.Set("x-app-limit-24hour-reset", strconv.FormatInt(b.reset.Unix(), 10))
	return ok
}
