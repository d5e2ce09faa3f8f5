package bskyfake

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rivo/uniseg"
)

// Clock tells the fake's time (bridge.Clock fits).
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Bluesky's limits the fake holds to by default.
const (
	DefaultAccessTTL  = 2 * time.Hour // access JWT lifetime
	SigninsPer5Min    = 30
	SigninsPerDay     = 300
	WritePointsHour   = 5000
	CreatePoints      = 3
	PostGraphemes     = 300
	PostBytes         = 3000
	DMGraphemes       = 1000
	DMBytes           = 10000
	JetstreamReplay   = 36 * time.Hour
	ChatProxy         = "did:web:api.bsky.chat#bsky_chat"
	postCollection    = "app.bsky.feed.post"
	maxGetPosts       = 25
	maxNotifications  = 100
	defaultNotifLimit = 50
)

// Option configures New.
type Option func(*Server)

// WithClock sets the fake's clock (sessions, limits, event times).
func WithClock(c Clock) Option { return func(s *Server) { s.clock = c } }

// WithAccessTTL sets how long an access token lives (default 2 h).
func WithAccessTTL(d time.Duration) Option { return func(s *Server) { s.accessTTL = d } }

// Server is the fake PDS, AppView and chat service, and the event log its
// Jetstream instances serve.
type Server struct {
	srv       *httptest.Server
	clock     Clock
	accessTTL time.Duration

	mu          sync.Mutex
	seq         int
	accounts    map[string]*account // DID → account
	byHandle    map[string]string   // handle → DID
	posts       map[string]*Post    // AT-URI → post
	order       []string            // AT-URIs in creation order
	access      map[string]token
	refresh     map[string]string // refresh token → DID
	signins     map[string][]time.Time
	writes      map[string][]writeMark
	notifs      map[string][]notification // DID → newest last
	convos      map[string]*convo         // sorted member DIDs joined → convo
	requests    map[string]int            // NSID → calls
	faults      map[string][]fault
	refuseGated bool
	// Jetstream
	events    []Event
	lastUS    int64
	lastTID   int64
	instances []*Jetstream
}

type account struct {
	DID, Handle, Password, Name string
	Chat                        string // "all", "following", "none"
	follows                     map[string]bool
}

type token struct {
	did     string
	expires time.Time
}

type writeMark struct {
	at     time.Time
	points int
}

type notification struct {
	uri, reason, subject string
	author               string
	at                   time.Time
}

type convo struct {
	id       string
	members  []string
	messages []Message
}

// Message is a chat message the fake holds.
type Message struct {
	ID, ConvoID, Sender, Text string
	SentAt                    time.Time
}

// Post is a post record in the fake's repos.
type Post struct {
	URI, CID, DID, RKey string
	Record              json.RawMessage
	Text                string
	ReplyRoot           string // AT-URI, "" for a thread's first post
	ReplyParent         string
	// Gated: the author allows no replies (a threadgate with an empty
	// allow list) to this thread.
	Gated     bool
	CreatedAt time.Time
	Deleted   bool
}

type fault struct {
	status int
	name   string
	drop   bool
	hold   <-chan struct{}
}

// New starts a fake.
func New(opts ...Option) *Server {
	s := &Server{clock: systemClock{}, accessTTL: DefaultAccessTTL, accounts: map[string]*account{}, byHandle: map[string]string{},
		posts: map[string]*Post{}, access: map[string]token{}, refresh: map[string]string{}, signins: map[string][]time.Time{},
		writes: map[string][]writeMark{}, notifs: map[string][]notification{}, convos: map[string]*convo{},
		requests: map[string]int{}, faults: map[string][]fault{}}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveXRPC))
	return s
}

// URL is the PDS's base URL.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the PDS and every Jetstream instance.
func (s *Server) Close() {
	s.mu.Lock()
	inst := append([]*Jetstream(nil), s.instances...)
	s.mu.Unlock()
	for _, j := range inst {
		j.Close()
	}
	s.srv.Close()
}

// AddAccount creates an account that signs in with password (an app
// password) and returns its DID. Its chat setting is "all".
func (s *Server) AddAccount(handle, password, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	did := fmt.Sprintf("did:plc:fake%020d", s.seq)
	s.accounts[did] = &account{DID: did, Handle: strings.ToLower(handle), Password: password, Name: name, Chat: "all", follows: map[string]bool{}}
	s.byHandle[strings.ToLower(handle)] = did
	return did
}

// SetChat sets who may message did: "all", "following" or "none".
func (s *Server) SetChat(did, allow string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[did].Chat = allow
}

