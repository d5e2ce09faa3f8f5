package watch

import (
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
)

func testSLA() config.SLA {
	return config.SLA{FirstResponse: config.Duration(time.Hour), NextResponse: config.Duration(4 * time.Hour), WarnAt: 0.8}
}

// TestSLAFirstResponseOverWeekend: created Friday 17:30 in Tokyo with
// 09:00–18:00 Mon–Fri and a 1h target: 30 minutes on Friday, 30 on Monday,
// so the breach is Monday 09:30; the warning at 80 % (48 minutes) is
// Monday 09:18.
func TestSLAFirstResponseOverWeekend(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	cal := mustCal(t, officeHours(), tokyo)
	w := func(s string) time.Time { return wall(t, tokyo, s) }
	tk := bridge.Ticket{State: bridge.TicketOpen, CreatedAt: w("2026-02-06 17:30"), LastCustomerAt: w("2026-02-06 17:30")}

	s := SLAFor(tk, testSLA(), cal)
	if !s.Running || s.Kind != KindFirstResponse || s.Target != time.Hour {
		t.Fatalf("SLAFor = %+v", s)
	}
	sameInstant(t, "Trigger", s.Trigger, w("2026-02-06 17:30"))
	sameInstant(t, "Start", s.Start, w("2026-02-06 17:30"))
	sameInstant(t, "WarnAt", s.WarnAt, w("2026-02-09 09:18"))
	sameInstant(t, "Due", s.Due, w("2026-02-09 09:30"))

	for _, tc := range []struct{ now, want string }{
		{"2026-02-06 17:45", LevelNone},
		{"2026-02-06 23:00", LevelNone}, // the clock is stopped overnight
		{"2026-02-08 12:00", LevelNone}, // and over the weekend
		{"2026-02-09 09:17", LevelNone},
		{"2026-02-09 09:18", LevelWarning},
		{"2026-02-09 09:29", LevelWarning},
		{"2026-02-09 09:30", LevelBreach},
		{"2026-02-10 12:00", LevelBreach},
	} {
		if got := levelAt(tk, testSLA(), cal, w(tc.now)); got != tc.want {
			t.Errorf("Evaluate at %s = %q, want %q", tc.now, got, tc.want)
		}
	}
	if got := ClockStartsText(tk.CreatedAt, cal, nil); got != "" {
		t.Errorf("ClockStartsText while open = %q", got)
	}

	// Once answered, the clock stops, even past the due time.
	answered := tk
	answered.FirstResponseAt, answered.AnsweredAt, answered.State = w("2026-02-09 09:40"), w("2026-02-09 09:40"), bridge.TicketAnswered
	if s := SLAFor(answered, testSLA(), cal); s.Running || s.Kind != "" {
		t.Errorf("answered: %+v", s)
	}
	if got := levelAt(answered, testSLA(), cal, w("2026-02-10 12:00")); got != LevelNone {
		t.Errorf("answered: Evaluate = %q", got)
	}
}

func TestSLAHolidaySkipped(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	cal := mustCal(t, officeHours("2026-01-12"), tokyo) // Coming of Age Day, a Monday
	tk := bridge.Ticket{CreatedAt: wall(t, tokyo, "2026-01-09 17:30")}
	s := SLAFor(tk, testSLA(), cal)
	sameInstant(t, "WarnAt", s.WarnAt, wall(t, tokyo, "2026-01-13 09:18"))
	sameInstant(t, "Due", s.Due, wall(t, tokyo, "2026-01-13 09:30"))
}

