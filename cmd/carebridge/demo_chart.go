package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/carebridge/carebridge/adapters/x"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// demoChartFile is the executive chart's file name in the demo's directory.
const demoChartFile = "executive-week.png"

// seedWeek writes six days of past conversations into the demo's store,
// so that the executive digest's chart has a week to show: per department
// a daily volume with some noise, most answered within the hour, the rest
// closed unanswered (so that no SLA alert fires for them now), and a spike
// on the network team three days ago. They were never mirrored: they are
// history, as a service running for a week would have it.
func (d *demo) seedWeek(ctx context.Context, st *store.Store) error {
	runner, err := store.Runner[*store.Tx](st)
	if err != nil {
		return err
	}
	loc := d.cfg.Location
	if loc == nil {
		loc = time.UTC
	}
	now := time.Now().In(loc)
	y, m, day := now.Date()
	rng := rand.New(rand.NewPCG(17, 2026))
	keyword := map[string]string{}
	for _, r := range d.cfg.Routes {
		if _, ok := keyword[r.Department]; !ok && len(r.Keywords) > 0 {
			keyword[r.Department] = r.Keywords[0]
		}
	}
	return runner.WithTx(ctx, func(tx *store.Tx) error {
		seq := 0
		for back := 6; back >= 1; back-- {
			start := time.Date(y, m, day-back, 0, 0, 0, 0, loc)
			for i, dep := range d.cfg.Departments {
				n := max(2, 18-4*i) + rng.IntN(6)
				spike := dep.ID == "network" && back == 3
				if spike {
					n += 30
					if _, err := tx.RecordOpsEvent(ctx, &bridge.OpsEvent{Kind: bridge.OpsSpike, Key: "demo:spike:" + start.Format("2006-01-02"),
						Department: dep.ID, At: start.Add(14 * time.Hour).UTC()}); err != nil {
						return err
					}
				}
				for range n {
					seq++
					at := start.Add(8*time.Hour + time.Duration(rng.IntN(12*60))*time.Minute)
					if spike && rng.IntN(3) > 0 {
						at = start.Add(14*time.Hour + time.Duration(rng.IntN(45))*time.Minute)
					}
					id := fmt.Sprintf("demo-history-%d", seq)
					p := &bridge.Post{Platform: x.Platform, ExternalID: id, Source: bridge.SourceSearch, AuthorID: "h" + id,
						AuthorHandle: fmt.Sprintf("customer%d", seq), Text: keyword[dep.ID], CreatedAt: at.UTC(), ConversationKey: id,
						Eligibility: bridge.EligiblePublic}
					if _, err := tx.InsertPosts(ctx, []*bridge.Post{p}); err != nil {
						return err
					}
					t := &bridge.Ticket{Platform: x.Platform, ConversationKey: id, Department: dep.ID, RootPostID: p.ID,
						Matched: []string{keyword[dep.ID]}, CreatedAt: at.UTC(), UpdatedAt: at.UTC(), LastCustomerAt: at.UTC()}
					// Slower answers on the day of the spike.
					wait := time.Duration(5+rng.IntN(55)) * time.Minute
					if spike {
						wait *= 3
					}
					switch answered := rng.IntN(10) < 8; {
					case answered:
						t.State, t.FirstResponseAt, t.AnsweredAt = bridge.TicketAnswered, at.Add(wait).UTC(), at.Add(wait).UTC()
					default:
						t.State, t.ClosedAt = bridge.TicketClosed, at.Add(6*time.Hour).UTC()
					}
					if err := tx.CreateTickets(ctx, []*bridge.Ticket{t}); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

// saveChart writes the executive chart the fake Slack received next to
// the demo's database and prints where.
func (d *demo) saveChart(ctx context.Context, channel string) error {
	var content []byte
	err := d.waitFor(ctx, 20*time.Second, "the executive chart in Slack", func() bool {
		for _, f := range d.slack.Files(channel) {
			content = f.Content
		}
		return content != nil
	})
	if err != nil {
		return err
	}
	path := filepath.Join(d.dir, demoChartFile)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		return err
	}
	d.chart = path
	fmt.Fprintf(d.out, "  %s: the week as a picture, uploaded with the digest (%d KB):\n  │ %s\n", d.channelName(channel), len(content)/1024, path)
	return nil
}

// keepChartOnly removes the demo's directory but for the chart, which the
// person who ran the demo may still want to open.
func keepChartOnly(out io.Writer, dir, chart string) {
	if chart == "" {
		os.RemoveAll(dir)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if p := filepath.Join(dir, e.Name()); p != chart {
			os.RemoveAll(p)
		}
	}
	fmt.Fprintf(out, "\nThe executive chart stays at %s (the rest of the demo's data was removed; -keep keeps it all).\n", chart)
}
