package bridge

import (
	"encoding/json"
	"errors"
	"time"
)

// ErrNotFound is returned by Store look-ups that find nothing.
var ErrNotFound = errors.New("not found")

// Platform names a social network a post came from ("x"). Each network
// adapter defines its own value; the core only compares them.
type Platform string

// SourceKind says how a post reached carebridge. A post seen through
// several sources is stored once, under the source that saw it first.
type SourceKind string

// Sources of posts.
const (
	SourceSearch  SourceKind = "search"  // a keyword search poller
	SourceMention SourceKind = "mention" // a mention of an official account
	SourceDM      SourceKind = "dm"      // a direct message
	SourceStream  SourceKind = "stream"  // the filtered stream
	SourceLookup  SourceKind = "lookup"  // fetched for context (a conversation root)
	SourceImport  SourceKind = "import"  // replayed from a file
	SourceFeed    SourceKind = "feed"    // a subscribed feed (RSS/Atom): a blog or forum
)

// Priority orders outbox work: mentions and DMs go ahead of passive
// keyword hits.
type Priority int

// Outbox priorities; lower runs first.
const (
	// PriorityAlert goes ahead of everything in its channel: spike alerts
	// and SLA breach lines must not wait behind the backlog they warn of.
	PriorityAlert  Priority = -1
	PriorityHigh   Priority = 0 // DMs, mentions, follow-ups in existing threads, replies to customers
	PriorityNormal Priority = 1 // passive keyword hits
	PriorityLow    Priority = 2 // FYI copies, digests
)

// PriorityOf returns the outbox priority of posts that arrived through src.
func PriorityOf(src SourceKind) Priority {
	switch src {
	case SourceDM, SourceMention:
		return PriorityHigh
	default:
		return PriorityNormal
	}
}

// Eligibility says how a post can be answered through the platform's API.
type Eligibility string

// Reply eligibilities.
const (
	// EligiblePublic: a public reply through the API is possible.
	EligiblePublic Eligibility = "public"
	// EligibleDMOnly: the network refuses a public API reply to this post
	// (on X since 2026-02-23: the author did not mention or quote our
	// account); answer by DM or in the network's own app.
	EligibleDMOnly Eligibility = "dm_only"
	// EligibleDM: the post is itself a DM; answers go back by DM.
	EligibleDM Eligibility = "dm"
	// EligiblePublicOnly: the network refuses a DM in answer to this post
	// now (on Meta: the 7 days for a comment's one private reply are
	// over, or it was used); answer publicly.
	EligiblePublicOnly Eligibility = "public_only"
	// EligibleNone: the network refuses any answer to this post now (on
	// Meta: a DM whose messaging window closed, a removed comment), or
	// never takes one (a blog or forum read through its feed: a
	// listen-only network; staff answer on the site itself). Staff notes
	// still work.
	EligibleNone Eligibility = "none"
)

// Post is one inbound item, normalized. It is unique on (Platform,
// ExternalID).
type Post struct {
	ID              int64           // store id, set by InsertPost
	Platform        Platform        // where it was posted
	ExternalID      string          // the platform's id
	Source          SourceKind      // how carebridge first saw it
	AuthorID        string          // the platform's user id
	AuthorHandle    string          // screen name, without @
	AuthorName      string          // display name
	Text            string          // the full text, unfiltered, unescaped
	Lang            string          // BCP 47 language tag if known
	CreatedAt       time.Time       // when it was posted
	ReceivedAt      time.Time       // when carebridge stored it
	URL             string          // a link to the post
	ConversationKey string          // groups posts of one conversation (X conversation_id, DM conversation id)
	InReplyTo       string          // external id of the post this answers, if any
	Mentions        []string        // official accounts (handles, lower case) it mentions or quotes
	Eligibility     Eligibility     // how it can be answered
	Raw             json.RawMessage // the platform's JSON, for audit and debugging
	// Title is the headline of an item that has one (a blog post, a
	// forum thread); "" for posts without (X). Routing reads it with the
	// text; chat surfaces show a titled post as an article: its title,
	// author, an excerpt of the text and its link.
	Title string
	// DefaultDepartment, when set, takes the post if no routing rule
	// matches it, instead of the triage department (a feed configured
	// for one team). It is used when the post is ingested and not stored.
	DefaultDepartment string
}

// IsDM reports whether the post is a direct message.
func (p *Post) IsDM() bool { return p.Source == SourceDM || p.Eligibility == EligibleDM }

// Customer is one author on one platform, with a summary of their history.
type Customer struct {
	ID             int64
	Platform       Platform
	AuthorID       string
	Handle         string
	Name           string
	FirstSeen      time.Time
	LastSeen       time.Time
	TicketCount    int       // tickets opened so far
	LastDepartment string    // department of the latest ticket
	LastTicketAt   time.Time // when the latest ticket was opened
}

// TicketState is where a conversation stands.
type TicketState string

// Ticket states.
const (
	TicketOpen             TicketState = "open"
	TicketAwaitingApproval TicketState = "awaiting_approval"
	TicketAnswered         TicketState = "answered"
	TicketClosed           TicketState = "closed"
)

