package x

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

// Authorizer signs a request: an app bearer token, OAuth 1.0a or an OAuth
// 2.0 user token.
type Authorizer interface {
	Authorize(ctx context.Context, req *http.Request, body []byte) error
}

// reauthorizer is an Authorizer that can renew its credentials after X
// answered 401 (OAuth 2.0 user tokens).
type reauthorizer interface {
	Reauthorize(ctx context.Context, req *http.Request) error
}

// Bearer is an app-only (or OAuth 2.0 user) bearer token.
type Bearer string

// Authorize sets the Authorization header.
func (b Bearer) Authorize(_ context.Context, req *http.Request, _ []byte) error {
	req.Header.Set("Authorization", "Bearer "+string(b))
	return nil
}

// Client calls the X API v2. It is safe for concurrent use.
type Client struct {
	base  string // without /2
	http  *http.Client
	app   Authorizer
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	log   *slog.Logger

	mu     sync.Mutex
	limits map[string]limit // per endpoint key
}

type limit struct {
	remaining int
	reset     time.Time
}

// ClientOption configures NewClient.
type ClientOption func(*Client)

// WithHTTPClient sets the HTTP client (default: 30 s timeout; the stream
// uses its own without a timeout).
func WithHTTPClient(h *http.Client) ClientOption { return func(c *Client) { c.http = h } }

// WithClock sets the clock and the sleep function (tests).
func WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) ClientOption {
	return func(c *Client) { c.now, c.sleep = now, sleep }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) ClientOption { return func(c *Client) { c.log = l } }

// NewClient returns a client for baseURL (e.g. https://api.x.com) that
// reads with the app authorizer.
func NewClient(baseURL string, app Authorizer, opts ...ClientOption) *Client {
	c := &Client{
		base:   strings.TrimSuffix(strings.TrimSuffix(baseURL, "/"), "/2"),
		http:   &http.Client{Timeout: 30 * time.Second},
		app:    app,
		now:    time.Now,
		sleep:  sleepCtx,
		log:    slog.Default(),
		limits: map[string]limit{},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Problem is an X API error body (RFC 7807 problem details).
type Problem struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Type   string `json:"type"`
	Errors []struct {
		Message    string              `json:"message"`
		Parameters map[string][]string `json:"parameters"`
	} `json:"errors"`
}

// APIError is a non-2xx answer from X.
type APIError struct {
	Endpoint string
	Status   int
	Problem  Problem
	Reset    time.Time // from x-rate-limit-reset, if given
}

func (e *APIError) Error() string {
	msg := e.Problem.Detail
	if msg == "" {
		msg = e.Problem.Title
	}
	for _, er := range e.Problem.Errors {
		msg += "; " + er.Message
	}
	return fmt.Sprintf("x %s: HTTP %d: %s", e.Endpoint, e.Status, msg)
}

// Error codes of classified X failures, as they appear in SendError.Code.
const (
	CodeDuplicate   = "duplicate_content"
	CodeNotEligible = "reply_not_allowed"
	CodeDMClosed    = "dm_not_allowed"
	CodeRateLimited = "429"
	CodeStaleSince  = "stale_since_id"
)

// classify turns an APIError into a *bridge.SendError.
func classify(e *APIError, now time.Time) *bridge.SendError {
	se := &bridge.SendError{Platform: "x", Code: strconv.Itoa(e.Status), Err: e}
	detail := strings.ToLower(e.Problem.Detail + " " + e.Problem.Title + " " + e.Problem.Type)
	switch {
	case e.Status == http.StatusTooManyRequests:
		se.Code = CodeRateLimited
		se.RetryAfter = time.Minute
		if !e.Reset.IsZero() && e.Reset.After(now) {
			se.RetryAfter = e.Reset.Sub(now) + time.Second
		}
	case e.Status >= 500:
		// retryable
	case e.Status == http.StatusForbidden && strings.Contains(detail, "duplicate"):
		se.Code, se.Permanent = CodeDuplicate, true
	case e.Status == http.StatusForbidden && (strings.Contains(detail, "only reply to or quote") ||
		strings.Contains(detail, "not-authorized-for-resource") || strings.Contains(detail, "reply to this conversation is not allowed")):
		se.Code, se.Permanent = CodeNotEligible, true
	case e.Status == http.StatusForbidden && strings.Contains(detail, "direct message"):
		se.Code, se.Permanent = CodeDMClosed, true
	case e.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Error()), "since_id"):
		se.Code, se.Permanent = CodeStaleSince, true
	case e.Status == http.StatusRequestTimeout:
	default:
		se.Permanent = e.Status >= 400 && e.Status < 500
	}
	return se
}

