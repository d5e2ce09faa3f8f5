package x

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// StreamRule is one filtered-stream rule.
type StreamRule struct {
	Value string
	Tag   string
}

// StreamOptions tune the filtered stream; zero values take X's published
// figures.
type StreamOptions struct {
	// Silence after which the connection is considered dead (X sends a
	// keep-alive every 20 s; default 30 s).
	KeepAliveTimeout time.Duration
	// Backoff bases: network errors grow linearly by NetworkStep up to
	// NetworkMax (250 ms, 16 s); HTTP errors double from HTTPBase up to
	// HTTPMax (5 s, 320 s); 429s double from RateBase (1 min).
	NetworkStep, NetworkMax, HTTPBase, HTTPMax, RateBase time.Duration
	// HTTP is the client the stream connects with (default: one without
	// a timeout, over http.DefaultTransport). It must have no timeout:
	// the connection stays open for hours.
	HTTP *http.Client
}

func (o *StreamOptions) defaults() {
	set := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	set(&o.KeepAliveTimeout, 30*time.Second)
	set(&o.NetworkStep, 250*time.Millisecond)
	set(&o.NetworkMax, 16*time.Second)
	set(&o.HTTPBase, 5*time.Second)
	set(&o.HTTPMax, 320*time.Second)
	set(&o.RateBase, time.Minute)
}

// Stream is the filtered-stream source: it syncs the rules, connects, and
// reconnects with X's published backoff.
type Stream struct {
	c     *Client
	norm  *Normalizer
	rules []StreamRule
	opt   StreamOptions
	log   *slog.Logger
	http  *http.Client
}

var _ bridge.Source = (*Stream)(nil)

// NewStream returns the stream source for rules.
func NewStream(c *Client, norm *Normalizer, rules []StreamRule, opt StreamOptions, log *slog.Logger) *Stream {
	opt.defaults()
	h := opt.HTTP
	if h == nil {
		h = &http.Client{}
	}
	return &Stream{c: c, norm: norm, rules: rules, opt: opt, log: log, http: h}
}

// Name implements bridge.Source.
func (s *Stream) Name() string { return "x.stream" }

// RulesFromRoutes builds stream rules from routing rules: one rule (or
// more, if the keywords do not fit in 512 characters) per route, tagged
// with the department.
func RulesFromRoutes(routes []RouteKeywords, maxLen int) []StreamRule {
	if maxLen <= 0 {
		maxLen = 512
	}
	var out []StreamRule
	for i, r := range routes {
		tag := fmt.Sprintf("%s#%d", r.Department, i)
		excl := ""
		for _, e := range r.Exclude {
			excl += " -" + quoteTerm(e)
		}
		suffix := excl + " -is:retweet"
		var terms []string
		flush := func() {
			if len(terms) > 0 {
				out = append(out, StreamRule{Value: "(" + strings.Join(terms, " OR ") + ")" + suffix, Tag: tag})
				terms = nil
			}
		}
		for _, k := range r.Keywords {
			t := quoteTerm(k)
			if len("("+strings.Join(append(terms, t), " OR ")+")"+suffix) > maxLen {
				flush()
			}
			terms = append(terms, t)
		}
		for _, a := range r.Accounts {
			t := "@" + strings.TrimPrefix(a, "@")
			if len("("+strings.Join(append(terms, t), " OR ")+")"+suffix) > maxLen {
				flush()
			}
			terms = append(terms, t)
		}
		flush()
	}
	return out
}

// RouteKeywords is what RulesFromRoutes needs of a route.
type RouteKeywords struct {
	Department string
	Keywords   []string
	Exclude    []string
	Accounts   []string
}

func quoteTerm(k string) string {
	k = strings.TrimSpace(strings.ReplaceAll(k, `"`, ""))
	if strings.ContainsAny(k, " -:()#@") {
		return `"` + k + `"`
	}
	return k
}

