package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	slackad "github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/adapters/x"
	"github.com/carebridge/carebridge/bridge"
)

// spike brings ten posts about an outage within a minute, the same on
// every chat surface, and runs the spike check on them.
func (d *demo) spike(ctx context.Context, a *app) error {
	d.section("A traffic bomb: a spike alert in the team's channel and the watch channel")
	now := time.Now()
	var burst []bridge.Post
	for i := 0; i < 10; i++ {
		id := fmt.Sprintf("%d", 9100000+i)
		burst = append(burst, bridge.Post{Platform: x.Platform, ExternalID: id, Source: bridge.SourceSearch, AuthorID: "9" + id,
			AuthorHandle: fmt.Sprintf("user%d", i), AuthorName: fmt.Sprintf("User %d", i), CreatedAt: now,
			Text:            []string{"Total outage in Osaka, no service since 10:00", "no signal at all, is there an outage?", "圏外のまま。通信障害？"}[i%3] + fmt.Sprintf(" #%d", i),
			URL:             fmt.Sprintf("https://x.com/user%d/status/%s", i, id),
			ConversationKey: id, Eligibility: bridge.EligibleDMOnly, Lang: "en"})
	}
	if _, err := a.service.Ingest(ctx, bridge.Batch{Posts: burst}); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  10 posts about an outage arrive within a minute (spikes.min_posts is lowered to %d for the demo).\n", d.cfg.Spikes.MinPosts)
	spikes, err := a.watcher.CheckSpikes(ctx)
	if err != nil {
		return err
	}
	if len(spikes) == 0 {
		return fmt.Errorf("demo: no spike detected")
	}
	return nil
}

// watching shows a spike alert, a department digest and the executive
// digest, as Slack receives them.
func (d *demo) watching(ctx context.Context, a *app) error {
	if err := d.spike(ctx, a); err != nil {
		return err
	}
	watchCh := demoChannelID(d.cfg.Watch.Channel)
	if err := d.printReport(ctx, watchCh, "Spike:"); err != nil {
		return err
	}

	d.section("The network team's digest (due at 12:00 and 18:00; here, now)")
	if _, err := a.watcher.Digest(ctx, "network"); err != nil {
		return err
	}
	if err := d.printReport(ctx, demoChannelID("#care-network"), "digest"); err != nil {
		return err
	}

	d.section("The executive digest in the watch channel (daily; here, now), with the week as a chart")
	if err := d.seedWeek(ctx, a.store); err != nil {
		return fmt.Errorf("demo: a week of history: %w", err)
	}
	fmt.Fprintln(d.out, "  (six earlier days of conversations are written to the database first, so that the chart has a week to show)")
	if _, err := a.watcher.ExecDigest(ctx); err != nil {
		return err
	}
	if err := d.printReport(ctx, watchCh, "daily watch"); err != nil {
		return err
	}
	return d.saveChart(ctx, watchCh)
}

// printReport waits for a bot message in channel whose header contains
// title and prints it as text.
func (d *demo) printReport(ctx context.Context, channel, title string) error {
	var text string
	err := d.waitFor(ctx, 20*time.Second, "the "+title+" message in Slack", func() bool {
		msgs := d.slack.Messages(channel)
		for i := len(msgs) - 1; i >= 0; i-- {
			if t := demoReportText(msgs[i].Blocks); msgs[i].FromBot() && strings.Contains(firstLine(t), title) {
				text = t
				return true
			}
		}
		return false
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  %s:\n", d.channelName(channel))
	for _, line := range strings.Split(text, "\n") {
		fmt.Fprintf(d.out, "  │ %s\n", line)
	}
	return nil
}

func (d *demo) channelName(id string) string {
	for _, ch := range append([]string{d.cfg.Watch.Channel}, deptChannels(d)...) {
		if demoChannelID(ch) == id {
			return ch
		}
	}
	return id
}

func deptChannels(d *demo) []string {
	var out []string
	for _, dep := range d.cfg.Departments {
		out = append(out, dep.Channel)
	}
	return out
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// demoReportText renders Block Kit headers, context lines, sections and
// their fields as plain lines.
func demoReportText(raw json.RawMessage) string {
	type text struct {
		Text string `json:"text"`
	}
	var blocks []struct {
		Type     string `json:"type"`
		Text     *text  `json:"text"`
		Fields   []text `json:"fields"`
		Elements []text `json:"elements"`
	}
	_ = json.Unmarshal(raw, &blocks)
	if len(blocks) == 0 || blocks[0].Type != "header" {
		return ""
	}
	var lines []string
	for _, b := range blocks {
		switch b.Type {
		case "header":
			lines = append(lines, "▌ "+b.Text.Text)
		case "context":
			for _, e := range b.Elements {
				lines = append(lines, "("+slackad.Unescape(e.Text)+")")
			}
		case "section":
			if b.Text != nil && b.Text.Text != "" {
				lines = append(lines, slackad.Unescape(b.Text.Text))
			}
			var fs []string
			for _, f := range b.Fields {
				fs = append(fs, strings.ReplaceAll(slackad.Unescape(f.Text), "\n", ": "))
			}
			for i := 0; i < len(fs); i += 2 {
				lines = append(lines, strings.Join(fs[i:min(i+2, len(fs))], "    "))
			}
		}
	}
	return strings.Join(lines, "\n")
}
