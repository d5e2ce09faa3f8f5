package watch

import (
	"strings"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge/config"
)

func TestParseHHMM(t *testing.T) {
	for _, tc := range []struct {
		in     string
		h, m   int
		wantOK bool
	}{
		{"00:00", 0, 0, true}, {"09:05", 9, 5, true}, {"23:59", 23, 59, true},
		{"24:00", 0, 0, false}, {"9:00", 0, 0, false}, {"12:60", 0, 0, false},
		{"12-00", 0, 0, false}, {"", 0, 0, false}, {"ab:cd", 0, 0, false}, {"12:00 ", 0, 0, false},
	} {
		h, m, err := ParseHHMM(tc.in)
		if (err == nil) != tc.wantOK || (tc.wantOK && (h != tc.h || m != tc.m)) {
			t.Errorf("ParseHHMM(%q) = %d, %d, %v", tc.in, h, m, err)
		}
	}
}

func TestNewCalendarErrors(t *testing.T) {
	for _, tc := range []struct {
		oh   config.OfficeHours
		want string
	}{
		{config.OfficeHours{Open: "09:00"}, "office_hours.close: required"},
		{config.OfficeHours{Close: "18:00"}, "office_hours.open: required"},
		{config.OfficeHours{Open: "9am", Close: "18:00"}, "office_hours.open: \"9am\""},
		{config.OfficeHours{Open: "18:00", Close: "09:00"}, "not after open"},
		{config.OfficeHours{Open: "09:00", Close: "09:00"}, "not after open"},
		{config.OfficeHours{Open: "09:00", Close: "18:00", Weekdays: []string{"mon", "funday"}}, "office_hours.weekdays[1]"},
		{config.OfficeHours{Holidays: []string{"2026-13-01"}}, "office_hours.holidays[0]"},
	} {
		_, err := NewCalendar(tc.oh, time.UTC)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewCalendar(%+v) error = %v, want one containing %q", tc.oh, err, tc.want)
		}
	}
}

func TestCalendarAlwaysOpen(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	// Weekdays and holidays alone do not close anything.
	always := mustCal(t, config.OfficeHours{Weekdays: []string{"mon"}, Holidays: []string{"2026-02-07"}}, tokyo)
	sat := wall(t, tokyo, "2026-02-07 03:00")
	for name, c := range map[string]*Calendar{"no hours": always, "nil": nil} {
		if !c.AlwaysOpen() || !c.IsOpen(sat) || !c.IsBusinessDay(sat) {
			t.Errorf("%s: not open on %s", name, sat)
		}
		sameInstant(t, name+" NextOpen", c.NextOpen(sat), sat)
		sameInstant(t, name+" Add", c.Add(sat, 50*time.Hour), sat.Add(50*time.Hour))
		sameInstant(t, name+" Add negative", c.Add(sat, -time.Hour), sat)
		if got := c.Elapsed(sat, sat.Add(50*time.Hour)); got != 50*time.Hour {
			t.Errorf("%s: Elapsed = %s", name, got)
		}
	}
	if (*Calendar)(nil).Location() != time.UTC || always.Location() != tokyo {
		t.Error("Location")
	}
}

