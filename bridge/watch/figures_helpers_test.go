package watch

import (
	"testing"
	"time"
	_ "time/tzdata" // the zones used below, even where the system has none

	"github.com/carebridge/carebridge/bridge/config"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// wall parses "2006-01-02 15:04" in loc (through time.Date, so a
// nonexistent or doubled wall time resolves as time.Date does; the tests
// use UTC instants where that matters).
func wall(t testing.TB, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func utc(t testing.TB, s string) time.Time { return wall(t, time.UTC, s) }

func mustCal(t testing.TB, oh config.OfficeHours, loc *time.Location) *Calendar {
	t.Helper()
	c, err := NewCalendar(oh, loc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// officeHours is 09:00–18:00 Monday to Friday.
func officeHours(holidays ...string) config.OfficeHours {
	return config.OfficeHours{Open: "09:00", Close: "18:00", Weekdays: []string{"mon", "tue", "wed", "thu", "fri"}, Holidays: holidays}
}

func sameInstant(t testing.TB, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s (%s), want %s (%s)", what, got, got.UTC().Format(time.RFC3339), want, want.UTC().Format(time.RFC3339))
	}
}
