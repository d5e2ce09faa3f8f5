package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/x/xfake"
)

// A post that arrives while the office is closed says in its Slack
// message when its SLA clock starts; one that arrives during office hours
// does not. The office hours are set around the wall clock: today is not a
// working day for the first run, and is one (open now) for the second.
func TestAfterHoursLineInSlack(t *testing.T) {
	for name, storeURL := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			tokyo, err := time.LoadLocation("Asia/Tokyo")
			if err != nil {
				t.Skipf("no time zone data: %v", err)
			}
			now := time.Now().In(tokyo)
			days := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
			today := days[now.Weekday()]
			var others []string
			for _, d := range days {
				if d != today {
					others = append(others, d)
				}
			}
			tomorrow := days[(now.Weekday()+1)%7]

			closed := mirrorOne(t, storeURL(t), fmt.Sprintf("office_hours:\n  open: \"09:00\"\n  close: \"18:00\"\n  weekdays: [%s]\n", strings.Join(others, ", ")))
			want := "Arrived after hours — the SLA clock starts " + strings.ToUpper(tomorrow[:1]) + tomorrow[1:] + " 09:00."
			if !strings.Contains(closed, want) {
				t.Errorf("a post on a closed day: the message lacks %q:\n%s", want, closed)
			}

			if now.Hour() < 1 || now.Hour() > 21 {
				t.Logf("%s in Tokyo: too close to midnight for an office open around now; the open case is skipped", now.Format("15:04"))
				return
			}
			open := mirrorOne(t, storeURL(t), fmt.Sprintf("office_hours:\n  open: %q\n  close: %q\n  weekdays: [%s]\n",
				now.Add(-time.Hour).Format("15:04"), now.Add(2*time.Hour).Format("15:04"), strings.Join(days, ", ")))
			if strings.Contains(open, "after hours") {
				t.Errorf("a post during office hours says it arrived after hours:\n%s", open)
			}
		})
	}
}

// mirrorOne runs carebridge with extra configuration, has a customer post
// once, and returns the raw blocks of the message that opened its thread.
func mirrorOne(t *testing.T, storeURL, extra string) string {
	t.Helper()
	h := newHarness(t, storeURL, harnessOptions{brands: []string{"SBCare"}, searches: []string{"from:ucustomer"}, extra: extra})
	h.x.AddUser(xfake.User{ID: "7000001", Username: "ucustomer", Name: "Kim"})
	stop := h.start()
	defer stop()
	tw := h.x.AddTweet(xfake.Tweet{AuthorID: "7000001", Text: "@SBCare my iphone will not charge"})
	var blocks string
	eventually(t, 30*time.Second, "the post mirrored", func() (bool, string) {
		for _, m := range h.mirrors()[tw.ID] {
			if m.fyi || m.threadTS != "" {
				continue
			}
			for _, msg := range h.slack.Messages(m.channel) {
				if msg.TS == m.ts {
					blocks = string(msg.Blocks)
					return true, ""
				}
			}
		}
		return false, "not in Slack yet"
	})
	return blocks
}