func TestCalendarOpenTokyo(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	// 2026-02-11 (Wed) is National Foundation Day.
	c := mustCal(t, officeHours("2026-02-11"), tokyo)
	w := func(s string) time.Time { return wall(t, tokyo, s) }
	for _, tc := range []struct {
		at       string
		open     bool
		nextOpen string
	}{
		{"2026-02-06 08:59", false, "2026-02-06 09:00"}, // Friday before opening
		{"2026-02-06 09:00", true, "2026-02-06 09:00"},
		{"2026-02-06 17:59", true, "2026-02-06 17:59"},
		{"2026-02-06 18:00", false, "2026-02-09 09:00"}, // closing is closed
		{"2026-02-07 11:00", false, "2026-02-09 09:00"}, // Saturday
		{"2026-02-08 23:59", false, "2026-02-09 09:00"}, // Sunday
		{"2026-02-10 19:00", false, "2026-02-12 09:00"}, // Tuesday evening, holiday next
		{"2026-02-11 12:00", false, "2026-02-12 09:00"}, // the holiday
	} {
		at := w(tc.at)
		if got := c.IsOpen(at); got != tc.open {
			t.Errorf("IsOpen(%s) = %v", tc.at, got)
		}
		sameInstant(t, "NextOpen("+tc.at+")", c.NextOpen(at), w(tc.nextOpen))
	}
	if c.IsBusinessDay(w("2026-02-11 12:00")) || c.IsBusinessDay(w("2026-02-07 12:00")) || !c.IsBusinessDay(w("2026-02-10 23:00")) {
		t.Error("IsBusinessDay")
	}
	// A UTC instant is judged in Tokyo: Sunday 23:30 UTC is Monday 08:30 JST.
	if c.IsOpen(utc(t, "2026-02-08 23:30")) || !c.IsOpen(utc(t, "2026-02-09 00:30")) {
		t.Error("IsOpen does not judge in the calendar's location")
	}
}

// TestCalendarAddElapsed: hand-computed business-time sums in Tokyo
// (09:00–18:00 Mon–Fri, 2026-01-12 Coming of Age Day a holiday), and the
// round trip Elapsed(start, Add(start, d)) == d.
func TestCalendarAddElapsed(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	c := mustCal(t, officeHours("2026-01-12"), tokyo)
	for _, tc := range []struct {
		start string
		d     time.Duration
		want  string
	}{
		{"2026-02-06 17:30", time.Hour, "2026-02-09 09:30"},        // over the weekend
		{"2026-02-06 17:30", 48 * time.Minute, "2026-02-09 09:18"}, // 80 % of it
		{"2026-02-06 17:30", 30 * time.Minute, "2026-02-06 18:00"}, // ends at closing: the closing instant
		{"2026-02-06 17:30", 31 * time.Minute, "2026-02-09 09:01"}, // one minute more
		{"2026-02-07 11:00", time.Hour, "2026-02-09 10:00"},        // from Saturday
		{"2026-02-09 07:00", 2 * time.Hour, "2026-02-09 11:00"},    // before opening
		{"2026-02-09 10:00", 0, "2026-02-09 10:00"},                // nothing to add
		{"2026-02-07 11:00", 0, "2026-02-07 11:00"},                // nothing to add, even when closed
		{"2026-02-09 09:00", 45 * time.Hour, "2026-02-13 18:00"},   // a whole week
		{"2026-02-09 09:00", 45*time.Hour + time.Minute, "2026-02-16 09:01"},
		{"2026-01-09 17:30", time.Hour, "2026-01-13 09:30"},        // holiday Monday skipped
		{"2026-01-12 10:00", 10 * time.Minute, "2026-01-13 09:10"}, // from the holiday itself
	} {
		start := wall(t, tokyo, tc.start)
		got := c.Add(start, tc.d)
		sameInstant(t, "Add("+tc.start+", "+tc.d.String()+")", got, wall(t, tokyo, tc.want))
		if back := c.Elapsed(start, got); back != tc.d {
			t.Errorf("Elapsed(%s, %s) = %s, want %s", tc.start, got, back, tc.d)
		}
	}
	// Sub-minute precision: 17:59:10 Friday + 2m30s = Monday 09:01:40.
	start := wall(t, tokyo, "2026-02-06 17:59").Add(10 * time.Second)
	sameInstant(t, "Add with seconds", c.Add(start, 150*time.Second), wall(t, tokyo, "2026-02-09 09:01").Add(40*time.Second))
	for _, tc := range []struct {
		from, to string
		want     time.Duration
	}{
		{"2026-02-06 09:00", "2026-02-13 18:00", 5*9*time.Hour + 9*time.Hour}, // Fri + Mon–Fri, 2026-02-11 no holiday here
		{"2026-02-07 00:00", "2026-02-09 00:00", 0},                           // weekend
		{"2026-02-09 12:00", "2026-02-09 12:00", 0},
		{"2026-02-09 13:00", "2026-02-09 12:00", 0}, // reversed
		{"2026-01-09 12:00", "2026-01-13 10:00", 6*time.Hour + time.Hour},
	} {
		if got := c.Elapsed(wall(t, tokyo, tc.from), wall(t, tokyo, tc.to)); got != tc.want {
			t.Errorf("Elapsed(%s, %s) = %s, want %s", tc.from, tc.to, got, tc.want)
		}
	}
}

