package bridge_test

// This file is the only place that knows how the core is built and wired:
// the configuration, the store, bridge.New and its options, the recording
// doubles of the chat surface and the platform, and the helpers that
// deliver events and wait for the relay. The tests in the other files talk
// only to the helpers of harness, so that a change of the core's API is
// adapted here.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/adapters/x"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/clocktest"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/store"
)

// People in the chat surface.
const (
	staff     = "U0STAFF001" // writes answers; not an approver
	manager   = "U0MANAGER1" // approver of devices (and triage)
	manager2  = "U0MANAGER2" // second approver of devices
	lead      = "U0LEAD0001" // approver of devices through the user group S0LEADS01
	executive = "U0EXEC0001" // a watcher, also (wrongly) listed among devices' approvers
	observer  = "U0EXEC0002" // a watcher only
	botUser   = "U0CAREBOT1" // carebridge itself
)

// Where things land.
const (
	chDevices = "C0DEVICES"
	chVoices  = "C0VOICES"
	chTriage  = "C0TRIAGE"
	account   = "SBCare"
	accountID = "1000000000000000001"
)

// testConfig is a complete configuration at the routing level: three
// departments (one without approval), the official account, a watcher.
//
// Pacing: the core paces chat posts per channel on its own clock, which
// these tests stop; the burst is raised from Slack's 3 so that one test's
// thread (a dozen messages at most) is never held by a clock the test
// does not move. The pacer is not what these tests are about.
const testConfig = `
timezone: UTC
slack:
  pacing:
    per_second: 1
    burst: 50
  watchers: [U0EXEC0001, U0EXEC0002]
x:
  accounts:
    - handle: SBCare
      user_id: "1000000000000000001"
departments:
  - id: devices
    name: Devices
    channel: C0DEVICES
    account: SBCare
    approvers: [U0MANAGER1, U0MANAGER2, S0LEADS01, U0EXEC0001]
  - id: voices
    name: Voices
    channel: C0VOICES
    approval: none
  - id: triage
    name: Triage
    channel: C0TRIAGE
    approvers: [U0MANAGER1]
routes:
  - department: devices
    keywords: [iphone, ipad, battery, app, charger]
  - department: voices
    keywords: [thanks, love]
triage: triage
outbox:
  workers: 4
  lease: 60s
  max_backoff: 1m
`

// marks are the bot's marks on drafts: Slack's, as production registers
// them.
var marks = slack.DraftMarks

// userGroups are the user groups the chat surface knows.
var userGroups = map[string][]string{"S0LEADS01": {lead}}

// harness is one core over a fresh SQLite store, with recording doubles
// of the chat surface (chat) and the platform (x), and a stopped clock.
type harness struct {
	t       *testing.T
	cfg     *config.Config
	store   *store.Store
	svc     *bridge.Service
	clock   *clocktest.Clock
	chat    *chatRecorder
	x       *platformRecorder
	metrics *metricsRecorder
	logs    *syncBuffer

	mu      sync.Mutex
	seq     int                         // ids of posts, events and staff messages
	events  map[string]bridge.ChatEvent // delivered events, by id
	holding bool                        // a send is held: actions do not wait for the relay
	stopped bool
}

// newHarness starts a core for one test; it is stopped when the test ends.
func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := t.Context()
	cfg, err := config.Parse([]byte(testConfig), "harness.yaml", config.LevelRouting, config.Options{})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	router, err := cfg.Router()
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// Open applies the migrations to the fresh file.
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "carebridge.db"), store.WithLogger(log))
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	clock := clocktest.New(time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)) // only the test moves it
	h := &harness{
		t: t, cfg: cfg, store: st, clock: clock, logs: logs,
		chat:    &chatRecorder{clock: clock, reactions: map[bridge.ChatRef][]string{}, groups: userGroups},
		x:       &platformRecorder{},
		metrics: &metricsRecorder{done: map[string]int{}},
		events:  map[string]bridge.ChatEvent{},
	}
	h.svc, err = bridge.New(bridge.Options{
		Store:     st,
		Config:    cfg,
		Router:    router,
		Publisher: h.chat,
		Actions:   h.chat,
		Repliers:  map[bridge.Platform]bridge.Replier{x.Platform: h.x},
		Networks:  []bridge.Network{x.Network{}}, // X's rules as production registers them
		Accounts:  map[bridge.Platform][]string{x.Platform: {account}},
		BotUserID: botUser,
		Official:  map[string]bool{strings.ToLower(account): true, accountID: true},
		Watchers:  cfg.Slack.Watchers,
		Marks:     marks,
		ChatPacing: bridge.Pacing{PerSecond: cfg.Slack.Pacing.PerSecond, Burst: cfg.Slack.Pacing.Burst,
			Disabled: cfg.Slack.Pacing.Disabled},
		Clock:    clock,
		Logger:   log,
		Metrics:  h.metrics,
		Identity: "harness",
		// The relay is woken by every change; the poll only notices a
		// clock the test moved (a retry or a lease falling due).
		PollInterval: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("bridge.New: %v", err)
	}
	if err := h.svc.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		h.x.held.releaseAll()
		h.chat.held.releaseAll()
		h.stop()
		st.Close()
		if t.Failed() {
			t.Logf("carebridge log:\n%s", logs.String())
		}
	})
	return h
}

// stop stops the core, letting work in flight finish.
func (h *harness) stop() {
	h.mu.Lock()
	stopped := h.stopped
	h.stopped = true
	h.mu.Unlock()
	if stopped {
		return
	}
	// It runs in the test's cleanup, after the test's context ended.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.svc.Stop(ctx); err != nil {
		h.t.Errorf("stop: %v", err)
	}
}

