package bridge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/bridge/guard"
)

// approvals is the part of the core that turns what people do in the chat
// surface into answers: a thread reply becomes a draft, the guards check
// it, an approver's gesture releases or rejects it, and an approved draft
// is queued for the relay to send (chat events → drafts → guards →
// approvals → sends). Events arrive through the durable inbox (inbox.go)
// or HandleChatEvent.
type approvals struct {
	*env
	store     TxRunner[ApprovalTx]
	inboxTx   TxRunner[InboxTx]
	due       InboxReader
	actions   ChatActions // optional: user groups
	botUserID string
	watchers  []string // chat identities who watch but never answer or decide
	groups    *groupCache
	inq       *inboxWorker
}

// ApprovalTx is what applying a chat event reads and writes: the ticket
// and draft it is about, the decisions, the notices and sends it queues,
// and the mark that it was applied (MarkSeen for HandleChatEvent, the
// inbox row for the inbox worker), all in one transaction.
type ApprovalTx interface {
	// TicketByThread reads (and locks) the ticket whose parent chat
	// message is channel/ts; TicketByID reads (and locks) one by id.
	TicketByThread(ctx context.Context, channel, ts string) (*Ticket, error)
	TicketByID(ctx context.Context, id int64) (*Ticket, error)
	// UpdateTicket writes every mutable field of a ticket but its thread.
	UpdateTicket(ctx context.Context, t *Ticket) error
	// MirrorsOfTicket lists the chat messages showing a ticket's posts,
	// oldest first.
	MirrorsOfTicket(ctx context.Context, ticketID int64) ([]Mirror, error)
	PostByID(ctx context.Context, id int64) (*Post, error)
	// DraftByMessage reads (and locks) the draft written as channel/ts;
	// DraftByCard the draft whose card (cards.go) is channel/ts.
	DraftByMessage(ctx context.Context, channel, ts string) (*Draft, error)
	DraftByCard(ctx context.Context, channel, ts string) (*Draft, error)
	// CreateDraft inserts d and sets its ID; (Channel, TS) is unique.
	// UpdateDraft writes every mutable field.
	CreateDraft(ctx context.Context, d *Draft) error
	UpdateDraft(ctx context.Context, d *Draft) error
	// AddApproval records a decision and sets a.ID.
	AddApproval(ctx context.Context, a *Approval) error
	// DraftsOfTickets lists the drafts of tickets (networks whose rules
	// depend on earlier answers read them: AnswerHistory).
	DraftsOfTickets(ctx context.Context, ticketIDs []int64) (map[int64][]Draft, error)
	Enqueuer
	AuditWriter
	// MarkSeen records an event id under a namespace and reports whether
	// it is new.
	MarkSeen(ctx context.Context, namespace, id string, now time.Time) (first bool, err error)
	// LockInbox reads and locks a pending inbox row; it returns
	// ErrNotFound when the row is not pending or (under PostgreSQL) is
	// locked by another transaction applying it. FinishInbox marks a
	// pending row done or dead.
	LockInbox(ctx context.Context, id int64) (*InboxEvent, error)
	FinishInbox(ctx context.Context, id int64, state InboxState, lastErr string, now time.Time) error
}

// HandleChatEvent implements ChatEventHandler: thread replies become
// drafts, edits and deletes change them, approvers' reactions release or
// reject them. The event id is recorded in the same transaction as the
// effects, so a redelivered event does nothing twice and a failed one is
// handled again on redelivery.
//
// Receivers in production deliver to Service.Inbox instead, whose worker
// applies the same logic with the inbox row in place of the seen mark.
func (s *approvals) HandleChatEvent(ctx context.Context, ev ChatEvent) error {
	return s.applyChatEvent(ctx, ev, false, func(ctx context.Context, tx ApprovalTx, now time.Time) (bool, error) {
		if ev.ID == "" {
			return true, nil
		}
		return tx.MarkSeen(ctx, "chat", ev.ID, now)
	})
}

// ignoredChatEvent reports whether ev is one carebridge never acts on: a
// bot's (ours included) or one without a user.
func (s *approvals) ignoredChatEvent(ev ChatEvent) bool {
	return ev.Bot || (s.botUserID != "" && ev.User == s.botUserID) || ev.User == ""
}

