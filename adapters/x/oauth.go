package x

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// OAuth1 signs requests with OAuth 1.0a (HMAC-SHA1), user context.
type OAuth1 struct {
	ConsumerKey, ConsumerSecret, Token, TokenSecret string
	// Clock gives oauth_timestamp (default: the system clock).
	Clock bridge.Clock
	nonce func() string
}

// Authorize adds the OAuth 1.0a Authorization header. The signature base
// string holds the method, the URL, the oauth_* parameters, the query
// parameters and the parameters of a form body (RFC 5849 §3.4.1.3.1); a
// JSON body, as X API v2 posts send, is not part of it.
func (o *OAuth1) Authorize(_ context.Context, req *http.Request, body []byte) error {
	now := clockOrSystem(o.Clock).Now
	nonce := randomNonce
	if o.nonce != nil {
		nonce = o.nonce
	}
	params := map[string]string{
		"oauth_consumer_key":     o.ConsumerKey,
		"oauth_nonce":            nonce(),
		"oauth_signature_method": "HMAC-SHA1",
		"oauth_timestamp":        strconv.FormatInt(now().Unix(), 10),
		"oauth_token":            o.Token,
		"oauth_version":          "1.0",
	}
	var form url.Values
	if strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, _ = url.ParseQuery(string(body))
	}
	params["oauth_signature"] = o.signature(req.Method, req.URL, form, params)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf(`%s="%s"`, pct(k), pct(params[k]))
	}
	req.Header.Set("Authorization", "OAuth "+strings.Join(parts, ", "))
	return nil
}

