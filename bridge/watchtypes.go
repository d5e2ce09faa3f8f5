package bridge

import (
	"encoding/json"
	"time"
)

// Kinds of OpsEvent.
const (
	OpsSLAWarning = "sla_warning" // an SLA clock reached its warning share
	OpsSLABreach  = "sla_breach"  // an SLA clock reached its target
	OpsSpike      = "spike"       // a spike alert was posted
	OpsDigest     = "digest"      // a department digest was queued
	OpsExecDigest = "exec_digest" // the executive digest was queued
	OpsGreeting   = "greeting"    // an opening greeting or closing sign-off was queued
)

// OpsEvent records one thing the watching jobs did, once: its Key is
// unique, so a job run twice (a restart, a second replica) records and
// sends nothing twice. SLA warnings and breaches are stored per ticket
// this way, with the instant they were due.
type OpsEvent struct {
	ID         int64
	Kind       string // one of the Ops* kinds
	Key        string // unique, e.g. "sla:12:first_response:<trigger>:breach"
	Department string // optional
	TicketID   int64  // optional
	At         time.Time
	Due        time.Time       // SLA: when the warning or breach was due
	Details    json.RawMessage // kind-specific; optional
}

// OpsEventFilter selects ops events: Kind is required; an empty Department
// means every department; events with At in [From, To) (a zero To means
// no upper bound).
type OpsEventFilter struct {
	Kind       string
	Department string
	From, To   time.Time
}

// TicketFilter selects tickets for the watching jobs.
type TicketFilter struct {
	// Department: empty means every department.
	Department string
	// States: empty means every state.
	States []TicketState
	// CreatedFrom and CreatedTo bound CreatedAt to [CreatedFrom,
	// CreatedTo) when set.
	CreatedFrom, CreatedTo time.Time
	// UpdatedBefore keeps tickets with UpdatedAt before it, when set.
	UpdatedBefore time.Time
	// Limit: 0 means no limit. Tickets come oldest first (CreatedAt, ID).
	Limit int
}
