package bsky

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// State keeps small values across restarts: an account's session and the
// record keys chosen for replies. cmd/carebridge backs it with the store's
// cursor table.
type State interface {
	Get(ctx context.Context, key string) (string, error) // "" and no error when unset
	Set(ctx context.Context, key, value string) error
}

// Account is one of our Bluesky accounts.
type Account struct {
	Handle      string // e.g. sbcare.bsky.social, without @
	AppPassword string
	PDS         string // its PDS, e.g. https://bsky.social
}

// Bluesky's published limits (docs.bsky.app rate limits).
const (
	signinsPer5Min   = 30
	signinsPerDay    = 300
	writePointsHour  = 5000
	writePointsDay   = 35000
	createPoints     = 3
	signinMinSpacing = 10 * time.Second // between two sign-ins of one account
)

// ChatProxy is the Atproto-Proxy header value that sends chat.bsky.*
// calls through the PDS to Bluesky's chat service.
const ChatProxy = "did:web:api.bsky.chat#bsky_chat"

// Client calls our accounts' PDSes. It is safe for concurrent use.
type Client struct {
	http     *http.Client
	clock    bridge.Clock
	log      *slog.Logger
	state    State
	accounts map[string]*account // lower-case handle
	order    []*account
	ours     ours
}

// account is one account's session and budgets.
type account struct {
	Account
	mu       sync.Mutex // serializes sign-in and refresh
	sess     *Session
	signins  []time.Time // createSession calls, last 24 h
	lastFail time.Time   // the last refused sign-in
	failErr  error
	wmu      sync.Mutex
	writes   []writeMark // last 24 h
}

type writeMark struct {
	at     time.Time
	points int
}

// Session is an account's signed-in session, as saved in State.
type Session struct {
	DID     string `json:"did"`
	Handle  string `json:"handle"`
	Access  string `json:"access_jwt"`
	Refresh string `json:"refresh_jwt"`
	// Password is a SHA-256 of the app password it was opened with: a
	// new password in the configuration means signing in again.
	Password string `json:"password_sha256"`
}

// ClientOptions configure NewClient.
type ClientOptions struct {
	HTTP   *http.Client // default: 30 s timeout
	Clock  bridge.Clock // default: the system clock
	Logger *slog.Logger // default: slog.Default()
	State  State        // required to keep sessions across restarts
}

// NewClient returns a client for accounts.
func NewClient(accounts []Account, o ClientOptions) *Client {
	c := &Client{http: o.HTTP, clock: o.Clock, log: o.Logger, state: o.State, accounts: map[string]*account{}}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	if c.clock == nil {
		c.clock = bridge.SystemClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	for _, a := range accounts {
		a.PDS = strings.TrimSuffix(a.PDS, "/")
		acc := &account{Account: a}
		c.accounts[strings.ToLower(a.Handle)] = acc
		c.order = append(c.order, acc)
	}
	return c
}

// account returns our account handle, or the first account when handle is
// not one of ours (a department that answers as an account of another
// network).
func (c *Client) account(handle string) (*account, error) {
	if a, ok := c.accounts[strings.ToLower(strings.TrimPrefix(handle, "@"))]; ok {
		return a, nil
	}
	if len(c.order) > 0 {
		return c.order[0], nil
	}
	return nil, &bridge.SendError{Platform: "bluesky", Code: CodeAuth, Permanent: true, Err: errors.New("no Bluesky account is configured")}
}

// Handles lists our accounts' handles, in configuration order.
func (c *Client) Handles() []string {
	var out []string
	for _, a := range c.order {
		out = append(out, a.Handle)
	}
	return out
}

// APIError is an XRPC error answer.
type APIError struct {
	NSID    string
	Status  int
	Name    string    `json:"error"`
	Message string    `json:"message"`
	Reset   time.Time // from ratelimit-reset or Retry-After, on a 429
}

func (e *APIError) Error() string {
	return fmt.Sprintf("bluesky %s: HTTP %d %s: %s", e.NSID, e.Status, e.Name, e.Message)
}

// classify turns an APIError into a *bridge.SendError: the XRPC error name
// is the code; 4xx are permanent but for 429 and 408; a 429 waits for
// ratelimit-reset.
func classify(e *APIError, now time.Time) *bridge.SendError {
	se := &bridge.SendError{Platform: "bluesky", Code: e.Name, Err: e}
	if se.Code == "" {
		se.Code = strconv.Itoa(e.Status)
	}
	switch {
	case e.Status == http.StatusTooManyRequests:
		se.Code = CodeRateLimited
		se.RetryAfter = time.Minute
		if !e.Reset.IsZero() && e.Reset.After(now) {
			se.RetryAfter = e.Reset.Sub(now) + time.Second
		}
	case e.Status >= 500, e.Status == http.StatusRequestTimeout:
	default:
		se.Permanent = e.Status >= 400 && e.Status < 500
	}
	return se
}

// call makes one XRPC call: a query (GET) when body is nil, a procedure
// (POST) otherwise. With an account it is authenticated with the
// account's session (signing in if there is none) and sent again once
// after refreshing an expired access token. hdr adds headers
// (Atproto-Proxy).
func (c *Client) call(ctx context.Context, a *account, pds, nsid string, q url.Values, body any, hdr http.Header, out any) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return fmt.Errorf("bluesky %s: encode: %w", nsid, err)
		}
	}
	if a == nil {
		return c.send(ctx, pds, nsid, q, raw, body != nil, "", hdr, out)
	}
	sess, err := c.session(ctx, a)
	if err != nil {
		return err
	}
	err = c.send(ctx, a.PDS, nsid, q, raw, body != nil, sess.Access, hdr, out)
	if !isExpired(err) {
		return err
	}
	// The PDS checks the token before it acts: nothing was done.
	if sess, err = c.renew(ctx, a, sess); err != nil {
		return err
	}
	return c.send(ctx, a.PDS, nsid, q, raw, body != nil, sess.Access, hdr, out)
}

