package watch

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
)

// WeekDays is how many days the executive digest's chart shows: the six
// days before the digest's day and that day so far.
const WeekDays = 7

// WeekInput is what the executive digest's chart is computed from.
type WeekInput struct {
	// PerDept holds each department's tickets touched in [Days[0], To),
	// by department id. Every key gets a series, even with no tickets.
	PerDept map[string][]bridge.Ticket
	// Days are the starts of the days, ascending; day i ends where day
	// i+1 starts, the last one at To.
	Days []time.Time
	To   time.Time
	// SLA, DefaultSLA and Calendar judge first responses as
	// ComputeExecDigest does.
	SLA        map[string]config.SLA
	DefaultSLA config.SLA
	Calendar   *Calendar
	// Spikes holds the times of the spike alerts per department.
	Spikes map[string][]time.Time
}

// ComputeWeek returns, per department of in.PerDept, one ChartDay per day
// of in.Days, ordered by the week's new conversations (most first), then
// department id. For each day: New counts the tickets created that day,
// Answered those of them with a first response before To (the share
// answered so far); FirstResponses, MedianFirstResponse and SLAHits cover
// the first responses that went out that day, judged as
// ComputeExecDigest judges them; Spikes counts the alerts raised that day.
// Names are left empty for the caller.
func ComputeWeek(in WeekInput) []bridge.ChartSeries {
	out := make([]bridge.ChartSeries, 0, len(in.PerDept))
	total := map[string]int{}
	for dept, list := range in.PerDept {
		sla, ok := in.SLA[dept]
		if !ok {
			sla = in.DefaultSLA
		}
		target := sla.FirstResponse.D()
		tickets := uniqueTickets(list)
		s := bridge.ChartSeries{Department: dept, Days: make([]bridge.ChartDay, len(in.Days))}
		for i, from := range in.Days {
			to := in.To
			if i+1 < len(in.Days) {
				to = in.Days[i+1]
			}
			d := &s.Days[i]
			var firsts []time.Duration
			for _, t := range tickets {
				if within(t.CreatedAt, from, to) {
					d.New++
					if !t.FirstResponseAt.IsZero() && t.FirstResponseAt.Before(in.To) {
						d.Answered++
					}
				}
				if within(t.FirstResponseAt, from, to) {
					firsts = append(firsts, firstResponse(t))
					if slaHit(in.Calendar, target, t) {
						d.SLAHits++
					}
				}
			}
			d.FirstResponses = len(firsts)
			slices.Sort(firsts)
			d.MedianFirstResponse = Percentile(firsts, 50)
			for _, at := range in.Spikes[dept] {
				if within(at, from, to) {
					d.Spikes++
				}
			}
			total[dept] += d.New
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b bridge.ChartSeries) int {
		return cmp.Or(cmp.Compare(total[b.Department], total[a.Department]), strings.Compare(a.Department, b.Department))
	})
	return out
}

// slaHit reports whether t's first response went out within target,
// measured in business time from its creation (a zero target: always).
func slaHit(cal *Calendar, target time.Duration, t bridge.Ticket) bool {
	return target <= 0 || !t.FirstResponseAt.After(cal.Add(cal.NextOpen(t.CreatedAt), target))
}

// weekDays returns the starts of the WeekDays days ending with now's day,
// at midnight in w.loc.
func (w *Watcher) weekDays(now time.Time) []time.Time {
	y, m, d := now.In(w.loc).Date()
	days := make([]time.Time, WeekDays)
	for i := range days {
		days[i] = time.Date(y, m, d-(WeekDays-1-i), 0, 0, 0, 0, w.loc)
	}
	return days
}

// weekChart computes the executive digest's chart for the week ending at
// now.
func (w *Watcher) weekChart(ctx context.Context, tx Tx, now time.Time) (*bridge.ReportChart, error) {
	days := w.weekDays(now)
	tickets, err := tx.TicketsActive(ctx, "", days[0], now)
	if err != nil {
		return nil, err
	}
	spikes, err := tx.OpsEvents(ctx, bridge.OpsEventFilter{Kind: bridge.OpsSpike, From: days[0], To: now})
	if err != nil {
		return nil, err
	}
	in := WeekInput{PerDept: map[string][]bridge.Ticket{}, Days: days, To: now, SLA: map[string]config.SLA{},
		DefaultSLA: w.cfg.SLA, Calendar: w.cal, Spikes: map[string][]time.Time{}}
	for _, d := range w.cfg.Departments {
		in.PerDept[d.ID] = nil
		in.SLA[d.ID] = w.slaOf(d.ID)
	}
	for _, t := range tickets {
		in.PerDept[t.Department] = append(in.PerDept[t.Department], t)
	}
	for _, e := range spikes {
		in.Spikes[e.Department] = append(in.Spikes[e.Department], e.At)
	}
	series := ComputeWeek(in)
	for i := range series {
		series[i].Name = w.deptName(series[i].Department)
	}
	return &bridge.ReportChart{
		Title:  "The week by department, to " + now.In(w.loc).Format("Mon 2 Jan 15:04") + " (" + w.loc.String() + ")",
		Days:   days,
		To:     now,
		Series: series,
	}, nil
}
