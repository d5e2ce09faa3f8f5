package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// Feed is one subscribed feed, as configured.
type Feed struct {
	URL        string        // as configured: the feed's identity (its cursor, its posts' ids)
	Name       string        // for people and metrics
	Interval   time.Duration // between checks, at least
	Department string        // takes the items no routing rule matches ("" for triage)
}

// Options tune the Source. Zero values take the defaults.
type Options struct {
	UserAgent    string
	Horizon      time.Duration // a new feed's first check mirrors only items newer than this (default 24h)
	MaxBodyBytes int64         // a larger document is an error (default 5 MiB)
	// HostGap is the least time between two requests to one host
	// (default and minimum 1s); requests to one host never overlap.
	HostGap time.Duration
	// MaxBackoff caps the wait after consecutive errors (default 24h);
	// the wait is never shorter than the feed's interval.
	MaxBackoff time.Duration
	// MaxCacheHint caps what <ttl>, Cache-Control and Expires may add to
	// the interval (default 24h). Retry-After is honoured in full.
	MaxCacheHint time.Duration
	// Concurrency caps requests in flight over all hosts (default 4).
	Concurrency int
	// Client makes the requests (default: a client with a 30 s timeout).
	// Redirects are never followed by it: the Source handles them.
	Client *http.Client
	Parser Parser // default XMLParser
}

// Metrics observes the feeds. cmd/carebridge supplies a Prometheus one.
type Metrics interface {
	// FeedChecked counts one check of feed and its result: "new",
	// "unchanged", "not_modified", "redirect", "rate_limited", "gone",
	// "error".
	FeedChecked(feed, result string)
	// FeedErrors sets the feed's consecutive errors (0 after a success).
	FeedErrors(feed string, consecutive int)
}

// Results of a check, for FeedChecked.
var Results = []string{"new", "unchanged", "not_modified", "redirect", "rate_limited", "gone", "error"}

type noMetrics struct{}

func (noMetrics) FeedChecked(string, string) {}
func (noMetrics) FeedErrors(string, int)     {}

