package watch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
)

// maxWaitingListed bounds the unanswered tickets a digest lists.
const maxWaitingListed = 10

// DigestTimes returns the times of day of dept's digests: its own, else
// digests.times.
func (w *Watcher) DigestTimes(dept string) []string {
	if d := w.cfg.Department(dept); d != nil && len(d.Digests) > 0 {
		return d.Digests
	}
	return w.cfg.Digests.Times
}

// period returns the start of the period a report ending at end covers:
// the end of the previous report of kind for dept, else one day earlier.
// Periods follow each other without gap or overlap.
func (w *Watcher) period(ctx context.Context, tx Tx, kind, dept string, end time.Time) (time.Time, error) {
	last, err := tx.LastOpsEvent(ctx, kind, dept, end)
	switch {
	case err == nil:
		return last.At, nil
	case !errors.Is(err, bridge.ErrNotFound):
		return time.Time{}, err
	}
	return end.AddDate(0, 0, -1), nil
}

// digestStats computes dept's digest for [from, to) from the store.
func (w *Watcher) digestStats(ctx context.Context, tx Tx, dept string, from, to time.Time) (DigestStats, error) {
	tickets, err := tx.TicketsActive(ctx, dept, from, to)
	if err != nil {
		return DigestStats{}, err
	}
	breaches, err := tx.OpsEvents(ctx, bridge.OpsEventFilter{Kind: bridge.OpsSLABreach, Department: dept, From: from, To: to})
	if err != nil {
		return DigestStats{}, err
	}
	return ComputeDigest(DigestInput{Tickets: tickets, Breaches: len(breaches), From: from, To: to}), nil
}

// Digest queues dept's digest for the run at now (a digests.times slot):
// since the previous digest, new tickets, answered, still unanswered
// (linked, oldest first), median and p90 first response, SLA breaches,
// top keywords and counts per rule tag. It is queued once per slot. It
// reports whether this call queued it.
func (w *Watcher) Digest(ctx context.Context, dept string) (bool, error) {
	d := w.cfg.Department(dept)
	if d == nil {
		return false, fmt.Errorf("digest: unknown department %q", dept)
	}
	now := w.clock.Now().UTC()
	slot := w.slot(now)
	key := "digest:" + dept + ":" + slot.Format("2006-01-02T15:04")
	queued := false
	err := w.store.WithTx(ctx, func(tx Tx) error {
		from, err := w.period(ctx, tx, bridge.OpsDigest, dept, now)
		if err != nil {
			return err
		}
		st, err := w.digestStats(ctx, tx, dept, from, now)
		if err != nil {
			return err
		}
		ok, err := tx.RecordOpsEvent(ctx, &bridge.OpsEvent{Kind: bridge.OpsDigest, Key: key, Department: dept, At: now})
		if err != nil || !ok {
			return err
		}
		it, err := bridge.ReportItemOf(d.Channel, dept, key, w.digestReport(d.Name, st), bridge.PriorityLow, now)
		if err != nil {
			return err
		}
		if _, err := tx.Enqueue(ctx, it); err != nil {
			return err
		}
		queued = true
		return bridge.Audit(ctx, tx, bridge.AuditDigest, "system", dept, 0, map[string]any{
			"kind": "department", "from": from, "to": now, "new": st.New, "answered": st.Answered, "waiting": len(st.Unanswered), "breaches": st.Breaches,
		}, now)
	})
	if err != nil {
		return false, fmt.Errorf("digest %s: %w", key, err)
	}
	if queued {
		w.metrics.DigestQueued("department")
	}
	return queued, nil
}