// signature computes the RFC 5849 HMAC-SHA1 signature.
func (o *OAuth1) signature(method string, u *url.URL, form url.Values, oauth map[string]string) string {
	var pairs []string
	for k, v := range oauth {
		pairs = append(pairs, pct(k)+"="+pct(v))
	}
	for _, vals := range []url.Values{u.Query(), form} {
		for k, vs := range vals {
			for _, v := range vs {
				pairs = append(pairs, pct(k)+"="+pct(v))
			}
		}
	}
	sort.Strings(pairs)
	base := strings.ToUpper(method) + "&" + pct(baseURL(u)) + "&" + pct(strings.Join(pairs, "&"))
	mac := hmac.New(sha1.New, []byte(pct(o.ConsumerSecret)+"&"+pct(o.TokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func baseURL(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	if (scheme == "http" && strings.HasSuffix(host, ":80")) || (scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return scheme + "://" + host + u.EscapedPath()
}

// pct is RFC 3986 percent-encoding as OAuth 1.0a requires.
func pct(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func randomNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// OAuth2 is an OAuth 2.0 user token that refreshes itself with the refresh
// token when X answers 401 or when it is about to expire.
type OAuth2 struct {
	TokenURL     string // e.g. https://api.x.com/2/oauth2/token
	ClientID     string
	ClientSecret string
	HTTP         *http.Client

	// Clock tells when the access token expires (default: the system
	// clock).
	Clock bridge.Clock

	refreshing sync.Mutex // one refresh at a time: X rotates refresh tokens
	mu         sync.Mutex
	access     string
	refresh    string
	expiry     time.Time
	// OnRefresh is called with the new tokens, so that they can be saved:
	// the refresh token used is spent.
	OnRefresh func(ctx context.Context, access, refresh string, expiry time.Time)
}

// NewOAuth2 returns a user-token authorizer.
func NewOAuth2(tokenURL, clientID, clientSecret, access, refresh string) *OAuth2 {
	return &OAuth2{TokenURL: tokenURL, ClientID: clientID, ClientSecret: clientSecret, access: access, refresh: refresh}
}

// Authorize sets the bearer token, refreshing it first when it expired.
func (o *OAuth2) Authorize(ctx context.Context, req *http.Request, _ []byte) error {
	if o.expired() {
		o.refreshing.Lock()
		var err error
		if o.expired() { // not refreshed by a concurrent request meanwhile
			err = o.refresh1(ctx)
		}
		o.refreshing.Unlock()
		if err != nil {
			return err
		}
	}
	o.mu.Lock()
	req.Header.Set("Authorization", "Bearer "+o.access)
	o.mu.Unlock()
	return nil
}

func (o *OAuth2) expired() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.expiry.IsZero() && o.expiry.Sub(clockOrSystem(o.Clock).Now()) < time.Minute
}

func clockOrSystem(c bridge.Clock) bridge.Clock {
	if c == nil {
		return bridge.SystemClock{}
	}
	return c
}

// oauth2ErrorCodes are the error codes of RFC 6749 §5.2. A refused refresh
// names the code when the answer carries one of these, and nothing else of
// the answer: its other members (error_description, error_uri) are free
// text that may quote the token sent.
var oauth2ErrorCodes = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true,
	"unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true,
}

// SetTokens replaces the tokens, e.g. with ones saved after an earlier
// refresh (X's refresh tokens are single-use: the configured one is spent
// by the first refresh). A zero expiry means unknown.
func (o *OAuth2) SetTokens(access, refresh string, expiry time.Time) {
	o.mu.Lock()
	o.access, o.refresh, o.expiry = access, refresh, expiry
	o.mu.Unlock()
}

// Token returns the current access token and its expiry (zero: unknown),
// without refreshing it.
func (o *OAuth2) Token() (access string, expiry time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.access, o.expiry
}

// Reauthorize is called when X answered 401 to req: unless another request
// refreshed the token meanwhile, it refreshes it, then signs req again.
func (o *OAuth2) Reauthorize(ctx context.Context, req *http.Request) error {
	o.refreshing.Lock()
	defer o.refreshing.Unlock()
	o.mu.Lock()
	stale := req.Header.Get("Authorization") == "Bearer "+o.access
	o.mu.Unlock()
	if stale {
		if err := o.refresh1(ctx); err != nil {
			return err
		}
	}
	o.mu.Lock()
	req.Header.Set("Authorization", "Bearer "+o.access)
	o.mu.Unlock()
	return nil
}

// Refresh trades the refresh token for a new access token.
func (o *OAuth2) Refresh(ctx context.Context) error {
	o.refreshing.Lock()
	defer o.refreshing.Unlock()
	return o.refresh1(ctx)
}

func (o *OAuth2) refresh1(ctx context.Context) error {
	o.mu.Lock()
	refresh := o.refresh
	o.mu.Unlock()
	if refresh == "" {
		return fmt.Errorf("oauth2: access token expired and no refresh token is configured")
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {o.ClientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("oauth2 refresh: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if o.ClientSecret != "" {
		req.SetBasicAuth(o.ClientID, o.ClientSecret)
	}
	h := o.HTTP
	if h == nil {
		h = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := h.Do(req)
	if err != nil {
		return fmt.Errorf("oauth2 refresh: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var refused struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &refused) == nil && oauth2ErrorCodes[refused.Error] {
			return fmt.Errorf("oauth2 refresh: HTTP %d: %s", resp.StatusCode, refused.Error)
		}
		return fmt.Errorf("oauth2 refresh: HTTP %d (%d bytes not shown)", resp.StatusCode, len(body))
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		// Not the body: a half-readable answer may still hold a token.
		return fmt.Errorf("oauth2 refresh: unexpected answer (%d bytes, no access token)", len(body))
	}
	o.mu.Lock()
	o.access = tok.AccessToken
	if tok.RefreshToken != "" {
		o.refresh = tok.RefreshToken
	}
	if tok.ExpiresIn > 0 {
		o.expiry = clockOrSystem(o.Clock).Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	access, newRefresh, expiry, cb := o.access, o.refresh, o.expiry, o.OnRefresh
	o.mu.Unlock()
	if cb != nil {
		cb(ctx, access, newRefresh, expiry)
	}
	return nil
}