// Ticket is one customer conversation on one platform, owned by one
// department and mirrored to one Slack thread.
type Ticket struct {
	ID              int64
	Platform        Platform
	ConversationKey string
	Department      string   // owner
	FYI             []string // departments that got an FYI copy
	Matched         []string // keywords that routed it
	Tags            []string // tags of the matching rules
	State           TicketState
	CustomerID      int64
	RootPostID      int64  // the first post of the conversation carebridge stored
	Account         string // official account that answers (handle)
	SlackChannel    string // channel of the parent message, once posted
	SlackTS         string // ts of the parent message, once posted
	CreatedAt       time.Time
	UpdatedAt       time.Time
	LastCustomerAt  time.Time // latest post from the customer
	FirstResponseAt time.Time // zero until the first answer went out
	AnsweredAt      time.Time // latest answer
	ClosedAt        time.Time
}

// MirrorRole says what a Slack message mirrors.
type MirrorRole string

// Mirror roles.
const (
	MirrorParent MirrorRole = "parent" // the thread's first message
	MirrorReply  MirrorRole = "reply"  // a later post, in the thread
	MirrorFYI    MirrorRole = "fyi"    // a short copy in another department's channel
)

// Mirror maps a post to the chat message that shows it. Chat history is
// never read back, so this mapping is the only way back from a message to
// its post.
type Mirror struct {
	PostID     int64
	TicketID   int64
	Department string
	Role       MirrorRole
	Channel    string // chat channel id
	TS         string // message ts
	ThreadTS   string // parent ts for replies; empty for parents and FYI copies
	CreatedAt  time.Time
}

// Visibility says how a draft answer goes out.
type Visibility string

// Visibilities.
const (
	VisibilityPublic Visibility = "public"
	VisibilityDM     Visibility = "dm"
)

// DraftState is where a draft answer stands.
type DraftState string

// Draft states.
const (
	DraftPending   DraftState = "pending"
	DraftApproved  DraftState = "approved"
	DraftSending   DraftState = "sending"
	DraftSent      DraftState = "sent"
	DraftFailed    DraftState = "failed"
	DraftRejected  DraftState = "rejected"
	DraftCancelled DraftState = "cancelled"
	DraftBlocked   DraftState = "blocked"
)

// Draft is a staff member's answer, written as a thread reply, waiting for
// approval or already sent.
type Draft struct {
	ID          int64
	TicketID    int64
	Channel     string // chat channel of the thread reply
	TS          string // ts of the thread reply; unique per channel
	Author      string // chat user id of the writer
	Text        string
	Visibility  Visibility
	State       DraftState
	GuardReason string // why a guard blocked it
	ReplyTo     int64  // store id of the post it answers (the customer's latest)
	Account     string // official account that sends it
	Recipient   string // platform user id of the customer (DMs)
	ApprovedBy  string // chat user id
	ApprovedAt  time.Time
	SentID      string // platform id of what went out
	SentURL     string
	Error       string // last failure, in plain words
	CreatedAt   time.Time
	UpdatedAt   time.Time
	SentAt      time.Time
}

// Decision is what an approver's reaction said.
type Decision string

// Decisions.
const (
	DecisionApprove   Decision = "approve"
	DecisionApproveDM Decision = "approve_dm"
	DecisionReject    Decision = "reject"
	DecisionRevoke    Decision = "revoke" // the approval reaction was removed
)

// Approval is one approver decision on a draft.
type Approval struct {
	ID        int64
	DraftID   int64
	User      string
	Emoji     string
	Decision  Decision
	CreatedAt time.Time
}

// OutboxState is where an outbox row stands.
type OutboxState string

// Outbox states.
const (
	OutboxPending OutboxState = "pending" // waiting to be claimed (maybe after NextAttemptAt)
	OutboxSending OutboxState = "sending" // claimed by a worker; the call may have been made
	OutboxDone    OutboxState = "done"
	OutboxDead    OutboxState = "dead" // permanent failure; not retried
)

// OutboxItem is one side effect to perform: a chat post, a reaction, a
// public reply, a DM. It is written in the same transaction as the state
// change that caused it.
type OutboxItem struct {
	ID            int64
	Kind          string          // what to do, e.g. "slack.post"; the worker registry decides
	Priority      Priority        // lower first
	Lane          string          // pacing key, e.g. a channel id; empty means unpaced
	OrderKey      string          // rows with the same key run strictly in id order (e.g. one ticket's thread)
	DedupeKey     string          // optional; a second row with the same key is not enqueued
	TicketID      int64           // optional
	Payload       json.RawMessage // kind-specific
	State         OutboxState
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	ClaimedBy     string
	ClaimedUntil  time.Time
	// Recovered is set by ClaimOutbox while the row's outcome is unknown
	// (UnknownAt is set): it was taken over from a claim whose lease
	// expired (a crashed or stalled worker), and that attempt may have
	// reached the platform, so the worker reconciles before sending
	// again. It stays set from claim to claim until a check succeeds
	// (Tx.SettleOutbox, or the row is done).
	Recovered bool
	// UnknownAt is when the outcome became unknown (zero: known): every
	// attempt that may have reached the platform happened before it.
	UnknownAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AuditKind names an audited event.
type AuditKind string

// AuditRecord is one entry of the append-only, hash-chained audit log.
// Hash covers every other field and PrevHash, so altering, deleting or
// reordering a record breaks the chain.
type AuditRecord struct {
	Seq        int64           // position in the chain, from 1
	At         time.Time       // UTC, microsecond precision
	Kind       AuditKind       // what happened
	Actor      string          // who did it (chat user id, "system", an account)
	Department string          // optional
	TicketID   int64           // optional
	DraftID    int64           // optional
	Details    json.RawMessage // kind-specific facts; never secrets
	PrevHash   string          // hex SHA-256 of the previous record; empty for the first
	Hash       string          // hex SHA-256 of this record
}