// Follow makes follower follow followee.
func (s *Server) Follow(follower, followee string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[follower].follows[followee] = true
}

// RefuseGatedReplies makes createRecord refuse a reply into a thread
// whose gate leaves the author out (400 InvalidRequest). What Bluesky's
// PDS does is not documented: by default the fake takes the other
// reading, that the PDS stores the reply and the AppView hides it.
func (s *Server) RefuseGatedReplies(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseGated = on
}

// PostOptions shape a post made with AddPost.
type PostOptions struct {
	ReplyTo  string   // AT-URI of the post answered
	Mentions []string // DIDs: mention facets are made for "@handle" in the text
	Langs    []string
	Gated    bool   // a thread gate that allows no replies
	Quote    string // AT-URI of a quoted post
}

// AddPost publishes a post of did as a user would (through its own PDS):
// it is stored, notified and sent to the Jetstream instances. It returns
// the post's AT-URI.
func (s *Server) AddPost(did, text string, o PostOptions) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := map[string]any{"$type": postCollection, "text": text, "createdAt": s.clock.Now().UTC().Format("2006-01-02T15:04:05.000Z")}
	if len(o.Langs) > 0 {
		rec["langs"] = o.Langs
	}
	if o.ReplyTo != "" {
		parent := s.posts[o.ReplyTo]
		root := parent
		if parent.ReplyRoot != "" {
			root = s.posts[parent.ReplyRoot]
		}
		rec["reply"] = map[string]any{"root": map[string]string{"uri": root.URI, "cid": root.CID}, "parent": map[string]string{"uri": parent.URI, "cid": parent.CID}}
	}
	var facets []any
	for _, m := range o.Mentions {
		h := "@" + s.accounts[m].Handle
		if i := strings.Index(text, h); i >= 0 {
			facets = append(facets, map[string]any{"index": map[string]int{"byteStart": i, "byteEnd": i + len(h)},
				"features": []any{map[string]string{"$type": "app.bsky.richtext.facet#mention", "did": m}}})
		}
	}
	if facets != nil {
		rec["facets"] = facets
	}
	if o.Quote != "" {
		q := s.posts[o.Quote]
		rec["embed"] = map[string]any{"$type": "app.bsky.embed.record", "record": map[string]string{"uri": q.URI, "cid": q.CID}}
	}
	raw, _ := json.Marshal(rec)
	p, _ := s.store(did, s.tid(), raw)
	p.Gated = o.Gated
	return p.URI
}

// DeletePost deletes a post as its author would: Jetstream carries the
// delete; getPosts no longer returns it.
func (s *Server) DeletePost(uri string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.posts[uri]
	p.Deleted = true
	s.emit(Event{DID: p.DID, Kind: "commit", Commit: &Commit{Rev: s.tid(), Operation: "delete", Collection: postCollection, RKey: p.RKey}})
}

// IdentityEvent sends an identity event (a handle change) to Jetstream.
func (s *Server) IdentityEvent(did, handle string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[did]; a != nil {
		delete(s.byHandle, a.Handle)
		a.Handle = handle
		s.byHandle[handle] = did
	}
	s.emit(Event{DID: did, Kind: "identity", Identity: &Identity{DID: did, Handle: handle, Seq: int64(len(s.events) + 1), Time: s.clock.Now().UTC().Format(time.RFC3339)}})
}

// AccountEvent sends an account event (deactivation, takedown) to
// Jetstream.
func (s *Server) AccountEvent(did string, active bool, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emit(Event{DID: did, Kind: "account", Account: &AccountStatus{DID: did, Active: active, Status: status, Seq: int64(len(s.events) + 1), Time: s.clock.Now().UTC().Format(time.RFC3339)}})
}

// Post returns the post at uri.
func (s *Server) Post(uri string) (Post, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.posts[uri]
	if !ok {
		return Post{}, false
	}
	return *p, true
}

// RepliesTo returns the replies to the post at uri, oldest first.
func (s *Server) RepliesTo(uri string) []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Post
	for _, u := range s.order {
		if p := s.posts[u]; p.ReplyParent == uri && !p.Deleted {
			out = append(out, *p)
		}
	}
	return out
}

// PostsBy returns did's posts, oldest first.
func (s *Server) PostsBy(did string) []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Post
	for _, u := range s.order {
		if p := s.posts[u]; p.DID == did && !p.Deleted {
			out = append(out, *p)
		}
	}
	return out
}

// Messages returns every chat message sent, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, c := range s.convos {
		out = append(out, c.messages...)
	}
	return out
}

