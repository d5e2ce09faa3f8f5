package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// DefaultServiceURL is the Bot Connector's global base, used for outbound
// calls until an inbound activity tells the regional one.
const DefaultServiceURL = "https://smba.trafficmanager.net/teams/"

// ClientConfig configures a Client.
type ClientConfig struct {
	AppID        string // the bot's Microsoft App ID (client id)
	TenantID     string // the bot's own tenant (single-tenant bot)
	ClientSecret string
	// ServiceURL is the connector base for outbound calls; "" means
	// DefaultServiceURL. The serviceUrl of each validated inbound
	// activity replaces it (Teams gives the regional one).
	ServiceURL string
	// TokenURL is the token endpoint; "" means TokenURL(TenantID).
	TokenURL   string
	HTTPClient *http.Client // nil: a client with a 30 s timeout
	Clock      bridge.Clock // nil: the system clock
	Logger     *slog.Logger // nil: slog.Default()
}

// Client calls the Bot Connector REST API (v3) as the bot: a
// client-credentials token for the bot's tenant, cached, dropped and
// fetched once more after a 401; every failure comes back as a
// *bridge.SendError. It is safe for concurrent use and shared by the
// Publisher and the Handler (which tells it the serviceUrl and the names
// of the people it sees).
type Client struct {
	appID, tenantID string
	hc              *http.Client
	clock           bridge.Clock
	log             *slog.Logger
	tokens          *tokenSource

	mu         sync.Mutex
	serviceURL string
	names      map[string]string // user id (AAD object id or 29:…) → display name
}

// NewClient returns a Client for cfg.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.AppID == "" || cfg.TenantID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("teams: app id, tenant id and client secret are required")
	}
	if cfg.ServiceURL == "" {
		cfg.ServiceURL = DefaultServiceURL
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = TokenURL(cfg.TenantID)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Clock == nil {
		cfg.Clock = bridge.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Client{
		appID: cfg.AppID, tenantID: cfg.TenantID, hc: cfg.HTTPClient, clock: cfg.Clock, log: cfg.Logger,
		tokens: &tokenSource{
			tokenURL: cfg.TokenURL, clientID: cfg.AppID, secret: cfg.ClientSecret,
			hc: cfg.HTTPClient, clock: cfg.Clock,
		},
		serviceURL: cfg.ServiceURL,
		names:      map[string]string{},
	}, nil
}

// ServiceURL returns the connector base outbound calls go to.
func (c *Client) ServiceURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.serviceURL
}

// SetServiceURL makes u the connector base for outbound calls. The
// Handler calls it with the serviceUrl of every validated activity (the
// token's serviceurl claim vouches for it).
func (c *Client) SetServiceURL(u string) {
	if u == "" {
		return
	}
	c.mu.Lock()
	if c.serviceURL != u {
		c.log.Info("teams service url", "service_url", u, "was", c.serviceURL)
		c.serviceURL = u
	}
	c.mu.Unlock()
}

// LearnName records the display name of a user id, for mentions.
func (c *Client) LearnName(id, name string) {
	if id == "" || name == "" {
		return
	}
	c.mu.Lock()
	c.names[id] = name
	c.mu.Unlock()
}

func (c *Client) knownName(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.names[id]
}

// TokenFetches counts the tokens fetched so far (for tests and metrics).
func (c *Client) TokenFetches() int {
	c.tokens.mu.Lock()
	defer c.tokens.mu.Unlock()
	return c.tokens.fetches
}