// ---- the customer's side: posts ingested as a source would deliver them

// conv is a customer conversation and the chat thread it opened.
type conv struct {
	post   bridge.Post    // the customer's first post, as ingested
	thread bridge.ChatRef // the parent message in the department's channel
}

// postOption changes a customer post before it is ingested.
type postOption func(*bridge.Post)

// mentioningUs makes the post mention our account (a public reply is
// possible under X's rule); it is the default.
func mentioningUs(p *bridge.Post) {
	p.Source, p.Mentions, p.Eligibility = bridge.SourceMention, []string{strings.ToLower(account)}, bridge.EligiblePublic
}

// keywordHit makes the post a search hit that does not mention our
// account: X refuses a public API reply to it.
func keywordHit(p *bridge.Post) {
	p.Source, p.Mentions, p.Eligibility = bridge.SourceSearch, nil, bridge.EligibleDMOnly
}

// byDM makes the post a direct message to our account.
func byDM(p *bridge.Post) {
	p.Source, p.Mentions, p.Eligibility = bridge.SourceDM, nil, bridge.EligibleDM
}

// by makes the customer with the numeric id author the post's author.
func by(author string) postOption {
	return func(p *bridge.Post) { p.AuthorID, p.AuthorHandle = author, "customer"+author }
}

// sameCustomer makes the post one of c's customer's, in a new
// conversation.
func sameCustomer(c *conv) postOption {
	return func(p *bridge.Post) { p.AuthorID, p.AuthorHandle = c.post.AuthorID, c.post.AuthorHandle }
}

// replyingTo makes the post its author's reply to p, in p's
// conversation (the author is p's unless another option says otherwise).
func replyingTo(p bridge.Post) postOption {
	return func(q *bridge.Post) {
		q.ConversationKey, q.InReplyTo = p.ConversationKey, p.ExternalID
		q.AuthorID, q.AuthorHandle = p.AuthorID, p.AuthorHandle
		q.Source, q.Mentions, q.Eligibility = p.Source, p.Mentions, p.Eligibility
	}
}

// fromUs makes the post one of our official account's (give it after
// replyingTo).
func fromUs(p *bridge.Post) {
	p.AuthorID, p.AuthorHandle = accountID, account
	p.Source, p.Mentions, p.Eligibility = bridge.SourceSearch, nil, bridge.EligiblePublic
}

// withID gives the post the platform id id.
func withID(id string) postOption {
	return func(p *bridge.Post) { p.ExternalID = id }
}

// newPost builds a customer post with a fresh id and author.
func (h *harness) newPost(text string, opts ...postOption) bridge.Post {
	n := h.next()
	p := bridge.Post{
		Platform:   x.Platform,
		ExternalID: fmt.Sprintf("190000000000%07d", n),
		Text:       text,
		CreatedAt:  h.clock.Now(),
		Lang:       "en",
	}
	mentioningUs(&p)
	for _, o := range opts {
		o(&p)
	}
	if p.AuthorID == "" {
		p.AuthorID, p.AuthorHandle = fmt.Sprint(7000000+n), fmt.Sprint("customer", 7000000+n)
	}
	if p.ConversationKey == "" {
		p.ConversationKey = p.ExternalID
		if p.Source == bridge.SourceDM {
			p.ConversationKey = p.AuthorID + "-" + accountID // X's DM conversation id
		}
	}
	p.URL = "https://x.com/" + p.AuthorHandle + "/status/" + p.ExternalID
	return p
}

// ingest hands posts to the core as one source batch (with cursor, if
// given) and waits for the relay.
func (h *harness) ingest(cursor *bridge.Cursor, posts ...bridge.Post) bridge.IngestResult {
	h.t.Helper()
	res, err := h.svc.Ingest(h.t.Context(), bridge.Batch{Posts: posts, Cursor: cursor})
	if err != nil {
		h.t.Fatalf("ingest: %v", err)
	}
	h.afterAction()
	return res
}

// customerPost ingests a new customer post (mentioning us unless opts say
// otherwise) and returns its conversation and thread.
func (h *harness) customerPost(text string, opts ...postOption) *conv {
	h.t.Helper()
	p := h.newPost(text, opts...)
	h.ingest(nil, p)
	return &conv{post: p, thread: h.parentOf(p.ExternalID)}
}

// followUp ingests a later post of the customer in c's conversation.
func (h *harness) followUp(c *conv, text string) bridge.Post {
	h.t.Helper()
	p := h.newPost(text, replyingTo(c.post))
	h.ingest(nil, p)
	return p
}

// parentOf returns the parent message that shows the post with
// externalID, failing the test if there is none.
func (h *harness) parentOf(externalID string) bridge.ChatRef {
	h.t.Helper()
	for _, m := range h.chat.posted() {
		if m.Kind == bridge.MessageParent && m.PostID == externalID {
			return m.Ref
		}
	}
	h.t.Fatalf("no parent message shows post %s; posted: %v", externalID, h.chat.posted())
	return bridge.ChatRef{}
}

// ---- the chat side: people acting in the thread

// staffReply posts text as user in c's thread and returns the message.
func (h *harness) staffReply(user string, c *conv, text string) bridge.ChatRef {
	h.t.Helper()
	ts := h.newTS()
	h.deliver(bridge.ChatEvent{Kind: bridge.EventMessage, Channel: c.thread.Channel, User: user, TS: ts, ThreadTS: c.thread.TS, Text: text})
	return bridge.ChatRef{Channel: c.thread.Channel, TS: ts}
}

