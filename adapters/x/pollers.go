package x

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// maxFirstPages bounds the very first poll of a source (no cursor yet):
// carebridge starts from "now-ish" rather than reading 7 days of history.
const maxFirstPages = 3

// poller is the loop shared by the search, mentions and DM pollers: poll,
// then wait for the interval or for the rate limit to reset.
type poller struct {
	name     string
	interval time.Duration
	log      *slog.Logger
	poll     func(ctx context.Context, sink bridge.Sink) error
	sleep    func(ctx context.Context, d time.Duration) error
}

func newPoller(c *Client, name string, interval time.Duration, log *slog.Logger, poll func(context.Context, bridge.Sink) error) *poller {
	return &poller{name: name, interval: interval, log: log, poll: poll, sleep: c.sleep}
}

func (p *poller) Name() string { return p.name }

// Failed polls back off like X's published backoff for HTTP errors (5 s,
// doubling), capped at 2 minutes rather than X's 320 s so that polling
// resumes soon after an outage ends; a revoked token or an outage is then
// called once every 2 minutes, not at the polling interval. A rate-limit
// reset or the interval, if longer, wins.
const (
	pollBackoffBase = 5 * time.Second
	pollBackoffMax  = 2 * time.Minute
)

// pollWait is how long a poller waits after a poll: the interval after a
// success; after the n-th failure in a row, the longest of the interval,
// the rate-limit reset and X's exponential backoff.
func pollWait(interval, retryAfter time.Duration, failures int) time.Duration {
	wait := interval
	if failures == 0 {
		return wait
	}
	backoff := pollBackoffMax
	if failures <= 7 {
		backoff = min(pollBackoffBase<<(failures-1), pollBackoffMax)
	}
	return max(wait, retryAfter, backoff)
}

// Run polls until ctx ends. A failed poll is logged and retried with
// backoff (or when the rate limit resets); it never stops the source.
func (p *poller) Run(ctx context.Context, sink bridge.Sink) error {
	failures := 0
	for {
		var ra time.Duration
		if err := p.poll(ctx, sink); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failures++
			ra = retryAfter(err)
			p.log.Warn("x poll failed; retrying", "source", p.name, "err", err,
				"failures_in_a_row", failures, "in", pollWait(p.interval, ra, failures).Round(time.Second))
		} else {
			failures = 0
		}
		if err := p.sleep(ctx, pollWait(p.interval, ra, failures)); err != nil {
			return err
		}
	}
}

// tweetList reads a since_id-cursored tweet list (search or mentions),
// paging through next_token, and ingests it with the new cursor.
type tweetList struct {
	c          *Client
	norm       *Normalizer
	endpoint   string
	path       string
	base       url.Values // query, etc.
	tokenParam string     // next_token or pagination_token
	maxResults int
	cursorKey  string
	source     bridge.SourceKind
	log        *slog.Logger

	mu         sync.Mutex
	staleNoted bool
}

func (l *tweetList) poll(ctx context.Context, sink bridge.Sink) error {
	since, err := sink.Cursor(ctx, l.cursorKey)
	if err != nil {
		return fmt.Errorf("read cursor %s: %w", l.cursorKey, err)
	}
	posts, newest, err := l.fetch(ctx, since)
	var se *bridge.SendError
	if errors.As(err, &se) && se.Code == CodeStaleSince {
		// since_id older than 7 days: X refuses it. Start again from the
		// newest posts; anything older is out of the API's reach anyway.
		l.mu.Lock()
		if !l.staleNoted {
			l.log.Warn("x cursor older than 7 days; starting from the newest posts", "source", l.cursorKey, "since_id", since)
			l.staleNoted = true
		}
		l.mu.Unlock()
		posts, newest, err = l.fetch(ctx, "")
	}
	if err != nil {
		return err
	}
	if newest == "" {
		return nil // nothing new
	}
	if !newerID(newest, since) {
		newest = since
	}
	_, err = sink.Ingest(ctx, bridge.Batch{Posts: posts, Cursor: &bridge.Cursor{Key: l.cursorKey, Value: newest}})
	return err
}

// fetch reads every page newer than since. It returns the posts and the
// newest id seen.
func (l *tweetList) fetch(ctx context.Context, since string) ([]bridge.Post, string, error) {
	var posts []bridge.Post
	newest, token := "", ""
	for page := 1; ; page++ {
		q := url.Values{}
		for k, v := range l.base {
			q[k] = v
		}
		for k, v := range tweetQuery {
			q[k] = v
		}
		q.Set("max_results", strconv.Itoa(l.maxResults))
		if since != "" {
			q.Set("since_id", since)
		}
		if token != "" {
			q.Set(l.tokenParam, token)
		}
		var pg Page
		if err := l.c.do(ctx, l.endpoint, "GET", l.path, q, nil, nil, &pg); err != nil {
			// Nothing is ingested: the cursor must not move past pages
			// that could not be read.
			return nil, "", err
		}
		if newest == "" || newerID(pg.Meta.NewestID, newest) {
			newest = pg.Meta.NewestID
		}
		posts = append(posts, l.norm.Page(&pg, l.source)...)
		if pg.Meta.NextToken == "" || (since == "" && page >= maxFirstPages) {
			return posts, newest, nil
		}
		token = pg.Meta.NextToken
	}
}

// newerID reports whether snowflake a is newer than b.
func newerID(a, b string) bool {
	if b == "" {
		return a != ""
	}
	ai, err1 := strconv.ParseUint(a, 10, 64)
	bi, err2 := strconv.ParseUint(b, 10, 64)
	if err1 != nil || err2 != nil {
		return len(a) > len(b) || (len(a) == len(b) && a > b)
	}
	return ai > bi
}

