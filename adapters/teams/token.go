package teams

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// BotFrameworkScope is the scope of the tokens the Bot Connector accepts.
const BotFrameworkScope = "https://api.botframework.com/.default"

// GraphScope is the scope of the application tokens Microsoft Graph
// accepts.
const GraphScope = "https://graph.microsoft.com/.default"

// TokenURL is the Entra ID token endpoint of a single-tenant bot's own
// tenant. (The "botframework.com" tenant of the old multi-tenant bots
// answers AADSTS700016 for single-tenant ones, the only kind that can still
// be created.)
func TokenURL(tenantID string) string {
	return "https://login.microsoftonline.com/" + url.PathEscape(tenantID) + "/oauth2/v2.0/token"
}

// tokenMargin is how long before its expiry a token is replaced.
const tokenMargin = 5 * time.Minute

// tokenSource gets and caches the bot's client-credentials token for one
// scope (BotFrameworkScope when scope is "").
//
// It is ours rather than golang.org/x/oauth2/clientcredentials for two
// reasons: a token the connector refused with 401 must be dropped and
// fetched anew (oauth2's ReuseTokenSource cannot be told to forget one),
// and expiry must follow bridge.Clock so that tests move time instead of
// sleeping (oauth2 reads time.Now). It is forty lines.
type tokenSource struct {
	tokenURL, clientID, secret string
	scope                      string
	hc                         *http.Client
	clock                      bridge.Clock

	// mu is held during a fetch: concurrent callers wait for the one
	// fetch and share its token.
	mu      sync.Mutex
	token   string
	expires time.Time // when to fetch a new one (expiry less the margin)
	fetches int
}

// get returns a valid token, fetching one if none is cached.
func (t *tokenSource) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.clock.Now().Before(t.expires) {
		return t.token, nil
	}
	tok, ttl, err := t.fetch(ctx)
	if err != nil {
		return "", err
	}
	margin := min(tokenMargin, ttl/2)
	t.token, t.expires = tok, t.clock.Now().Add(ttl-margin)
	t.fetches++
	return tok, nil
}

// forget drops tok if it is the cached token (the connector refused it);
// a token fetched since by another caller is kept.
func (t *tokenSource) forget(tok string) {
	t.mu.Lock()
	if t.token == tok {
		t.token = ""
	}
	t.mu.Unlock()
}

func (t *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {t.clientID},
		"client_secret": {t.secret},
		"scope":         {cmp.Or(t.scope, BotFrameworkScope)},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("teams token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := t.hc.Do(req)
	if err != nil {
		return "", 0, &bridge.SendError{Platform: "teams", Code: "network", Err: fmt.Errorf("token endpoint: %w", err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var tr struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"` // a number, or a string in some answers
		Error       string          `json:"error"`
		Description string          `json:"error_description"`
	}
	_ = json.Unmarshal(body, &tr)
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		code := tr.Error
		if code == "" {
			code = fmt.Sprint(resp.StatusCode)
		}
		// A refused client (wrong secret, wrong tenant: AADSTS700016) is
		// a configuration problem; throttling and outages pass.
		temporary := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		return "", 0, &bridge.SendError{
			Platform: "teams", Code: "token_" + code, Permanent: !temporary,
			RetryAfter: retryAfter(resp.Header, t.clock),
			Err:        fmt.Errorf("token endpoint answered %d: %s", resp.StatusCode, firstLine(tr.Description)),
		}
	}
	var secs int64
	if err := json.Unmarshal(tr.ExpiresIn, &secs); err != nil {
		var s string
		if json.Unmarshal(tr.ExpiresIn, &s) == nil {
			fmt.Sscan(s, &secs)
		}
	}
	if secs <= 0 {
		secs = 3600
	}
	return tr.AccessToken, time.Duration(secs) * time.Second, nil
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
