package ops

import (
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge/config"
)

func TestNextDailyTokyo(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	w := func(s string) time.Time { return wall(t, tokyo, s) }
	for _, tc := range []struct{ after, hhmm, want string }{
		{"2026-02-09 11:59", "12:00", "2026-02-09 12:00"},
		{"2026-02-09 12:00", "12:00", "2026-02-10 12:00"}, // strictly after
		{"2026-02-09 23:59", "00:00", "2026-02-10 00:00"},
		{"2026-02-28 18:00", "09:00", "2026-03-01 09:00"}, // month end
	} {
		sameInstant(t, "NextDaily("+tc.after+", "+tc.hhmm+")", NextDaily(w(tc.after), tc.hhmm, tokyo, nil), w(tc.want))
	}
	// after given in UTC is judged in Tokyo: 2026-02-09 02:30Z is 11:30 JST.
	sameInstant(t, "UTC input", NextDaily(utc(t, "2026-02-09 02:30"), "12:00", tokyo, nil), w("2026-02-09 12:00"))

	// With a calendar: business days only (2026-02-11 is a holiday).
	cal := mustCal(t, officeHours("2026-02-11"), tokyo)
	for _, tc := range []struct{ after, want string }{
		{"2026-02-06 09:00", "2026-02-09 09:00"}, // Friday → Monday
		{"2026-02-10 09:30", "2026-02-12 09:00"}, // over the holiday
		{"2026-02-10 08:00", "2026-02-10 09:00"},
	} {
		sameInstant(t, "NextDaily business "+tc.after, NextDaily(w(tc.after), "09:00", nil, cal), w(tc.want))
	}
	// An always-open calendar is every day.
	always := mustCal(t, config.OfficeHours{}, tokyo)
	sameInstant(t, "always open", NextDaily(w("2026-02-06 09:00"), "09:00", nil, always), w("2026-02-07 09:00"))

	if got := NextDaily(w("2026-02-06 09:00"), "9:00", tokyo, nil); !got.IsZero() {
		t.Errorf("invalid time: %s", got)
	}
	sameInstant(t, "NextDailyAny", NextDailyAny(w("2026-02-09 12:00"), []string{"18:00", "bad", "12:00"}, tokyo, nil), w("2026-02-09 18:00"))
	sameInstant(t, "NextDailyAny wraps", NextDailyAny(w("2026-02-09 18:00"), []string{"18:00", "12:00"}, tokyo, nil), w("2026-02-10 12:00"))
	if got := NextDailyAny(w("2026-02-09 12:00"), []string{"bad"}, tokyo, nil); !got.IsZero() {
		t.Errorf("NextDailyAny, none valid: %s", got)
	}
}

// TestNextDailyNewYorkDST: expectations in UTC. 02:30 does not exist on
// 2026-03-08 (02:00 EST → 03:00 EDT) and fires at 03:00 EDT; 01:30 exists
// twice on 2026-11-01 (02:00 EDT → 01:00 EST) and fires once, at 01:30 EDT.
func TestNextDailyNewYorkDST(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	for _, tc := range []struct{ after, hhmm, want string }{
		{"2026-03-07 17:00", "02:30", "2026-03-08 07:00"}, // Sat 12:00 EST → Sun 03:00 EDT (end of the gap)
		{"2026-03-08 07:00", "02:30", "2026-03-09 06:30"}, // → Mon 02:30 EDT
		{"2026-03-07 07:30", "02:30", "2026-03-08 07:00"}, // from Sat 02:30 EST itself
		{"2026-03-07 15:00", "09:00", "2026-03-08 13:00"}, // Sat 10:00 EST → Sun 09:00 EDT: 23h after Sat 09:00
		{"2026-10-31 16:00", "01:30", "2026-11-01 05:30"}, // Sat 12:00 EDT → Sun 01:30 EDT
		{"2026-11-01 05:30", "01:30", "2026-11-02 06:30"}, // not again at 01:30 EST: Mon 01:30 EST
		{"2026-11-01 06:10", "01:30", "2026-11-02 06:30"}, // during the second 01:xx
		{"2026-10-31 14:00", "09:00", "2026-11-01 14:00"}, // Sun 09:00 EST: 25h after Sat 09:00 EDT
	} {
		sameInstant(t, "NextDaily("+tc.after+"Z, "+tc.hhmm+")", NextDaily(utc(t, tc.after), tc.hhmm, ny, nil), utc(t, tc.want))
	}

	// A whole year of 02:30 and 01:30: one occurrence per day, at the
	// wall time except at 03:00 on the day it does not exist.
	for _, hhmm := range []string{"02:30", "01:30", "00:00", "23:59"} {
		prev := wall(t, ny, "2026-01-01 00:00").Add(-time.Minute)
		seen := map[string]bool{}
		for range 365 {
			next := NextDaily(prev, hhmm, ny, nil)
			if !next.After(prev) {
				t.Fatalf("%s: %s not after %s", hhmm, next, prev)
			}
			day := next.In(ny).Format("2006-01-02")
			if seen[day] {
				t.Fatalf("%s: twice on %s", hhmm, day)
			}
			seen[day] = true
			if clock := next.In(ny).Format("15:04"); clock != hhmm && !(day == "2026-03-08" && clock == "03:00") {
				t.Errorf("%s: fired at %s on %s", hhmm, clock, day)
			}
			prev = next
		}
		if d := prev.In(ny).Format("2006-01-02"); d != "2026-12-31" {
			t.Errorf("%s: 365th occurrence on %s", hhmm, d)
		}
	}
}
