package bsky

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// Notifications polls app.bsky.notification.listNotifications of one of
// our accounts for mentions, replies and quotes: the Bluesky analogue of
// X's mentions poller. The list runs newest first and its cursor pages
// back in time, so the saved position is the newest indexedAt ingested
// (saved with the batch); each poll reads pages until it reaches it.
type Notifications struct {
	c        *Client
	handle   string
	interval time.Duration
	clock    bridge.TimerClock
	log      *slog.Logger
}

var _ bridge.Source = (*Notifications)(nil)

// NewNotifications returns the notifications poller of our account handle.
func NewNotifications(c *Client, handle string, interval time.Duration, clock bridge.TimerClock, log *slog.Logger) *Notifications {
	if clock == nil {
		clock = bridge.SystemClock{}
	}
	if log == nil {
		log = slog.Default()
	}
	return &Notifications{c: c, handle: handle, interval: interval, clock: clock, log: log}
}

// Name implements bridge.Source.
func (n *Notifications) Name() string { return "bluesky.notifications." + n.handle }

// CursorKey is where the poller's position is saved.
func (n *Notifications) CursorKey() string {
	return "bsky:notifications:" + strings.ToLower(n.handle)
}

// Run implements bridge.Source: it polls until ctx ends; a failed poll is
// logged and tried again after the interval, or after Bluesky's
// ratelimit-reset.
func (n *Notifications) Run(ctx context.Context, sink bridge.Sink) error {
	for {
		wait := n.interval
		if err := n.Poll(ctx, sink); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var se *bridge.SendError
			if errors.As(err, &se) && se.RetryAfter > wait {
				wait = se.RetryAfter
			}
			n.log.Warn("bluesky notifications poll failed; retrying", "account", n.handle, "err", err, "in", wait)
		}
		if err := sleepOn(ctx, n.clock, wait); err != nil {
			return err
		}
	}
}

// maxNotificationPages bounds one poll (50 notifications a page).
const maxNotificationPages = 10

// Poll reads the notifications newer than the saved position and ingests
// their posts with the new position.
func (n *Notifications) Poll(ctx context.Context, sink bridge.Sink) error {
	saved, err := sink.Cursor(ctx, n.CursorKey())
	if err != nil {
		return fmt.Errorf("read cursor %s: %w", n.CursorKey(), err)
	}
	a, err := n.c.account(n.handle)
	if err != nil {
		return err
	}
	ours := n.c.ourAccounts(ctx)
	var posts []bridge.Post
	newest, cursor := "", ""
	for page := 0; page < maxNotificationPages; page++ {
		q := url.Values{"reasons": {"mention", "reply", "quote"}, "limit": {"50"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var resp struct {
			Cursor        string         `json:"cursor"`
			Notifications []Notification `json:"notifications"`
		}
		if err := n.c.call(ctx, a, a.PDS, "app.bsky.notification.listNotifications", q, nil, nil, &resp); err != nil {
			return err // nothing ingested: the position stays
		}
		reached := false
		for _, nt := range resp.Notifications {
			if saved != "" && parseTime(nt.IndexedAt).Before(parseTime(saved)) {
				reached = true
				break
			}
			if newest == "" || parseTime(nt.IndexedAt).After(parseTime(newest)) {
				newest = nt.IndexedAt
			}
			switch nt.Reason {
			case "mention", "reply", "quote":
			default:
				continue
			}
			var rec PostRecord
			if err := json.Unmarshal(nt.Record, &rec); err != nil || rec.Type != PostCollection {
				continue
			}
			p := normalize(nt.URI, nt.Author.DID, &nt.Author, &rec, nt.Record, bridge.SourceMention, ours)
			if !containsFold(p.Mentions, a.Handle) {
				p.Mentions = append(p.Mentions, strings.ToLower(a.Handle))
			}
			posts = append(posts, p)
		}
		if reached || resp.Cursor == "" || saved == "" {
			break // the first poll starts from the newest page
		}
		cursor = resp.Cursor
	}
	if newest == "" || (saved != "" && !parseTime(newest).After(parseTime(saved))) {
		return nil
	}
	if len(posts) > 0 {
		n.c.enrich(ctx, posts)
	}
	_, err = sink.Ingest(ctx, bridge.Batch{Posts: posts, Cursor: &bridge.Cursor{Key: n.CursorKey(), Value: newest}})
	return err
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// sleepOn waits d on clock (so that tests move it), or until ctx ends.
func sleepOn(ctx context.Context, clock bridge.TimerClock, d time.Duration) error {
	done := make(chan struct{})
	t := clock.AfterFunc(d, func() { close(done) })
	select {
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	case <-done:
		return nil
	}
}