// digestReport lays out a department digest, readable at a glance on a
// phone: the figures first, then what still waits.
func (w *Watcher) digestReport(deptName string, st DigestStats) bridge.Report {
	r := bridge.Report{
		Title:    fmt.Sprintf("%s — digest %s", deptName, st.To.In(w.loc).Format("15:04")),
		Subtitle: fmt.Sprintf("Since %s (%s)", w.fmtWhen(st.From, st.To), w.loc.String()),
	}
	med, p90 := "—", "—"
	if st.Answered > 0 {
		med, p90 = fmtDur(st.MedianFirstResponse), fmtDur(st.P90FirstResponse)
	}
	r.Sections = append(r.Sections, bridge.ReportSection{Fields: []bridge.ReportField{
		{Label: "New", Value: fmt.Sprint(st.New)},
		{Label: "Answered", Value: fmt.Sprint(st.Answered)},
		{Label: "Still unanswered", Value: fmt.Sprint(len(st.Unanswered))},
		{Label: "SLA breaches", Value: fmt.Sprint(st.Breaches)},
		{Label: "Median first response", Value: med},
		{Label: "p90 first response", Value: p90},
	}})
	waiting := bridge.ReportSection{Heading: "Still unanswered, oldest first"}
	for i, t := range st.Unanswered {
		if i == maxWaitingListed {
			waiting.Items = append(waiting.Items, bridge.ReportItem{Text: fmt.Sprintf("…and %d more", len(st.Unanswered)-maxWaitingListed)})
			break
		}
		it := bridge.ReportItem{Text: fmt.Sprintf("#%d — waiting %s (since %s)", t.ID, fmtDur(t.Age), w.fmtWhen(t.CreatedAt, st.To))}
		if t.SlackTS != "" {
			it.Ref = &bridge.ChatRef{Channel: t.SlackChannel, TS: t.SlackTS}
		}
		waiting.Items = append(waiting.Items, it)
	}
	if len(st.Unanswered) == 0 {
		waiting.Text = "Nothing waiting. :tada:"
	}
	r.Sections = append(r.Sections, waiting)
	if len(st.TopKeywords) > 0 {
		r.Sections = append(r.Sections, bridge.ReportSection{Heading: "Top keywords", Text: keywordLine(st.TopKeywords)})
	}
	if len(st.TagCounts) > 0 {
		tags := slices.Sorted(maps.Keys(st.TagCounts))
		var parts []string
		for _, t := range tags {
			parts = append(parts, fmt.Sprintf("%s %d", t, st.TagCounts[t]))
		}
		r.Sections = append(r.Sections, bridge.ReportSection{Heading: "By tag", Text: strings.Join(parts, " · ")})
	}
	return r
}

func keywordLine(ks []KeywordCount) string {
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = fmt.Sprintf("%s %d", k.Keyword, k.Count)
	}
	return strings.Join(parts, " · ")
}

// execStats computes the executive digest for [from, to) and picks the
// representative posts.
func (w *Watcher) execStats(ctx context.Context, tx Tx, from, to time.Time) ([]DeptSummary, []bridge.Post, error) {
	tickets, err := tx.TicketsActive(ctx, "", from, to)
	if err != nil {
		return nil, nil, err
	}
	in := ExecInput{PerDept: map[string][]bridge.Ticket{}, From: from, To: to, SLA: map[string]config.SLA{}, DefaultSLA: w.cfg.SLA,
		Calendar: w.cal, Breaches: map[string]int{}, Spikes: map[string]int{}}
	for _, d := range w.cfg.Departments {
		in.PerDept[d.ID] = nil
		in.SLA[d.ID] = w.slaOf(d.ID)
	}
	deptOfRoot := map[int64]string{}
	for _, t := range tickets {
		in.PerDept[t.Department] = append(in.PerDept[t.Department], t)
		if !t.CreatedAt.Before(from) && t.CreatedAt.Before(to) {
			deptOfRoot[t.RootPostID] = t.Department
		}
	}
	for kind, into := range map[string]map[string]int{bridge.OpsSLABreach: in.Breaches, bridge.OpsSpike: in.Spikes} {
		evs, err := tx.OpsEvents(ctx, bridge.OpsEventFilter{Kind: kind, From: from, To: to})
		if err != nil {
			return nil, nil, err
		}
		for _, e := range evs {
			into[e.Department]++
		}
	}
	posts, err := tx.RootPosts(ctx, "", from, to, 5000)
	if err != nil {
		return nil, nil, err
	}
	perDept := map[string][]bridge.Post{}
	for _, p := range posts {
		perDept[deptOfRoot[p.ID]] = append(perDept[deptOfRoot[p.ID]], p)
	}
	return ComputeExecDigest(in), RepresentativeByDept(perDept, 3), nil
}

