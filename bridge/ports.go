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
	// Notice is an optional message from the source itself for the
	// triage department's channel (a feed that is gone for good), queued
	// in the same transaction as the posts and the cursor.
	Notice *Report
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
	// ByDepartment counts the tickets opened per department (our own
	// posts' tickets left out).
	ByDepartment map[string]int
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
	// Bundle is set by MessageFinder and PostedLister when the message
	// found is a bundle (it shows several rows' posts): it is no ticket's
	// thread.
	Bundle bool
}

// MessageKind says what a chat message is for.
type MessageKind string

// Chat message kinds.
const (
	MessageParent MessageKind = "parent" // the first post of a ticket: opens the thread
	MessageReply  MessageKind = "reply"  // a later post of the conversation, in the thread
	MessageFYI    MessageKind = "fyi"    // a short copy in another department's channel
	MessageNotice MessageKind = "notice" // a line from carebridge itself, in the thread
	// MessageDraft is carebridge's own copy of a draft that passed the
	// guards, posted in the thread on surfaces where approvers can only
	// act on the bot's messages (Teams reports reactions and button
	// clicks on bot messages only). A reaction or button on it acts on
	// the draft.
	MessageDraft MessageKind = "draft"
)

// DraftCard is what a MessageDraft shows: the draft, how it would go
// out, and, once decided, the outcome and who decided.
type DraftCard struct {
	DraftID   int64
	Author    string // chat user id of the person who wrote it
	Text      string // the answer as it would be sent
	DM        bool   // goes out as a direct message
	Platform  Platform
	Account   string // our account it goes out as, without @
	Outcome   string // "" while it waits; otherwise a short line such as "Sent publicly" or "Rejected"
	DecidedBy string // chat user id of the approver or rejecter, once decided
}

// ChatMessage is a platform-neutral message for the chat surface; the
// Publisher renders it (Block Kit for Slack, Adaptive Cards and text for
// Teams).
//
// Text, carebridge's own lines (notices), is written in the core's
// neutral notice markup, which every Publisher renders:
//
//   - <@ID> mentions a person (a chat user id: Slack U…, a Teams user's
//     AAD object id);
//   - <!subteam^ID> mentions a group (a Slack user group S…, a Teams
//     tag), and <!subteam^ID|Label> does too, Label being the group's
//     name where the surface needs one to show the mention (Teams);
//   - <URL|label> is a link, *text* is bold;
//   - :name: is an emoji by its Slack short name (white_check_mark, x,
//     no_entry_sign, information_source, pencil2, ballot_box_with_check,
//     leftwards_arrow_with_hook, warning, hourglass,
//     hourglass_flowing_sand, rotating_light are the ones carebridge
//     writes);
//   - everything else is text; it may quote what staff typed, so a
//     Publisher escapes it for its surface.
//
// Slack reads this markup as it is (it is Slack's mrkdwn); other surfaces
// translate it (Teams: <at> mentions with their mention entities, and
// Unicode emoji).
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
	Text       string     // notices only
	OwnerName  string     // FYI: the owning department's name
	OwnerLink  string     // FYI: a link to the owner's thread
	AfterHours string     // when the post arrived outside office hours: when the clock starts
	Report     *Report    // MessageReport only
	Draft      *DraftCard // MessageDraft only
	// Answerable is the network's words on how Post can be answered when
	// not publicly (Network.Answerable: X's mention rule, a Bluesky
	// thread gate); "" otherwise.
	Answerable string
	// Answers says how the post can be answered now, in the network's
	// words (AnswerOptions), e.g. "Public reply, or one private reply
	// until Thu 15:00"; "" lets the surface word Post.Eligibility. It
	// takes precedence over Answerable.
	Answers string
	// Bundle lists the posts a MessageBundle shows, in arrival order;
	// OutboxID is the first entry's, and the message carries every
	// entry's outbox id (BundleEntry.OutboxID) for reconciliation.
	Bundle []BundleEntry
	// Earlier is, on a parent that a follow-up opened (the ticket's first
	// post was shown in a bundle), the conversation's first post.
	Earlier *Post
	// OpenedBy is, on a parent opened from a bundle's Answer button, the
	// chat user who pressed it.
	OpenedBy string
}

// Publisher writes to the chat surface (Slack, later Teams). It only
// sends and classifies errors; the Service retries. A surface that can
// look up what it posted also implements MessageFinder.
type Publisher interface {
	// Publish posts msg and returns where it landed.
	Publish(ctx context.Context, msg ChatMessage) (ChatRef, error)
	// Permalink returns a link to a message.
	Permalink(ctx context.Context, ref ChatRef) (string, error)
}

// MessageUpdater is an optional capability of a Publisher: rewriting a
// message carebridge posted earlier (a draft card that shows its outcome,
// a status line updated in place).
type MessageUpdater interface {
	Update(ctx context.Context, ref ChatRef, msg ChatMessage) error
}