// staffReplyEarly posts text as user in the thread of the parent message
// parent before carebridge has recorded that thread (its post is on the
// chat surface, its record not yet committed). It waits until the inbox
// has tried the event once and returns the message.
func (h *harness) staffReplyEarly(user string, parent bridge.ChatRef, text string) bridge.ChatRef {
	h.t.Helper()
	ts := h.newTS()
	ev := bridge.ChatEvent{ID: fmt.Sprintf("Ev%08d", h.next()), Kind: bridge.EventMessage, Channel: parent.Channel, User: user,
		TS: ts, ThreadTS: parent.TS, Text: text, At: h.clock.Now()}
	if err := h.svc.Inbox().HandleChatEvent(h.t.Context(), ev); err != nil {
		h.t.Fatalf("inbox refused the reply: %v", err)
	}
	h.waitFor("the inbox tries the reply", func() (bool, string) {
		n := h.metrics.count("inbox:retry")
		return n > 0, fmt.Sprint(n, " retries")
	})
	return bridge.ChatRef{Channel: parent.Channel, TS: ts}
}

// react adds user's reaction emoji to msg and returns the event id.
func (h *harness) react(user string, msg bridge.ChatRef, emoji string) string {
	h.t.Helper()
	return h.deliver(bridge.ChatEvent{Kind: bridge.EventReactionAdded, Channel: msg.Channel, User: user, ItemTS: msg.TS, Reaction: emoji})
}

// unreact removes user's reaction emoji from msg.
func (h *harness) unreact(user string, msg bridge.ChatRef, emoji string) {
	h.t.Helper()
	h.deliver(bridge.ChatEvent{Kind: bridge.EventReactionRemoved, Channel: msg.Channel, User: user, ItemTS: msg.TS, Reaction: emoji})
}

// edit changes the text of msg, as its author.
func (h *harness) edit(user string, msg bridge.ChatRef, text string) {
	h.t.Helper()
	h.deliver(bridge.ChatEvent{Kind: bridge.EventMessageChanged, Channel: msg.Channel, User: user, ItemTS: msg.TS, Text: text})
}

// remove deletes msg, as its author.
func (h *harness) remove(user string, msg bridge.ChatRef) {
	h.t.Helper()
	h.deliver(bridge.ChatEvent{Kind: bridge.EventMessageDeleted, Channel: msg.Channel, User: user, ItemTS: msg.TS})
}

// approve, approveDM and reject are the approvers' reactions.
func (h *harness) approve(user string, msg bridge.ChatRef) string {
	h.t.Helper()
	return h.react(user, msg, h.cfg.Approvals.ApproveEmoji)
}

func (h *harness) approveDM(user string, msg bridge.ChatRef) string {
	h.t.Helper()
	return h.react(user, msg, h.cfg.Approvals.ApproveDMEmoji)
}

func (h *harness) reject(user string, msg bridge.ChatRef) string {
	h.t.Helper()
	return h.react(user, msg, h.cfg.Approvals.RejectEmoji)
}

// withdraw removes user's approval reaction from msg.
func (h *harness) withdraw(user string, msg bridge.ChatRef) {
	h.t.Helper()
	h.unreact(user, msg, h.cfg.Approvals.ApproveEmoji)
}

// deliver hands ev to the core the way the chat receivers do (the durable
// inbox), waits until it is applied and, unless a send is held, until the
// relay has done what it caused. It returns the event id.
func (h *harness) deliver(ev bridge.ChatEvent) string {
	h.t.Helper()
	if ev.ID == "" {
		ev.ID = fmt.Sprintf("Ev%08d", h.next())
	}
	if ev.At.IsZero() {
		ev.At = h.clock.Now()
	}
	h.mu.Lock()
	h.events[ev.ID] = ev
	h.mu.Unlock()
	if err := h.svc.Inbox().HandleChatEvent(h.t.Context(), ev); err != nil {
		h.t.Fatalf("inbox refused %s: %v", ev.Kind, err)
	}
	h.afterAction()
	return ev.ID
}

// redeliver delivers the event with id again, as the chat surface does
// when it did not see the acknowledgement: through the inbox (receivers)
// or, with direct, straight to HandleChatEvent (its event-id check).
func (h *harness) redeliver(id string, direct bool) {
	h.t.Helper()
	h.mu.Lock()
	ev, ok := h.events[id]
	h.mu.Unlock()
	if !ok {
		h.t.Fatalf("no event %s was delivered", id)
	}
	var err error
	if direct {
		err = h.svc.HandleChatEvent(h.t.Context(), ev)
	} else {
		err = h.svc.Inbox().HandleChatEvent(h.t.Context(), ev)
	}
	if err != nil {
		h.t.Fatalf("redeliver %s: %v", id, err)
	}
	h.afterAction()
}

// deliverDirect hands ev straight to HandleChatEvent (no inbox) and
// returns its id.
func (h *harness) deliverDirect(ev bridge.ChatEvent) string {
	h.t.Helper()
	if ev.ID == "" {
		ev.ID = fmt.Sprintf("Ev%08d", h.next())
	}
	ev.At = h.clock.Now()
	h.mu.Lock()
	h.events[ev.ID] = ev
	h.mu.Unlock()
	if err := h.svc.HandleChatEvent(h.t.Context(), ev); err != nil {
		h.t.Fatalf("HandleChatEvent %s: %v", ev.Kind, err)
	}
	h.afterAction()
	return ev.ID
}

