package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Source emits posts from one platform feed (a search poller, a mentions
// poller, a stream). Run blocks until ctx is done or the source fails; the
// Service restarts a failed source after a backoff. A source saves its
// position only through Batch.Cursor, so the cursor moves in the same
// transaction that stores the posts.
type Source interface {
	Name() string
	Run(ctx context.Context, sink Sink) error
}

// Sink is what a Source feeds. The Service implements it.
type Sink interface {
	// Ingest stores a batch of posts idempotently, routes them, opens or
	// extends tickets, queues their chat messages, and saves the batch's
	// cursor — all in one transaction. When it returns nil the batch is
	// durable.
	Ingest(ctx context.Context, b Batch) (IngestResult, error)
	// Cursor returns a saved cursor ("" when unset).
	Cursor(ctx context.Context, key string) (string, error)
	// Seen reports which of the given external ids of platform are stored
	// already (DM pollers have no since_id and dedupe this way).
	Seen(ctx context.Context, platform Platform, externalIDs []string) (map[string]bool, error)
}

// Batch is a set of posts from one poll, and the cursor to save with them.
type Batch struct {
	Posts  []Post
	Cursor *Cursor // optional
}

// Cursor is a source's saved position.
type Cursor struct {
	Key, Value string
}

// IngestResult counts what a batch did.
type IngestResult struct {
	New, Duplicate, Tickets int
	// BySource counts the new posts per source.
	BySource map[SourceKind]int
}

// PostFetcher fetches a post by id, so that staff see the root of a
// conversation that began before carebridge listened.
type PostFetcher interface {
	FetchPost(ctx context.Context, externalID string) (*Post, error)
}

// ChatRef is where a chat message landed.
type ChatRef struct {
	Channel string // channel id
	TS      string // message ts
}

// MessageKind says what a chat message is for.
type MessageKind string

// Chat message kinds.
const (
	MessageParent MessageKind = "parent" // the first post of a ticket: opens the thread
	MessageReply  MessageKind = "reply"  // a later post of the conversation, in the thread
	MessageFYI    MessageKind = "fyi"    // a short copy in another department's channel
	MessageNotice MessageKind = "notice" // a line from carebridge itself, in the thread
)

// ChatMessage is a platform-neutral message for the chat surface; the
// Publisher renders it (Block Kit for Slack).
type ChatMessage struct {
	Kind       MessageKind
	OutboxID   int64  // carried as message metadata, for reconciliation
	Channel    string // channel name or id, from the configuration
	ThreadTS   string // parent ts for replies and notices
	Department string // department id of the channel
	DeptName   string
	Ticket     *Ticket
	Post       *Post // nil for notices
	Official   bool  // the post is by one of our official accounts
	History    string
	Text       string  // notices only
	OwnerName  string  // FYI: the owning department's name
	OwnerLink  string  // FYI: a link to the owner's thread
	AfterHours string  // when the post arrived outside office hours: when the clock starts
	Report     *Report // MessageReport only
}

// Publisher writes to the chat surface (Slack, later Teams). It only
// sends and classifies errors; the Service retries.
type Publisher interface {
	// Publish posts msg and returns where it landed.
	Publish(ctx context.Context, msg ChatMessage) (ChatRef, error)
	// Permalink returns a link to a message.
	Permalink(ctx context.Context, ref ChatRef) (string, error)
	// Find looks for a message carrying outboxID that an earlier attempt
	// may have posted (in the thread threadTS if set), no earlier than
	// since (zero: no bound). It is called only after a crash, to send
	// nothing twice; it must search everything posted since, not only
	// the newest messages.
	Find(ctx context.Context, channel, threadTS string, outboxID int64, since time.Time) (ChatRef, bool, error)
}

// SendError classifies a platform failure. Adapters return it; the core
// decides what to do.
type SendError struct {
	Platform   string        // "slack", "x"
	Code       string        // the platform's error code, e.g. channel_not_found or 429; "network" for a transport failure (which may have reached the platform unless it failed to connect)
	Permanent  bool          // retrying will not help
	RetryAfter time.Duration // the platform asked to wait this long
	Err        error
}

func (e *SendError) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	msg := fmt.Sprintf("%s %s error %s", e.Platform, kind, e.Code)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *SendError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a permanent SendError.
func IsPermanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Permanent
}