func isExpired(err error) bool {
	var se *bridge.SendError
	return errors.As(err, &se) && se.Code == "ExpiredToken"
}

// send performs one HTTP request.
func (c *Client) send(ctx context.Context, pds, nsid string, q url.Values, raw []byte, post bool, token string, hdr http.Header, out any) error {
	u := pds + "/xrpc/" + nsid
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	method := http.MethodGet
	if post {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("bluesky %s: %w", nsid, err)
	}
	if post {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "carebridge")
	for k, v := range hdr {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &bridge.SendError{Platform: "bluesky", Code: CodeNetwork, Err: fmt.Errorf("bluesky %s: %w", nsid, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return &bridge.SendError{Platform: "bluesky", Code: CodeNetwork, Err: fmt.Errorf("bluesky %s: read: %w", nsid, err)}
	}
	if resp.StatusCode/100 != 2 {
		ae := &APIError{NSID: nsid, Status: resp.StatusCode, Reset: resetOf(resp, c.clock.Now())}
		_ = json.Unmarshal(data, ae)
		return classify(ae, c.clock.Now())
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return &bridge.SendError{Platform: "bluesky", Code: "bad_response", Err: fmt.Errorf("bluesky %s: decode: %w", nsid, err)}
		}
	}
	return nil
}

// resetOf reads when a rate limit resets: ratelimit-reset (Unix seconds,
// as Bluesky's PDS sends it) or Retry-After (seconds).
func resetOf(resp *http.Response, now time.Time) time.Time {
	if v := resp.Header.Get("ratelimit-reset"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.Unix(n, 0)
		}
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return now.Add(time.Duration(n) * time.Second)
		}
	}
	return time.Time{}
}

func passwordSum(p string) string {
	s := sha256.Sum256([]byte(p))
	return hex.EncodeToString(s[:])
}

func sessionKey(a *account) string { return "bsky:session:" + strings.ToLower(a.Handle) }

// session returns a's session: the one in memory, else the one saved in
// State (if opened with the configured password), else a new sign-in.
func (c *Client) session(ctx context.Context, a *account) (*Session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sess != nil {
		return a.sess, nil
	}
	if c.state != nil {
		raw, err := c.state.Get(ctx, sessionKey(a))
		if err != nil {
			return nil, fmt.Errorf("bluesky @%s: read the saved session: %w", a.Handle, err)
		}
		var s Session
		if raw != "" && json.Unmarshal([]byte(raw), &s) == nil && s.Password == passwordSum(a.AppPassword) && s.Access != "" {
			a.sess = &s
			return a.sess, nil
		}
	}
	return c.signIn(ctx, a)
}

// Session returns the session of our account handle, signing in if
// needed.
func (c *Client) Session(ctx context.Context, handle string) (*Session, error) {
	a, err := c.account(handle)
	if err != nil {
		return nil, err
	}
	return c.session(ctx, a)
}

