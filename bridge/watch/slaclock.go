package watch

import (
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
)

// SLA clock kinds, as in SLAState.Kind.
const (
	// KindFirstResponse: the ticket has never been answered; the clock
	// runs from its creation.
	KindFirstResponse = "first_response"
	// KindNextResponse: the customer wrote again after the latest answer;
	// the clock runs from that follow-up.
	KindNextResponse = "next_response"
)

// Alert levels returned by SLAState.LevelAt.
const (
	LevelNone    = ""        // within target, or no clock running
	LevelWarning = "warning" // WarnAt reached
	LevelBreach  = "breach"  // Due reached
)

// DefaultWarnAt is the share of the target at which a warning is due when
// the SLA's WarnAt is not above 0 (the configuration's default).
const DefaultWarnAt = 0.8

// SLAState is a ticket's SLA clock at rest: which clock runs, and when it
// warns and breaches. It does not depend on the current time, so it can be
// stored with the ticket and recomputed whenever the ticket changes.
type SLAState struct {
	// Kind is KindFirstResponse or KindNextResponse; empty when no clock
	// runs.
	Kind string
	// Trigger is the customer post time that started the clock: the
	// ticket's CreatedAt or LastCustomerAt. (Kind, Trigger) identifies one
	// clock, e.g. to send its warning and breach once.
	Trigger time.Time
	// Start is when the clock starts counting: Trigger, or the next
	// opening when the post arrived outside office hours.
	Start time.Time
	// Target is the business time allowed.
	Target time.Duration
	// WarnAt is when the warning share of Target has elapsed.
	WarnAt time.Time
	// Due is when Target has elapsed: the breach instant.
	Due time.Time
	// Running is false for closed tickets, for answered tickets without a
	// later customer post, and when the applicable target is zero.
	Running bool
}

// EffectiveSLA returns a department's SLA: its own targets where set,
// falling back field by field to the global ones (dept may be nil).
func EffectiveSLA(global config.SLA, dept *config.SLA) config.SLA {
	if dept == nil {
		return global
	}
	s := *dept
	if s.FirstResponse == 0 {
		s.FirstResponse = global.FirstResponse
	}
	if s.NextResponse == 0 {
		s.NextResponse = global.NextResponse
	}
	if s.WarnAt == 0 {
		s.WarnAt = global.WarnAt
	}
	return s
}

// SLAFor returns the SLA clock of t, counted in business time on cal (nil
// means around the clock).
//
//   - A closed ticket runs no clock. A ticket counts as closed when its
//     State is bridge.TicketClosed, or when ClosedAt is set and no customer
//     post came after it (a follow-up reopens).
//   - While FirstResponseAt is zero the first-response clock runs from
//     CreatedAt, with sla.FirstResponse as target.
//   - After an answer, a customer post later than the latest answer
//     (AnsweredAt, or FirstResponseAt if AnsweredAt is zero) runs the
//     next-response clock from LastCustomerAt, with sla.NextResponse as
//     target. Ticket keeps only the latest customer post time, so a second
//     follow-up before the answer restarts this clock from the later post.
//   - Otherwise no clock runs.
//
// A post outside office hours starts its clock at the next opening. WarnAt
// is when sla.WarnAt × target of business time has elapsed (DefaultWarnAt
// when sla.WarnAt <= 0; at Due when sla.WarnAt >= 1).
func SLAFor(t bridge.Ticket, sla config.SLA, cal *Calendar) SLAState {
	if isClosed(t) {
		return SLAState{}
	}
	var s SLAState
	switch {
	case t.FirstResponseAt.IsZero():
		s = SLAState{Kind: KindFirstResponse, Trigger: t.CreatedAt, Target: sla.FirstResponse.D()}
	case t.LastCustomerAt.After(lastAnswer(t)):
		s = SLAState{Kind: KindNextResponse, Trigger: t.LastCustomerAt, Target: sla.NextResponse.D()}
	default:
		return SLAState{}
	}
	if s.Target <= 0 {
		return SLAState{}
	}
	share := sla.WarnAt
	switch {
	case share <= 0:
		share = DefaultWarnAt
	case share > 1:
		share = 1
	}
	s.Running = true
	s.Start = cal.NextOpen(s.Trigger)
	s.Due = cal.Add(s.Start, s.Target)
	s.WarnAt = cal.Add(s.Start, time.Duration(float64(s.Target)*share))
	return s
}

// LevelAt returns the clock's level at now and the instant that level was
// due: LevelBreach and Due once Due is reached, LevelWarning and WarnAt
// once WarnAt is reached, else LevelNone and the zero time (also when no
// clock runs). Both instants are inclusive.
func (s SLAState) LevelAt(now time.Time) (level string, due time.Time) {
	switch {
	case !s.Running:
		return LevelNone, time.Time{}
	case !now.Before(s.Due):
		return LevelBreach, s.Due
	case !now.Before(s.WarnAt):
		return LevelWarning, s.WarnAt
	}
	return LevelNone, time.Time{}
}

// ClockStartsText is the line shown on a ticket mirrored while the office
// is closed, saying when its SLA clock starts, e.g. "Arrived after hours —
// the SLA clock starts Mon 09:00." The opening is written in loc (nil means
// the calendar's location) as a weekday and time when it is less than six
// days away, with the date otherwise ("Mon 5 Jan 09:00"). It is empty when
// the calendar is open at created.
func ClockStartsText(created time.Time, cal *Calendar, loc *time.Location) string {
	if cal.IsOpen(created) {
		return ""
	}
	if loc == nil {
		loc = cal.Location()
	}
	start := cal.NextOpen(created).In(loc)
	layout := "Mon 15:04"
	if dateOf(created.In(loc)).daysUntil(dateOf(start)) >= 6 {
		layout = "Mon 2 Jan 15:04"
	}
	return "Arrived after hours — the SLA clock starts " + start.Format(layout) + "."
}

// lastAnswer is the time of t's latest answer.
func lastAnswer(t bridge.Ticket) time.Time {
	if t.AnsweredAt.After(t.FirstResponseAt) {
		return t.AnsweredAt
	}
	return t.FirstResponseAt
}

// isClosed reports whether t is closed as it stands: its State says so,
// or ClosedAt is set and no customer post came after it.
func isClosed(t bridge.Ticket) bool {
	return t.State == bridge.TicketClosed || (!t.ClosedAt.IsZero() && !t.LastCustomerAt.After(t.ClosedAt))
}

// closedAt reports whether t was closed at instant at: closed at or before
// at with no customer post between the closing and at. A ticket whose
// State is closed without a ClosedAt counts as closed.
func closedAt(t bridge.Ticket, at time.Time) bool {
	if t.ClosedAt.IsZero() {
		return t.State == bridge.TicketClosed
	}
	if t.ClosedAt.After(at) {
		return false
	}
	return !t.LastCustomerAt.After(t.ClosedAt) || t.LastCustomerAt.After(at)
}
