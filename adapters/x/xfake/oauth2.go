package xfake

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// OAuth 2.0 authorization code flow with PKCE, as X runs it (reference
// §1.1; RFC 6749 and RFC 7636): the browser opens GET /i/oauth2/authorize
// (on X, https://x.com/i/oauth2/authorize), the signed-in user approves,
// X redirects to the app's redirect_uri with code and state; the app trades
// the code and its code_verifier at POST /2/oauth2/token for an access
// token (about 2 hours) and, with the offline.access scope, a refresh
// token, which is single-use: each grant_type=refresh_token answer carries
// the next one. Confidential clients authenticate at the token endpoint
// with HTTP Basic (client id and secret); public clients send client_id in
// the body. Errors are RFC 6749 §5.2 bodies: {"error","error_description"}.

// OAuth2AccessTokenLifetime is how long an access token the fake issues
// lasts (expires_in), as on X.
const OAuth2AccessTokenLifetime = 2 * time.Hour

// oauth2Scopes are the scopes X knows that carebridge may ask for.
var oauth2Scopes = map[string]bool{
	"tweet.read": true, "tweet.write": true, "tweet.moderate.write": true, "users.read": true,
	"follows.read": true, "follows.write": true, "offline.access": true, "space.read": true,
	"mute.read": true, "mute.write": true, "like.read": true, "like.write": true, "list.read": true,
	"list.write": true, "block.read": true, "block.write": true, "bookmark.read": true,
	"bookmark.write": true, "dm.read": true, "dm.write": true, "media.write": true,
}

type oauth2Client struct {
	secret string // "" for a public client
	userID string // the user signed in in the browser, who approves
}

type oauth2Grant struct {
	clientID, redirectURI, challenge, method, scope, userID string
	issued                                                  time.Time
}

// oauth2State is the flow's state on a running server.
type oauth2State struct {
	mu      sync.Mutex
	codes   map[string]*oauth2Grant // unused authorization codes
	refresh map[string]*oauth2Grant // unspent refresh tokens
}

// WithOAuth2Client registers an app's OAuth 2.0 client: its id, its secret
// ("" for a public client) and the X user (an id the world knows, e.g. an
// official account) who is signed in in the browser and approves the
// authorization requests of this client.
func WithOAuth2Client(clientID, clientSecret, signedInUserID string) Option {
	return func(c *config) {
		if c.oauth2Clients == nil {
			c.oauth2Clients = map[string]oauth2Client{}
		}
		c.oauth2Clients[clientID] = oauth2Client{secret: clientSecret, userID: signedInUserID}
	}
}

func (s *Server) oauth2Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /i/oauth2/authorize", s.handleAuthorize)
	mux.HandleFunc("POST /2/oauth2/token", s.handleToken)
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// handleAuthorize approves at once as the client's signed-in user, or
// answers 400 with a page, as X does for a request it cannot redirect.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	client, ok := s.cfg.oauth2Clients[q.Get("client_id")]
	fail := func(format string, args ...any) {
		http.Error(w, "Something went wrong: "+fmt.Sprintf(format, args...), http.StatusBadRequest)
	}
	switch {
	case !ok:
		fail("unknown client_id")
		return
	case q.Get("response_type") != "code":
		fail("response_type must be code")
		return
	case q.Get("redirect_uri") == "":
		fail("redirect_uri is required")
		return
	case q.Get("state") == "":
		fail("state is required")
		return
	case q.Get("code_challenge") == "":
		fail("code_challenge is required")
		return
	case q.Get("code_challenge_method") != "S256" && q.Get("code_challenge_method") != "plain":
		fail("code_challenge_method must be S256 or plain")
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	if len(scopes) == 0 {
		fail("scope is required")
		return
	}
	for _, sc := range scopes {
		if !oauth2Scopes[sc] {
			fail("unknown scope %q", sc)
			return
		}
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || (redirect.Scheme != "http" && redirect.Scheme != "https") {
		fail("redirect_uri is not a URL")
		return
	}
	code := randomToken(16)
	s.oauth2.mu.Lock()
	if s.oauth2.codes == nil {
		s.oauth2.codes, s.oauth2.refresh = map[string]*oauth2Grant{}, map[string]*oauth2Grant{}
	}
	s.oauth2.codes[code] = &oauth2Grant{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"),
		challenge: q.Get("code_challenge"), method: q.Get("code_challenge_method"),
		scope: strings.Join(scopes, " "), userID: client.userID, issued: s.now()}
	s.oauth2.mu.Unlock()
	rq := redirect.Query()
	rq.Set("state", q.Get("state"))
	rq.Set("code", code)
	redirect.RawQuery = rq.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func oauth2Error(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// handleToken serves grant_type authorization_code and refresh_token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauth2Error(w, http.StatusBadRequest, "invalid_request", "The request body is not a form.")
		return
	}
	clientID, secret, basic := r.BasicAuth()
	if !basic {
		clientID = r.PostForm.Get("client_id")
	}
	client, ok := s.cfg.oauth2Clients[clientID]
	switch {
	case !ok:
		oauth2Error(w, http.StatusUnauthorized, "invalid_client", "Missing valid authorization header")
		return
	case client.secret != "" && (!basic || secret != client.secret):
		oauth2Error(w, http.StatusUnauthorized, "unauthorized_client", "Missing valid authorization header")
		return
	}
	s.oauth2.mu.Lock()
	defer s.oauth2.mu.Unlock()
	var g *oauth2Grant
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := r.PostForm.Get("code")
		g = s.oauth2.codes[code]
		delete(s.oauth2.codes, code) // a code is good once, even when refused
		switch {
		// X's codes last 30 seconds.
		case g == nil || g.clientID != clientID || s.now().Sub(g.issued) > 30*time.Second:
			oauth2Error(w, http.StatusBadRequest, "invalid_request", "Value passed for the authorization code was invalid.")
			return
		case r.PostForm.Get("redirect_uri") != g.redirectURI:
			oauth2Error(w, http.StatusBadRequest, "invalid_request", "Value passed for the redirect uri did not match the uri of the authorization code.")
			return
		case !pkceMatches(g, r.PostForm.Get("code_verifier")):
			oauth2Error(w, http.StatusBadRequest, "invalid_request", "Value passed for the code verifier did not match the code challenge.")
			return
		}
	case "refresh_token":
		tok := r.PostForm.Get("refresh_token")
		g = s.oauth2.refresh[tok]
		if g == nil || g.clientID != clientID {
			oauth2Error(w, http.StatusBadRequest, "invalid_request", "Value passed for the token was invalid.")
			return
		}
		delete(s.oauth2.refresh, tok) // single-use
	default:
		oauth2Error(w, http.StatusBadRequest, "unsupported_grant_type", "Value passed for the grant type was invalid.")
		return
	}
	access := randomToken(24)
	s.AddUserToken(access, g.userID)
	out := map[string]any{"token_type": "bearer", "expires_in": int(OAuth2AccessTokenLifetime / time.Second),
		"access_token": access, "scope": g.scope}
	if strings.Contains(" "+g.scope+" ", " offline.access ") {
		next := randomToken(24)
		s.oauth2.refresh[next] = g
		out["refresh_token"] = next
	}
	writeJSON(w, http.StatusOK, out)
}

func pkceMatches(g *oauth2Grant, verifier string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	if g.method == "plain" {
		return verifier == g.challenge
	}
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:]) == g.challenge
}
