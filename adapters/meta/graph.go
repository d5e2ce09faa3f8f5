package meta

import (
	"bytes"
	"context"
	"encoding/json"
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

// Graph is a thin Graph API client: every path carries the pinned version
// (/v25.0/…), the Page token goes in the Authorization header, and a
// failure comes back as *bridge.SendError with Meta's error code.
type Graph struct {
	base, version string
	hc            *http.Client
	clock         bridge.Clock
	log           *slog.Logger
	health        *Health
}

// NewGraph returns a client for base (https://graph.facebook.com) at
// version (v25.0). health, if set, learns which pages' tokens Meta
// refuses (190).
func NewGraph(base, version string, hc *http.Client, clock bridge.Clock, health *Health, log *slog.Logger) *Graph {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	if clock == nil {
		clock = bridge.SystemClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Graph{base: strings.TrimSuffix(base, "/"), version: version, hc: hc, clock: clock, log: log, health: health}
}

// APIError is Meta's error object ({"error":{…}}).
type APIError struct {
	Message   string `json:"message"`
	Type      string `json:"type"`
	Code      int    `json:"code"`
	Subcode   int    `json:"error_subcode"`
	UserTitle string `json:"error_user_title"`
	UserMsg   string `json:"error_user_msg"`
	TraceID   string `json:"fbtrace_id"`
	Status    int    `json:"-"`
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("HTTP %d, (#%d) %s", e.Status, e.Code, e.Message)
	if e.Subcode != 0 {
		s += fmt.Sprintf(" (subcode %d)", e.Subcode)
	}
	if e.TraceID != "" {
		s += " fbtrace_id " + e.TraceID
	}
	return s
}

// Meta's error codes carebridge acts on.
const (
	CodeTokenInvalid        = 190   // the access token expired or was revoked
	CodeAlreadyReplied      = 10900 // a private reply to this comment exists
	CodeCannotReplyPrivatly = 10903 // this person can't get a private reply to this activity
	CodeOutsideWindow       = 10    // "(#10) This message is sent outside of allowed window"
	CodeInvalidParameter    = 100   // also: retired message tags (since 2026-04-27)
	CodeUnavailable         = 551   // this person isn't available right now
)

// throttled are the rate-limit codes: app (4), user (17), page (32),
// and per-call (613).
var throttled = map[int]bool{4: true, 17: true, 32: true, 613: true, 80001: true}

// Classify turns a Graph failure into a *bridge.SendError for platform:
// 190 and the refusals (10, 10903, 100, 200/230 permissions, 551) are
// permanent; throttling (4, 17, 32, 613) is temporary, with RetryAfter
// from X-Business-Use-Case-Usage's estimated_time_to_regain_access
// (minutes; the largest of the header's entries, at least a minute);
// 1, 2 and HTTP 5xx are temporary.
func Classify(platform bridge.Platform, e *APIError, h http.Header) *bridge.SendError {
	se := &bridge.SendError{Platform: string(platform), Code: strconv.Itoa(e.Code), Err: e}
	switch {
	case throttled[e.Code]:
		se.RetryAfter = RegainAccess(h)
		if se.RetryAfter == 0 {
			se.RetryAfter = time.Minute
		}
	case e.Code == 1 || e.Code == 2 || e.Status >= 500:
	case e.Code == 0:
		se.Code = strconv.Itoa(e.Status)
		se.Permanent = e.Status/100 == 4 && e.Status != http.StatusTooManyRequests
	default:
		se.Permanent = true
	}
	return se
}

// RegainAccess reads X-Business-Use-Case-Usage ({"<id>":[{"type":…,
// "call_count":…,"estimated_time_to_regain_access":<minutes>}]}) and
// returns the longest wait it announces (0 if none).
func RegainAccess(h http.Header) time.Duration {
	raw := h.Get("X-Business-Use-Case-Usage")
	if raw == "" {
		return 0
	}
	var usage map[string][]struct {
		Minutes float64 `json:"estimated_time_to_regain_access"`
	}
	if json.Unmarshal([]byte(raw), &usage) != nil {
		return 0
	}
	var most time.Duration
	for _, list := range usage {
		for _, u := range list {
			if d := time.Duration(u.Minutes * float64(time.Minute)); d > most {
				most = d
			}
		}
	}
	return most
}

// call makes one Graph request as page pg on platform's behalf. form is
// sent urlencoded, body as JSON (at most one of them); out receives the
// JSON answer.
func (g *Graph) call(ctx context.Context, platform bridge.Platform, pg *Page, method, path string, query url.Values, form url.Values, body any, out any) error {
	u := g.base + "/" + g.version + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	ctype := ""
	switch {
	case form != nil:
		rd, ctype = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	case body != nil:
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd, ctype = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	// The token goes in the Authorization header rather than the
	// access_token parameter Meta's examples use, to keep it out of URLs
	// (and so out of proxies' logs); that the Graph API takes a Bearer
	// header is widely relied on but not verified here.
	req.Header.Set("Authorization", "Bearer "+pg.Token)
	resp, err := g.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &bridge.SendError{Platform: string(platform), Code: "network", Err: fmt.Errorf("graph %s %s: %w", method, path, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return &bridge.SendError{Platform: string(platform), Code: "network", Err: fmt.Errorf("graph %s %s: read body: %w", method, path, err)}
	}
	if resp.StatusCode/100 != 2 {
		var env struct {
			Error APIError `json:"error"`
		}
		_ = json.Unmarshal(data, &env)
		env.Error.Status = resp.StatusCode
		se := Classify(platform, &env.Error, resp.Header)
		if env.Error.Code == CodeTokenInvalid {
			g.health.markBroken(pg.Name, env.Error.Message, g.clock.Now())
		}
		g.log.Warn("graph call failed", "method", method, "path", path, "page", pg.Name, "code", se.Code, "err", env.Error.Error())
		return se
	}
	g.health.markOK(pg.Name)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return &bridge.SendError{Platform: string(platform), Code: "bad_response", Err: fmt.Errorf("graph %s %s: %w", method, path, err)}
		}
	}
	return nil
}

// Health is what carebridge knows of each page's token: Meta answered 190
// (the token expired or was revoked) and no call has succeeded since.
// /readyz and the metrics show it; it is per process, learnt from calls.
type Health struct {
	mu    sync.Mutex
	pages map[string]Broken
}

// Broken is a page whose token Meta refused.
type Broken struct {
	Since  time.Time
	Reason string
}

// NewHealth returns an empty Health.
func NewHealth() *Health { return &Health{pages: map[string]Broken{}} }

func (h *Health) markBroken(page, reason string, at time.Time) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.pages[page]; !ok {
		h.pages[page] = Broken{Since: at, Reason: reason}
	}
}

func (h *Health) markOK(page string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.pages, page)
}

// Broken lists the pages whose token Meta refuses, by name.
func (h *Health) Broken() map[string]Broken {
	out := map[string]Broken{}
	if h == nil {
		return out
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, v := range h.pages {
		out[k] = v
	}
	return out
}
