package watch

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

func TestDetectSpike(t *testing.T) {
	week := []int{3, 4, 5, 4, 3, 5, 4} // sorted 3 3 4 4 4 5 5: median 4
	for _, tc := range []struct {
		name     string
		counts   []int
		current  int
		factor   float64
		min      int
		spike    bool
		baseline float64
	}{
		{"burst", week, 20, 3, 20, true, 4},
		{"above factor, below min_posts", week, 15, 3, 20, false, 4},
		{"at factor exactly", week, 12, 3, 12, true, 4},
		{"below factor", week, 11, 3, 5, false, 4},
		{"burst from zero", []int{0, 0, 0, 0, 0, 0, 0}, 20, 3, 20, true, 0},
		{"small burst from zero", []int{0, 0, 0, 0, 0, 0, 0}, 19, 3, 20, false, 0},
		{"zero baseline counts as one", []int{0, 0, 0, 1, 0, 0, 0}, 3, 3, 1, true, 0},
		{"even count: mean of middle two", []int{2, 4, 6, 8}, 15, 3, 1, true, 5},
		{"even count: below", []int{2, 4, 6, 8}, 14, 3, 1, false, 5},
		{"no history", nil, 20, 3, 20, true, 0},
		{"one outlier day does not lift the median", []int{3, 4, 90, 4, 3, 5, 4}, 20, 3, 20, true, 4},
	} {
		spike, baseline := DetectSpike(tc.counts, tc.current, tc.factor, tc.min)
		if spike != tc.spike || baseline != tc.baseline {
			t.Errorf("%s: DetectSpike(%v, %d) = %v, %v; want %v, %v", tc.name, tc.counts, tc.current, spike, baseline, tc.spike, tc.baseline)
		}
	}
	in := []int{5, 1, 3}
	DetectSpike(in, 1, 3, 1)
	if !reflect.DeepEqual(in, []int{5, 1, 3}) {
		t.Error("DetectSpike sorted its input")
	}
}

// TestDetectSpikeSlowRise: volume in one 15-minute window grows 10 % a day
// for a month: each day is compared with the median of the seven before
// it, which is only about 1.46 times smaller, so nothing alerts; a real
// burst on top of it does.
func TestDetectSpikeSlowRise(t *testing.T) {
	days := make([]int, 30)
	for i := range days {
		days[i] = int(math.Round(20 * math.Pow(1.1, float64(i))))
	}
	for d := 7; d < len(days); d++ {
		if spike, baseline := DetectSpike(days[d-7:d], days[d], 3, 20); spike {
			t.Errorf("day %d: %d posts against baseline %v alerted", d, days[d], baseline)
		}
	}
	if spike, _ := DetectSpike(days[22:29], 3*days[29], 3, 20); !spike {
		t.Error("a tripled day did not alert")
	}
	// A slow rise within the day (same shape every day) never alerts
	// either: each window meets its own time of day.
	shape := []int{2, 3, 5, 8, 12, 18, 25, 30}
	for w, v := range shape {
		hist := []int{v, v + 1, v - 1, v, v, v + 1, v}
		if spike, _ := DetectSpike(hist, v+2, 3, 20); spike {
			t.Errorf("window %d alerted", w)
		}
	}
}

func TestShouldAlert(t *testing.T) {
	now := utc(t, "2026-02-09 10:00")
	for _, tc := range []struct {
		last string
		want bool
	}{
		{"", true},                  // never alerted
		{"2026-02-09 09:00", true},  // exactly the cooldown ago
		{"2026-02-09 09:01", false}, // within it
		{"2026-02-09 10:00", false}, // just now
		{"2026-02-09 10:05", false}, // in the future (clock skew)
		{"2026-02-08 10:00", true},
	} {
		var last time.Time
		if tc.last != "" {
			last = utc(t, tc.last)
		}
		if got := ShouldAlert(last, time.Hour, now); got != tc.want {
			t.Errorf("ShouldAlert(%q) = %v", tc.last, got)
		}
	}
}

func TestBaselineWindows(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	// Monday 2026-03-09 10:07:30 EDT: the previous seven days straddle the
	// change on Sunday 03-08, so the windows are 23 hours apart there and
	// 24 elsewhere, always ending at 10:07:30 New York time.
	now := wall(t, ny, "2026-03-09 10:07").Add(30 * time.Second)
	got := BaselineWindows(now, 15*time.Minute, 7, ny)
	wantEnds := []string{
		"2026-03-08 14:07", // Sunday, EDT
		"2026-03-07 15:07", // Saturday, EST
		"2026-03-06 15:07", "2026-03-05 15:07", "2026-03-04 15:07", "2026-03-03 15:07", "2026-03-02 15:07",
	}
	if len(got) != 7 {
		t.Fatalf("%d windows", len(got))
	}
	for i, w := range got {
		end := utc(t, wantEnds[i]).Add(30 * time.Second)
		sameInstant(t, "To", w.To, end)
		sameInstant(t, "From", w.From, end.Add(-15*time.Minute))
	}
	if got := BaselineWindows(now, time.Minute, 0, nil); len(got) != 0 {
		t.Errorf("0 days: %v", got)
	}
}

func TestTopKeywords(t *testing.T) {
	ts := []bridge.Ticket{
		{Matched: []string{"wifi", "signal"}},
		{Matched: []string{"wifi", "wifi"}},
		{Matched: []string{"bill"}},
		{Matched: []string{"signal", ""}},
		{},
	}
	want := []KeywordCount{{"signal", 2}, {"wifi", 2}, {"bill", 1}}
	if got := TopKeywords(ts, 0); !reflect.DeepEqual(got, want) {
		t.Errorf("all: %v", got)
	}
	if got := TopKeywords(ts, 2); !reflect.DeepEqual(got, want[:2]) {
		t.Errorf("top 2: %v", got)
	}
	if got := TopKeywords(nil, 5); len(got) != 0 {
		t.Errorf("none: %v", got)
	}
}