// TestCalendarNewYorkDST: business days around the 2026 changes in
// America/New_York (clocks forward 2026-03-08 02:00 EST → 03:00 EDT, back
// 2026-11-01 02:00 EDT → 01:00 EST). Expectations are UTC instants, so a
// day computed by adding 24 hours would be an hour off.
func TestCalendarNewYorkDST(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	c := mustCal(t, officeHours(), ny)
	for _, tc := range []struct {
		start string // New York wall time
		d     time.Duration
		want  string // UTC
	}{
		{"2026-03-06 17:30", time.Hour, "2026-03-09 13:30"},      // Fri EST → Mon 09:30 EDT
		{"2026-03-05 09:00", 27 * time.Hour, "2026-03-09 22:00"}, // Thu, Fri, Mon → Mon 18:00 EDT
		{"2026-03-07 12:00", time.Minute, "2026-03-09 13:01"},    // Saturday → Mon 09:01 EDT
		{"2026-10-30 17:30", time.Hour, "2026-11-02 14:30"},      // Fri EDT → Mon 09:30 EST
		{"2026-10-29 09:00", 27 * time.Hour, "2026-11-02 23:00"}, // Thu, Fri, Mon → Mon 18:00 EST
	} {
		start := wall(t, ny, tc.start)
		got := c.Add(start, tc.d)
		sameInstant(t, "Add("+tc.start+", "+tc.d.String()+")", got, utc(t, tc.want))
		if back := c.Elapsed(start, got); back != tc.d {
			t.Errorf("Elapsed round trip from %s: %s, want %s", tc.start, back, tc.d)
		}
	}
	if got := c.Elapsed(wall(t, ny, "2026-03-06 09:00"), wall(t, ny, "2026-03-09 09:00")); got != 9*time.Hour {
		t.Errorf("Elapsed Fri 09:00 EST → Mon 09:00 EDT = %s, want 9h", got)
	}
	sameInstant(t, "NextOpen Sunday 2026-03-08", c.NextOpen(wall(t, ny, "2026-03-08 12:00")), utc(t, "2026-03-09 13:00"))
	sameInstant(t, "NextOpen Sunday 2026-11-01", c.NextOpen(wall(t, ny, "2026-11-01 12:00")), utc(t, "2026-11-02 14:00"))
}

