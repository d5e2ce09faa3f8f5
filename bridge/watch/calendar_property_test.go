package watch

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge/config"
)

// propertyCalendars are calendars whose hours, weekdays and holidays cover
// the awkward cases: daylight-saving changes inside and outside office
// hours, openings inside a gap, a six-day week, holidays next to weekends.
func propertyCalendars(t testing.TB) map[string]*Calendar {
	return map[string]*Calendar{
		"always open":           mustCal(t, config.OfficeHours{}, mustLoc(t, "Asia/Tokyo")),
		"tokyo 9-18 mon-fri":    mustCal(t, officeHours("2026-01-12", "2026-02-11", "2026-05-04", "2026-05-05", "2026-05-06"), mustLoc(t, "Asia/Tokyo")),
		"new york 9-18 mon-fri": mustCal(t, officeHours("2026-07-03", "2026-11-26", "2026-12-25"), mustLoc(t, "America/New_York")),
		"new york 01-04 daily": mustCal(t, config.OfficeHours{Open: "01:00", Close: "04:00",
			Weekdays: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}}, mustLoc(t, "America/New_York")),
		"new york 02:30-05 sun": mustCal(t, config.OfficeHours{Open: "02:30", Close: "05:00", Weekdays: []string{"sun"}}, mustLoc(t, "America/New_York")),
		"berlin 08-20 mon-sat": mustCal(t, config.OfficeHours{Open: "08:00", Close: "20:00",
			Weekdays: []string{"mon", "tue", "wed", "thu", "fri", "sat"}, Holidays: []string{"2026-12-24", "2026-12-25", "2026-12-26"}}, mustLoc(t, "Europe/Berlin")),
	}
}

// TestCalendarAddElapsedTable: Elapsed(start, Add(start, d)) == d on a grid
// of starts around the 2026 daylight-saving changes and durations from a
// second to a few weeks of business time.
func TestCalendarAddElapsedTable(t *testing.T) {
	durations := []time.Duration{0, time.Second, time.Minute, 29 * time.Minute, time.Hour, 3 * time.Hour,
		9 * time.Hour, 9*time.Hour + time.Nanosecond, 24 * time.Hour, 45 * time.Hour, 100 * time.Hour}
	for name, cal := range propertyCalendars(t) {
		for _, day := range []string{"2026-03-06", "2026-03-07", "2026-03-08", "2026-03-27", "2026-03-29", "2026-10-24", "2026-10-31", "2026-11-01", "2026-12-23"} {
			for h := 0; h < 24; h += 1 {
				start := wall(t, cal.Location(), day+" 00:00").Add(time.Duration(h)*time.Hour + 17*time.Minute)
				for _, d := range durations {
					got := cal.Add(start, d)
					if back := cal.Elapsed(start, got); back != d {
						t.Fatalf("%s: Elapsed(%s, Add(_, %s) = %s) = %s", name, start, d, got, back)
					}
				}
			}
		}
	}
}

// TestCalendarProperties checks, from many random starts, that
//   - Elapsed(start, Add(start, d)) == d;
//   - Add is monotonic in d and never before start;
//   - Add(Add(s, a), b) == Add(s, a+b);
//   - the last nanosecond before Add(start, d) (d > 0) is open;
//   - Elapsed agrees with a minute-by-minute count of IsOpen.
func TestCalendarProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 3))
	lo := utc(t, "2025-12-20 00:00").Unix()
	hi := utc(t, "2027-01-10 00:00").Unix()
	n := 3000
	if testing.Short() {
		n = 300
	}
	for name, cal := range propertyCalendars(t) {
		for range n {
			start := time.Unix(lo+rng.Int64N(hi-lo), rng.Int64N(1e9))
			a := time.Duration(rng.Int64N(int64(60 * time.Hour)))
			b := time.Duration(rng.Int64N(int64(20 * time.Hour)))
			ta, tab := cal.Add(start, a), cal.Add(start, a+b)
			if got := cal.Elapsed(start, ta); got != a {
				t.Fatalf("%s: Elapsed(%s, Add(_, %s)) = %s", name, start, a, got)
			}
			if ta.Before(start) || tab.Before(ta) {
				t.Fatalf("%s: not monotonic from %s: +%s = %s, +%s = %s", name, start, a, ta, a+b, tab)
			}
			if got := cal.Add(ta, b); !got.Equal(tab) {
				t.Fatalf("%s: Add(Add(%s, %s), %s) = %s, want %s", name, start, a, b, got, tab)
			}
			if a > 0 && !cal.IsOpen(ta.Add(-time.Nanosecond)) {
				t.Fatalf("%s: closed just before Add(%s, %s) = %s", name, start, a, ta)
			}
			if next := cal.NextOpen(start); next.Before(start) || !cal.IsOpen(next) || cal.Elapsed(start, next) != 0 {
				t.Fatalf("%s: NextOpen(%s) = %s", name, start, next)
			}
		}
		// Brute force on a minute grid (all openings and changes are on it).
		for range n / 30 {
			from := time.Unix((lo+rng.Int64N(hi-lo))/60*60, 0)
			to := from.Add(time.Duration(rng.IntN(4*24*60)) * time.Minute)
			var want time.Duration
			for m := from; m.Before(to); m = m.Add(time.Minute) {
				if cal.IsOpen(m) {
					want += time.Minute
				}
			}
			if got := cal.Elapsed(from, to); got != want {
				t.Fatalf("%s: Elapsed(%s, %s) = %s, minute count %s", name, from, to, got, want)
			}
		}
	}
}

// FuzzCalendarAdd: the round trip and monotonicity for any start and any
// duration up to a year of business time.
func FuzzCalendarAdd(f *testing.F) {
	f.Add(int64(1770370200), int64(3600e9))  // 2026-02-06 17:30 JST, 1h
	f.Add(int64(1772953200), int64(7200e9))  // around 2026-03-08 in New York
	f.Add(int64(1793511000), int64(1e9))     // 2026-11-01 05:30Z
	f.Add(int64(-62135596800), int64(1))     // year 1
	f.Add(int64(253402300799), int64(45e11)) // year 9999
	cals := propertyCalendars(f)
	f.Fuzz(func(t *testing.T, unix, d int64) {
		if unix < -62135596800 || unix > 253402300799 {
			t.Skip()
		}
		d %= int64(365 * 24 * time.Hour)
		start := time.Unix(unix, 0)
		for name, cal := range cals {
			got := cal.Add(start, time.Duration(d))
			want := max(time.Duration(d), 0)
			if back := cal.Elapsed(start, got); back != want {
				t.Fatalf("%s: Elapsed(%s, Add(_, %s) = %s) = %s", name, start, time.Duration(d), got, back)
			}
			if got.Before(start) {
				t.Fatalf("%s: Add(%s, %s) = %s is before start", name, start, time.Duration(d), got)
			}
		}
	})
}