// signIn calls createSession, within Bluesky's sign-in limits (30 in 5
// minutes, 300 a day per account) and never twice in signinMinSpacing; a
// refused sign-in is not tried again for 5 minutes. a.mu is held.
func (c *Client) signIn(ctx context.Context, a *account) (*Session, error) {
	now := c.clock.Now()
	if !a.lastFail.IsZero() && now.Sub(a.lastFail) < 5*time.Minute {
		return nil, &bridge.SendError{Platform: "bluesky", Code: CodeAuth, RetryAfter: 5*time.Minute - now.Sub(a.lastFail),
			Err: fmt.Errorf("bluesky @%s: the last sign-in was refused; not trying again before %s: %w", a.Handle, a.lastFail.Add(5*time.Minute).Format(time.TimeOnly), a.failErr)}
	}
	kept := a.signins[:0]
	in5 := 0
	for _, t := range a.signins {
		if now.Sub(t) < 24*time.Hour {
			kept = append(kept, t)
			if now.Sub(t) < 5*time.Minute {
				in5++
			}
		}
	}
	a.signins = kept
	if n := len(a.signins); n > 0 && now.Sub(a.signins[n-1]) < signinMinSpacing || in5 >= signinsPer5Min || len(a.signins) >= signinsPerDay {
		return nil, &bridge.SendError{Platform: "bluesky", Code: CodeRateLimited, RetryAfter: time.Minute,
			Err: fmt.Errorf("bluesky @%s: signed in %d times in 5 minutes, %d in a day: holding back (Bluesky allows %d and %d)", a.Handle, in5, len(a.signins), signinsPer5Min, signinsPerDay)}
	}
	a.signins = append(a.signins, now)
	var out struct {
		DID     string `json:"did"`
		Handle  string `json:"handle"`
		Access  string `json:"accessJwt"`
		Refresh string `json:"refreshJwt"`
	}
	err := c.send(ctx, a.PDS, "com.atproto.server.createSession", nil,
		mustJSON(map[string]string{"identifier": a.Handle, "password": a.AppPassword}), true, "", nil, &out)
	if err != nil {
		var se *bridge.SendError
		if errors.As(err, &se) && se.Code != CodeNetwork && se.Code != CodeRateLimited && !strings.HasPrefix(se.Code, "5") {
			a.lastFail, a.failErr = now, err
			se.Code = CodeAuth
		}
		return nil, err
	}
	c.log.Info("bluesky signed in", "account", a.Handle, "did", out.DID)
	a.sess = &Session{DID: out.DID, Handle: out.Handle, Access: out.Access, Refresh: out.Refresh, Password: passwordSum(a.AppPassword)}
	a.lastFail, a.failErr = time.Time{}, nil
	c.save(ctx, a)
	return a.sess, nil
}

// renew refreshes an expired session with refreshSession; if the refresh
// token is refused too, it signs in again (within the limits).
func (c *Client) renew(ctx context.Context, a *account, old *Session) (*Session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sess != nil && a.sess.Access != old.Access {
		return a.sess, nil // another call renewed it meanwhile
	}
	// Another replica may have refreshed it (refresh tokens are single
	// use): take the saved session if it is newer.
	if c.state != nil {
		if raw, err := c.state.Get(ctx, sessionKey(a)); err == nil && raw != "" {
			var s Session
			if json.Unmarshal([]byte(raw), &s) == nil && s.Access != "" && s.Access != old.Access && s.Password == old.Password {
				a.sess = &s
				return a.sess, nil
			}
		}
	}
	var out struct {
		DID     string `json:"did"`
		Handle  string `json:"handle"`
		Access  string `json:"accessJwt"`
		Refresh string `json:"refreshJwt"`
	}
	err := c.send(ctx, a.PDS, "com.atproto.server.refreshSession", nil, nil, true, old.Refresh, nil, &out)
	if err != nil {
		var se *bridge.SendError
		if errors.As(err, &se) && se.Permanent {
			c.log.Warn("bluesky session refresh refused; signing in again", "account", a.Handle, "err", err)
			a.sess = nil
			return c.signIn(ctx, a)
		}
		return nil, err
	}
	a.sess = &Session{DID: out.DID, Handle: out.Handle, Access: out.Access, Refresh: out.Refresh, Password: old.Password}
	c.save(ctx, a)
	return a.sess, nil
}

// save keeps a's session in State; a failure costs a sign-in after a
// restart, nothing else.
func (c *Client) save(ctx context.Context, a *account) {
	if c.state == nil {
		return
	}
	if err := c.state.Set(ctx, sessionKey(a), string(mustJSON(a.sess))); err != nil {
		c.log.Error("bluesky session not saved: the next start signs in again", "account", a.Handle, "err", err)
	}
}

// spend reserves points of a's write budget (5,000 an hour, 35,000 a
// day) or says when there is room again.
func (c *Client) spend(a *account, points int) error {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	now := c.clock.Now()
	kept := a.writes[:0]
	hour, day := 0, 0
	var oldestHour, oldestDay time.Time
	for _, w := range a.writes {
		age := now.Sub(w.at)
		if age >= 24*time.Hour {
			continue
		}
		kept = append(kept, w)
		day += w.points
		if oldestDay.IsZero() {
			oldestDay = w.at
		}
		if age < time.Hour {
			hour += w.points
			if oldestHour.IsZero() {
				oldestHour = w.at
			}
		}
	}
	a.writes = kept
	switch {
	case hour+points > writePointsHour:
		return &bridge.SendError{Platform: "bluesky", Code: CodeRateLimited, RetryAfter: oldestHour.Add(time.Hour).Sub(now) + time.Second,
			Err: fmt.Errorf("bluesky @%s: %d of %d write points used this hour", a.Handle, hour, writePointsHour)}
	case day+points > writePointsDay:
		return &bridge.SendError{Platform: "bluesky", Code: CodeRateLimited, RetryAfter: oldestDay.Add(24*time.Hour).Sub(now) + time.Second,
			Err: fmt.Errorf("bluesky @%s: %d of %d write points used today", a.Handle, day, writePointsDay)}
	}
	a.writes = append(a.writes, writeMark{at: now, points: points})
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("bsky: encode %T: %v", v, err))
	}
	return b
}
