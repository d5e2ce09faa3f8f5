package bridge

import (
	"context"
	"encoding/json"
	"time"
)

// Audited events. Every decision and every side effect on a customer
// answer leaves one record.
const (
	AuditDraftCreated       AuditKind = "draft_created"
	AuditDraftEdited        AuditKind = "draft_edited"
	AuditDraftCancelled     AuditKind = "draft_cancelled"
	AuditDraftBlocked       AuditKind = "draft_blocked"
	AuditApproved           AuditKind = "approved"
	AuditRejected           AuditKind = "rejected"
	AuditApprovalRevoked    AuditKind = "approval_revoked"
	AuditApprovalCancelled  AuditKind = "approval_cancelled" // the draft was edited after approval
	AuditApprovalBlocked    AuditKind = "approval_blocked"   // a guard refused the approved visibility
	AuditUnauthorized       AuditKind = "unauthorized_reaction"
	AuditSelfApproval       AuditKind = "self_approval_refused"
	AuditWatcherRefused     AuditKind = "watcher_refused"
	AuditEditAfterSend      AuditKind = "edit_after_send"
	AuditSendAttempted      AuditKind = "send_attempted"
	AuditSent               AuditKind = "sent"
	AuditSendFailed         AuditKind = "send_failed"
	AuditSendRetrying       AuditKind = "send_retrying"
	AuditDeliveryFailed     AuditKind = "delivery_failed" // a chat side effect failed for good
	AuditSentAlreadyOnCheck AuditKind = "sent_found_on_reconcile"
)

// appendAudit appends rec with details marshalled as JSON ("{}" when
// there are none).
func appendAudit(ctx context.Context, tx AuditWriter, rec *AuditRecord, details map[string]any) error {
	rec.Details = json.RawMessage("{}")
	if len(details) > 0 {
		b, err := json.Marshal(details)
		if err != nil {
			return err
		}
		rec.Details = b
	}
	return tx.AppendAudit(ctx, rec)
}

// VerifyAudit checks the chain: each record's hash matches its contents
// and links to the previous one, and the sequence has no gap. It returns
// the number of records checked, or an error naming the first bad one.
func VerifyAudit(records []AuditRecord) (int, error) {
	prev := ""
	for i, r := range records {
		want := int64(i + 1)
		switch {
		case r.Seq != want:
			return i, &AuditError{Seq: want, Problem: "missing: the chain jumps from record " + itoa(want-1) + " to " + itoa(r.Seq) + " (deleted or reordered)"}
		case r.PrevHash != prev:
			return i, &AuditError{Seq: r.Seq, Problem: "does not link to the record before it (a record was altered, deleted or reordered)"}
		case r.ComputeHash() != r.Hash:
			return i, &AuditError{Seq: r.Seq, Problem: "its contents do not match its hash (altered)"}
		}
		prev = r.Hash
	}
	return len(records), nil
}

// AuditError names the first broken audit record.
type AuditError struct {
	Seq     int64
	Problem string
}

func (e *AuditError) Error() string { return "audit record " + itoa(e.Seq) + ": " + e.Problem }

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Audit kinds of the watching features.
const (
	AuditSLAWarning     AuditKind = "sla_warning"
	AuditSLABreach      AuditKind = "sla_breach"
	AuditSpike          AuditKind = "spike_alert"
	AuditDigest         AuditKind = "digest_queued"
	AuditGreetingQueued AuditKind = "greeting_queued"
	AuditPosted         AuditKind = "posted" // a greeting or sign-off went out
	AuditTicketClosed   AuditKind = "ticket_closed"
	AuditTicketReopened AuditKind = "ticket_reopened"
)

// AuditWriter is the store method the audit log is written with.
type AuditWriter interface {
	AppendAudit(ctx context.Context, rec *AuditRecord) error
}

// Audit appends an audit record in tx (details is marshalled as JSON).
func Audit(ctx context.Context, tx AuditWriter, kind AuditKind, actor, dept string, ticketID int64, details map[string]any, now time.Time) error {
	return appendAudit(ctx, tx, &AuditRecord{At: now, Kind: kind, Actor: actor, Department: dept, TicketID: ticketID}, details)
}
