package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carebridge/carebridge/bridge/config"
)

// env is what every part of the core shares: the configuration, the
// clock, the log, the metrics and the rules of the networks. The parts
// (ingest, the relay, approvals) each hold one; none of them holds
// another part.
type env struct {
	cfg      *config.Config
	clock    Clock
	log      *slog.Logger
	metrics  Metrics
	official map[string]bool // lower-case handles and user ids of our own accounts
	networks map[Platform]Network
	gestures Gestures
	marks    DraftMarks
	// draftCards: drafts are decided on cards of their own (cards.go).
	draftCards bool
	// wakeRelay wakes the relay after new outbox work was committed.
	wakeRelay func()
}

// isOfficial reports whether handle or id belongs to one of our accounts.
func (e *env) isOfficial(p *Post) bool {
	return e.official[strings.ToLower(p.AuthorHandle)] || (p.AuthorID != "" && e.official[p.AuthorID])
}

// sameAnswer reports whether seen, a post of ours read back from platform,
// is the answer sent: the network decides; without one, the trimmed texts
// must be equal.
func (e *env) sameAnswer(platform Platform, sent, seen string) bool {
	if n := e.networks[platform]; n != nil {
		return n.SameAnswer(sent, seen)
	}
	return strings.TrimSpace(sent) == strings.TrimSpace(seen)
}

// audit appends one record in tx. details is marshalled to JSON; it must
// never hold a secret.
func audit(ctx context.Context, tx AuditWriter, kind AuditKind, actor, dept string, ticketID, draftID int64, details map[string]any, now time.Time) error {
	return appendAudit(ctx, tx, &AuditRecord{At: now, Kind: kind, Actor: actor, Department: dept, TicketID: ticketID, DraftID: draftID}, details)
}

// answerable asks target's network how target can be answered; without
// rules for its network, what the source recorded holds.
func (e *env) answerable(target *Post) (Eligibility, string) {
	if n := e.networks[target.Platform]; n != nil {
		return n.Answerable(target)
	}
	return target.Eligibility, ""
}

// measure asks platform's network how long text is for an answer of
// visibility vis; without rules, it is its characters with no limit.
func (e *env) measure(platform Platform, text string, vis Visibility) TextLength {
	if n := e.networks[platform]; n != nil {
		return n.Measure(text, vis)
	}
	return TextLength{N: utf8.RuneCountInString(text)}
}

// networkName is platform's name for people.
func (e *env) networkName(platform Platform) string {
	if n := e.networks[platform]; n != nil {
		return n.Name()
	}
	return string(platform)
}

// explain says in plain words why a send to platform failed.
func (e *env) explain(err error, platform Platform, account string) string {
	var se *SendError
	if !errors.As(err, &se) {
		return "carebridge could not reach the platform (" + err.Error() + ")."
	}
	if n := e.networks[platform]; n != nil {
		hint := fmt.Sprintf("React with :%s: to send it as a DM", e.gestures.ApproveDM)
		if e.draftCards {
			hint = "Press “Send as DM” on the draft's card to send it as a DM"
		}
		return n.Explain(se, account, hint)
	}
	return e.networkName(platform) + " answered " + se.Code + ": " + se.Error()
}

// gestureText names an approver's gesture for people: on Slack its emoji
// (":x:"); with draft cards, the card's button it stands for.
func (e *env) gestureText(name string) string {
	if !e.draftCards {
		return ":" + name + ":"
	}
	switch name {
	case e.gestures.Approve:
		return "“Approve”"
	case e.gestures.ApproveDM:
		return "“Send as DM”"
	case e.gestures.Reject:
		return "“Reject”"
	}
	return "“" + name + "”"
}
