package watch

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
)

func TestPercentile(t *testing.T) {
	m := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Minute
		}
		return out
	}
	for _, tc := range []struct {
		xs   []time.Duration
		p    float64
		want int
	}{
		{m(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 50, 5}, // rank 5: the lower middle value
		{m(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9}, // rank 9, not 10
		{m(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 91, 10},
		{m(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 100, 10},
		{m(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.1, 1},
		{m(5, 10, 30, 60, 80), 50, 30},
		{m(5, 10, 30, 60, 80), 90, 80}, // rank ⌈4.5⌉ = 5
		{m(7), 50, 7},
		{m(7), 90, 7},
		{nil, 50, 0},
	} {
		if got := Percentile(tc.xs, tc.p); got != time.Duration(tc.want)*time.Minute {
			t.Errorf("Percentile(%v, %v) = %s, want %dm", tc.xs, tc.p, got, tc.want)
		}
	}
}

// TestDigest checks a department digest for Monday 2026-02-09 09:00–12:00
// JST against figures computed by hand.
func TestDigest(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	w := func(s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		return wall(t, tokyo, "2026-02-09 "+s)
	}
	tk := func(id int64, created, first string, kw, tags []string) bridge.Ticket {
		return bridge.Ticket{
			ID: id, Department: "network", CreatedAt: w(created), LastCustomerAt: w(created),
			FirstResponseAt: w(first), AnsweredAt: w(first), Matched: kw, Tags: tags,
			SlackChannel: "C0NETWORK", SlackTS: fmt.Sprintf("1770600000.%06d", id),
		}
	}
	closed := tk(10, "10:30", "", []string{"thanks"}, []string{"praise"})
	closed.State, closed.ClosedAt = bridge.TicketClosed, w("10:45")
	in := DigestInput{
		From: w("09:00"), To: w("12:00"), Breaches: 2,
		Tickets: []bridge.Ticket{
			tk(1, "09:05", "09:15", []string{"wifi", "signal"}, []string{"outage"}),                 // new, answered 10m
			tk(2, "09:10", "09:40", []string{"bill"}, nil),                                          // new, answered 30m
			tk(3, "09:20", "10:20", []string{"wifi"}, []string{"outage"}),                           // new, answered 60m
			tk(4, "09:30", "09:35", []string{"wifi", "slow", "wifi"}, []string{"outage", "outage"}), // new, 5m; repeats count once
			tk(5, "10:00", "", []string{"signal"}, nil),                                             // new, waiting 2h
			tk(6, "08:00", "09:20", []string{"bill"}, nil),                                          // old, answered in period 80m
			tk(7, "11:00", "", []string{"thanks"}, []string{"praise"}),                              // new, waiting 1h
			tk(8, "11:30", "12:30", []string{"wifi"}, nil),                                          // new, answered after To: waiting 30m
			tk(9, "07:00", "", nil, nil),                                                            // old, waiting 5h
			closed,                                                                                  // new, closed unanswered: not waiting
			tk(11, "12:00", "", []string{"wifi"}, nil),                                              // at To: next period
			tk(12, "11:40", "11:52", []string{"router"}, nil),                                       // new, answered 12m
			tk(3, "09:20", "10:20", []string{"wifi"}, []string{"outage"}),                           // duplicate row
		},
	}
	got := ComputeDigest(in)

	if got.New != 9 { // 1 2 3 4 5 7 8 10 12
		t.Errorf("New = %d, want 9", got.New)
	}
	if got.Answered != 6 { // 1 2 3 4 6 12
		t.Errorf("Answered = %d, want 6", got.Answered)
	}
	// First responses 5 10 12 30 60 80 minutes: median rank 3 = 12m,
	// p90 rank ⌈5.4⌉ = 6 = 80m.
	if got.MedianFirstResponse != 12*time.Minute || got.P90FirstResponse != 80*time.Minute {
		t.Errorf("median, p90 = %s, %s, want 12m, 1h20m", got.MedianFirstResponse, got.P90FirstResponse)
	}
	var waiting []int64
	var ages []time.Duration
	for _, u := range got.Unanswered {
		waiting = append(waiting, u.ID)
		ages = append(ages, u.Age)
	}
	if !reflect.DeepEqual(waiting, []int64{9, 5, 7, 8}) {
		t.Errorf("Unanswered = %v, want [9 5 7 8] (oldest first)", waiting)
	}
	if !reflect.DeepEqual(ages, []time.Duration{5 * time.Hour, 2 * time.Hour, time.Hour, 30 * time.Minute}) {
		t.Errorf("ages = %v", ages)
	}
	if u := got.Unanswered[0]; u.SlackChannel != "C0NETWORK" || u.Department != "network" {
		t.Errorf("Unanswered[0] = %+v", u)
	}
	// wifi: 1 3 4 8; signal: 1 5; thanks: 7 10; bill: 2; router: 12;
	// slow: 4 (cut: sixth).
	wantKW := []KeywordCount{{"wifi", 4}, {"signal", 2}, {"thanks", 2}, {"bill", 1}, {"router", 1}}
	if !reflect.DeepEqual(got.TopKeywords, wantKW) {
		t.Errorf("TopKeywords = %v, want %v", got.TopKeywords, wantKW)
	}
	if want := map[string]int{"outage": 3, "praise": 2}; !reflect.DeepEqual(got.TagCounts, want) {
		t.Errorf("TagCounts = %v, want %v", got.TagCounts, want)
	}
	if got.Breaches != 2 || !got.From.Equal(in.From) || !got.To.Equal(in.To) {
		t.Errorf("pass-through: %+v", got)
	}

	empty := ComputeDigest(DigestInput{From: in.From, To: in.To})
	if empty.New != 0 || empty.MedianFirstResponse != 0 || len(empty.Unanswered) != 0 || empty.TagCounts == nil {
		t.Errorf("empty digest: %+v", empty)
	}
}

// TestExecDigest: a day in Tokyo with a 1h first-response target in
// business time (09:00–18:00 Mon–Fri).
func TestExecDigest(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	cal := mustCal(t, officeHours(), tokyo)
	w := func(s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		return wall(t, tokyo, s)
	}
	tk := func(id int64, created, first string) bridge.Ticket {
		return bridge.Ticket{ID: id, CreatedAt: w(created), FirstResponseAt: w(first)}
	}
	hour := config.SLA{FirstResponse: config.Duration(time.Hour)}
	in := ExecInput{
		From: w("2026-02-09 09:00"), To: w("2026-02-10 09:00"),
		PerDept: map[string][]bridge.Ticket{
			"network": {
				tk(1, "2026-02-09 09:00", "2026-02-09 09:30"), // 30m: hit
				tk(2, "2026-02-09 17:30", "2026-02-10 08:00"), // 14h30m wall, 30m business: hit
				tk(3, "2026-02-09 10:00", "2026-02-09 11:30"), // 90m: miss
				tk(4, "2026-02-09 12:00", ""),                 // waiting
				tk(5, "2026-02-09 13:00", "2026-02-10 10:00"), // answered after To
			},
			"sales":   {tk(6, "2026-02-09 10:00", "2026-02-09 10:10")},
			"billing": nil,
			"praise":  {tk(7, "2026-02-06 10:00", "2026-02-09 10:00")}, // old ticket, answered today
		},
		SLA:        map[string]config.SLA{"network": hour},
		DefaultSLA: config.SLA{FirstResponse: config.Duration(5 * time.Minute)},
		Calendar:   cal,
		Breaches:   map[string]int{"network": 2},
		Spikes:     map[string]int{"network": 1},
	}
	got := ComputeExecDigest(in)
	want := []DeptSummary{
		{Department: "network", Volume: 5, VolumeAnswered: 3, AnsweredShare: 0.6, FirstResponses: 3,
			MedianFirstResponse: 90 * time.Minute, SLAHits: 2, SLAHitRate: 2.0 / 3, Breaches: 2, Spikes: 1},
		// sales uses DefaultSLA (5m): 10m is a miss.
		{Department: "sales", Volume: 1, VolumeAnswered: 1, AnsweredShare: 1, FirstResponses: 1,
			MedianFirstResponse: 10 * time.Minute},
		{Department: "billing"},
		// praise: Friday 10:00 → Monday 10:00 is 72h wall, 9h business.
		{Department: "praise", FirstResponses: 1, MedianFirstResponse: 72 * time.Hour},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ExecDigest =\n%+v\nwant\n%+v", got, want)
	}
}

func TestRepresentative(t *testing.T) {
	at := utc(t, "2026-02-09 10:00")
	p := func(id, author, text string, minutes int) bridge.Post {
		return bridge.Post{Platform: "x", ExternalID: id, AuthorID: author, Text: text, Source: bridge.SourceSearch, CreatedAt: at.Add(time.Duration(minutes) * time.Minute)}
	}
	dm := p("dm", "u9", "my account number is 1234 and my address is a very long private text indeed", 0)
	dm.Source = bridge.SourceDM
	posts := []bridge.Post{
		p("1", "u1", "wifi down again", 0),
		p("2", "u2", "The WiFi in Shibuya has been down since this morning!! @SBCare", 1),
		p("3", "u3", "RT @u2: The WiFi in Shibuya has been down since this morning!!", 2),     // same substance as 2
		p("4", "u2", "still no wifi in shibuya, nothing works at all, please help us now", 3), // u2 again
		p("5", "u4", "https://t.co/abcdefghijklmnopqrstuvwxyz @SBCare", 4),                    // no substance
		p("6", "u5", "thank you for fixing the signal so quickly", 5),
		p("7", "u6", "thank you for fixing the signal so quickly", 0), // same length as 6, earlier
		dm,
	}
	ids := func(ps []bridge.Post) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.ExternalID)
		}
		return out
	}
	// Ranking by substance length: 4, then 2 and 3 (same substance once
	// "RT @u2:" and "@SBCare" are dropped; 2 is earlier), then 7 and 6
	// (same text; 7 is earlier), then 1; 5 has no substance, the DM is
	// private. 4 is taken; 2 is skipped (author u2 again); 3 is taken (its
	// text is not taken yet); 7 is taken; 6 repeats 7's text; 1 is taken.
	if got := ids(Representative(posts, 3)); !reflect.DeepEqual(got, []string{"4", "3", "7"}) {
		t.Errorf("Representative = %v, want [4 3 7]", got)
	}
	if got := ids(Representative(posts, 10)); !reflect.DeepEqual(got, []string{"4", "3", "7", "1"}) {
		t.Errorf("Representative(all) = %v, want [4 3 7 1]", got)
	}
	if got := Representative(posts, 0); got != nil {
		t.Errorf("n = 0: %v", got)
	}
	// Deterministic whatever the input order.
	rev := make([]bridge.Post, len(posts))
	for i, p := range posts {
		rev[len(posts)-1-i] = p
	}
	if got := ids(Representative(rev, 3)); !reflect.DeepEqual(got, []string{"4", "3", "7"}) {
		t.Errorf("reversed input: %v", got)
	}

	perDept := map[string][]bridge.Post{
		"network": {posts[0], posts[1], posts[3]},
		"praise":  {posts[5], posts[6]},
		"billing": {p("8", "u7", "why is my bill twice as high this month", 0), p("9", "u8", "bill", 0)},
		"empty":   nil,
	}
	// network (3 posts) first, then billing and praise (2 each, by id):
	// round 1: 4, 8, 7; round 2: network's 2 is u2 again, skipped; 1.
	if got := ids(RepresentativeByDept(perDept, 3)); !reflect.DeepEqual(got, []string{"4", "8", "7"}) {
		t.Errorf("RepresentativeByDept(3) = %v, want [4 8 7]", got)
	}
	if got := ids(RepresentativeByDept(perDept, 6)); !reflect.DeepEqual(got, []string{"4", "8", "7", "1", "9"}) {
		t.Errorf("RepresentativeByDept(6) = %v, want [4 8 7 1 9]", got)
	}
}