// SyncRules makes the stream's rules equal the configured ones: rules not
// configured are deleted, missing ones added.
func (s *Stream) SyncRules(ctx context.Context) error {
	var cur struct {
		Data []struct {
			ID    string `json:"id"`
			Value string `json:"value"`
			Tag   string `json:"tag"`
		} `json:"data"`
	}
	if err := s.c.do(ctx, "stream_rules_get", "GET", "/2/tweets/search/stream/rules", nil, nil, nil, &cur); err != nil {
		return fmt.Errorf("list stream rules: %w", err)
	}
	want := map[string]StreamRule{}
	for _, r := range s.rules {
		want[r.Value+"\x00"+r.Tag] = r
	}
	var del []string
	for _, r := range cur.Data {
		k := r.Value + "\x00" + r.Tag
		if _, ok := want[k]; ok {
			delete(want, k)
		} else {
			del = append(del, r.ID)
		}
	}
	if len(del) > 0 {
		body := map[string]any{"delete": map[string]any{"ids": del}}
		if err := s.c.do(ctx, "stream_rules_post", "POST", "/2/tweets/search/stream/rules", nil, body, nil, nil); err != nil {
			return fmt.Errorf("delete stream rules: %w", err)
		}
	}
	if len(want) > 0 {
		var add []map[string]string
		for _, r := range s.rules {
			if _, ok := want[r.Value+"\x00"+r.Tag]; ok {
				add = append(add, map[string]string{"value": r.Value, "tag": r.Tag})
			}
		}
		var resp struct {
			Errors []struct {
				Title string `json:"title"`
				Value string `json:"value"`
			} `json:"errors"`
		}
		if err := s.c.do(ctx, "stream_rules_post", "POST", "/2/tweets/search/stream/rules", nil, map[string]any{"add": add}, nil, &resp); err != nil {
			return fmt.Errorf("add stream rules: %w", err)
		}
		for _, e := range resp.Errors {
			s.log.Warn("x refused a stream rule", "value", e.Value, "title", e.Title)
		}
	}
	s.log.Info("x stream rules synced", "rules", len(s.rules), "deleted", len(del), "added", len(want))
	return nil
}

// Run implements bridge.Source.
func (s *Stream) Run(ctx context.Context, sink bridge.Sink) error {
	if err := s.SyncRules(ctx); err != nil {
		return err
	}
	netFails, httpFails, rateFails := 0, 0, 0
	for {
		err := s.connect(ctx, sink)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var wait time.Duration
		var ae *bridge.SendError
		switch {
		case errors.As(err, &ae) && ae.Code == CodeRateLimited:
			wait = min(s.opt.RateBase<<min(rateFails, 10), 16*s.opt.RateBase)
			rateFails++
		case errors.As(err, &ae) && ae.Code != "network":
			wait = min(s.opt.HTTPBase<<min(httpFails, 10), s.opt.HTTPMax)
			httpFails++
		case errors.Is(err, errDisconnected):
			netFails, httpFails, rateFails = 0, 0, 0 // a healthy stream that X ended: reconnect at once
			wait = s.opt.NetworkStep
		default:
			netFails++
			wait = min(time.Duration(netFails)*s.opt.NetworkStep, s.opt.NetworkMax)
		}
		s.log.Warn("x stream disconnected; reconnecting", "err", err, "in", wait)
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
	}
}

var errDisconnected = errors.New("x stream: disconnected by X")

