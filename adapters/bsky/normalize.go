package bsky

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// ours is what the sources know of our own accounts: DID → handle, once
// signed in.
type ours struct {
	mu    sync.Mutex
	dids  map[string]string
	tried time.Time // the last time an account was signed in for this
}

// ourAccounts returns our accounts' DIDs (signing each in if needed). An
// account that cannot sign in is left out and logged; it is tried again
// on the next call.
func (c *Client) ourAccounts(ctx context.Context) map[string]string {
	c.ours.mu.Lock()
	defer c.ours.mu.Unlock()
	if c.ours.dids == nil {
		c.ours.dids = map[string]string{}
	}
	if len(c.ours.dids) == len(c.order) || (!c.ours.tried.IsZero() && c.clock.Now().Sub(c.ours.tried) < time.Minute) {
		return c.ours.dids
	}
	c.ours.tried = c.clock.Now()
	// The map handed out is never written again (callers read it without
	// the lock): a new one replaces it.
	dids := map[string]string{}
	for _, a := range c.order {
		s, err := c.session(ctx, a)
		if err != nil {
			c.log.Warn("bluesky account not signed in", "account", a.Handle, "err", err)
			continue
		}
		dids[s.DID] = a.Handle
	}
	c.ours.dids = dids
	return dids
}

// normalize turns a post record into a bridge.Post. ourDIDs maps our
// accounts' DIDs to their handles: a post that mentions one of them (a
// mention facet), replies to one of their posts or quotes one names that
// account in Mentions.
func normalize(uri, authorDID string, author *Author, rec *PostRecord, raw json.RawMessage, src bridge.SourceKind, ourDIDs map[string]string) bridge.Post {
	p := bridge.Post{
		Platform:        Platform,
		ExternalID:      uri,
		Source:          src,
		AuthorID:        authorDID,
		Text:            rec.Text,
		CreatedAt:       parseTime(rec.CreatedAt),
		ConversationKey: uri,
		Eligibility:     bridge.EligiblePublic,
		Raw:             raw,
	}
	if author != nil {
		p.AuthorHandle, p.AuthorName = author.Handle, author.DisplayName
	}
	if len(rec.Langs) > 0 {
		p.Lang = rec.Langs[0]
	}
	if rec.Reply != nil {
		p.InReplyTo = rec.Reply.Parent.URI
		if rec.Reply.Root.URI != "" {
			p.ConversationKey = rec.Reply.Root.URI
		}
	}
	p.URL = WebURL(uri, p.AuthorHandle)
	mention := func(did string) {
		h, ok := ourDIDs[did]
		if !ok {
			return
		}
		for _, m := range p.Mentions {
			if m == strings.ToLower(h) {
				return
			}
		}
		p.Mentions = append(p.Mentions, strings.ToLower(h))
	}
	for _, f := range rec.Facets {
		for _, ft := range f.Features {
			if ft.Type == FeatureMention {
				mention(ft.DID)
			}
		}
	}
	if rec.Reply != nil {
		if did, _, _, ok := ParseURI(rec.Reply.Parent.URI); ok {
			mention(did)
		}
	}
	if q := rec.quoted(); q != "" {
		if did, _, _, ok := ParseURI(q); ok {
			mention(did)
		}
	}
	return p
}

// getPosts reads post views (at most 25 a call) as the first account,
// through its PDS, which forwards to the AppView.
func (c *Client) getPosts(ctx context.Context, uris []string) (map[string]PostView, error) {
	if len(c.order) == 0 {
		return map[string]PostView{}, nil
	}
	return c.getPostsAs(ctx, c.order[0], uris)
}

// getPostsAs reads post views as account a: viewer.replyDisabled is about
// the viewer (a thread gate may allow one of our accounts and not
// another).
func (c *Client) getPostsAs(ctx context.Context, a *account, uris []string) (map[string]PostView, error) {
	out := map[string]PostView{}
	for i := 0; i < len(uris); i += 25 {
		q := url.Values{"uris": uris[i:min(i+25, len(uris))]}
		var resp struct {
			Posts []PostView `json:"posts"`
		}
		if err := c.call(ctx, a, a.PDS, "app.bsky.feed.getPosts", q, nil, nil, &resp); err != nil {
			return out, err
		}
		for _, v := range resp.Posts {
			out[v.URI] = v
		}
	}
	return out, nil
}

// enrich completes posts from their views: the author's handle and name
// (Jetstream gives only the DID) and whether the thread's reply gate
// leaves us out (viewer.replyDisabled, as our first account sees it),
// which the Slack message shows up front. A post the AppView does not return keeps what it had; if the
// call fails, every post does (the replier checks the gate again before
// sending).
func (c *Client) enrich(ctx context.Context, posts []bridge.Post) {
	var uris []string
	for _, p := range posts {
		uris = append(uris, p.ExternalID)
	}
	views, err := c.getPosts(ctx, uris)
	if err != nil {
		c.log.Warn("bluesky getPosts failed; posts keep their DIDs and are marked answerable", "posts", len(posts), "err", err)
	}
	for i := range posts {
		p := &posts[i]
		v, ok := views[p.ExternalID]
		if !ok {
			continue
		}
		if v.Author.Handle != "" {
			p.AuthorHandle, p.AuthorName = v.Author.Handle, v.Author.DisplayName
			p.URL = WebURL(p.ExternalID, p.AuthorHandle)
		}
		if v.Viewer != nil && v.Viewer.ReplyDisabled && p.Eligibility == bridge.EligiblePublic {
			p.Eligibility = bridge.EligibleDMOnly
		}
	}
}

// Fetcher fetches single posts (conversation roots and parents) by AT-URI.
type Fetcher struct{ c *Client }

var _ bridge.PostFetcher = (*Fetcher)(nil)

// NewFetcher returns a bridge.PostFetcher.
func NewFetcher(c *Client) *Fetcher { return &Fetcher{c: c} }

// FetchPost implements bridge.PostFetcher through app.bsky.feed.getPosts.
func (f *Fetcher) FetchPost(ctx context.Context, uri string) (*bridge.Post, error) {
	views, err := f.c.getPosts(ctx, []string{uri})
	if err != nil {
		return nil, err
	}
	v, ok := views[uri]
	if !ok {
		return nil, fmt.Errorf("bluesky post %s: not found", uri)
	}
	var rec PostRecord
	if err := json.Unmarshal(v.Record, &rec); err != nil {
		return nil, fmt.Errorf("bluesky post %s: %w", uri, err)
	}
	p := normalize(uri, v.Author.DID, &v.Author, &rec, v.Record, bridge.SourceLookup, f.c.ourAccounts(ctx))
	if v.Viewer != nil && v.Viewer.ReplyDisabled {
		p.Eligibility = bridge.EligibleDMOnly
	}
	return &p, nil
}