// ExecDigest queues the executive digest for the run at now
// (watch.digest_time) in the watch channel: per department volume,
// answered share, median first response, SLA hit rate and spikes, and
// three representative raw posts. Queued once per slot; it reports
// whether this call queued it. Without a watch channel it does nothing.
func (w *Watcher) ExecDigest(ctx context.Context) (bool, error) {
	channel := w.cfg.Watch.Channel
	if channel == "" {
		return false, nil
	}
	now := w.clock.Now().UTC()
	slot := w.slot(now)
	key := "exec_digest:" + slot.Format("2006-01-02T15:04")
	queued := false
	err := w.store.WithTx(ctx, func(tx Tx) error {
		from, err := w.period(ctx, tx, bridge.OpsExecDigest, "", now)
		if err != nil {
			return err
		}
		sums, posts, err := w.execStats(ctx, tx, from, now)
		if err != nil {
			return err
		}
		ok, err := tx.RecordOpsEvent(ctx, &bridge.OpsEvent{Kind: bridge.OpsExecDigest, Key: key, At: now})
		if err != nil || !ok {
			return err
		}
		report := w.execReport(from, now, sums, posts)
		if report.Chart, err = w.weekChart(ctx, tx, now); err != nil {
			return err
		}
		it, err := bridge.ReportItemOf(channel, "", key, report, bridge.PriorityLow, now)
		if err != nil {
			return err
		}
		if _, err := tx.Enqueue(ctx, it); err != nil {
			return err
		}
		queued = true
		return bridge.Audit(ctx, tx, bridge.AuditDigest, "system", "", 0, map[string]any{"kind": "executive", "from": from, "to": now, "departments": len(sums)}, now)
	})
	if err != nil {
		return false, fmt.Errorf("executive digest %s: %w", key, err)
	}
	if queued {
		w.metrics.DigestQueued("executive")
	}
	return queued, nil
}

// execReport lays out the executive digest.
func (w *Watcher) execReport(from, to time.Time, sums []DeptSummary, posts []bridge.Post) bridge.Report {
	r := bridge.Report{
		Title:    "Customer care — daily watch " + to.In(w.loc).Format("Mon 2 Jan"),
		Subtitle: fmt.Sprintf("Since %s (%s). For reading: the departments answer customers.", w.fmtWhen(from, to), w.loc.String()),
	}
	var fields []bridge.ReportField
	total, spikes := 0, 0
	for _, s := range sums {
		total += s.Volume
		spikes += s.Spikes
		line := fmt.Sprintf("%d new · %.0f%% answered", s.Volume, 100*s.AnsweredShare)
		if s.FirstResponses > 0 {
			line += fmt.Sprintf("\nmedian first response %s · SLA %.0f%%", fmtDur(s.MedianFirstResponse), 100*s.SLAHitRate)
		} else {
			line += "\nno first responses"
		}
		if s.Breaches > 0 {
			line += fmt.Sprintf(" · %d breach", s.Breaches)
			if s.Breaches > 1 {
				line += "es"
			}
		}
		if s.Spikes > 0 {
			line += fmt.Sprintf(" · :chart_with_upwards_trend: %d spike", s.Spikes)
			if s.Spikes > 1 {
				line += "s"
			}
		}
		fields = append(fields, bridge.ReportField{Label: w.deptName(s.Department), Value: line})
	}
	summary := fmt.Sprintf("%d new conversations, %d spike alert", total, spikes)
	if spikes != 1 {
		summary += "s"
	}
	r.Sections = append(r.Sections, bridge.ReportSection{Text: summary + ".", Fields: fields})
	if len(posts) > 0 {
		r.Sections = append(r.Sections, bridge.ReportSection{Heading: "In the customers' own words (unfiltered)", Posts: posts})
	}
	return r
}
