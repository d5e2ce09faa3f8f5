package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// response is what one GET of a feed said, as the scheduler needs it.
type response struct {
	status       int
	body         []byte // 2xx only, at most the cap
	contentType  string
	etag         string
	lastModified string
	location     string        // redirects: the absolute target
	maxAge       time.Duration // Cache-Control max-age (or s-maxage), 0 when absent
	expires      time.Time     // Expires, zero when absent or invalid
	retryAfter   time.Time     // Retry-After (seconds or HTTP date), zero when absent
}

// errTooLarge is a document over the body cap: an error, never cut.
var errTooLarge = errors.New("feed document larger than feeds.max_body_bytes")

// accept lists what a feed reader takes, as Miniflux asks for it.
const accept = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"

// get fetches target once, without following redirects, sending the
// validators of the previous answer (conditional GET).
func (s *Source) get(ctx context.Context, target, etag, lastModified string) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", s.opt.UserAgent)
	req.Header.Set("Accept", accept)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastModified != "" {
		req.Header.Set("If-Modified-Since", lastModified)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	now := s.clock.Now()
	r := &response{
		status:       resp.StatusCode,
		contentType:  resp.Header.Get("Content-Type"),
		etag:         resp.Header.Get("ETag"),
		lastModified: resp.Header.Get("Last-Modified"),
		maxAge:       maxAge(resp.Header.Get("Cache-Control")),
		retryAfter:   retryAfter(resp.Header.Get("Retry-After"), now),
	}
	if e := resp.Header.Get("Expires"); e != "" {
		if t, err := http.ParseTime(e); err == nil {
			r.expires = t
		}
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		if u, err := resp.Request.URL.Parse(loc); err == nil {
			r.location = u.String()
		}
	}
	if r.status < 200 || r.status > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
		return r, nil
	}
	if resp.ContentLength > s.opt.MaxBodyBytes {
		return nil, fmt.Errorf("%w: %d bytes announced", errTooLarge, resp.ContentLength)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.opt.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read feed: %w", err)
	}
	if int64(len(body)) > s.opt.MaxBodyBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", errTooLarge, s.opt.MaxBodyBytes)
	}
	r.body = body
	return r, nil
}

// maxAge reads max-age (s-maxage wins, as for a shared cache) from a
// Cache-Control header; no-store and no-cache say nothing about polling.
func maxAge(cc string) time.Duration {
	var age time.Duration
	for _, part := range strings.Split(cc, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(strings.Trim(v, `"`))
		if err != nil || n <= 0 {
			continue
		}
		switch strings.ToLower(k) {
		case "s-maxage":
			return time.Duration(n) * time.Second
		case "max-age":
			age = time.Duration(n) * time.Second
		}
	}
	return age
}

// retryAfter reads Retry-After as delay-seconds or as an HTTP date; the
// zero time when absent or unreadable.
func retryAfter(v string, now time.Time) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return time.Time{}
		}
		return now.Add(time.Duration(n) * time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return t
	}
	return time.Time{}
}

// hostOf is the politeness key of a URL: its host and port, lower case.
func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return strings.ToLower(p.Host)
}
