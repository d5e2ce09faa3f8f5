package ops

import "time"

// NextDaily returns the next occurrence strictly after after of the daily
// wall time hhmm ("HH:MM") in loc (nil: the calendar's location, UTC
// without a calendar). With a calendar, only its business days count (see
// Calendar.IsBusinessDay, judged on the date in loc); a nil calendar means
// every day. It returns the zero time when hhmm is not a valid "HH:MM".
//
// Each day's occurrence is computed with time.Date for that date, so it
// stays at the same wall time across daylight-saving changes. A time that
// does not exist that day (02:30 on 2026-03-08 in America/New_York) fires
// at the first valid instant after it, the end of the gap (03:00 EDT); a
// time that exists twice (01:30 on 2026-11-01 there) fires once, at its
// first occurrence (01:30 EDT).
func NextDaily(after time.Time, hhmm string, loc *time.Location, cal *Calendar) time.Time {
	h, m, err := ParseHHMM(hhmm)
	if err != nil {
		return time.Time{}
	}
	if loc == nil {
		loc = cal.Location()
	}
	after = after.In(loc)
	// From the day before: a resolved gap may push an occurrence past
	// midnight.
	for day := dateOf(after).prev(); ; day = day.next() {
		if cal != nil && !cal.AlwaysOpen() && !cal.businessDate(day) {
			continue
		}
		if t := wallInstant(day, h*60+m, loc); t.After(after) {
			return t
		}
	}
}

// NextDailyAny returns the earliest NextDaily over times, e.g. the next
// department digest for digests.times ["12:00", "18:00"]. Invalid times
// are skipped; it returns the zero time when none is valid.
func NextDailyAny(after time.Time, times []string, loc *time.Location, cal *Calendar) time.Time {
	var next time.Time
	for _, hhmm := range times {
		if t := NextDaily(after, hhmm, loc, cal); !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next
}