// approveDirect delivers user's approval of msg straight to
// HandleChatEvent (no inbox) and returns the event id.
func (h *harness) approveDirect(user string, msg bridge.ChatRef) string {
	h.t.Helper()
	return h.deliverDirect(bridge.ChatEvent{Kind: bridge.EventReactionAdded, Channel: msg.Channel, User: user, ItemTS: msg.TS, Reaction: h.cfg.Approvals.ApproveEmoji})
}

// dmGesture is the reaction that sends a draft as a DM, as people see it
// named in notes (":incoming_envelope:").
func (h *harness) dmGesture() string { return ":" + h.cfg.Approvals.ApproveDMEmoji + ":" }

// seen asks the core which of the platform ids are stored, as a DM
// poller does.
func (h *harness) seen(ids ...string) map[string]bool {
	h.t.Helper()
	got, err := h.svc.Seen(h.t.Context(), x.Platform, ids)
	if err != nil {
		h.t.Fatalf("seen: %v", err)
	}
	return got
}

// afterAction waits for the inbox to apply what was delivered and, unless
// a send is held on purpose, for the relay to finish.
func (h *harness) afterAction() {
	h.t.Helper()
	h.mu.Lock()
	holding := h.holding
	h.mu.Unlock()
	if holding {
		h.waitFor("the inbox applies every event", func() (bool, string) {
			n, err := h.inboxPending()
			return err == nil && n == 0, fmt.Sprint(n, " pending, ", err)
		})
		return
	}
	h.settle()
}

// settle waits until the inbox and the outbox are empty: every event
// applied, every side effect done (or given up). Actions wait for the
// relay again afterwards (see hold and failChat).
func (h *harness) settle() {
	h.t.Helper()
	defer func() {
		h.mu.Lock()
		h.holding = false
		h.mu.Unlock()
	}()
	h.waitFor("the inbox and the outbox drain", func() (bool, string) {
		in, err := h.inboxPending()
		if err != nil {
			return false, err.Error()
		}
		stats, err := h.store.OutboxStats(h.t.Context(), h.clock.Now())
		if err != nil {
			return false, err.Error()
		}
		out, desc := 0, fmt.Sprintf("inbox %d pending; outbox", in)
		for _, s := range stats {
			out += s.Pending
			if s.Pending > 0 {
				desc += fmt.Sprintf(" %s:%d", s.Kind, s.Pending)
			}
		}
		return in == 0 && out == 0, desc
	})
}

func (h *harness) inboxPending() (int, error) {
	st, err := h.store.InboxStats(h.t.Context(), h.clock.Now())
	return st.Pending, err
}

// waitFor polls cond until it holds, failing the test after 10 s of real
// time with cond's description of what it saw. It waits for work the
// core does on its own goroutines; nothing here waits for a clock.
func (h *harness) waitFor(what string, cond func() (bool, string)) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting until %s; last seen: %s", what, seen)
		}
		time.Sleep(time.Millisecond)
	}
}

// advance moves the core's clock (retries and leases fall due) and waits
// for the relay, unless a send is held.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.clock.Advance(d)
	h.afterAction()
}

// hold makes the platform keep the next send waiting until the returned
// release is called with the outcome to report (nil: success). With
// delivered, the answer reaches the customer before the call hangs (a
// process that dies, or stalls, before it learns the result). While a
// send is held, actions wait only for the inbox, not for the relay.
func (h *harness) hold(delivered bool) (release func(err error)) {
	h.mu.Lock()
	h.holding = true
	h.mu.Unlock()
	rel := h.x.held.add(delivered)
	return func(err error) {
		h.mu.Lock()
		h.holding = false
		h.mu.Unlock()
		rel(err)
	}
}

// failChat makes the chat surface's next posts fail with errs, in order.
// Until the next settle, actions wait only for the inbox: a failed post
// is retried when the clock reaches its next attempt.
func (h *harness) failChat(errs ...error) {
	h.mu.Lock()
	h.holding = true
	h.mu.Unlock()
	h.chat.failPublish(errs...)
}

// failSends makes the platform's next sends fail with errs, in order,
// sending nothing. Until the next settle, actions wait only for the inbox.
func (h *harness) failSends(errs ...error) {
	h.mu.Lock()
	h.holding = true
	h.mu.Unlock()
	h.x.fail(errs...)
}

// dropAfterSend makes the platform's next send reach the customer and
// then lose the connection. Until the next settle, actions wait only for
// the inbox.
func (h *harness) dropAfterSend() {
	h.mu.Lock()
	h.holding = true
	h.mu.Unlock()
	h.x.dropAfterSend()
}

// waitChatAttempts waits until the relay has finished n attempts of chat
// posts (whatever their result).
func (h *harness) waitChatAttempts(n int) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("%d chat post attempts finish", n), func() (bool, string) {
		got := h.metrics.count(bridge.KindChatPost)
		return got >= n, fmt.Sprint(got)
	})
}

// waitChatIdle waits until no chat post is queued or being posted.
func (h *harness) waitChatIdle() {
	h.t.Helper()
	h.waitFor("no chat post is queued", func() (bool, string) {
		stats, err := h.store.OutboxStats(h.t.Context(), h.clock.Now())
		if err != nil {
			return false, err.Error()
		}
		for _, s := range stats {
			if s.Kind == bridge.KindChatPost && s.Pending > 0 {
				return false, fmt.Sprint(s.Pending, " chat posts queued")
			}
		}
		return true, ""
	})
}

