package watch

import (
	"fmt"
	"strings"
	"time"

	"github.com/carebridge/carebridge/bridge/config"
)

// Calendar knows when a team is at work: office hours on working weekdays,
// minus holidays, in one location. It measures and adds business time.
//
// A Calendar built with neither open nor close time is open around the
// clock (its weekdays and holidays are then ignored). A nil *Calendar
// behaves like an always-open calendar in UTC. A Calendar is immutable and
// safe for concurrent use.
type Calendar struct {
	loc         *time.Location
	always      bool
	open, close int // minutes after midnight, open < close
	days        [7]bool
	holidays    map[date]bool
}

var weekdayByName = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// defaultWeekdays are the working days when office hours are set but no
// weekdays are listed; the same default as the configuration's.
var defaultWeekdays = []string{"mon", "tue", "wed", "thu", "fri"}

// NewCalendar builds a Calendar from the office_hours configuration in loc
// (nil means UTC). Open and close are "HH:MM" wall times with open before
// close (no overnight shifts); weekdays are "mon"…"sun" (full English names
// are accepted too, in any case) and default to Monday to Friday when the
// list is empty; holidays are dates "YYYY-MM-DD" in loc, closed all day.
// With neither open nor close set the calendar is always open.
func NewCalendar(oh config.OfficeHours, loc *time.Location) (*Calendar, error) {
	if loc == nil {
		loc = time.UTC
	}
	c := &Calendar{loc: loc, holidays: make(map[date]bool, len(oh.Holidays))}
	weekdays := oh.Weekdays
	if len(weekdays) == 0 {
		weekdays = defaultWeekdays
	}
	for i, name := range weekdays {
		wd, ok := weekdayByName[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			return nil, fmt.Errorf("office_hours.weekdays[%d]: %q is not a weekday (mon, tue, wed, thu, fri, sat, sun)", i, name)
		}
		c.days[wd] = true
	}
	for i, h := range oh.Holidays {
		t, err := time.Parse("2006-01-02", strings.TrimSpace(h))
		if err != nil {
			return nil, fmt.Errorf("office_hours.holidays[%d]: %q is not a date as YYYY-MM-DD", i, h)
		}
		c.holidays[dateOf(t)] = true
	}
	switch {
	case oh.Open == "" && oh.Close == "":
		c.always = true
		return c, nil
	case oh.Open == "":
		return nil, fmt.Errorf("office_hours.open: required when office_hours.close is set")
	case oh.Close == "":
		return nil, fmt.Errorf("office_hours.close: required when office_hours.open is set")
	}
	oh1, om, err := ParseHHMM(oh.Open)
	if err != nil {
		return nil, fmt.Errorf("office_hours.open: %w", err)
	}
	ch, cm, err := ParseHHMM(oh.Close)
	if err != nil {
		return nil, fmt.Errorf("office_hours.close: %w", err)
	}
	c.open, c.close = oh1*60+om, ch*60+cm
	if c.open >= c.close {
		return nil, fmt.Errorf("office_hours.close: %s is not after open (%s)", oh.Close, oh.Open)
	}
	return c, nil
}

// ParseHHMM parses a wall time written "HH:MM" (00:00–23:59, two digits
// each, as the configuration requires).
func ParseHHMM(s string) (hour, min int, err error) {
	digit := func(b byte) (int, bool) { return int(b - '0'), b >= '0' && b <= '9' }
	if len(s) == 5 && s[2] == ':' {
		h1, ok1 := digit(s[0])
		h2, ok2 := digit(s[1])
		m1, ok3 := digit(s[3])
		m2, ok4 := digit(s[4])
		hour, min = h1*10+h2, m1*10+m2
		if ok1 && ok2 && ok3 && ok4 && hour < 24 && min < 60 {
			return hour, min, nil
		}
	}
	return 0, 0, fmt.Errorf("%q is not a time as HH:MM (00:00–23:59)", s)
}

// Location returns the calendar's location (UTC for a nil Calendar).
func (c *Calendar) Location() *time.Location {
	if c == nil {
		return time.UTC
	}
	return c.loc
}

// AlwaysOpen reports whether the calendar has no office hours (open 24/7).
func (c *Calendar) AlwaysOpen() bool { return c == nil || c.always }

// IsBusinessDay reports whether t's date in the calendar's location is a
// working day: a configured weekday that is not a holiday. Every day is one
// for an always-open calendar.
func (c *Calendar) IsBusinessDay(t time.Time) bool {
	if c.AlwaysOpen() {
		return true
	}
	return c.businessDate(dateOf(t.In(c.loc)))
}

// IsOpen reports whether t falls within office hours: on a business day, at
// or after opening and before closing.
func (c *Calendar) IsOpen(t time.Time) bool {
	if c.AlwaysOpen() {
		return true
	}
	t = t.In(c.loc)
	o, cl, ok := c.hours(dateOf(t))
	return ok && !t.Before(o) && t.Before(cl)
}