// Calls returns how many times nsid was called.
func (s *Server) Calls(nsid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[nsid]
}

// FailNext makes the next call of nsid fail with status and the XRPC
// error name. A 429 carries the ratelimit-* headers, resetting in a
// minute.
func (s *Server) FailNext(nsid string, status int, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[nsid] = append(s.faults[nsid], fault{status: status, name: name})
}

// DropAnswerNext makes the next call of nsid take effect and then drops
// the connection without an answer: the client cannot know the outcome.
func (s *Server) DropAnswerNext(nsid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[nsid] = append(s.faults[nsid], fault{drop: true})
}

// HoldAnswerNext makes the next call of nsid take effect and then wait
// for release before answering; if the client gave up meanwhile, the
// answer is lost.
func (s *Server) HoldAnswerNext(nsid string, release <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[nsid] = append(s.faults[nsid], fault{hold: release})
}

// DropAnswerAfter makes the next call of nsid take effect, wait for
// release, and then drop the connection without an answer (a process
// that dies mid-call never learns the outcome).
func (s *Server) DropAnswerAfter(nsid string, release <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[nsid] = append(s.faults[nsid], fault{hold: release, drop: true})
}

// StartChatter makes a background account post something no rule
// matches every interval, as the real network does hundreds of times a
// second, so that a Jetstream socket is never idle unless an instance
// stalls. stop ends it.
func (s *Server) StartChatter(every time.Duration) (stop func()) {
	did := s.AddAccount("chatter.bsky.social", "-", "Chatter")
	done := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			case <-t.C:
				s.AddPost(did, fmt.Sprintf("lovely weather, walk number %d", n), PostOptions{})
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// tid returns a new TID record key on the fake's clock. s.mu is held.
func (s *Server) tid() string {
	us := s.clock.Now().UnixMicro()
	if us <= s.lastTID {
		us = s.lastTID + 1
	}
	s.lastTID = us
	v := uint64(us)&(1<<53-1)<<10 | 7
	const alpha = "234567abcdefghijklmnopqrstuvwxyz"
	var b [13]byte
	for i := 12; i >= 0; i-- {
		b[i] = alpha[v&31]
		v >>= 5
	}
	return string(b[:])
}

func cidOf(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "bafyrei" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:]))
}

// store adds a post record to did's repo, notifies, and emits its commit.
// s.mu is held.
func (s *Server) store(did, rkey string, raw json.RawMessage) (*Post, error) {
	var rec struct {
		Text  string `json:"text"`
		Reply *struct {
			Root, Parent struct{ URI string }
		} `json:"reply"`
		Facets []struct {
			Features []struct {
				Type string `json:"$type"`
				DID  string `json:"did"`
			} `json:"features"`
		} `json:"facets"`
		Embed *struct {
			Record struct{ URI string } `json:"record"`
		} `json:"embed"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, err
	}
	uri := "at://" + did + "/" + postCollection + "/" + rkey
	p := &Post{URI: uri, CID: cidOf(append([]byte(uri), raw...)), DID: did, RKey: rkey, Record: raw, Text: rec.Text, CreatedAt: s.clock.Now()}
	if rec.Reply != nil {
		p.ReplyRoot, p.ReplyParent = rec.Reply.Root.URI, rec.Reply.Parent.URI
	}
	s.posts[uri] = p
	s.order = append(s.order, uri)
	notify := func(to, reason string) {
		if to == did || s.accounts[to] == nil {
			return
		}
		for _, n := range s.notifs[to] {
			if n.uri == uri {
				return
			}
		}
		s.notifs[to] = append(s.notifs[to], notification{uri: uri, reason: reason, author: did, at: s.clock.Now()})
	}
	if p.ReplyParent != "" {
		if parent := s.posts[p.ReplyParent]; parent != nil {
			notify(parent.DID, "reply")
		}
	}
	if rec.Embed != nil && rec.Embed.Record.URI != "" {
		if q := s.posts[rec.Embed.Record.URI]; q != nil {
			notify(q.DID, "quote")
		}
	}
	for _, f := range rec.Facets {
		for _, ft := range f.Features {
			if ft.Type == "app.bsky.richtext.facet#mention" {
				notify(ft.DID, "mention")
			}
		}
	}
	s.emit(Event{DID: did, Kind: "commit", Commit: &Commit{Rev: s.tid(), Operation: "create", Collection: postCollection, RKey: rkey, CID: p.CID, Record: raw}})
	return p, nil
}

func graphemes(s string) int { return uniseg.GraphemeClusterCount(s) }

func itoa(n int) string { return strconv.Itoa(n) }