// Clock tells the time; tests stub it.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Metrics observes the Service. The composition root supplies a
// Prometheus implementation; nil fields are not called.
type Metrics interface {
	PostIngested(source SourceKind, platform Platform, duplicate bool)
	PostRouted(department string)
	APIError(platform, code string)
	MirrorLatency(d time.Duration)
	OutboxDone(kind string, err error, permanent bool)
}

type noMetrics struct{}

func (noMetrics) PostIngested(SourceKind, Platform, bool) {}
func (noMetrics) PostRouted(string)                       {}
func (noMetrics) APIError(string, string)                 {}
func (noMetrics) MirrorLatency(time.Duration)             {}
func (noMetrics) OutboxDone(string, error, bool)          {}

// ChatEventKind names what a person did in the chat surface.
type ChatEventKind string

// Chat event kinds.
const (
	EventMessage         ChatEventKind = "message"          // a new message (a thread reply is a draft)
	EventMessageChanged  ChatEventKind = "message_changed"  // an edit; ItemTS is the edited message
	EventMessageDeleted  ChatEventKind = "message_deleted"  // a delete; ItemTS is the deleted message
	EventReactionAdded   ChatEventKind = "reaction_added"   // ItemTS is the message reacted to
	EventReactionRemoved ChatEventKind = "reaction_removed" // ItemTS is the message
)

// ChatEvent is one event from the chat surface, platform-neutral. Slack's
// Socket Mode and HTTP Events API both produce it.
type ChatEvent struct {
	ID       string // the platform's event id; retries carry the same one
	Kind     ChatEventKind
	Channel  string // channel id
	User     string // who acted
	Bot      bool   // posted by a bot (ours or another)
	TS       string // the message's ts (EventMessage)
	ThreadTS string // the thread it is in, if any
	ItemTS   string // the message an edit, delete or reaction is about
	Text     string // message text (new text for edits), as typed
	Reaction string // emoji name without colons or skin tone
	At       time.Time
}

// ChatEventHandler receives chat events. The Service implements it; a
// nil error means the event is durably handled (or deliberately ignored)
// and may be acknowledged.
type ChatEventHandler interface {
	HandleChatEvent(ctx context.Context, ev ChatEvent) error
}

// ChatActions are the chat writes beyond posting messages.
type ChatActions interface {
	// React adds (or removes) the bot's reaction name on a message.
	React(ctx context.Context, ref ChatRef, name string, add bool) error
	// Ephemeral shows text to one user only.
	Ephemeral(ctx context.Context, channel, user, text string) error
	// GroupMembers lists the members of a user group.
	GroupMembers(ctx context.Context, group string) ([]string, error)
}

// SentRef is what a platform returns for a sent answer.
type SentRef struct {
	ID  string // platform id of the reply or DM event
	URL string // a link to it, when there is one
}

// Replier answers on the origin platform, as one of our accounts. Like
// every adapter it only sends and classifies errors.
type Replier interface {
	// Reply posts text publicly in reply to the post inReplyTo.
	Reply(ctx context.Context, account, inReplyTo, text string) (SentRef, error)
	// SendDM sends text by direct message to the user recipient.
	SendDM(ctx context.Context, account, recipient, text string) (SentRef, error)
	// FindReply looks for a reply of ours to inReplyTo with text, sent by
	// an attempt whose outcome is unknown (a crash mid-call).
	FindReply(ctx context.Context, account, inReplyTo, text string) (SentRef, bool, error)
	// FindDM looks for a DM of ours to recipient with text.
	FindDM(ctx context.Context, account, recipient, text string) (SentRef, bool, error)
}

// Elector says whether this process leads the processes sharing a store:
// only the leader runs the sources (and, later, scheduled jobs), so that
// several replicas poll X once. IsLeader returns nil while this process
// leads. It fits gocron's Elector interface.
type Elector interface {
	IsLeader(ctx context.Context) error
}

// Network is one social network's rules, as the core needs them. Each
// network adapter supplies one and cmd/carebridge registers it
// (Options.Networks); the core asks it instead of knowing any platform.
type Network interface {
	// Platform is the network these rules are for.
	Platform() Platform
	// SameAnswer reports whether seen, the text of a post of ours read
	// back from the platform, is the answer that was sent as sent.
	// Platforms rewrite what they store (X puts the replied-to author's
	// @handle in front of a reply), so the core never compares the two
	// itself.
	SameAnswer(sent, seen string) bool
}