// sendCalls is how often the platform was asked to send; lookups how
// often it was asked whether an answer went out.
func (h *harness) sendCalls() int { return h.x.sendCalls() }
func (h *harness) lookups() int   { return h.x.lookups() }

// waitNotice waits until a notice containing sub is in c's thread.
func (h *harness) waitNotice(c *conv, sub string) {
	h.t.Helper()
	h.waitFor("a notice with "+sub, func() (bool, string) {
		return len(h.noticesWith(c, sub)) > 0, fmt.Sprintf("%q", h.notices(c))
	})
}

// holdChat makes the chat surface keep the next post waiting, as hold
// does for the platform's sends.
func (h *harness) holdChat(delivered bool) (release func(err error)) {
	h.mu.Lock()
	h.holding = true
	h.mu.Unlock()
	rel := h.chat.held.add(delivered)
	return func(err error) {
		h.mu.Lock()
		h.holding = false
		h.mu.Unlock()
		rel(err)
	}
}

// waitChatHeld waits until a held chat post has been called.
func (h *harness) waitChatHeld() {
	h.t.Helper()
	h.waitFor("the held chat post is called", func() (bool, string) {
		n := h.chat.held.made()
		return n > 0, fmt.Sprint(n, " held calls")
	})
}

// closeThread puts the close reaction on c's parent message, as user.
func (h *harness) closeThread(user string, c *conv) {
	h.t.Helper()
	h.react(user, c.thread, h.cfg.Approvals.CloseEmoji)
}

// waitHeld waits until a held send has been called.
func (h *harness) waitHeld() {
	h.t.Helper()
	h.waitFor("the held send is called", func() (bool, string) {
		n := h.x.held.made()
		return n > 0, fmt.Sprint(n, " held calls")
	})
}

// waitSendAttempts waits until the relay has finished n attempts of
// platform sends (whatever their result).
func (h *harness) waitSendAttempts(n int) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("%d send attempts finish", n), func() (bool, string) {
		got := h.metrics.count(bridge.KindSend)
		return got >= n, fmt.Sprint(got)
	})
}

// next returns a fresh sequence number.
func (h *harness) next() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	return h.seq
}

// newTS returns a fresh chat ts for a person's message.
func (h *harness) newTS() string { return h.chat.newTS() }

// ---- what users see

// notices returns carebridge's lines in the thread of c.
func (h *harness) notices(c *conv) []string {
	var out []string
	for _, m := range h.chat.posted() {
		if m.Kind == bridge.MessageNotice && m.Ref.Channel == c.thread.Channel && m.ThreadTS == c.thread.TS {
			out = append(out, m.Text)
		}
	}
	return out
}

// noticesWith returns the notices in c's thread that contain sub.
func (h *harness) noticesWith(c *conv, sub string) []string {
	var out []string
	for _, n := range h.notices(c) {
		if strings.Contains(n, sub) {
			out = append(out, n)
		}
	}
	return out
}

// wantNotice checks that exactly one notice in c's thread contains sub,
// and returns it.
func (h *harness) wantNotice(c *conv, sub string) string {
	h.t.Helper()
	got := h.noticesWith(c, sub)
	if len(got) != 1 {
		h.t.Errorf("want one notice with %q in the thread, got %d; notices: %q", sub, len(got), h.notices(c))
		if len(got) == 0 {
			return ""
		}
	}
	return got[0]
}

// noNotice checks that no notice in c's thread contains sub.
func (h *harness) noNotice(c *conv, sub string) {
	h.t.Helper()
	if got := h.noticesWith(c, sub); len(got) > 0 {
		h.t.Errorf("unexpected notice with %q: %q", sub, got)
	}
}

// threadMessages returns the posts mirrored into c's thread after its
// parent (later posts of the conversation), as the texts shown.
func (h *harness) threadMessages(c *conv) []chatMessage {
	var out []chatMessage
	for _, m := range h.chat.posted() {
		if m.Kind == bridge.MessageReply && m.ThreadTS == c.thread.TS {
			out = append(out, m)
		}
	}
	return out
}

// posted returns every message carebridge posted, in order.
func (h *harness) posted() []chatMessage { return h.chat.posted() }

// reactions returns the bot's reactions on msg now.
func (h *harness) reactions(msg bridge.ChatRef) []string { return h.chat.reactionsOn(msg) }

// wantReactions checks the bot's reactions on msg.
func (h *harness) wantReactions(msg bridge.ChatRef, want ...string) {
	h.t.Helper()
	got := h.reactions(msg)
	if !slices.Equal(got, want) {
		h.t.Errorf("bot reactions on the draft: got %v, want %v", got, want)
	}
}

// ephemerals returns the notes only user saw.
func (h *harness) ephemerals(user string) []string { return h.chat.ephemeralsTo(user) }

// sent returns everything that reached customers, in order.
func (h *harness) sent() []sentAnswer { return h.x.sentAnswers() }

// repliesTo returns the public replies to c's first post.
func (h *harness) repliesTo(c *conv) []sentAnswer {
	var out []sentAnswer
	for _, s := range h.sent() {
		if !s.DM && s.To == c.post.ExternalID {
			out = append(out, s)
		}
	}
	return out
}

// dmsTo returns the DMs to c's customer.
func (h *harness) dmsTo(c *conv) []sentAnswer {
	var out []sentAnswer
	for _, s := range h.sent() {
		if s.DM && s.To == c.post.AuthorID {
			out = append(out, s)
		}
	}
	return out
}

