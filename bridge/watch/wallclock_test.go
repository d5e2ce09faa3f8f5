package watch

import (
	"testing"
	"time"
)

// wallInstant is how the calendar (office hours) and the spike baseline
// windows turn a wall time on a date into an instant. Expectations in UTC:
// 02:30 does not exist on 2026-03-08 in America/New_York (02:00 EST →
// 03:00 EDT) and resolves to the end of the gap, 03:00 EDT; 01:30 exists
// twice on 2026-11-01 (02:00 EDT → 01:00 EST) and resolves to its first
// occurrence, 01:30 EDT. (The daily jobs are timed by gocron, which
// resolves a time in the gap differently: see adapters/schedule.)
func TestWallInstantNewYorkDST(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	for _, tc := range []struct{ day, hhmm, want string }{
		{"2026-03-07", "02:30", "2026-03-07 07:30"}, // Sat 02:30 EST
		{"2026-03-08", "02:30", "2026-03-08 07:00"}, // Sun: in the gap → 03:00 EDT
		{"2026-03-08", "02:00", "2026-03-08 07:00"}, // the gap's first minute → 03:00 EDT
		{"2026-03-08", "03:00", "2026-03-08 07:00"},
		{"2026-03-08", "01:59", "2026-03-08 06:59"}, // just before the gap, EST
		{"2026-03-08", "09:00", "2026-03-08 13:00"}, // 23h after Sat 09:00 EST
		{"2026-03-09", "02:30", "2026-03-09 06:30"}, // Mon 02:30 EDT
		{"2026-10-31", "01:30", "2026-10-31 05:30"}, // Sat 01:30 EDT
		{"2026-11-01", "01:30", "2026-11-01 05:30"}, // exists twice: the first, EDT
		{"2026-11-01", "01:00", "2026-11-01 05:00"},
		{"2026-11-01", "02:00", "2026-11-01 07:00"}, // after the change, EST
		{"2026-11-01", "09:00", "2026-11-01 14:00"}, // 25h after Sat 09:00 EDT
		{"2026-11-02", "01:30", "2026-11-02 06:30"}, // Mon 01:30 EST
	} {
		h, m, err := ParseHHMM(tc.hhmm)
		if err != nil {
			t.Fatal(err)
		}
		day := dateOf(utc(t, tc.day+" 12:00"))
		sameInstant(t, "wallInstant("+tc.day+", "+tc.hhmm+")", wallInstant(day, h*60+m, ny), utc(t, tc.want))
	}

	// A whole year of 02:30, 01:30, 00:00 and 23:59: one instant per day,
	// strictly later each day, at the wall time except at 03:00 on the day
	// 02:30 does not exist.
	for _, hhmm := range []string{"02:30", "01:30", "00:00", "23:59"} {
		h, m, _ := ParseHHMM(hhmm)
		var prev time.Time
		for day := dateOf(utc(t, "2026-01-01 12:00")); day.y == 2026; day = day.next() {
			got := wallInstant(day, h*60+m, ny)
			if !got.After(prev) {
				t.Fatalf("%s on %s: %s not after %s", hhmm, day, got, prev)
			}
			if d := got.In(ny).Format("2006-01-02"); d != day.String() {
				t.Errorf("%s on %s: lands on %s", hhmm, day, d)
			}
			if clock := got.In(ny).Format("15:04"); clock != hhmm && !(day.String() == "2026-03-08" && clock == "03:00") {
				t.Errorf("%s on %s: at %s", hhmm, day, clock)
			}
			prev = got
		}
	}
}

// In a zone without daylight saving every wall time exists once.
func TestWallInstantTokyo(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	for _, tc := range []struct{ day, hhmm, want string }{
		{"2026-03-08", "02:30", "2026-03-07 17:30"},
		{"2026-11-01", "01:30", "2026-10-31 16:30"},
		{"2026-02-28", "00:00", "2026-02-27 15:00"},
	} {
		h, m, _ := ParseHHMM(tc.hhmm)
		day := dateOf(utc(t, tc.day+" 12:00"))
		sameInstant(t, "wallInstant("+tc.day+", "+tc.hhmm+")", wallInstant(day, h*60+m, tokyo), utc(t, tc.want))
	}
}