// TestCalendarHoursSpanningDST: office hours 01:00–04:00 every day contain
// the changes themselves, so the day of the change is 2 hours (spring) or 4
// hours (autumn) of business time long.
func TestCalendarHoursSpanningDST(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	c := mustCal(t, config.OfficeHours{Open: "01:00", Close: "04:00", Weekdays: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}}, ny)
	day := func(s string) time.Duration {
		return c.Elapsed(wall(t, ny, s+" 00:00"), wall(t, ny, s+" 12:00"))
	}
	if got := day("2026-03-07"); got != 3*time.Hour {
		t.Errorf("2026-03-07: %s", got)
	}
	if got := day("2026-03-08"); got != 2*time.Hour {
		t.Errorf("2026-03-08 (spring forward): %s, want 2h", got)
	}
	if got := day("2026-11-01"); got != 4*time.Hour {
		t.Errorf("2026-11-01 (fall back): %s, want 4h", got)
	}
	for _, tc := range []struct {
		start string // UTC
		d     time.Duration
		want  string // UTC
	}{
		{"2026-03-08 06:30", time.Hour, "2026-03-08 07:30"},                 // 01:30 EST + 1h = 03:30 EDT
		{"2026-03-08 06:00", 2 * time.Hour, "2026-03-08 08:00"},             // the whole day, to closing 04:00 EDT
		{"2026-03-08 06:00", 2*time.Hour + time.Minute, "2026-03-09 05:01"}, // next day 01:01 EDT
		{"2026-11-01 05:30", time.Hour, "2026-11-01 06:30"},                 // 01:30 EDT + 1h = 01:30 EST
		{"2026-11-01 05:00", 4 * time.Hour, "2026-11-01 09:00"},             // 01:00 EDT to 04:00 EST
	} {
		start := utc(t, tc.start)
		got := c.Add(start, tc.d)
		sameInstant(t, "Add("+tc.start+"Z, "+tc.d.String()+")", got, utc(t, tc.want))
		if back := c.Elapsed(start, got); back != tc.d {
			t.Errorf("Elapsed round trip from %sZ: %s, want %s", tc.start, back, tc.d)
		}
	}
	// Opening inside the spring-forward gap opens at its end.
	gap := mustCal(t, config.OfficeHours{Open: "02:30", Close: "05:00", Weekdays: []string{"sun"}}, ny)
	sameInstant(t, "NextOpen into the gap", gap.NextOpen(utc(t, "2026-03-08 05:00")), utc(t, "2026-03-08 07:00"))
	if gap.IsOpen(utc(t, "2026-03-08 06:59")) || !gap.IsOpen(utc(t, "2026-03-08 07:00")) {
		t.Error("gap opening: IsOpen")
	}
	if got := gap.Elapsed(utc(t, "2026-03-08 00:00"), utc(t, "2026-03-09 00:00")); got != 2*time.Hour {
		t.Errorf("gap day: %s, want 2h (03:00–05:00 EDT)", got)
	}
	// Opening at a doubled wall time opens at its first occurrence.
	twice := mustCal(t, config.OfficeHours{Open: "01:30", Close: "03:00", Weekdays: []string{"sun"}}, ny)
	sameInstant(t, "NextOpen doubled hour", twice.NextOpen(utc(t, "2026-11-01 04:00")), utc(t, "2026-11-01 05:30"))
	if got := twice.Elapsed(utc(t, "2026-11-01 00:00"), utc(t, "2026-11-02 00:00")); got != 150*time.Minute {
		t.Errorf("doubled-hour day: %s, want 2h30m (01:30 EDT–03:00 EST)", got)
	}
}

func TestWallInstant(t *testing.T) {
	for _, tc := range []struct {
		zone   string
		day    date
		minute int
		want   string // UTC
	}{
		{"America/New_York", date{2026, 3, 8}, 2*60 + 30, "2026-03-08 07:00"},  // gap → 03:00 EDT
		{"America/New_York", date{2026, 3, 8}, 3 * 60, "2026-03-08 07:00"},     // 03:00 EDT
		{"America/New_York", date{2026, 3, 8}, 1*60 + 59, "2026-03-08 06:59"},  // 01:59 EST
		{"America/New_York", date{2026, 11, 1}, 1*60 + 30, "2026-11-01 05:30"}, // first 01:30 (EDT)
		{"America/New_York", date{2026, 11, 1}, 2 * 60, "2026-11-01 07:00"},    // 02:00 EST
		{"Europe/Berlin", date{2026, 3, 29}, 2*60 + 30, "2026-03-29 01:00"},    // gap → 03:00 CEST
		{"Europe/Berlin", date{2026, 10, 25}, 2*60 + 30, "2026-10-25 00:30"},   // first 02:30 (CEST)
		{"Asia/Tokyo", date{2026, 2, 9}, 9 * 60, "2026-02-09 00:00"},
		{"UTC", date{2026, 2, 9}, 0, "2026-02-09 00:00"},
	} {
		got := wallInstant(tc.day, tc.minute, mustLoc(t, tc.zone))
		sameInstant(t, tc.zone+" "+tc.day.String(), got, utc(t, tc.want))
	}
}