// draft reads the draft written as msg.
func (h *harness) draft(msg bridge.ChatRef) *bridge.Draft {
	h.t.Helper()
	var d *bridge.Draft
	err := h.tx(func(tx *store.Tx) error {
		var err error
		d, err = tx.DraftByMessage(h.t.Context(), msg.Channel, msg.TS)
		return err
	})
	if err != nil {
		h.t.Fatalf("draft %s/%s: %v", msg.Channel, msg.TS, err)
	}
	return d
}

// noDraft checks that msg did not become a draft.
func (h *harness) noDraft(msg bridge.ChatRef) {
	h.t.Helper()
	err := h.tx(func(tx *store.Tx) error {
		_, err := tx.DraftByMessage(h.t.Context(), msg.Channel, msg.TS)
		return err
	})
	if !errors.Is(err, bridge.ErrNotFound) {
		h.t.Errorf("message %s became a draft (err %v)", msg.TS, err)
	}
}

// wantDraft checks a draft's state and visibility.
func (h *harness) wantDraft(msg bridge.ChatRef, state bridge.DraftState, vis bridge.Visibility) *bridge.Draft {
	h.t.Helper()
	d := h.draft(msg)
	if d.State != state || d.Visibility != vis {
		h.t.Errorf("draft %q: state %s, visibility %s; want %s, %s", d.Text, d.State, d.Visibility, state, vis)
	}
	return d
}

// ticket reads c's ticket.
func (h *harness) ticket(c *conv) *bridge.Ticket {
	h.t.Helper()
	var t *bridge.Ticket
	err := h.tx(func(tx *store.Tx) error {
		var err error
		t, err = ticketByConversation(h.t.Context(), tx, c.post.Platform, c.post.ConversationKey)
		return err
	})
	if err != nil {
		h.t.Fatalf("ticket of %s: %v", c.post.ExternalID, err)
	}
	return t
}

// ticketThreadOf returns the thread recorded for p's ticket (empty while
// none is).
func (h *harness) ticketThreadOf(p bridge.Post) bridge.ChatRef {
	h.t.Helper()
	var t *bridge.Ticket
	err := h.tx(func(tx *store.Tx) error {
		var err error
		t, err = ticketByConversation(h.t.Context(), tx, p.Platform, p.ConversationKey)
		return err
	})
	if err != nil {
		h.t.Fatalf("ticket of %s: %v", p.ExternalID, err)
	}
	return bridge.ChatRef{Channel: t.SlackChannel, TS: t.SlackTS}
}

// cursor reads a saved source cursor.
func (h *harness) cursor(key string) string {
	h.t.Helper()
	v, err := h.svc.Cursor(h.t.Context(), key)
	if err != nil {
		h.t.Fatalf("cursor %s: %v", key, err)
	}
	return v
}

// audit returns the audit trail, checking that its chain verifies.
func (h *harness) audit() []bridge.AuditRecord {
	h.t.Helper()
	var recs []bridge.AuditRecord
	err := h.tx(func(tx *store.Tx) error {
		var err error
		recs, err = tx.AuditRecords(h.t.Context(), bridge.AuditFilter{})
		return err
	})
	if err != nil {
		h.t.Fatalf("audit: %v", err)
	}
	if _, err := bridge.VerifyAudit(recs); err != nil {
		h.t.Errorf("audit chain: %v", err)
	}
	return recs
}

// auditOf lists the kinds of the audit records about the draft written as
// msg, in order.
func (h *harness) auditOf(msg bridge.ChatRef) []bridge.AuditKind {
	h.t.Helper()
	id := h.draft(msg).ID
	var out []bridge.AuditKind
	for _, r := range h.audit() {
		if r.DraftID == id {
			out = append(out, r.Kind)
		}
	}
	return out
}

// wantAudit checks the kinds of the audit records about msg's draft, in
// order.
func (h *harness) wantAudit(msg bridge.ChatRef, want ...bridge.AuditKind) {
	h.t.Helper()
	if got := h.auditOf(msg); !slices.Equal(got, want) {
		h.t.Errorf("audit of the draft: %v, want %v", got, want)
	}
}

