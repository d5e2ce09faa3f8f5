package watch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// Spike is one department's volume against its baseline.
type Spike struct {
	Department string
	Current    int     // tickets opened in the window ending now
	Baseline   float64 // median of the same window over the previous days
	Alerted    bool    // an alert was queued by this check
}

// CheckSpikes compares each department's new tickets in the sliding
// window (spikes.window) ending now with the median of the same window on
// each of the previous seven days, and alerts when the volume is at least
// spikes.factor times that baseline and at least spikes.min_posts. The
// alert — the top keywords of the spike and links to sample posts — goes
// to the department's channel and the watch channel, at most once per
// spikes.cooldown per department, and is audited. It returns the
// departments in spike.
func (w *Watcher) CheckSpikes(ctx context.Context) ([]Spike, error) {
	now := w.clock.Now().UTC()
	sp := w.cfg.Spikes
	width := sp.Window.D()
	windows := BaselineWindows(now, width, w.days, w.loc)
	var current map[string]int
	past := make([]map[string]int, len(windows))
	err := w.store.WithTx(ctx, func(tx Tx) error {
		var err error
		// The window includes now: a check started by ingest runs at the
		// instant of the batch that crossed the threshold.
		if current, err = tx.CountTicketsByDepartment(ctx, now.Add(-width), now.Add(time.Microsecond)); err != nil {
			return err
		}
		for i, win := range windows {
			if past[i], err = tx.CountTicketsByDepartment(ctx, win.From, win.To); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("spike check: %w", err)
	}
	var out []Spike
	for _, d := range w.cfg.Departments {
		counts := make([]int, len(past))
		for i := range past {
			counts[i] = past[i][d.ID]
		}
		spike, base := DetectSpike(counts, current[d.ID], sp.Factor, sp.MinPosts)
		if !spike {
			continue
		}
		s := Spike{Department: d.ID, Current: current[d.ID], Baseline: base}
		if s.Alerted, err = w.spikeAlert(ctx, s, now); err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

// spikeAlert queues one spike alert unless one went out within the
// cooldown.
func (w *Watcher) spikeAlert(ctx context.Context, s Spike, now time.Time) (bool, error) {
	d := w.cfg.Department(s.Department)
	width := w.cfg.Spikes.Window.D()
	key := "spike:" + d.ID + ":" + w.slot(now).Format("2006-01-02T15:04")
	queued := false
	err := w.store.WithTx(ctx, func(tx Tx) error {
		last, err := tx.LastOpsEvent(ctx, bridge.OpsSpike, d.ID, now.Add(time.Nanosecond))
		switch {
		case err == nil:
			if !ShouldAlert(last.At, w.cfg.Spikes.Cooldown.D(), now) {
				return nil
			}
		case !errors.Is(err, bridge.ErrNotFound):
			return err
		}
		tickets, err := tx.ListTickets(ctx, bridge.TicketFilter{Department: d.ID, CreatedFrom: now.Add(-width), CreatedTo: now})
		if err != nil {
			return err
		}
		posts, err := tx.RootPosts(ctx, d.ID, now.Add(-width), now, 2000)
		if err != nil {
			return err
		}
		top := TopKeywords(tickets, 5)
		ok, err := tx.RecordOpsEvent(ctx, &bridge.OpsEvent{Kind: bridge.OpsSpike, Key: key, Department: d.ID, At: now})
		if err != nil || !ok {
			return err
		}
		r := w.spikeReport(d.Name, s, width, top, Representative(posts, 3), now)
		for _, dest := range []struct{ channel, suffix string }{{d.Channel, ":dept"}, {w.cfg.Watch.Channel, ":watch"}} {
			if dest.channel == "" {
				continue
			}
			it, err := bridge.ReportItemOf(dest.channel, d.ID, key+dest.suffix, r, bridge.PriorityAlert, now)
			if err != nil {
				return err
			}
			if _, err := tx.Enqueue(ctx, it); err != nil {
				return err
			}
		}
		queued = true
		kws := make([]string, len(top))
		for i, k := range top {
			kws[i] = k.Keyword
		}
		return bridge.Audit(ctx, tx, bridge.AuditSpike, "system", d.ID, 0, map[string]any{
			"window": width.String(), "current": s.Current, "baseline": s.Baseline, "factor": w.cfg.Spikes.Factor, "keywords": kws,
		}, now)
	})
	if err != nil {
		return false, fmt.Errorf("spike alert %s: %w", key, err)
	}
	if queued {
		w.metrics.SpikeAlert(d.ID)
	}
	return queued, nil
}

// spikeReport lays out a spike alert.
func (w *Watcher) spikeReport(deptName string, s Spike, width time.Duration, top []KeywordCount, samples []bridge.Post, now time.Time) bridge.Report {
	ratio := "from nothing"
	if s.Baseline > 0 {
		ratio = fmt.Sprintf("%.1f× the usual %s", float64(s.Current)/s.Baseline, trimFloat(s.Baseline))
	}
	r := bridge.Report{
		Title:    fmt.Sprintf("Spike: %s — %d new conversations in %s", deptName, s.Current, fmtDur(width)),
		Subtitle: fmt.Sprintf("%s (median of the same %s on the previous %d days) · %s", ratio, fmtDur(width), w.days, now.In(w.loc).Format("Mon 15:04")),
	}
	if len(top) > 0 {
		r.Sections = append(r.Sections, bridge.ReportSection{Heading: "Top keywords", Text: keywordLine(top)})
	}
	if len(samples) > 0 {
		var items []bridge.ReportItem
		for _, p := range samples {
			label := "@" + p.AuthorHandle
			if p.AuthorHandle == "" {
				label = p.AuthorName
			}
			items = append(items, bridge.ReportItem{Text: label + ": " + clip(p.Text, 80), URL: p.URL})
		}
		r.Sections = append(r.Sections, bridge.ReportSection{Heading: "Sample posts", Items: items})
	}
	return r
}

func trimFloat(f float64) string {
	if f == float64(int(f)) {
		return fmt.Sprint(int(f))
	}
	return fmt.Sprintf("%.1f", f)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