// NextOpen returns t if the calendar is open at t, else the next opening
// after t.
func (c *Calendar) NextOpen(t time.Time) time.Time {
	if c.AlwaysOpen() || c.IsOpen(t) {
		return t
	}
	t = t.In(c.loc)
	for day := dateOf(t); ; day = day.next() {
		if o, cl, ok := c.hours(day); ok && cl.After(o) && o.After(t) {
			return o
		}
	}
}

// Add returns the earliest instant at which d of business time has elapsed
// since start, skipping closed hours, non-working weekdays and holidays.
// When d runs out exactly at closing time, the closing instant is returned
// (not the next opening). d <= 0 returns start unchanged. For an
// always-open calendar Add is start.Add(d).
//
// Elapsed(start, Add(start, d)) == d for every start and d >= 0.
func (c *Calendar) Add(start time.Time, d time.Duration) time.Time {
	switch {
	case d <= 0:
		return start
	case c.AlwaysOpen():
		return start.Add(d)
	}
	start = start.In(c.loc)
	remaining := d
	for day := dateOf(start); ; day = day.next() {
		o, cl, ok := c.hours(day)
		if !ok {
			continue
		}
		if o.Before(start) {
			o = start
		}
		if !cl.After(o) {
			continue
		}
		if avail := cl.Sub(o); remaining > avail {
			remaining -= avail
			continue
		}
		return o.Add(remaining)
	}
}

// Elapsed returns the business time between from and to: the total of the
// office hours that fall within [from, to). It is 0 when to is not after
// from. For an always-open calendar it is to.Sub(from).
func (c *Calendar) Elapsed(from, to time.Time) time.Duration {
	if !to.After(from) {
		return 0
	}
	if c.AlwaysOpen() {
		return to.Sub(from)
	}
	from, to = from.In(c.loc), to.In(c.loc)
	var total time.Duration
	last := dateOf(to)
	for day := dateOf(from); !day.after(last); day = day.next() {
		o, cl, ok := c.hours(day)
		if !ok {
			continue
		}
		if o.Before(from) {
			o = from
		}
		if cl.After(to) {
			cl = to
		}
		if cl.After(o) {
			total += cl.Sub(o)
		}
	}
	return total
}

// businessDate reports whether day is a working weekday and no holiday.
func (c *Calendar) businessDate(day date) bool {
	return c.days[day.weekday()] && !c.holidays[day]
}

// hours returns the opening and closing instants of day, or ok false when
// the calendar is closed all day.
func (c *Calendar) hours(day date) (open, close time.Time, ok bool) {
	if !c.businessDate(day) {
		return time.Time{}, time.Time{}, false
	}
	return wallInstant(day, c.open, c.loc), wallInstant(day, c.close, c.loc), true
}

// date is a civil date, without time or location.
type date struct {
	y int
	m time.Month
	d int
}

func dateOf(t time.Time) date {
	y, m, d := t.Date()
	return date{y, m, d}
}

// noon is the date at noon UTC: a safe anchor for calendar arithmetic.
func (d date) noon() time.Time { return time.Date(d.y, d.m, d.d, 12, 0, 0, 0, time.UTC) }

func (d date) next() date            { return dateOf(d.noon().AddDate(0, 0, 1)) }
func (d date) prev() date            { return dateOf(d.noon().AddDate(0, 0, -1)) }
func (d date) weekday() time.Weekday { return d.noon().Weekday() }
func (d date) after(e date) bool     { return d.noon().After(e.noon()) }
func (d date) daysUntil(e date) int  { return int(e.noon().Sub(d.noon()) / (24 * time.Hour)) }
func (d date) String() string        { return d.noon().Format("2006-01-02") }
func (d date) at(minute int) time.Time {
	return time.Date(d.y, d.m, d.d, minute/60, minute%60, 0, 0, time.UTC)
}

// wallInstant returns the instant at which the wall clock in loc shows
// minute (minutes after midnight) on day. A wall time inside a
// spring-forward gap resolves to the end of the gap (the first valid
// instant after it); a wall time that occurs twice resolves to its first
// occurrence.
func wallInstant(day date, minute int, loc *time.Location) time.Time {
	t := time.Date(day.y, day.m, day.d, minute/60, minute%60, 0, 0, loc)
	want := day.at(minute)
	got := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	start, end := t.ZoneBounds()
	switch {
	case got.Before(want) && !end.IsZero():
		// time.Date used the offset after the gap: t is before the gap.
		return end
	case got.After(want) && !start.IsZero():
		// time.Date used the offset before the gap: t is after the gap.
		return start
	case got.Equal(want) && !start.IsZero():
		// The wall time exists; if the clocks went back at start, it may
		// also have existed earlier, in the previous zone.
		_, off := t.Zone()
		_, prevOff := start.Add(-time.Nanosecond).Zone()
		if prevOff > off {
			earlier := t.Add(-time.Duration(prevOff-off) * time.Second)
			if earlier.Before(start) && wallEqual(earlier, want) {
				return earlier
			}
		}
	}
	return t
}

// wallEqual reports whether t's wall clock (in its own location) reads the
// same as want's in UTC.
func wallEqual(t, want time.Time) bool {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC).Equal(want)
}
