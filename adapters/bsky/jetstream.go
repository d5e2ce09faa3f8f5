package bsky

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/carebridge/carebridge/bridge"
)

// Jetstream listens to the whole Bluesky network through Jetstream (the
// firehose as JSON over a websocket) for keyword listening: Bluesky asks
// services not to poll searchPosts. Jetstream has no text filter, so every
// post is matched here (JetstreamOptions.Match, the core's router) and
// only matching posts, and later posts of conversations this source
// ingested, are ingested.
//
// The position is the time_us of the last event handled, saved with each
// batch (and every few seconds of events when nothing matched). On
// reconnect the cursor is rewound a few seconds, as Jetstream advises for
// gapless playback: ingest is idempotent. A watchdog on the process's
// clock closes a socket that stays open but silent (a known failure of a
// public instance) and the next configured instance takes over.
type Jetstream struct {
	c   *Client
	o   JetstreamOptions
	log *slog.Logger

	mu       sync.Mutex
	handles  map[string]string // DID → handle, from identity events
	ingested *recentSet        // AT-URIs of posts ingested here
	convs    *recentSet        // conversation keys (root URIs) ingested here
	stats    JetstreamStats
	position int64 // µs: the last event seen, or where listening began
	started  bool  // a connection was made
}

// JetstreamOptions configure a Jetstream source.
type JetstreamOptions struct {
	// Instances are the Jetstream endpoints, wss://host/subscribe, tried
	// in order; a silent or failing one hands over to the next.
	Instances []string
	// Silence is how long an open socket may go without an event before
	// the watchdog closes it (default 30s; the real firehose carries
	// hundreds of events a second).
	Silence time.Duration
	// Rewind is how far back a reconnect starts before the saved cursor
	// (default 5s).
	Rewind time.Duration
	// Match says whether a post is worth a ticket (the router matched a
	// rule, or it mentions one of our accounts). Required.
	Match func(p *bridge.Post) bool
	// CursorKey is where the position is saved (default "bsky:jetstream").
	CursorKey string
	Clock     bridge.TimerClock // default the system clock
	Dialer    *websocket.Dialer // default websocket.DefaultDialer
	Logger    *slog.Logger
}

// JetstreamStats count what the source saw.
type JetstreamStats struct {
	Events, Posts, Matched, Deletes, DeletesOfIngested, Identity, Account, Reconnects, Silent int
}

// Default Jetstream settings.
const (
	DefaultSilence = 30 * time.Second
	DefaultRewind  = 5 * time.Second
	// cursorEvery is how much event time passes between saves of the
	// cursor when no post matched.
	cursorEvery = 5 * time.Second
)

var _ bridge.Source = (*Jetstream)(nil)

// NewJetstream returns the Jetstream source.
func NewJetstream(c *Client, o JetstreamOptions) *Jetstream {
	if o.Silence <= 0 {
		o.Silence = DefaultSilence
	}
	if o.Rewind <= 0 {
		o.Rewind = DefaultRewind
	}
	if o.CursorKey == "" {
		o.CursorKey = "bsky:jetstream"
	}
	if o.Clock == nil {
		o.Clock = bridge.SystemClock{}
	}
	if o.Dialer == nil {
		o.Dialer = websocket.DefaultDialer
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Jetstream{c: c, o: o, log: o.Logger, handles: map[string]string{},
		ingested: newRecentSet(50_000), convs: newRecentSet(50_000)}
}

// Name implements bridge.Source.
func (j *Jetstream) Name() string { return "bluesky.jetstream" }

// Stats returns the counts so far.
func (j *Jetstream) Stats() JetstreamStats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stats
}

// errSilent ends a connection the watchdog found silent.
var errSilent = errors.New("socket open but silent")

// Run implements bridge.Source: it connects to the first instance and
// fails over to the next when a connection fails, drops or goes silent.
// Dial failures in a row back off (1 s doubling to 30 s).
func (j *Jetstream) Run(ctx context.Context, sink bridge.Sink) error {
	if len(j.o.Instances) == 0 {
		return errors.New("bluesky jetstream: no instance configured")
	}
	inst, failures := 0, 0
	for {
		events, err := j.connect(ctx, sink, j.o.Instances[inst])
		if ctx.Err() != nil {
			return ctx.Err()
		}
		j.mu.Lock()
		j.stats.Reconnects++
		if errors.Is(err, errSilent) {
			j.stats.Silent++
		}
		j.mu.Unlock()
		next := (inst + 1) % len(j.o.Instances)
		j.log.Warn("bluesky jetstream connection ended; failing over", "instance", j.o.Instances[inst], "next", j.o.Instances[next], "events", events, "err", err)
		inst = next
		if events > 0 || errors.Is(err, errSilent) {
			failures = 0
			continue
		}
		failures++
		if err := sleepOn(ctx, j.o.Clock, min(time.Second<<min(failures-1, 5), 30*time.Second)); err != nil {
			return err
		}
	}
}