// connect reads one stream connection until it ends.
func (s *Stream) connect(ctx context.Context, sink bridge.Sink) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := url.Values{}
	for k, v := range tweetQuery {
		q[k] = v
	}
	req, err := http.NewRequestWithContext(cctx, "GET", s.c.base+"/2/tweets/search/stream?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	if err := s.c.app.Authorize(ctx, req, nil); err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return &bridge.SendError{Platform: "x", Code: "network", Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		ae := &APIError{Endpoint: "stream", Status: resp.StatusCode, Reset: resetOf(resp)}
		_ = json.NewDecoder(resp.Body).Decode(&ae.Problem)
		return classify(ae, s.c.now())
	}
	// The watchdog closes a connection that stays silent too long.
	alive := make(chan struct{}, 1)
	go func() {
		t := time.NewTimer(s.opt.KeepAliveTimeout)
		defer t.Stop()
		for {
			select {
			case <-cctx.Done():
				return
			case <-alive:
				if !t.Stop() {
					<-t.C
				}
				t.Reset(s.opt.KeepAliveTimeout)
			case <-t.C:
				s.log.Warn("x stream silent; reconnecting", "after", s.opt.KeepAliveTimeout)
				cancel()
				return
			}
		}
	}()
	err = scanStream(resp.Body, func() {
		select {
		case alive <- struct{}{}:
		default:
		}
	}, func(line []byte) error {
		if err := s.handleLine(ctx, sink, line); err != nil {
			if errors.Is(err, errDisconnected) {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("x stream: line not ingested", "err", err)
		}
		return nil
	})
	switch {
	case err == nil:
		return &bridge.SendError{Platform: "x", Code: "network", Err: errors.New("stream ended")}
	case errors.Is(err, errDisconnected) || ctx.Err() != nil:
		return err
	default:
		return &bridge.SendError{Platform: "x", Code: "network", Err: err}
	}
}

// maxStreamLine bounds one line of the stream; a longer one ends the
// connection (and the reconnect starts afresh).
const maxStreamLine = 8 << 20

// scanStream splits a stream body into lines ("\r\n" or "\n"; a last line
// without its end is still a line), calls alive for every line read —
// keep-alives included — and each for every non-blank one, stopping at the
// first error each returns. It returns that error, the reader's error, or
// nil at the end of the body.
func scanStream(r io.Reader, alive func(), each func(line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxStreamLine)
	for sc.Scan() {
		alive()
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue // keep-alive
		}
		if err := each(line); err != nil {
			return err
		}
	}
	return sc.Err()
}

// handleLine ingests one stream line. A line that does not decode (a
// truncated write) is logged and skipped: the search pollers catch up on
// anything the stream misses.
func (s *Stream) handleLine(ctx context.Context, sink bridge.Sink, line []byte) error {
	p, ok, err := s.norm.StreamLine(line)
	if err != nil || !ok {
		return err
	}
	// Retries on a store hiccup: the stream cannot be re-read.
	for attempt := 0; ; attempt++ {
		_, err = sink.Ingest(ctx, bridge.Batch{Posts: []bridge.Post{p}})
		if err == nil || ctx.Err() != nil || attempt == 5 {
			return err
		}
		if err := sleepCtx(ctx, time.Duration(attempt+1)*200*time.Millisecond); err != nil {
			return err
		}
	}
}

// StreamLine decodes one non-blank line of the filtered stream. A line with
// a tweet gives the post (ok); a line with only errors gives an error,
// wrapping errDisconnected when X ended the connection (an
// operational-disconnect); a line that does not decode (a truncated
// write), a tweet without an id or a line with neither gives an error or
// nothing. It never panics on any input.
func (n *Normalizer) StreamLine(line []byte) (p bridge.Post, ok bool, err error) {
	var msg struct {
		Data     json.RawMessage `json:"data"`
		Includes Includes        `json:"includes"`
		Errors   []struct {
			Title          string `json:"title"`
			DisconnectType string `json:"disconnect_type"`
			Detail         string `json:"detail"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(line, &msg); err != nil {
		return p, false, fmt.Errorf("undecodable stream line (%d bytes): %w", len(line), err)
	}
	if len(msg.Data) == 0 || string(msg.Data) == "null" {
		for _, e := range msg.Errors {
			if e.DisconnectType != "" || strings.Contains(e.Title, "disconnect") {
				return p, false, fmt.Errorf("%w: %s: %s", errDisconnected, e.Title, e.Detail)
			}
		}
		if len(msg.Errors) > 0 {
			return p, false, fmt.Errorf("stream error: %s", msg.Errors[0].Title)
		}
		return p, false, nil
	}
	p, err = n.Tweet(msg.Data, msg.Includes, bridge.SourceStream)
	if err != nil {
		return p, false, err
	}
	if p.ExternalID == "" {
		return bridge.Post{}, false, errors.New("stream tweet without an id")
	}
	return p, true, nil
}
