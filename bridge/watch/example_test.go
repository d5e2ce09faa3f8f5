package watch_test

import (
	"fmt"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/bridge/watch"
)

func ExampleCalendar_Add() {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	cal, _ := watch.NewCalendar(config.OfficeHours{Open: "09:00", Close: "18:00", Weekdays: []string{"mon", "tue", "wed", "thu", "fri"}}, tokyo)
	friday := time.Date(2026, 2, 6, 17, 30, 0, 0, tokyo)
	fmt.Println(cal.Add(friday, time.Hour).Format("Mon 15:04"))
	fmt.Println(cal.Elapsed(friday, time.Date(2026, 2, 9, 10, 0, 0, 0, tokyo)))
	// Output:
	// Mon 09:30
	// 1h30m0s
}

func ExampleSLAFor() {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	cal, _ := watch.NewCalendar(config.OfficeHours{Open: "09:00", Close: "18:00"}, tokyo)
	sla := config.SLA{FirstResponse: config.Duration(time.Hour), WarnAt: 0.8}
	t := bridge.Ticket{CreatedAt: time.Date(2026, 2, 7, 11, 0, 0, 0, tokyo)} // a Saturday
	s := watch.SLAFor(t, sla, cal)
	fmt.Println(s.Kind, s.WarnAt.Format("Mon 15:04"), s.Due.Format("Mon 15:04"))
	fmt.Println(watch.ClockStartsText(t.CreatedAt, cal, nil))
	level, due := s.LevelAt(time.Date(2026, 2, 9, 9, 50, 0, 0, tokyo))
	fmt.Println(level, "since", due.Format("15:04"))
	// Output:
	// first_response Mon 09:48 Mon 10:00
	// Arrived after hours — the SLA clock starts Mon 09:00.
	// warning since 09:48
}

func ExampleDetectSpike() {
	spike, baseline := watch.DetectSpike([]int{3, 4, 5, 4, 3, 5, 4}, 20, 3, 20)
	fmt.Println(spike, baseline)
	// Output: true 4
}