// do performs one call. endpoint names the rate-limit bucket (e.g.
// "search", "mentions:123"). out receives the JSON body of a 2xx answer.
func (c *Client) do(ctx context.Context, endpoint, method, path string, q url.Values, body any, auth Authorizer, out any) error {
	if auth == nil {
		auth = c.app
	}
	if err := c.waitLimit(ctx, endpoint); err != nil {
		return err
	}
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return fmt.Errorf("x %s: encode body: %w", endpoint, err)
		}
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("x %s: %w", endpoint, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "carebridge")
	if err := auth.Authorize(ctx, req, raw); err != nil {
		return &bridge.SendError{Platform: "x", Code: "auth", Permanent: true, Err: fmt.Errorf("x %s: authorize: %w", endpoint, err)}
	}
	resp, err := c.http.Do(req)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		// An OAuth 2.0 user token may have expired early or been revoked:
		// refresh it once and send again (X did not act on a 401).
		if ra, ok := auth.(reauthorizer); ok {
			resp.Body.Close()
			if err := ra.Reauthorize(ctx, req); err != nil {
				return &bridge.SendError{Platform: "x", Code: "auth", Permanent: true, Err: fmt.Errorf("x %s: refresh after 401: %w", endpoint, err)}
			}
			req.Body = io.NopCloser(bytes.NewReader(raw))
			resp, err = c.http.Do(req)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &bridge.SendError{Platform: "x", Code: "network", Err: fmt.Errorf("x %s: %w", endpoint, err)}
	}
	defer resp.Body.Close()
	c.noteLimit(endpoint, resp)
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return &bridge.SendError{Platform: "x", Code: "network", Err: fmt.Errorf("x %s: read body: %w", endpoint, err)}
	}
	if resp.StatusCode/100 != 2 {
		ae := &APIError{Endpoint: endpoint, Status: resp.StatusCode, Reset: resetOf(resp)}
		_ = json.Unmarshal(data, &ae.Problem)
		if resp.StatusCode == http.StatusTooManyRequests {
			c.block(endpoint, ae.Reset)
		}
		return classify(ae, c.now())
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return &bridge.SendError{Platform: "x", Code: "bad_response", Err: fmt.Errorf("x %s: decode response: %w", endpoint, err)}
		}
	}
	return nil
}

func resetOf(resp *http.Response) time.Time {
	if v := resp.Header.Get("x-rate-limit-reset"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.Unix(n, 0)
		}
	}
	return time.Time{}
}

// noteLimit records the rate-limit headers of a response.
func (c *Client) noteLimit(endpoint string, resp *http.Response) {
	rem := resp.Header.Get("x-rate-limit-remaining")
	if rem == "" {
		return
	}
	n, err := strconv.Atoi(rem)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.limits[endpoint] = limit{remaining: n, reset: resetOf(resp)}
	c.mu.Unlock()
}

// block marks endpoint as exhausted until reset (a minute if unknown).
func (c *Client) block(endpoint string, reset time.Time) {
	if reset.IsZero() || !reset.After(c.now()) {
		reset = c.now().Add(time.Minute)
	}
	c.mu.Lock()
	c.limits[endpoint] = limit{remaining: 0, reset: reset}
	c.mu.Unlock()
}

// waitLimit sleeps until endpoint's window resets if it is used up. Long
// waits are not slept through: the caller gets a rate-limit error telling
// it when to come back.
func (c *Client) waitLimit(ctx context.Context, endpoint string) error {
	c.mu.Lock()
	l, ok := c.limits[endpoint]
	c.mu.Unlock()
	if !ok || l.remaining > 0 {
		return nil
	}
	wait := l.reset.Sub(c.now())
	if wait <= 0 {
		return nil
	}
	if wait > 5*time.Second {
		return &bridge.SendError{Platform: "x", Code: CodeRateLimited, RetryAfter: wait + time.Second,
			Err: fmt.Errorf("x %s: rate limit used up until %s", endpoint, l.reset.Format(time.TimeOnly))}
	}
	return c.sleep(ctx, wait+100*time.Millisecond)
}

// RateLimitWait returns how long endpoint is blocked (0 if it is not).
func (c *Client) RateLimitWait(endpoint string) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.limits[endpoint]
	if !ok || l.remaining > 0 {
		return 0
	}
	return max(0, l.reset.Sub(c.now()))
}

// retryAfter returns how long to wait after err before polling again, or
// 0 for "at the next cycle".
func retryAfter(err error) time.Duration {
	var se *bridge.SendError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}