// subscribeURL is instance's URL for posts from cursor (0: live).
func (j *Jetstream) subscribeURL(instance string, cursor int64) (string, error) {
	u, err := url.Parse(instance)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("wantedCollections", PostCollection)
	if cursor > 0 {
		q.Set("cursor", strconv.FormatInt(cursor, 10))
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// connect runs one connection until it fails; it returns how many events
// it handled.
func (j *Jetstream) connect(ctx context.Context, sink bridge.Sink, instance string) (int, error) {
	saved, err := sink.Cursor(ctx, j.o.CursorKey)
	if err != nil {
		return 0, fmt.Errorf("read cursor: %w", err)
	}
	// Where to start: the saved cursor (a restart resumes there); with
	// nothing saved yet, the first connection starts at the live tail and
	// later ones at the last event this process saw (or when it began to
	// listen), so a reconnect never skips what the process could have
	// seen. Then rewound a few seconds.
	var savedUS int64
	if saved != "" {
		savedUS, _ = strconv.ParseInt(saved, 10, 64)
	}
	j.mu.Lock()
	live := false
	if !j.started {
		j.started = true
		j.position = savedUS
		if savedUS <= 0 {
			j.position, live = j.o.Clock.Now().UnixMicro(), true
		}
	}
	pos := max(savedUS, j.position)
	j.mu.Unlock()
	var cursor int64
	if !live {
		cursor = max(pos-j.o.Rewind.Microseconds(), 1)
	}
	u, err := j.subscribeURL(instance, cursor)
	if err != nil {
		return 0, err
	}
	conn, resp, err := j.o.Dialer.DialContext(ctx, u, http.Header{"User-Agent": {"carebridge"}})
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
		}
		return 0, fmt.Errorf("dial %s: %w", instance, err)
	}
	j.log.Info("bluesky jetstream connected", "instance", instance, "cursor", cursor)
	defer conn.Close()

	// The watchdog: closing the socket ends the blocked read.
	var (
		wmu    sync.Mutex
		last   = j.o.Clock.Now()
		silent bool
		timer  bridge.Timer
		done   bool
	)
	var check func()
	check = func() {
		wmu.Lock()
		defer wmu.Unlock()
		if done {
			return
		}
		idle := j.o.Clock.Now().Sub(last)
		if idle >= j.o.Silence {
			silent = true
			conn.Close()
			return
		}
		timer = j.o.Clock.AfterFunc(j.o.Silence-idle, check)
	}
	wmu.Lock()
	timer = j.o.Clock.AfterFunc(j.o.Silence, check)
	wmu.Unlock()
	defer func() {
		wmu.Lock()
		done = true
		timer.Stop()
		wmu.Unlock()
	}()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	frames := make(chan []byte, 4096)
	var readErr error
	go func() {
		defer close(frames)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				readErr = err
				return
			}
			wmu.Lock()
			last = j.o.Clock.Now()
			wmu.Unlock()
			frames <- data
		}
	}()
	b := &jetBatch{savedUS: savedUS}
	n := 0
	for data := range frames {
		n++
		j.handle(ctx, data, b)
		// Flush when the socket has nothing more buffered (a burst is
		// one batch), at 100 posts, or when the oldest post has waited
		// a second of event time.
		if len(frames) == 0 || len(b.posts) >= 100 || (len(b.posts) > 0 && b.lastUS-b.firstUS >= time.Second.Microseconds()) {
			if err := j.flush(ctx, sink, b); err != nil {
				conn.Close()
				for range frames {
				}
				return n, err
			}
		}
	}
	wmu.Lock()
	wasSilent := silent
	wmu.Unlock()
	if wasSilent {
		return n, errSilent
	}
	if ctx.Err() != nil {
		return n, ctx.Err()
	}
	return n, fmt.Errorf("read: %w", readErr)
}

// jetEvent is one Jetstream v1 event.
type jetEvent struct {
	DID    string `json:"did"`
	TimeUS int64  `json:"time_us"`
	Kind   string `json:"kind"`
	Commit *struct {
		Operation  string          `json:"operation"`
		Collection string          `json:"collection"`
		RKey       string          `json:"rkey"`
		CID        string          `json:"cid"`
		Record     json.RawMessage `json:"record"`
	} `json:"commit"`
	Identity *struct {
		Handle string `json:"handle"`
	} `json:"identity"`
	Account *struct {
		Active bool   `json:"active"`
		Status string `json:"status"`
	} `json:"account"`
}

// jetBatch is what a connection gathered since its last save.
type jetBatch struct {
	posts   []bridge.Post
	firstUS int64 // time_us of the first post in posts
	lastUS  int64 // time_us of the last event handled
	savedUS int64 // the saved cursor
}

