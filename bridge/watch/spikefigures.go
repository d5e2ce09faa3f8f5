package watch

import (
	"slices"
	"time"
)

// DetectSpike compares current, the posts in the sliding window ending
// now, with the baseline: the median of counts, the posts in the same
// window at the same wall-clock time on each of the previous days (seven
// by default; see BaselineWindows), excluding now. It reports a spike when
// current >= factor × baseline and current >= minPosts.
//
// A baseline below one post counts as one, so a sudden burst from nothing
// can alert once it reaches minPosts, and a quiet hour's noise cannot. The
// median of an even number of counts is the mean of the two middle ones;
// no counts give a baseline of 0. The returned baseline is the median
// itself, before the floor of one.
func DetectSpike(counts []int, current int, factor float64, minPosts int) (spike bool, baseline float64) {
	baseline = median(counts)
	return float64(current) >= factor*max(baseline, 1) && current >= minPosts, baseline
}

// ShouldAlert reports whether a spike alert may be posted at now given the
// previous one at lastAlert (zero: never): once cooldown has passed since
// it. A lastAlert after now (clock skew between replicas) holds the alert
// back.
func ShouldAlert(lastAlert time.Time, cooldown time.Duration, now time.Time) bool {
	return lastAlert.IsZero() || now.Sub(lastAlert) >= cooldown
}

// Window is a half-open time range [From, To).
type Window struct {
	From, To time.Time
}

// BaselineWindows returns the windows whose post counts make DetectSpike's
// baseline: for k = 1…days, the window of the given width ending at the
// same wall-clock time as now, k calendar days earlier in loc (nil: UTC).
// Days are calendar days computed with time.Date, so across a
// daylight-saving change the windows stay at the same time of day (23 or 25
// hours apart); a wall time that did not exist that day resolves as described in
// the package documentation. Most recent day first.
func BaselineWindows(now time.Time, width time.Duration, days int, loc *time.Location) []Window {
	if loc == nil {
		loc = time.UTC
	}
	now = now.In(loc)
	day := dateOf(now)
	minute := now.Hour()*60 + now.Minute()
	rest := time.Duration(now.Second())*time.Second + time.Duration(now.Nanosecond())
	out := make([]Window, 0, max(days, 0))
	for k := 1; k <= days; k++ {
		day = day.prev()
		end := wallInstant(day, minute, loc).Add(rest)
		out = append(out, Window{From: end.Add(-width), To: end})
	}
	return out
}

// median is the median of xs (mean of the middle two for an even count, 0
// for none).
func median(xs []int) float64 {
	n := len(xs)
	if n == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n%2 == 1 {
		return float64(s[n/2])
	}
	return (float64(s[n/2-1]) + float64(s[n/2])) / 2
}