// auditRecord returns the one audit record of kind about msg's draft.
func (h *harness) auditRecord(msg bridge.ChatRef, kind bridge.AuditKind) bridge.AuditRecord {
	h.t.Helper()
	id := h.draft(msg).ID
	var found []bridge.AuditRecord
	for _, r := range h.audit() {
		if r.DraftID == id && r.Kind == kind {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		h.t.Fatalf("want one %s record for draft %d, got %d", kind, id, len(found))
	}
	return found[0]
}

// auditByKind returns the audit records of kind.
func (h *harness) auditByKind(kind bridge.AuditKind) []bridge.AuditRecord {
	var out []bridge.AuditRecord
	for _, r := range h.audit() {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

// tx runs fn in one transaction of the store, seen whole.
func (h *harness) tx(fn func(tx *store.Tx) error) error {
	r, err := store.Runner[*store.Tx](h.store)
	if err != nil {
		return err
	}
	return r.WithTx(h.t.Context(), fn)
}

// ticketByConversation reads the ticket of a conversation (ErrNotFound
// when there is none).
func ticketByConversation(ctx context.Context, tx *store.Tx, platform bridge.Platform, key string) (*bridge.Ticket, error) {
	ts, err := tx.TicketsByConversation(ctx, platform, []string{key})
	if err != nil {
		return nil, err
	}
	t, ok := ts[key]
	if !ok {
		return nil, fmt.Errorf("no ticket of conversation %s: %w", key, bridge.ErrNotFound)
	}
	return t, nil
}

// ---- the doubles

// heldCall is a call a double keeps waiting.
type heldCall struct {
	delivered bool       // the message or answer goes out before the wait
	release   chan error // the outcome to report
	called    bool
}

// heldCalls are the calls a double is told to keep waiting, in order.
type heldCalls struct {
	mu    sync.Mutex
	calls []*heldCall
}

// add holds the next call not yet held; the returned func releases it
// with the outcome to report.
func (q *heldCalls) add(delivered bool) func(error) {
	hc := &heldCall{delivered: delivered, release: make(chan error, 1)}
	q.mu.Lock()
	q.calls = append(q.calls, hc)
	q.mu.Unlock()
	var once sync.Once
	return func(err error) { once.Do(func() { hc.release <- err }) }
}

// take returns the hold for the call being made, or nil.
func (q *heldCalls) take() *heldCall {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, hc := range q.calls {
		if !hc.called {
			hc.called = true
			return hc
		}
	}
	return nil
}

// wait keeps a held call until its release or ctx's end. It goes out
// (do) before the wait if delivered, else after a successful release.
func (hc *heldCall) wait(ctx context.Context, do func()) error {
	if hc.delivered {
		do()
	}
	select {
	case err := <-hc.release:
		if err != nil {
			return err
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	if !hc.delivered {
		do()
	}
	return nil
}

// releaseAll lets every held call finish (successfully).
func (q *heldCalls) releaseAll() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, hc := range q.calls {
		select {
		case hc.release <- nil:
		default:
		}
	}
}

// made counts the held calls made so far.
func (q *heldCalls) made() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, hc := range q.calls {
		if hc.called {
			n++
		}
	}
	return n
}

// chatMessage is one message carebridge posted.
type chatMessage struct {
	Ref      bridge.ChatRef
	Kind     bridge.MessageKind
	ThreadTS string
	Text     string // a notice's text, or the post's text
	PostID   string // the platform id of the post shown
	History  string
	OutboxID int64
}

type ephemeral struct{ Channel, User, Text string }

// chatRecorder is the chat surface: it records what the core posts, the
// bot's reactions and the ephemeral notes, and knows the user groups.
type chatRecorder struct {
	clock *clocktest.Clock

	mu        sync.Mutex
	seq       int
	messages  []chatMessage
	reactions map[bridge.ChatRef][]string
	ephemeral []ephemeral
	groups    map[string][]string
	failNext  []error   // errors for the next Publish calls
	held      heldCalls // the next Publish calls wait
}

// The recording surface has every optional capability Slack's has.
var (
	_ bridge.Publisher      = (*chatRecorder)(nil)
	_ bridge.ChatActions    = (*chatRecorder)(nil)
	_ bridge.MessageFinder  = (*chatRecorder)(nil)
	_ bridge.EphemeralNotes = (*chatRecorder)(nil)
	_ bridge.GroupDirectory = (*chatRecorder)(nil)
)

// newTS returns a fresh message ts at the clock's second.
func (c *chatRecorder) newTS() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	return fmt.Sprintf("%d.%06d", c.clock.Now().Unix(), c.seq)
}

func (c *chatRecorder) Publish(ctx context.Context, msg bridge.ChatMessage) (bridge.ChatRef, error) {
	c.mu.Lock()
	if len(c.failNext) > 0 {
		err := c.failNext[0]
		c.failNext = c.failNext[1:]
		c.mu.Unlock()
		return bridge.ChatRef{}, err
	}
	c.mu.Unlock()
	var ref bridge.ChatRef
	post := func() {
		m := chatMessage{Kind: msg.Kind, ThreadTS: msg.ThreadTS, Text: msg.Text, History: msg.History, OutboxID: msg.OutboxID}
		if msg.Post != nil {
			m.Text, m.PostID = msg.Post.Text, msg.Post.ExternalID
		}
		m.Ref = bridge.ChatRef{Channel: msg.Channel, TS: c.newTS()}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.messages = append(c.messages, m)
		ref = m.Ref
	}
	if hc := c.held.take(); hc != nil {
		if err := hc.wait(ctx, post); err != nil {
			return bridge.ChatRef{}, err
		}
		return ref, nil
	}
	post()
	return ref, nil
}

func (c *chatRecorder) Permalink(_ context.Context, ref bridge.ChatRef) (string, error) {
	return "https://example.slack.com/archives/" + ref.Channel + "/p" + strings.ReplaceAll(ref.TS, ".", ""), nil
}

func (c *chatRecorder) Find(_ context.Context, channel, threadTS string, outboxID int64, _ time.Time) (bridge.ChatRef, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.messages {
		if m.OutboxID == outboxID && m.Ref.Channel == channel && m.ThreadTS == threadTS {
			return m.Ref, true, nil
		}
	}
	return bridge.ChatRef{}, false, nil
}

func (c *chatRecorder) React(_ context.Context, ref bridge.ChatRef, name string, add bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := slices.DeleteFunc(c.reactions[ref], func(s string) bool { return s == name })
	if add {
		cur = append(cur, name)
	}
	c.reactions[ref] = cur
	return nil
}

func (c *chatRecorder) Ephemeral(_ context.Context, channel, user, text string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ephemeral = append(c.ephemeral, ephemeral{channel, user, text})
	return nil
}

// IsGroup tells user groups (S…) from people, as Slack's ids do.
func (c *chatRecorder) IsGroup(id string) bool { return strings.HasPrefix(id, "S") }

func (c *chatRecorder) GroupMembers(_ context.Context, group string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.groups[group], nil
}

// failPublish makes the next Publish calls fail with errs, in order.
func (c *chatRecorder) failPublish(errs ...error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failNext = append(c.failNext, errs...)
}

func (c *chatRecorder) posted() []chatMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.messages)
}