// NewSearchPoller polls GET /2/tweets/search/recent for query.
func NewSearchPoller(c *Client, norm *Normalizer, name, query string, interval time.Duration, maxResults int, log *slog.Logger) bridge.Source {
	l := &tweetList{
		c: c, norm: norm, endpoint: "search", path: "/2/tweets/search/recent",
		base: url.Values{"query": {query}}, tokenParam: "next_token", maxResults: clamp(maxResults, 10, 100),
		cursorKey: "x:search:" + name, source: bridge.SourceSearch, log: log,
	}
	return newPoller(c, "x.search."+name, interval, log, l.poll)
}

// NewMentionsPoller polls GET /2/users/:id/mentions for one account.
func NewMentionsPoller(c *Client, norm *Normalizer, acct Account, interval time.Duration, maxResults int, log *slog.Logger) bridge.Source {
	l := &tweetList{
		c: c, norm: norm, endpoint: "mentions:" + acct.UserID, path: "/2/users/" + acct.UserID + "/mentions",
		base: url.Values{}, tokenParam: "pagination_token", maxResults: clamp(maxResults, 5, 100),
		cursorKey: "x:mentions:" + acct.UserID, source: bridge.SourceMention, log: log,
	}
	return newPoller(c, "x.mentions."+acct.Handle, interval, log, l.poll)
}

func clamp(n, lo, hi int) int { return max(lo, min(hi, n)) }

// dmPoller reads GET /2/dm_events. There is no since_id: it pages until
// it meets events it has stored already, and our own sent messages are
// skipped.
type dmPoller struct {
	c    *Client
	norm *Normalizer
	acct Account
	auth Authorizer
	log  *slog.Logger
}

// NewDMPoller polls the DM events of acct with its user credentials.
func NewDMPoller(c *Client, norm *Normalizer, acct Account, auth Authorizer, interval time.Duration, log *slog.Logger) bridge.Source {
	d := &dmPoller{c: c, norm: norm, acct: acct, auth: auth, log: log}
	return newPoller(c, "x.dms."+acct.Handle, interval, log, d.poll)
}

func (d *dmPoller) poll(ctx context.Context, sink bridge.Sink) error {
	var posts []bridge.Post
	token := ""
	for page := 1; page <= 10; page++ {
		q := url.Values{
			"dm_event.fields": {"id,text,event_type,dm_conversation_id,created_at,sender_id,participant_ids"},
			"event_types":     {"MessageCreate"},
			"expansions":      {"sender_id"},
			"user.fields":     {"username,name"},
			"max_results":     {"100"},
		}
		if token != "" {
			q.Set("pagination_token", token)
		}
		var resp struct {
			Data     []json.RawMessage `json:"data"`
			Includes Includes          `json:"includes"`
			Meta     struct {
				NextToken string `json:"next_token"`
			} `json:"meta"`
		}
		if err := d.c.do(ctx, "dm_events:"+d.acct.UserID, "GET", "/2/dm_events", q, nil, d.auth, &resp); err != nil {
			return err
		}
		users := map[string]User{}
		for _, u := range resp.Includes.Users {
			users[u.ID] = u
		}
		var pagePosts []bridge.Post
		var ids []string
		for _, raw := range resp.Data {
			p, err := d.norm.DM(raw, users, d.acct.Handle)
			if err != nil || p.AuthorID == d.acct.UserID || d.norm.IsOfficial(p.AuthorID) {
				continue // undecodable, or a message we sent
			}
			pagePosts = append(pagePosts, p)
			ids = append(ids, p.ExternalID)
		}
		seen, err := sink.Seen(ctx, Platform, ids)
		if err != nil {
			return err
		}
		stop := false
		for _, p := range pagePosts {
			if seen[p.ExternalID] {
				stop = true // older pages were read before
				continue
			}
			posts = append(posts, p)
		}
		if stop || resp.Meta.NextToken == "" {
			break
		}
		token = resp.Meta.NextToken
	}
	if len(posts) == 0 {
		return nil
	}
	_, err := sink.Ingest(ctx, bridge.Batch{Posts: posts})
	return err
}

// Fetcher fetches single posts (conversation roots) by id.
type Fetcher struct {
	c    *Client
	norm *Normalizer
}

var _ bridge.PostFetcher = (*Fetcher)(nil)

// NewFetcher returns a bridge.PostFetcher.
func NewFetcher(c *Client, norm *Normalizer) *Fetcher { return &Fetcher{c: c, norm: norm} }

// FetchPost reads GET /2/tweets/:id.
func (f *Fetcher) FetchPost(ctx context.Context, id string) (*bridge.Post, error) {
	var resp struct {
		Data     json.RawMessage `json:"data"`
		Includes Includes        `json:"includes"`
		Errors   []struct {
			Title  string `json:"title"`
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	if err := f.c.do(ctx, "lookup", "GET", "/2/tweets/"+url.PathEscape(id), tweetQuery, nil, nil, &resp); err != nil {
		return nil, err
	}
	if len(resp.Data) == 0 {
		msg := "not found"
		if len(resp.Errors) > 0 {
			msg = resp.Errors[0].Detail
		}
		return nil, fmt.Errorf("x tweet %s: %s", id, msg)
	}
	p, err := f.norm.Tweet(resp.Data, resp.Includes, bridge.SourceLookup)
	if err != nil {
		return nil, fmt.Errorf("x tweet %s: %w", id, err)
	}
	return &p, nil
}