func TestSLAAfterHoursStart(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	cal := mustCal(t, officeHours("2026-05-04", "2026-05-05", "2026-05-06", "2026-05-07"), tokyo)
	w := func(s string) time.Time { return wall(t, tokyo, s) }

	sat := bridge.Ticket{CreatedAt: w("2026-02-07 11:00")}
	s := SLAFor(sat, testSLA(), cal)
	sameInstant(t, "Start", s.Start, w("2026-02-09 09:00"))
	sameInstant(t, "WarnAt", s.WarnAt, w("2026-02-09 09:48"))
	sameInstant(t, "Due", s.Due, w("2026-02-09 10:00"))
	if got := levelAt(sat, testSLA(), cal, w("2026-02-09 09:59")); got != LevelWarning {
		t.Errorf("Evaluate = %q", got)
	}

	for _, tc := range []struct {
		created string
		loc     *time.Location
		want    string
	}{
		{"2026-02-07 11:00", nil, "Arrived after hours — the SLA clock starts Mon 09:00."},
		{"2026-02-09 07:30", nil, "Arrived after hours — the SLA clock starts Mon 09:00."},
		{"2026-02-09 18:00", nil, "Arrived after hours — the SLA clock starts Tue 09:00."},
		{"2026-02-09 12:00", nil, ""},
		// Golden Week: from Friday evening the next opening is a week away.
		{"2026-05-01 19:00", nil, "Arrived after hours — the SLA clock starts Fri 8 May 09:00."},
		// Written in another location when asked: 09:00 JST is 00:00 UTC.
		{"2026-02-07 11:00", time.UTC, "Arrived after hours — the SLA clock starts Mon 00:00."},
	} {
		if got := ClockStartsText(w(tc.created), cal, tc.loc); got != tc.want {
			t.Errorf("ClockStartsText(%s) = %q, want %q", tc.created, got, tc.want)
		}
	}
	if got := ClockStartsText(w("2026-02-07 11:00"), nil, nil); got != "" {
		t.Errorf("ClockStartsText without calendar = %q", got)
	}
}

// TestSLANextResponse: answered Monday 09:20; the customer writes again
// Monday 16:00; with a 4h next-response target that is 2h on Monday and 2h
// on Tuesday: due Tuesday 11:00, warning (3h12m) Tuesday 10:12.
func TestSLANextResponse(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	cal := mustCal(t, officeHours(), tokyo)
	w := func(s string) time.Time { return wall(t, tokyo, s) }
	tk := bridge.Ticket{
		State: bridge.TicketAnswered, CreatedAt: w("2026-02-09 09:00"),
		FirstResponseAt: w("2026-02-09 09:20"), AnsweredAt: w("2026-02-09 09:20"),
		LastCustomerAt: w("2026-02-09 09:10"),
	}
	if s := SLAFor(tk, testSLA(), cal); s.Running {
		t.Fatalf("answered, no follow-up: %+v", s)
	}

	tk.LastCustomerAt, tk.State = w("2026-02-09 16:00"), bridge.TicketOpen
	s := SLAFor(tk, testSLA(), cal)
	if !s.Running || s.Kind != KindNextResponse || s.Target != 4*time.Hour {
		t.Fatalf("follow-up: %+v", s)
	}
	sameInstant(t, "Trigger", s.Trigger, w("2026-02-09 16:00"))
	sameInstant(t, "WarnAt", s.WarnAt, w("2026-02-10 10:12"))
	sameInstant(t, "Due", s.Due, w("2026-02-10 11:00"))

	// A later answer (AnsweredAt) stops it again; FirstResponseAt stays.
	tk.AnsweredAt = w("2026-02-09 16:30")
	if s := SLAFor(tk, testSLA(), cal); s.Running {
		t.Errorf("second answer: %+v", s)
	}
	// Follow-up without AnsweredAt set: FirstResponseAt is the latest answer.
	tk.AnsweredAt = time.Time{}
	if s := SLAFor(tk, testSLA(), cal); s.Kind != KindNextResponse {
		t.Errorf("AnsweredAt zero: %+v", s)
	}
}