// MessageFinder is an optional capability of a Publisher: finding a
// message an earlier attempt posted. Without it, a message whose attempt
// was cut short by a crash is posted again (it may then show twice: a
// chat message is never lost for fear of a duplicate).
type MessageFinder interface {
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

// Clock tells the time; tests stub it. One clock serves the whole
// process: the composition root hands the same one to every part and
// adapter that reads the time, so a test that moves it moves them all
// (bridge/clocktest has a fake).
type Clock interface {
	Now() time.Time
}

// TimerClock is a Clock that can also call a function later, on its own
// time: what a scheduler needs (adapters/schedule adapts it to gocron's
// clock). SystemClock is one, and so is bridge/clocktest's fake.
type TimerClock interface {
	Clock
	// AfterFunc calls f in its own goroutine once d has passed on this
	// clock (at once when d <= 0), as time.AfterFunc does.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a call to f pending in TimerClock.AfterFunc. Stop cancels it
// and reports whether it did (false: f has run or is running, or the call
// was already stopped), as time.Timer's Stop does.
//
// It is an alias of an unnamed interface type so that a clock can
// implement TimerClock without importing bridge: bridge/clocktest does
// not, and the tests of package bridge itself can use it.
type Timer = interface{ Stop() bool }

// SystemClock is the real clock.
type SystemClock struct{}

var _ TimerClock = SystemClock{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

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
	EventAction          ChatEventKind = "action"           // a button pressed on one of our messages: ItemTS is that message; Action and Value say which
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
	Action   string // EventAction: the button's action id
	Value    string // EventAction: the button's value
	At       time.Time
}

// ChatEventHandler receives chat events. The Service implements it; a
// nil error means the event is durably handled (or deliberately ignored)
// and may be acknowledged.
type ChatEventHandler interface {
	HandleChatEvent(ctx context.Context, ev ChatEvent) error
}

// ChatActions are the chat writes beyond posting messages. A surface that
// can show a note to one person also implements EphemeralNotes; one with
// user groups, GroupDirectory.
type ChatActions interface {
	// React adds (or removes) the bot's reaction name on a message.
	React(ctx context.Context, ref ChatRef, name string, add bool) error
}

// EphemeralNotes is an optional chat capability: a note only one person
// sees. Without it, the core writes the note in the ticket's thread,
// naming the person.
type EphemeralNotes interface {
	// Ephemeral shows text to one user only.
	Ephemeral(ctx context.Context, channel, user, text string) error
}

// GroupDirectory is an optional chat capability: groups of people that
// approver and watcher lists may name. Without it, those lists name
// people only.
type GroupDirectory interface {
	// IsGroup reports whether id names a group rather than a person.
	IsGroup(id string) bool
	// GroupMembers lists the members of a group.
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

// PrivateReplier is an optional capability of a Replier: answering a
// public post by a private message tied to that post (Meta's private
// replies to comments). With it, a DM draft whose target is not itself a
// DM goes out through PrivateReply, and a recovered one is looked for
// with FindPrivateReply; without it, through SendDM to the author.
type PrivateReplier interface {
	// PrivateReply sends text privately to the author of the post
	// postID, as account.
	PrivateReply(ctx context.Context, account, postID, text string) (SentRef, error)
	// FindPrivateReply looks for a private reply of ours to postID with
	// text, sent by an attempt whose outcome is unknown.
	FindPrivateReply(ctx context.Context, account, postID, text string) (SentRef, bool, error)
}

// AnswerHistory is an optional capability of a Network whose rules depend
// on the answers already given (Meta allows one private reply per
// comment). The guards then ask AnswerableAfter instead of Answerable.
type AnswerHistory interface {
	// AnswerableAfter is Answerable, knowing the ticket's other drafts
	// (any state; the one being checked left out).
	AnswerableAfter(target *Post, others []Draft) (Eligibility, string)
}

// AnswerOptions is an optional capability of a Network: a short line for
// each mirrored post saying how it can be answered now and until when
// ("Public reply, or one private reply until Thu 15:00"). Without it the
// chat surface words Post.Eligibility itself.
type AnswerOptions interface {
	AnswerOptions(p *Post) string
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
	// Name is the network's name for people ("X").
	Name() string
	// SameAnswer reports whether seen, the text of a post of ours read
	// back from the platform, is the answer that was sent as sent.
	// Platforms rewrite what they store (X puts the replied-to author's
	// @handle in front of a reply), so the core never compares the two
	// itself.
	SameAnswer(sent, seen string) bool
	// Answerable says how target, a post on this network, can be answered
	// through its API — the source recorded what it saw (Post.Eligibility);
	// the rules may know more (X Enterprise answers every post publicly)
	// — and, when only by DM, why and what to do, in plain words for staff.
	Answerable(target *Post) (Eligibility, string)
	// Measure counts text as the network does for an answer of visibility
	// vis, with the limit that applies.
	Measure(text string, vis Visibility) TextLength
	// Explain says in plain words why a send failed (the platform's error
	// codes) and what to do. dmHint tells staff how to resend an answer by
	// DM on the chat surface.
	Explain(err *SendError, account, dmHint string) string
}

// TextLength is a text's length as a network counts it.
type TextLength struct {
	N     int    // the length
	Limit int    // the most the network accepts; 0 when unknown
	Of    string // what the limit is of, for people: "X", "an X DM"
	How   string // how the network counts, when not plain characters; may be ""
}

// Poster publishes original posts (not replies) as one of our accounts.
// Like every adapter it only sends and classifies errors.
type Poster interface {
	// Post publishes text as account.
	Post(ctx context.Context, account, text string) (SentRef, error)
	// FindPost looks for a recent post of account with text, sent by an
	// attempt whose outcome is unknown (a crash mid-call).
	FindPost(ctx context.Context, account, text string) (SentRef, bool, error)
}