// convPath is "/v3/conversations/{id}" with id escaped as one segment.
func convPath(convID string, rest ...string) string {
	p := "/v3/conversations/" + url.PathEscape(convID)
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// createThread starts a new thread (a conversation) in a channel.
func (c *Client) createThread(ctx context.Context, channelID string, act *activity) (conversationResource, error) {
	var out conversationResource
	err := c.call(ctx, http.MethodPost, "/v3/conversations", conversationParameters{
		IsGroup:     true,
		ChannelData: &channelData{Channel: &idName{ID: channelID}},
		Activity:    act,
		TenantID:    c.tenantID,
	}, &out)
	return out, err
}

// send posts act into the conversation convID (a thread is
// "<channel>;messageid=<root>").
func (c *Client) send(ctx context.Context, convID string, act *activity) (string, error) {
	var out resourceResponse
	err := c.call(ctx, http.MethodPost, convPath(convID, "activities"), act, &out)
	return out.ID, err
}

// update replaces the activity id of conversation convID with act.
func (c *Client) update(ctx context.Context, convID, id string, act *activity) error {
	act.ID = id
	return c.call(ctx, http.MethodPut, convPath(convID, "activities", id), act, nil)
}

// delete deletes the activity id.
func (c *Client) delete(ctx context.Context, convID, id string) error {
	return c.call(ctx, http.MethodDelete, convPath(convID, "activities", id), nil, nil)
}

// member looks up one member of a team or conversation by AAD object id
// or Teams user id.
func (c *Client) member(ctx context.Context, convID, userID string) (teamsChannelAccount, error) {
	var out teamsChannelAccount
	err := c.call(ctx, http.MethodGet, convPath(convID, "members", userID), nil, &out)
	return out, err
}

// call makes one connector call with the bot's token. A 401 drops the
// token and the call is made once more with a fresh one.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = marshal(in); err != nil {
			return &bridge.SendError{Platform: "teams", Code: "encode", Permanent: true, Err: err}
		}
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.tokens.get(ctx)
		if err != nil {
			return err
		}
		err = c.callOnce(ctx, method, path, tok, body, out)
		var se *bridge.SendError
		if attempt == 0 && errors.As(err, &se) && se.Code == "401" {
			c.log.Info("teams token refused; fetching a new one", "method", method)
			c.tokens.forget(tok)
			continue
		}
		return err
	}
}

func (c *Client) callOnce(ctx context.Context, method, path, tok string, body []byte, out any) error {
	base := strings.TrimSuffix(c.ServiceURL(), "/")
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return &bridge.SendError{Platform: "teams", Code: "request", Permanent: true, Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return &bridge.SendError{Platform: "teams", Code: "network", Err: fmt.Errorf("%s %s: %w", method, path, err)}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out != nil && len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				// The connector acted; only its answer is unreadable.
				return &bridge.SendError{Platform: "teams", Code: "decode", Permanent: true,
					Err: fmt.Errorf("%s %s answered %d with %q: %w", method, path, resp.StatusCode, truncate(string(data), 200), err)}
			}
		}
		return nil
	}
	return classify(resp.StatusCode, resp.Header, data, c.clock)
}

// classify turns a connector error answer into a *bridge.SendError.
// Throttling (429), 412 and gateway errors (502, 504, and other 5xx) are
// temporary, with the Retry-After the connector sent; 400 BadSyntax, 413
// MessageSizeTooBig, 401 (after the retry with a fresh token), 403 and 404
// are permanent. Code is the error code from the body when there is one
// ("BadSyntax"), else the status.
func classify(status int, h http.Header, body []byte, clock bridge.Clock) *bridge.SendError {
	var er errorResponse
	_ = json.Unmarshal(body, &er)
	code := strconv.Itoa(status)
	msg := er.Error.Message
	if status == http.StatusUnauthorized {
		code = "401" // the client retries on this code
	} else if er.Error.Code != "" {
		code = er.Error.Code
	}
	temporary := status == http.StatusTooManyRequests || status == http.StatusPreconditionFailed ||
		status == http.StatusRequestTimeout || status >= 500
	return &bridge.SendError{
		Platform: "teams", Code: code, Permanent: !temporary,
		RetryAfter: retryAfter(h, clock),
		Err:        fmt.Errorf("connector answered %d %s: %s", status, er.Error.Code, firstLine(msg)),
	}
}

// retryAfter reads Retry-After (seconds or an HTTP date); 0 when absent.
func retryAfter(h http.Header, clock bridge.Clock) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(clock.Now()); d > 0 {
			return d
		}
	}
	return 0
}