func (c *chatRecorder) reactionsOn(ref bridge.ChatRef) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reactions[ref])
}

func (c *chatRecorder) ephemeralsTo(user string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.ephemeral {
		if e.User == user {
			out = append(out, e.Text)
		}
	}
	return out
}

// sentAnswer is one answer that reached a customer.
type sentAnswer struct {
	Account string
	DM      bool
	To      string // the post replied to, or the DM's recipient
	Text    string
	ID      string
}

// platformRecorder is the social network as the replier sees it: it
// records every answer that reached a customer, can fail, drop the
// connection after delivering, or hold a call, and looks answers up for
// reconciliation.
type platformRecorder struct {
	mu       sync.Mutex
	seq      int
	sent     []sentAnswer
	failNext []error   // the next sends fail with these, sending nothing
	dropNext int       // the next sends deliver, then lose the connection
	held     heldCalls // the next sends wait
	calls    int       // Reply and SendDM calls
	finds    int       // FindReply and FindDM calls
}

var _ bridge.Replier = (*platformRecorder)(nil)

func (p *platformRecorder) Reply(ctx context.Context, acct, inReplyTo, text string) (bridge.SentRef, error) {
	return p.send(ctx, sentAnswer{Account: acct, To: inReplyTo, Text: text})
}

func (p *platformRecorder) SendDM(ctx context.Context, acct, recipient, text string) (bridge.SentRef, error) {
	return p.send(ctx, sentAnswer{Account: acct, DM: true, To: recipient, Text: text})
}

// errDropped is what a client sees when the connection drops before the
// platform's answer arrives.
var errDropped = &bridge.SendError{Platform: "x", Code: "network", Err: errors.New("connection reset by peer")}

func (p *platformRecorder) send(ctx context.Context, a sentAnswer) (bridge.SentRef, error) {
	p.mu.Lock()
	p.calls++
	if len(p.failNext) > 0 {
		err := p.failNext[0]
		p.failNext = p.failNext[1:]
		p.mu.Unlock()
		return bridge.SentRef{}, err
	}
	p.mu.Unlock()
	var ref bridge.SentRef
	deliver := func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.seq++
		a.ID = fmt.Sprintf("20000000000%08d", p.seq)
		p.sent = append(p.sent, a)
		ref = bridge.SentRef{ID: a.ID, URL: "https://x.com/" + a.Account + "/status/" + a.ID}
	}
	if hc := p.held.take(); hc != nil {
		if err := hc.wait(ctx, deliver); err != nil {
			return bridge.SentRef{}, err
		}
		return ref, nil
	}
	deliver()
	p.mu.Lock()
	drop := p.dropNext > 0
	if drop {
		p.dropNext--
	}
	p.mu.Unlock()
	if drop {
		return bridge.SentRef{}, errDropped
	}
	return ref, nil
}

func (p *platformRecorder) FindReply(_ context.Context, acct, inReplyTo, text string) (bridge.SentRef, bool, error) {
	return p.find(sentAnswer{Account: acct, To: inReplyTo, Text: text})
}

func (p *platformRecorder) FindDM(_ context.Context, acct, recipient, text string) (bridge.SentRef, bool, error) {
	return p.find(sentAnswer{Account: acct, DM: true, To: recipient, Text: text})
}

func (p *platformRecorder) find(want sentAnswer) (bridge.SentRef, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finds++
	for _, s := range p.sent {
		if s.Account == want.Account && s.DM == want.DM && s.To == want.To && s.Text == want.Text {
			return bridge.SentRef{ID: s.ID, URL: "https://x.com/" + s.Account + "/status/" + s.ID}, true, nil
		}
	}
	return bridge.SentRef{}, false, nil
}

// fail makes the next sends fail with errs, in order, sending nothing.
func (p *platformRecorder) fail(errs ...error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failNext = append(p.failNext, errs...)
}

// dropAfterSend makes the next send deliver the answer and then lose the
// connection, so that the caller cannot know it went out.
func (p *platformRecorder) dropAfterSend() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropNext++
}

func (p *platformRecorder) sentAnswers() []sentAnswer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.sent)
}

func (p *platformRecorder) sendCalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

func (p *platformRecorder) lookups() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.finds
}

// metricsRecorder counts finished outbox attempts per kind.
type metricsRecorder struct {
	mu   sync.Mutex
	done map[string]int
}

var (
	_ bridge.Metrics      = (*metricsRecorder)(nil)
	_ bridge.InboxMetrics = (*metricsRecorder)(nil)
)

func (m *metricsRecorder) PostIngested(bridge.SourceKind, bridge.Platform, bool) {}
func (m *metricsRecorder) PostRouted(string)                                     {}
func (m *metricsRecorder) APIError(string, string)                               {}
func (m *metricsRecorder) MirrorLatency(time.Duration)                           {}

func (m *metricsRecorder) OutboxDone(kind string, _ error, _ bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done[kind]++
}

// InboxDone implements bridge.InboxMetrics.
func (m *metricsRecorder) InboxDone(result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done["inbox:"+result]++
}

func (m *metricsRecorder) count(kind string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.done[kind]
}

// syncBuffer collects the core's log for a failing test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