// state is a feed's saved position: the cursor's value, as JSON. It is
// saved with the items of the check that produced it, in one
// transaction.
type state struct {
	URL          string    `json:"url,omitempty"`      // current URL after permanent redirects; "" is the configured one
	TempURL      string    `json:"temp_url,omitempty"` // a temporary redirect's target, for the next check only
	Redirects    int       `json:"redirects,omitempty"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	NextCheck    time.Time `json:"next_check"`
	Errors       int       `json:"errors,omitempty"` // consecutive
	LastError    string    `json:"last_error,omitempty"`
	Disabled     bool      `json:"disabled,omitempty"`
	DisabledWhy  string    `json:"disabled_why,omitempty"`
	Started      bool      `json:"started,omitempty"` // a document was read once: the horizon no longer applies
	// Skipped are the keys of the latest document's items that were not
	// mirrored (older than the horizon at the first check); they stay
	// skipped while the document lists them.
	Skipped []string `json:"skipped,omitempty"`
}

// Source polls every configured feed politely; one Source serves them
// all, so that requests to one host are serialized and spaced.
type Source struct {
	feeds  []*feedRun
	opt    Options
	client *http.Client
	parser Parser
	clock  bridge.TimerClock
	log    *slog.Logger
	m      Metrics
	// idle, when set (tests), is called each time the scheduler waits
	// with no check running: the time it read and the time it waits for
	// (zero: nothing is due).
	idle func(now, next time.Time)
}

var _ bridge.Source = (*Source)(nil)

// feedRun is a feed and its state while the Source runs.
type feedRun struct {
	Feed
	st   state
	busy bool
	host string // the host of the request in flight
}

// maxRedirects bounds a chain of redirects without a document.
const maxRedirects = 5

// NewSource returns the Source of feeds. clock is the process's clock:
// schedules, host spacing and Retry-After run on it.
func NewSource(feeds []Feed, opt Options, clock bridge.TimerClock, log *slog.Logger, m Metrics) *Source {
	if opt.UserAgent == "" {
		opt.UserAgent = "carebridge-feeds/1.0"
	}
	if opt.Horizon == 0 {
		opt.Horizon = 24 * time.Hour
	}
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 5 << 20
	}
	opt.HostGap = max(opt.HostGap, time.Second)
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 24 * time.Hour
	}
	if opt.MaxCacheHint <= 0 {
		opt.MaxCacheHint = 24 * time.Hour
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 4
	}
	client := opt.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if opt.Parser == nil {
		opt.Parser = XMLParser{}
	}
	if clock == nil {
		clock = bridge.SystemClock{}
	}
	if log == nil {
		log = slog.Default()
	}
	if m == nil {
		m = noMetrics{}
	}
	s := &Source{opt: opt, client: &c, parser: opt.Parser, clock: clock, log: log, m: m}
	for _, f := range feeds {
		s.feeds = append(s.feeds, &feedRun{Feed: f})
	}
	return s
}

// Name implements bridge.Source.
func (s *Source) Name() string { return "feeds" }

// CursorKey is the cursor a feed's state is saved under.
func CursorKey(configuredURL string) string { return "feed:" + configuredURL }

// host tracks one host's politeness: one request at a time, and the
// earliest time of the next.
type host struct {
	busy bool
	free time.Time
}

// Run implements bridge.Source: it reads each feed's saved state, then
// checks each feed when it is due and its host is free, until ctx ends.
func (s *Source) Run(ctx context.Context, sink bridge.Sink) error {
	for _, f := range s.feeds {
		raw, err := sink.Cursor(ctx, CursorKey(f.URL))
		if err != nil {
			return fmt.Errorf("feeds: read the state of %s: %w", f.Name, err)
		}
		f.st = state{}
		if raw != "" {
			if err := json.Unmarshal([]byte(raw), &f.st); err != nil {
				s.log.Warn("feed state unreadable; starting the feed afresh", "feed", f.Name, "err", err)
				f.st = state{}
			}
		}
		f.busy = false
		s.m.FeedErrors(f.Name, f.st.Errors)
	}
	hosts := map[string]*host{}
	done := make(chan *feedRun)
	wake := make(chan struct{}, 1)
	running := 0
	for {
		now := s.clock.Now()
		var next time.Time
		for _, f := range s.feeds {
			if f.busy || f.st.Disabled {
				continue
			}
			hk := hostOf(f.target())
			h := hosts[hk]
			if h == nil {
				h = &host{}
				hosts[hk] = h
			}
			if h.busy {
				continue // looked at again when its request ends
			}
			at := f.st.NextCheck
			if h.free.After(at) {
				at = h.free
			}
			if !at.After(now) && running < s.opt.Concurrency {
				h.busy, f.busy, f.host = true, true, hk
				running++
				go func() {
					s.check(ctx, sink, f)
					done <- f
				}()
				continue
			}
			if at.After(now) && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
		var timer bridge.Timer
		if !next.IsZero() {
			timer = s.clock.AfterFunc(next.Sub(now), func() {
				select {
				case wake <- struct{}{}:
				default:
				}
			})
		}
		if running == 0 && s.idle != nil {
			s.idle(now, next)
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			for ; running > 0; running-- {
				<-done
			}
			return nil
		case f := <-done:
			running--
			f.busy = false
			h := hosts[f.host]
			h.busy, h.free = false, s.clock.Now().Add(s.opt.HostGap)
		case <-wake:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// target is the URL the next check asks.
func (f *feedRun) target() string {
	switch {
	case f.st.TempURL != "":
		return f.st.TempURL
	case f.st.URL != "":
		return f.st.URL
	}
	return f.URL
}

// check fetches a feed once and saves what it learnt: its new items and
// its state, in one transaction.
func (s *Source) check(ctx context.Context, sink bridge.Sink, f *feedRun) {
	st := f.st
	st.Skipped = slices.Clone(f.st.Skipped)
	target := f.target()
	temp := st.TempURL != ""
	st.TempURL = ""
	etag, lm := st.ETag, st.LastModified
	if temp {
		etag, lm = "", "" // the validators are the feed's own URL's
	}
	resp, err := s.get(ctx, target, etag, lm)
	if ctx.Err() != nil {
		return
	}
	now := s.clock.Now()
	var posts []bridge.Post
	var notice *bridge.Report
	result := ""
	switch {
	case err != nil:
		result = s.failed(f, &st, now, err, time.Time{})
	case resp.status == http.StatusNotModified:
		result = "not_modified"
		if resp.lastModified != "" && !temp {
			st.LastModified = resp.lastModified // RFC 9111 §4.3.4
		}
		if resp.etag != "" && !temp {
			st.ETag = resp.etag
		}
		s.succeeded(f, &st, now, resp, 0)
	case resp.status >= 200 && resp.status <= 299:
		if !temp && resp.etag != "" && resp.etag == f.st.ETag && f.st.Started {
			result = "not_modified" // a 200 with the same ETag: nothing new
			s.succeeded(f, &st, now, resp, 0)
			break
		}
		var ttl time.Duration
		posts, ttl, err = s.items(ctx, sink, f, &st, resp, now)
		if err != nil {
			result = s.failed(f, &st, now, err, time.Time{})
			break
		}
		result = "unchanged"
		if len(posts) > 0 {
			result = "new"
		}
		if !temp {
			st.ETag, st.LastModified = resp.etag, resp.lastModified
		}
		s.succeeded(f, &st, now, resp, ttl)
	case resp.status == http.StatusMovedPermanently || resp.status == http.StatusPermanentRedirect ||
		resp.status == http.StatusFound || resp.status == http.StatusSeeOther || resp.status == http.StatusTemporaryRedirect:
		result = "redirect"
		permanent := resp.status == http.StatusMovedPermanently || resp.status == http.StatusPermanentRedirect
		switch {
		case resp.location == "" || hostOf(resp.location) == "":
			result = s.failed(f, &st, now, fmt.Errorf("HTTP %d without a usable Location", resp.status), time.Time{})
		case st.Redirects >= maxRedirects:
			result = s.failed(f, &st, now, fmt.Errorf("more than %d redirects in a row (last to %s)", maxRedirects, resp.location), time.Time{})
		case permanent:
			st.Redirects++
			s.log.Info("feed moved permanently; the new address is kept", "feed", f.Name, "from", target, "to", resp.location, "status", resp.status)
			st.URL, st.ETag, st.LastModified = resp.location, "", ""
			st.NextCheck = now // at once, as soon as the new host allows
		default:
			st.Redirects++
			s.log.Info("feed moved temporarily", "feed", f.Name, "from", target, "to", resp.location, "status", resp.status)
			st.TempURL = resp.location
			st.NextCheck = now
		}
	case resp.status == http.StatusGone:
		result = "gone"
		st.Disabled = true
		st.DisabledWhy = fmt.Sprintf("%s answered 410 Gone at %s", target, now.UTC().Format(time.RFC3339))
		s.log.Warn("feed is gone (410); it is no longer checked", "feed", f.Name, "url", target)
		notice = &bridge.Report{
			Title:    "A feed is gone: " + f.Name,
			Subtitle: "Blogs and forums",
			Sections: []bridge.ReportSection{{
				Text: fmt.Sprintf("%s answered 410 Gone: the site removed this feed for good. carebridge no longer checks it. "+
					"Find the site's new feed and change feeds.subscriptions in the configuration, or remove the entry.", target),
				Items: []bridge.ReportItem{{Text: target, URL: target}},
			}},
		}
	case resp.status == http.StatusTooManyRequests || resp.status == http.StatusServiceUnavailable:
		result = s.failed(f, &st, now, fmt.Errorf("HTTP %d", resp.status), resp.retryAfter)
		if resp.status == http.StatusTooManyRequests {
			result = "rate_limited"
		}
	default:
		result = s.failed(f, &st, now, fmt.Errorf("HTTP %d", resp.status), resp.retryAfter)
	}
	value, err := json.Marshal(st)
	if err != nil {
		s.log.Error("feed state not encodable", "feed", f.Name, "err", err)
		return
	}
	res, err := sink.Ingest(ctx, bridge.Batch{Posts: posts, Cursor: &bridge.Cursor{Key: CursorKey(f.URL), Value: string(value)}, Notice: notice})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("feed items not stored; the feed is checked again later", "feed", f.Name, "err", err)
		}
		// Nothing was saved: the same items come again at the next
		// check, which is not sooner than the interval.
		f.st.NextCheck = now.Add(f.Interval)
		return
	}
	f.st = st
	s.m.FeedChecked(f.Name, result)
	s.m.FeedErrors(f.Name, st.Errors)
	s.log.Debug("feed checked", "feed", f.Name, "result", result, "new", res.New, "next_check", st.NextCheck)
}

// succeeded records a check that worked: errors reset, next check the
// longest of the interval and the feed's own hints.
func (s *Source) succeeded(f *feedRun, st *state, now time.Time, resp *response, ttl time.Duration) {
	st.Errors, st.LastError, st.Redirects = 0, "", 0
	hint := max(ttl, resp.maxAge)
	if !resp.expires.IsZero() {
		hint = max(hint, resp.expires.Sub(now))
	}
	wait := max(f.Interval, min(hint, s.opt.MaxCacheHint))
	if !resp.retryAfter.IsZero() {
		wait = max(wait, resp.retryAfter.Sub(now))
	}
	st.NextCheck = now.Add(wait)
}

// failed records a failed check: the consecutive errors grow and the
// next check backs off exponentially from the interval (capped), or
// waits as long as the site asked, whichever is longer.
func (s *Source) failed(f *feedRun, st *state, now time.Time, err error, until time.Time) string {
	st.Errors++
	st.LastError = err.Error()
	backoff := f.Interval
	for i := 0; i < st.Errors && backoff < s.opt.MaxBackoff; i++ {
		backoff *= 2
	}
	backoff = max(f.Interval, min(backoff, s.opt.MaxBackoff))
	next := now.Add(backoff)
	if until.After(next) {
		next = until
	}
	st.NextCheck = next
	level := slog.LevelWarn
	if errors.Is(err, context.Canceled) {
		level = slog.LevelDebug
	}
	s.log.Log(context.Background(), level, "feed check failed; backing off", "feed", f.Name, "err", err, "consecutive_errors", st.Errors, "next_check", next)
	return "error"
}

// items parses a document and returns the posts of its new items: not
// stored yet, not skipped, and — at a feed's first check — newer than
// the horizon. It updates the skipped keys in st.
func (s *Source) items(ctx context.Context, sink bridge.Sink, f *feedRun, st *state, resp *response, now time.Time) ([]bridge.Post, time.Duration, error) {
	body, cs := toUTF8(resp.body, resp.contentType)
	doc, err := s.parser.Parse(body)
	if err != nil {
		return nil, 0, fmt.Errorf("parse %s (read as %s): %w", f.target(), cs, err)
	}
	keys := itemKeys(doc.Items)
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		if k != "" {
			ids = append(ids, externalID(f.URL, k))
		}
	}
	seen, err := sink.Seen(ctx, Platform, ids)
	if err != nil {
		return nil, 0, fmt.Errorf("look up stored items: %w", err)
	}
	skipped := map[string]bool{}
	for _, k := range st.Skipped {
		skipped[k] = true
	}
	first := !st.Started
	horizon := now.Add(-s.opt.Horizon)
	var posts []bridge.Post
	var keep []string
	for i, it := range doc.Items {
		k := keys[i]
		if k == "" {
			continue
		}
		id := externalID(f.URL, k)
		switch {
		case seen[id]:
			continue
		case skipped[k]:
			keep = append(keep, k)
			continue
		}
		when := it.Published
		if when.IsZero() {
			when = it.Updated
		}
		if first && (when.IsZero() || when.Before(horizon)) {
			keep = append(keep, k) // the archive: not mirrored, remembered
			continue
		}
		posts = append(posts, s.post(f, doc, it, id, when, now))
	}
	st.Skipped = keep
	st.Started = true
	return posts, doc.TTL, nil
}

// post is a feed item as the core sees it.
func (s *Source) post(f *feedRun, doc *Document, it Item, id string, when, now time.Time) bridge.Post {
	base := it.Link
	if base == "" {
		base = f.target()
	}
	link := ""
	if it.Link != "" {
		link = (&textWriter{base: mustParse(f.target())}).absolute(it.Link)
	}
	author := it.Author
	authorID := ""
	if author != "" {
		authorID = hostOf(f.URL) + "/" + author // one site's user, not another's namesake
	} else {
		author = doc.Title
		if author == "" {
			author = f.Name
		}
	}
	if when.IsZero() || when.After(now) {
		when = now
	}
	raw, _ := json.Marshal(map[string]any{"feed": f.Name, "feed_url": f.URL, "guid": it.GUID, "link": it.Link, "title": it.Title,
		"author": it.Author, "published": it.Published, "updated": it.Updated})
	return bridge.Post{
		Platform: Platform, ExternalID: id, Source: bridge.SourceFeed,
		AuthorID: authorID, AuthorName: author, Title: it.Title, Text: HTMLToText(it.HTML, base),
		CreatedAt: when, URL: link, ConversationKey: id, Eligibility: bridge.EligibleNone,
		DefaultDepartment: f.Department, Raw: raw,
	}
}