// handle decodes one frame and adds a matching post to b.
func (j *Jetstream) handle(ctx context.Context, data []byte, b *jetBatch) {
	var ev jetEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		j.log.Debug("bluesky jetstream: undecodable event skipped", "err", err)
		return
	}
	if ev.TimeUS > b.lastUS {
		b.lastUS = ev.TimeUS
	}
	j.mu.Lock()
	j.position = max(j.position, ev.TimeUS)
	j.stats.Events++
	j.mu.Unlock()
	switch ev.Kind {
	case "identity":
		j.mu.Lock()
		j.stats.Identity++
		if ev.Identity != nil && ev.Identity.Handle != "" {
			j.handles[ev.DID] = ev.Identity.Handle
		}
		j.mu.Unlock()
	case "account":
		j.mu.Lock()
		j.stats.Account++
		j.mu.Unlock()
		if ev.Account != nil && !ev.Account.Active {
			j.log.Info("bluesky account deactivated or taken down; its mirrored posts stay as they were", "did", ev.DID, "status", ev.Account.Status)
			j.mu.Lock()
			delete(j.handles, ev.DID)
			j.mu.Unlock()
		}
	case "commit":
		if ev.Commit == nil || ev.Commit.Collection != PostCollection {
			return
		}
		uri := PostURI(ev.DID, ev.Commit.RKey)
		switch ev.Commit.Operation {
		case "delete":
			j.mu.Lock()
			j.stats.Deletes++
			mirrored := j.ingested.has(uri)
			if mirrored {
				j.stats.DeletesOfIngested++
			}
			j.mu.Unlock()
			if mirrored {
				j.log.Info("bluesky: the author deleted a mirrored post; the Slack thread keeps it, and a reply to it will be refused as deleted", "uri", uri)
			}
		case "create":
			if p, ok := j.post(ctx, uri, &ev); ok {
				if len(b.posts) == 0 {
					b.firstUS = ev.TimeUS
				}
				b.posts = append(b.posts, p)
			}
		}
	}
}

// post normalizes a created post and reports whether it is to be
// ingested.
func (j *Jetstream) post(ctx context.Context, uri string, ev *jetEvent) (bridge.Post, bool) {
	var rec PostRecord
	if err := json.Unmarshal(ev.Commit.Record, &rec); err != nil {
		return bridge.Post{}, false
	}
	j.mu.Lock()
	j.stats.Posts++
	handle := j.handles[ev.DID]
	j.mu.Unlock()
	var author *Author
	if handle != "" {
		author = &Author{DID: ev.DID, Handle: handle}
	}
	p := normalize(uri, ev.DID, author, &rec, ev.Commit.Record, bridge.SourceStream, j.c.ourAccounts(ctx))
	j.mu.Lock()
	known := j.convs.has(p.ConversationKey)
	j.mu.Unlock()
	if !known && len(p.Mentions) == 0 && !j.o.Match(&p) {
		return bridge.Post{}, false
	}
	j.mu.Lock()
	j.stats.Matched++
	j.mu.Unlock()
	return p, true
}

// flush ingests the batch's posts with the cursor, or saves the cursor
// alone every cursorEvery of event time.
func (j *Jetstream) flush(ctx context.Context, sink bridge.Sink, b *jetBatch) error {
	if len(b.posts) == 0 && (b.lastUS == 0 || b.lastUS-b.savedUS < cursorEvery.Microseconds()) {
		return nil
	}
	if len(b.posts) > 0 {
		j.c.enrich(ctx, b.posts)
	}
	cur := &bridge.Cursor{Key: j.o.CursorKey, Value: strconv.FormatInt(b.lastUS, 10)}
	j.log.Debug("bluesky jetstream batch", "posts", len(b.posts), "cursor", b.lastUS)
	if _, err := sink.Ingest(ctx, bridge.Batch{Posts: b.posts, Cursor: cur}); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	j.mu.Lock()
	for _, p := range b.posts {
		j.ingested.add(p.ExternalID)
		j.convs.add(p.ConversationKey)
	}
	j.mu.Unlock()
	b.posts, b.savedUS = nil, b.lastUS
	return nil
}

// recentSet remembers the last n strings added.
type recentSet struct {
	n    int
	set  map[string]bool
	ring []string
	next int
}

func newRecentSet(n int) *recentSet { return &recentSet{n: n, set: map[string]bool{}} }

func (s *recentSet) has(k string) bool { return s.set[k] }

func (s *recentSet) add(k string) {
	if s.set[k] {
		return
	}
	if len(s.ring) < s.n {
		s.ring = append(s.ring, k)
	} else {
		delete(s.set, s.ring[s.next])
		s.ring[s.next] = k
		s.next = (s.next + 1) % s.n
	}
	s.set[k] = true
}
