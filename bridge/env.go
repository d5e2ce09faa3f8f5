package bridge

import (
	"context"
	"log/slog"
	"strings"
	"time"

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