func TestSLAClosedAndReopened(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	cal := mustCal(t, officeHours(), tokyo)
	w := func(s string) time.Time { return wall(t, tokyo, s) }
	base := bridge.Ticket{CreatedAt: w("2026-02-09 10:00"), LastCustomerAt: w("2026-02-09 10:00")}

	closedByState := base
	closedByState.State = bridge.TicketClosed
	closedByTime := base
	closedByTime.State, closedByTime.ClosedAt = bridge.TicketOpen, w("2026-02-09 10:30")
	for name, tk := range map[string]bridge.Ticket{"state": closedByState, "closed_at": closedByTime} {
		if s := SLAFor(tk, testSLA(), cal); s.Running {
			t.Errorf("closed by %s: %+v", name, s)
		}
		if got := levelAt(tk, testSLA(), cal, w("2026-02-10 10:00")); got != LevelNone {
			t.Errorf("closed by %s: Evaluate = %q", name, got)
		}
	}

	// Answered, closed, then the customer wrote again: reopened, so the
	// next-response clock runs from the follow-up.
	reopened := base
	reopened.State = bridge.TicketOpen
	reopened.FirstResponseAt, reopened.AnsweredAt = w("2026-02-09 10:20"), w("2026-02-09 10:20")
	reopened.ClosedAt = w("2026-02-09 11:00")
	reopened.LastCustomerAt = w("2026-02-09 17:00")
	s := SLAFor(reopened, testSLA(), cal)
	if !s.Running || s.Kind != KindNextResponse {
		t.Fatalf("reopened: %+v", s)
	}
	sameInstant(t, "reopened Due", s.Due, w("2026-02-10 12:00")) // 1h Monday + 3h Tuesday
}

func TestSLAEdgeCases(t *testing.T) {
	tk := bridge.Ticket{CreatedAt: utc(t, "2026-02-09 10:00")}
	// No calendar: wall-clock time.
	s := SLAFor(tk, testSLA(), nil)
	sameInstant(t, "Due", s.Due, utc(t, "2026-02-09 11:00"))
	sameInstant(t, "WarnAt", s.WarnAt, utc(t, "2026-02-09 10:48"))
	// WarnAt unset: the default 80 %.
	s = SLAFor(tk, config.SLA{FirstResponse: config.Duration(time.Hour)}, nil)
	sameInstant(t, "default WarnAt", s.WarnAt, utc(t, "2026-02-09 10:48"))
	// No target: no clock.
	if s := SLAFor(tk, config.SLA{NextResponse: config.Duration(time.Hour)}, nil); s.Running {
		t.Errorf("zero first-response target: %+v", s)
	}
	// Due exactly at closing: the breach is at closing, not next morning.
	tokyo := mustLoc(t, "Asia/Tokyo")
	cal := mustCal(t, officeHours(), tokyo)
	late := bridge.Ticket{CreatedAt: wall(t, tokyo, "2026-02-06 17:30")}
	half := config.SLA{FirstResponse: config.Duration(30 * time.Minute), WarnAt: 0.5}
	if got := levelAt(late, half, cal, wall(t, tokyo, "2026-02-06 18:00")); got != LevelBreach {
		t.Errorf("breach at closing: %q", got)
	}
	if got := levelAt(late, half, cal, wall(t, tokyo, "2026-02-06 17:45")); got != LevelWarning {
		t.Errorf("warning at 50%%: %q", got)
	}
}

func TestEffectiveSLA(t *testing.T) {
	global := testSLA()
	if got := EffectiveSLA(global, nil); got != global {
		t.Errorf("nil: %+v", got)
	}
	got := EffectiveSLA(global, &config.SLA{FirstResponse: config.Duration(15 * time.Minute)})
	want := config.SLA{FirstResponse: config.Duration(15 * time.Minute), NextResponse: global.NextResponse, WarnAt: 0.8}
	if got != want {
		t.Errorf("override: %+v, want %+v", got, want)
	}
}

// levelAt is the level of t's SLA clock at now.
func levelAt(t bridge.Ticket, sla config.SLA, cal *Calendar, now time.Time) string {
	level, _ := SLAFor(t, sla, cal).LevelAt(now)
	return level
}