// applyChatEvent applies ev. claim runs first in the transaction of the
// effects and reports whether they are to be applied (false: done
// before). With always, claim runs even for an event that concerns no
// ticket (so an inbox row is marked done).
func (s *approvals) applyChatEvent(ctx context.Context, ev ChatEvent, always bool, claim func(ctx context.Context, tx ApprovalTx, now time.Time) (bool, error)) error {
	var look *lookup
	if !s.ignoredChatEvent(ev) {
		// Who the user is (an approver, a watcher) may need API calls;
		// they are resolved before the transaction.
		var err error
		if look, err = s.lookup(ctx, ev); err != nil {
			return fmt.Errorf("chat event %s (%s): %w", ev.ID, ev.Kind, err)
		}
	}
	if look == nil && !always {
		return nil
	}
	now := s.clock.Now().UTC()
	err := s.store.WithTx(ctx, func(tx ApprovalTx) error {
		first, err := claim(ctx, tx, now)
		if err != nil || !first || look == nil {
			return err
		}
		w := &work{s: s, ctx: ctx, tx: tx, ev: ev, look: look, now: now}
		if ev.Kind == EventAction && ev.Action == ActionAnswer {
			return w.answer()
		}
		switch ev.Kind {
		case EventMessage:
			return w.message()
		case EventMessageChanged:
			return w.changed()
		case EventMessageDeleted:
			return w.deleted()
		case EventReactionAdded:
			if look.parent {
				return w.closeReaction()
			}
			return w.reacted()
		case EventReactionRemoved:
			return w.unreacted()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("chat event %s (%s): %w", ev.ID, ev.Kind, err)
	}
	s.wakeRelay()
	return nil
}

// unrecordedThreadWindow is how long after a thread's parent a reply to
// an unknown thread is retried rather than ignored.
const unrecordedThreadWindow = 2 * time.Minute

// ErrRetryLater asks the chat surface to deliver an event again later.
var ErrRetryLater = errors.New("retry later")

// recentTS reports whether a chat message id that tells its time is
// younger than window at now: seconds with a fraction
// ("1700000000.000100", Slack's ts) or, without a fraction, milliseconds
// ("1759944781430", Teams' activity ids). Any other id is not recent.
func recentTS(ts string, now time.Time, window time.Duration) bool {
	sec, _, dotted := strings.Cut(ts, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return false
	}
	at := time.Unix(n, 0)
	if !dotted && len(sec) >= 13 {
		at = time.UnixMilli(n)
	}
	return now.Sub(at) < window
}

// lookup is what HandleChatEvent learns before its transaction.
type lookup struct {
	ticket   *Ticket
	dept     *config.Department
	approver bool
	watcher  bool
	parent   bool // a reaction on the ticket's parent message
	member   bool // the user belongs to the ticket's department (parent reactions)
}

// lookup finds the ticket an event is about and resolves the user's
// roles. It returns nil when the event concerns no ticket of ours.
func (s *approvals) lookup(ctx context.Context, ev ChatEvent) (*lookup, error) {
	if ev.Kind == EventAction && ev.Action == ActionAnswer {
		return s.lookupAnswer(ctx, ev) // a bundle's Answer button (bundle.go)
	}
	var t *Ticket
	onParent := false
	err := s.store.WithTx(ctx, func(tx ApprovalTx) error {
		var err error
		switch ev.Kind {
		case EventMessage:
			if ev.ThreadTS == "" || ev.ThreadTS == ev.TS {
				return nil // a top-level message: not an answer
			}
			t, err = tx.TicketByThread(ctx, ev.Channel, ev.ThreadTS)
		default:
			var d *Draft
			d, err = s.draftOf(ctx, tx, ev)
			if err == nil {
				t, err = tx.TicketByID(ctx, d.TicketID)
			} else if errors.Is(err, ErrNotFound) && ev.Kind == EventReactionAdded && ev.Reaction == s.gestures.Close {
				// The close reaction goes on the ticket's parent message.
				t, err = tx.TicketByThread(ctx, ev.Channel, ev.ItemTS)
				onParent = err == nil
			}
		}
		if errors.Is(err, ErrNotFound) {
			t, err = nil, nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if t == nil {
		if ev.Kind == EventMessage && recentTS(ev.ThreadTS, s.clock.Now(), unrecordedThreadWindow) {
			// The parent may be a mirror whose Slack ts is not committed
			// yet (posted a moment ago): have the event delivered again.
			return nil, fmt.Errorf("thread %s/%s is not (yet) a known ticket: %w", ev.Channel, ev.ThreadTS, ErrRetryLater)
		}
		if s.cardGesture(ev) && recentTS(ev.ItemTS, s.clock.Now(), unrecordedThreadWindow) {
			// The message may be a draft card posted a moment ago whose
			// record is not committed yet (the approver was quicker):
			// have the event delivered again.
			return nil, fmt.Errorf("message %s/%s is not (yet) a known draft card: %w", ev.Channel, ev.ItemTS, ErrRetryLater)
		}
		return nil, nil
	}
	l := &lookup{ticket: t, dept: s.cfg.Department(t.Department)}
	if l.dept == nil {
		return nil, nil
	}
	if l.watcher, err = s.memberOf(ctx, ev.User, s.watchers); err != nil {
		return nil, fmt.Errorf("resolve watchers: %w", err)
	}
	if ev.Kind == EventReactionAdded || ev.Kind == EventReactionRemoved {
		if l.approver, err = s.memberOf(ctx, ev.User, l.dept.Approvers); err != nil {
			return nil, fmt.Errorf("resolve approvers of %s: %w", l.dept.ID, err)
		}
	}
	if onParent {
		l.parent = true
		if l.member, err = s.deptMember(ctx, ev.User, l); err != nil {
			return nil, fmt.Errorf("resolve members of %s: %w", l.dept.ID, err)
		}
	}
	return l, nil
}

// work is one chat event being applied in one transaction.
type work struct {
	s    *approvals
	ctx  context.Context
	tx   ApprovalTx
	ev   ChatEvent
	look *lookup
	now  time.Time
}

func (w *work) audit(kind AuditKind, draftID int64, details map[string]any) error {
	return audit(w.ctx, w.tx, kind, w.ev.User, w.look.dept.ID, w.look.ticket.ID, draftID, details, w.now)
}

// ephemeral queues a note only the person who acted sees, or, on a chat
// surface without such notes, a notice in the ticket's thread naming them.
func (w *work) ephemeral(text string) error {
	if _, ok := w.s.actions.(EphemeralNotes); !ok && w.s.actions != nil {
		return enqueueNotice(w.ctx, w.tx, w.s.cfg, w.look.ticket, fmt.Sprintf("<@%s>: %s", w.ev.User, text), w.now)
	}
	return enqueue(w.ctx, w.tx, ephemeralItemOf(w.ev.Channel, w.ev.User, text, w.now))
}

// parsed is a thread reply read for its prefix.
type parsed struct {
	internal   bool
	prefixed   bool // began with reply: or dm:
	visibility Visibility
	text       string
}

// parseReply reads note:, dm: and reply: (case-insensitive).
func parseReply(text string, approval string) parsed {
	trimmed := strings.TrimSpace(text)
	lower := strings.ToLower(trimmed)
	cut := func(prefix string) string { return strings.TrimSpace(trimmed[len(prefix):]) }
	switch {
	case strings.HasPrefix(lower, "note:"):
		return parsed{internal: true}
	case strings.HasPrefix(lower, "dm:"):
		return parsed{prefixed: true, visibility: VisibilityDM, text: cut("dm:")}
	case strings.HasPrefix(lower, "reply:"):
		return parsed{prefixed: true, visibility: VisibilityPublic, text: cut("reply:")}
	case approval == config.ApprovalNone:
		return parsed{internal: true} // without approval only prefixed replies go out
	}
	return parsed{visibility: VisibilityPublic, text: trimmed}
}

// message turns a thread reply into a draft.
func (w *work) message() error {
	t, dept := w.look.ticket, w.look.dept
	if w.look.watcher {
		if err := w.audit(AuditWatcherRefused, 0, map[string]any{"ts": w.ev.TS}); err != nil {
			return err
		}
		return w.ephemeral(fmt.Sprintf("You're watching this conversation — %s answers customers, so your reply stays internal and nothing is sent. Thank you for keeping an eye on it!", dept.Name))
	}
	p := parseReply(w.ev.Text, dept.Approval)
	if p.internal {
		return nil
	}
	target, err := w.s.answerTarget(w.ctx, w.tx, t)
	if err != nil {
		return err
	}
	d := &Draft{
		TicketID: t.ID, Channel: w.ev.Channel, TS: w.ev.TS, Author: w.ev.User, Text: p.text,
		Visibility: p.visibility, State: DraftPending, ReplyTo: target.ID, Account: t.Account,
		Recipient: target.AuthorID, CreatedAt: w.now, UpdatedAt: w.now,
	}
	res, err := w.s.check(w.ctx, w.tx, d, target)
	if err != nil {
		return err
	}
	if !res.OK {
		d.State, d.GuardReason = DraftBlocked, summarize(res)
	}
	if err := w.tx.CreateDraft(w.ctx, d); err != nil {
		return err
	}
	if err := w.audit(AuditDraftCreated, d.ID, map[string]any{"visibility": d.Visibility, "text": d.Text, "reply_to": target.ExternalID, "account": d.Account}); err != nil {
		return err
	}
	if !res.OK {
		return w.blocked(d, res)
	}
	if dept.Approval == config.ApprovalNone && p.prefixed {
		return w.approve(d, d.Visibility, "", true)
	}
	t.State, t.UpdatedAt = TicketAwaitingApproval, w.now
	if err := w.tx.UpdateTicket(w.ctx, t); err != nil {
		return err
	}
	if err := w.s.enqueueCard(w.ctx, w.tx, t, d, "", w.now); err != nil {
		return err
	}
	return enqueueReact(w.ctx, w.tx, t, ChatRef{Channel: d.Channel, TS: d.TS}, w.s.marks.Pending, true, w.now)
}

// blocked records a guard's refusal and explains it in the thread.
func (w *work) blocked(d *Draft, res guard.Result) error {
	var guards, kinds []string
	for _, f := range res.Findings {
		guards = append(guards, f.Guard)
		if f.Kind != "" {
			kinds = append(kinds, f.Kind)
		}
	}
	if err := w.audit(AuditDraftBlocked, d.ID, map[string]any{"guards": guards, "kinds": kinds, "visibility": d.Visibility}); err != nil {
		return err
	}
	var lines []string
	for _, f := range res.Findings {
		lines = append(lines, "• "+f.Message)
	}
	text := fmt.Sprintf(":no_entry_sign: <@%s>, this answer can't go out as it is:\n%s\nEdit your message to fix it; nobody has been asked to approve it yet.", d.Author, strings.Join(lines, "\n"))
	if err := enqueueNotice(w.ctx, w.tx, w.s.cfg, w.look.ticket, text, w.now); err != nil {
		return err
	}
	return enqueueReact(w.ctx, w.tx, w.look.ticket, ChatRef{Channel: d.Channel, TS: d.TS}, w.s.marks.Blocked, true, w.now)
}

// changed applies an edit of a draft message.
func (w *work) changed() error {
	d, err := w.tx.DraftByMessage(w.ctx, w.ev.Channel, w.ev.ItemTS)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	t := w.look.ticket
	switch d.State {
	case DraftSending, DraftSent:
		if err := w.audit(AuditEditAfterSend, d.ID, map[string]any{"text": w.ev.Text}); err != nil {
			return err
		}
		return enqueueNotice(w.ctx, w.tx, w.s.cfg, t, fmt.Sprintf(":information_source: <@%s>, edits are not relayed: this answer has already been sent as it was approved.", w.ev.User), w.now)
	case DraftRejected, DraftCancelled:
		return nil
	}
	p := parseReply(w.ev.Text, w.look.dept.Approval)
	if p.internal {
		d.State, d.UpdatedAt = DraftCancelled, w.now
		if err := w.tx.UpdateDraft(w.ctx, d); err != nil {
			return err
		}
		if err := w.s.enqueueCard(w.ctx, w.tx, t, d, w.ev.User, w.now); err != nil {
			return err
		}
		return w.audit(AuditDraftCancelled, d.ID, map[string]any{"reason": "edited into an internal note"})
	}
	wasApproved, wasBlocked := d.State == DraftApproved, d.State == DraftBlocked
	d.Text, d.Visibility, d.UpdatedAt = p.text, p.visibility, w.now
	d.ApprovedBy, d.ApprovedAt, d.Error = "", time.Time{}, ""
	target, err := w.tx.PostByID(w.ctx, d.ReplyTo)
	if err != nil {
		return err
	}
	res, err := w.s.check(w.ctx, w.tx, d, target)
	if err != nil {
		return err
	}
	d.State, d.GuardReason = DraftPending, ""
	if !res.OK {
		d.State, d.GuardReason = DraftBlocked, summarize(res)
	}
	if err := w.tx.UpdateDraft(w.ctx, d); err != nil {
		return err
	}
	// The card shows the new text (and asks again for a decision), or, if
	// the edit is held by the guards, says so; a draft never shown before
	// gets its first card once it passes.
	if err := w.s.enqueueCard(w.ctx, w.tx, t, d, "", w.now); err != nil {
		return err
	}
	if err := w.audit(AuditDraftEdited, d.ID, map[string]any{"text": d.Text, "visibility": d.Visibility}); err != nil {
		return err
	}
	if wasApproved {
		if err := w.audit(AuditApprovalCancelled, d.ID, nil); err != nil {
			return err
		}
		if err := enqueueNotice(w.ctx, w.tx, w.s.cfg, t, fmt.Sprintf(":pencil2: The draft was edited after it was approved, so the approval no longer counts. An approver needs to react again to send the new text."), w.now); err != nil {
			return err
		}
	}
	if !res.OK {
		return w.blocked(d, res)
	}
	if wasBlocked {
		ref := ChatRef{Channel: d.Channel, TS: d.TS}
		if err := enqueueReact(w.ctx, w.tx, t, ref, w.s.marks.Blocked, false, w.now); err != nil {
			return err
		}
		if err := enqueueNotice(w.ctx, w.tx, w.s.cfg, t, ":ballot_box_with_check: The edited draft passes the checks and waits for an approver.", w.now); err != nil {
			return err
		}
		return enqueueReact(w.ctx, w.tx, t, ref, w.s.marks.Pending, true, w.now)
	}
	return nil
}

// deleted cancels a draft that has not been sent.
func (w *work) deleted() error {
	d, err := w.tx.DraftByMessage(w.ctx, w.ev.Channel, w.ev.ItemTS)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch d.State {
	case DraftPending, DraftApproved, DraftBlocked, DraftFailed:
	default:
		return nil
	}
	d.State, d.UpdatedAt = DraftCancelled, w.now
	if err := w.tx.UpdateDraft(w.ctx, d); err != nil {
		return err
	}
	if err := w.s.enqueueCard(w.ctx, w.tx, w.look.ticket, d, w.ev.User, w.now); err != nil {
		return err
	}
	return w.audit(AuditDraftCancelled, d.ID, map[string]any{"reason": "message deleted"})
}

// reacted applies an approver's decision.
func (w *work) reacted() error {
	a := w.s.gestures
	name := w.ev.Reaction
	if name != a.Approve && name != a.ApproveDM && name != a.Reject {
		return nil
	}
	d, err := w.s.draftOf(w.ctx, w.tx, w.ev)
	if err != nil {
		return err
	}
	dept := w.look.dept
	if w.look.watcher {
		// Watchers never release or stop an answer, even when they are
		// also listed among the approvers.
		if err := w.audit(AuditWatcherRefused, d.ID, map[string]any{"emoji": name}); err != nil {
			return err
		}
		return w.ephemeral(fmt.Sprintf("You're watching this conversation, so your %s does not approve or reject anything — %s's approvers decide.", w.s.gestureText(name), dept.Name))
	}
	if !w.look.approver {
		if err := w.audit(AuditUnauthorized, d.ID, map[string]any{"emoji": name}); err != nil {
			return err
		}
		return w.ephemeral(fmt.Sprintf("Only %s's approvers can approve or reject answers, so your %s was ignored.", dept.Name, w.s.gestureText(name)))
	}
	if w.ev.User == d.Author && !dept.AllowSelfApproval {
		if err := w.audit(AuditSelfApproval, d.ID, map[string]any{"emoji": name}); err != nil {
			return err
		}
		return w.ephemeral("You wrote this draft, so another approver has to approve it (four eyes on every public answer).")
	}
	switch name {
	case a.Reject:
		switch d.State {
		case DraftPending, DraftBlocked, DraftApproved:
		default:
			return nil
		}
		d.State, d.UpdatedAt = DraftRejected, w.now
		if err := w.tx.UpdateDraft(w.ctx, d); err != nil {
			return err
		}
		if err := w.tx.AddApproval(w.ctx, &Approval{DraftID: d.ID, User: w.ev.User, Emoji: name, Decision: DecisionReject, CreatedAt: w.now}); err != nil {
			return err
		}
		if err := w.audit(AuditRejected, d.ID, map[string]any{"emoji": name}); err != nil {
			return err
		}
		if err := w.s.enqueueCard(w.ctx, w.tx, w.look.ticket, d, w.ev.User, w.now); err != nil {
			return err
		}
		if err := enqueueReact(w.ctx, w.tx, w.look.ticket, ChatRef{Channel: d.Channel, TS: d.TS}, w.s.marks.Pending, false, w.now); err != nil {
			return err
		}
		return enqueueNotice(w.ctx, w.tx, w.s.cfg, w.look.ticket, fmt.Sprintf(":x: Rejected by <@%s>; nothing was sent.", w.ev.User), w.now)
	case a.ApproveDM:
		return w.approve(d, VisibilityDM, name, false)
	default:
		return w.approve(d, d.Visibility, name, false)
	}
}

// approve releases d with visibility vis: it reruns the guards for that
// visibility and queues the send.
func (w *work) approve(d *Draft, vis Visibility, emoji string, auto bool) error {
	switch d.State {
	case DraftPending, DraftBlocked, DraftFailed:
	default:
		return nil // already approved, sent, rejected or cancelled
	}
	target, err := w.tx.PostByID(w.ctx, d.ReplyTo)
	if err != nil {
		return err
	}
	trial := *d
	trial.Visibility = vis
	res, err := w.s.check(w.ctx, w.tx, &trial, target)
	if err != nil {
		return err
	}
	if !res.OK {
		if d.State == DraftBlocked {
			return nil // still blocked: the thread already says why
		}
		if err := w.audit(AuditApprovalBlocked, d.ID, map[string]any{"emoji": emoji, "visibility": vis, "why": summarize(res)}); err != nil {
			return err
		}
		return w.blocked(d, res)
	}
	wasBlocked, wasFailed := d.State == DraftBlocked, d.State == DraftFailed
	d.Visibility, d.State, d.GuardReason, d.Error = vis, DraftApproved, "", ""
	d.ApprovedBy, d.ApprovedAt, d.UpdatedAt = w.ev.User, w.now, w.now
	if d.Visibility == VisibilityDM && d.Recipient == "" {
		d.Recipient = target.AuthorID
	}
	if err := w.tx.UpdateDraft(w.ctx, d); err != nil {
		return err
	}
	decision := DecisionApprove
	if emoji == w.s.gestures.ApproveDM {
		decision = DecisionApproveDM
	}
	if err := w.tx.AddApproval(w.ctx, &Approval{DraftID: d.ID, User: w.ev.User, Emoji: emoji, Decision: decision, CreatedAt: w.now}); err != nil {
		return err
	}
	details := map[string]any{"emoji": emoji, "visibility": vis}
	if auto {
		details["auto"] = "approval: none, prefixed reply"
	}
	if err := w.audit(AuditApproved, d.ID, details); err != nil {
		return err
	}
	if wasBlocked {
		if err := enqueueReact(w.ctx, w.tx, w.look.ticket, ChatRef{Channel: d.Channel, TS: d.TS}, w.s.marks.Blocked, false, w.now); err != nil {
			return err
		}
	}
	if wasFailed {
		// Approved again after a permanent failure: the warning goes.
		if err := enqueueReact(w.ctx, w.tx, w.look.ticket, ChatRef{Channel: d.Channel, TS: d.TS}, w.s.marks.Failed, false, w.now); err != nil {
			return err
		}
	}
	if err := w.s.enqueueCard(w.ctx, w.tx, w.look.ticket, d, "", w.now); err != nil {
		return err
	}
	return enqueue(w.ctx, w.tx, sendItemOf(w.look.ticket, d, w.now))
}

// unreacted withdraws an approval that has not been acted on.
func (w *work) unreacted() error {
	a := w.s.gestures
	if w.ev.Reaction != a.Approve && w.ev.Reaction != a.ApproveDM {
		return nil
	}
	d, err := w.s.draftOf(w.ctx, w.tx, w.ev)
	if err != nil {
		return err
	}
	if d.State != DraftApproved || d.ApprovedBy != w.ev.User {
		return nil
	}
	d.State, d.ApprovedBy, d.ApprovedAt, d.UpdatedAt = DraftPending, "", time.Time{}, w.now
	if err := w.tx.UpdateDraft(w.ctx, d); err != nil {
		return err
	}
	if err := w.tx.AddApproval(w.ctx, &Approval{DraftID: d.ID, User: w.ev.User, Emoji: w.ev.Reaction, Decision: DecisionRevoke, CreatedAt: w.now}); err != nil {
		return err
	}
	if err := w.audit(AuditApprovalRevoked, d.ID, map[string]any{"emoji": w.ev.Reaction}); err != nil {
		return err
	}
	if err := w.s.enqueueCard(w.ctx, w.tx, w.look.ticket, d, "", w.now); err != nil {
		return err
	}
	return enqueueNotice(w.ctx, w.tx, w.s.cfg, w.look.ticket, fmt.Sprintf(":leftwards_arrow_with_hook: <@%s> withdrew the approval before it was sent; the draft waits again.", w.ev.User), w.now)
}

// check runs the guards on d as an answer to target, with the rules of
// target's network: whether it can be answered publicly, and how long the
// text is there.
func (s *approvals) check(ctx context.Context, tx ApprovalTx, d *Draft, target *Post) (guard.Result, error) {
	elig, why := s.answerable(target)
	if h, ok := s.networks[target.Platform].(AnswerHistory); ok {
		drafts, err := tx.DraftsOfTickets(ctx, []int64{d.TicketID})
		if err != nil {
			return guard.Result{}, err
		}
		var others []Draft
		for _, o := range drafts[d.TicketID] {
			if o.ID != d.ID {
				others = append(others, o)
			}
		}
		elig, why = h.AnswerableAfter(target, others)
	}
	l := s.measure(target.Platform, d.Text, d.Visibility)
	return guard.Check(guard.Draft{Text: d.Text, Visibility: guard.Visibility(d.Visibility), Eligibility: guard.Eligibility(elig),
		DMOnlyWhy: why, Length: guard.Length{N: l.N, Limit: l.Limit, Of: l.Of, How: l.How}}), nil
}

func summarize(res guard.Result) string {
	var parts []string
	for _, f := range res.Findings {
		k := f.Guard
		if f.Kind != "" {
			k += ":" + f.Kind
		}
		parts = append(parts, k)
	}
	return strings.Join(parts, ",")
}

// answerTarget is the post a draft answers: the customer's latest post in
// the conversation, or the conversation's first post.
func (s *approvals) answerTarget(ctx context.Context, tx ApprovalTx, t *Ticket) (*Post, error) {
	mirrors, err := tx.MirrorsOfTicket(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	for i := len(mirrors) - 1; i >= 0; i-- {
		m := mirrors[i]
		if m.Role == MirrorFYI {
			continue
		}
		p, err := tx.PostByID(ctx, m.PostID)
		if err != nil {
			return nil, err
		}
		if !s.isOfficial(p) {
			return p, nil
		}
	}
	return tx.PostByID(ctx, t.RootPostID)
}

// draftOf reads (and locks) the draft an edit, delete or gesture is about:
// the draft written as the message, or, with draft cards, the draft whose
// card it is.
func (s *approvals) draftOf(ctx context.Context, tx ApprovalTx, ev ChatEvent) (*Draft, error) {
	d, err := tx.DraftByMessage(ctx, ev.Channel, ev.ItemTS)
	if errors.Is(err, ErrNotFound) && s.draftCards && (ev.Kind == EventReactionAdded || ev.Kind == EventReactionRemoved) {
		return tx.DraftByCard(ctx, ev.Channel, ev.ItemTS)
	}
	return d, err
}
