package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	slackad "github.com/carebridge/carebridge/adapters/slack"

	"github.com/carebridge/carebridge/adapters/feed/feedfake"
	"github.com/carebridge/carebridge/bridge/config"
)

// The demo's community forum: a fake site whose RSS feed carebridge
// reads like any other (conditional GET, its own politeness rules).
const (
	demoForumPath  = "/c/help/latest.rss"
	demoForumTitle = "Home router drops Wi-Fi every evening since the update"
)

// demoFeeds starts the fake forum and subscribes the demo's configuration
// to its feed. The fake stops with the demo's context.
func demoFeeds(ctx context.Context, cfg *config.Config) string {
	forum := feedfake.New(nil)
	go func() { <-ctx.Done(); forum.Close() }()
	forum.Publish(forum.Addr(), demoForumPath, feedfake.Feed{Format: feedfake.RSS, Title: "SB Community — Help", Items: []feedfake.Item{{
		GUID: "community-topic-4711", Link: "https://community.example.com/t/4711", Title: demoForumTitle, Author: "mika_t",
		HTML: "<p>Since last week's firmware update my <b>router</b> drops Wi-Fi every evening around 19:00. " +
			"Restarting helps for an hour. Anyone else? See <a href=\"/t/4690\">this older thread</a>.</p>",
		Published: time.Now().Add(-20 * time.Minute),
	}}})
	url := "http://" + forum.Addr() + demoForumPath
	cfg.Feeds.Subscriptions = append(cfg.Feeds.Subscriptions, config.Feed{URL: url, Name: "community-help", Interval: config.Duration(30 * time.Minute)})
	return url
}

// feedStep shows the forum post mirrored to its department, as an
// article, and a staff reply to it told to answer on the site.
func (d *demo) feedStep(ctx context.Context) error {
	d.section("A forum post (RSS feed) lands in its department: listen only")
	fmt.Fprintf(d.out, "  carebridge reads %s\n", d.feedURL)
	wifi := demoChannelID("#care-wifi")
	var ts, body string
	if err := d.waitFor(ctx, 15*time.Second, "the forum post in #care-wifi", func() bool {
		for _, msg := range d.slack.Messages(wifi) {
			if b := demoBlockText(msg.Blocks); msg.FromBot() && msg.ThreadTS == "" && strings.Contains(b, demoForumTitle) {
				ts, body = msg.TS, b
				return true
			}
		}
		return false
	}); err != nil {
		return err
	}
	lines := strings.Split(demoPlain(body), "\n")
	fmt.Fprintf(d.out, "  #care-wifi    ← %s\n", oneLine(lines[0], 100))
	for _, l := range lines[1:] {
		fmt.Fprintf(d.out, "                  %s\n", oneLine(l, 100))
	}
	reply := "Thanks, we are looking into the firmware."
	if _, err := d.slack.UserPosts(wifi, demoStaff, ts, reply); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Aiko (thread reply): %s\n", reply)
	if err := d.waitFor(ctx, 15*time.Second, "the answer-on-the-site note", func() bool { return d.threadHas(wifi, ts, "can't answer there") }); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "  carebridge: it came from a forum feed, so carebridge can't answer there — answer on the site, then note: it.")
	fmt.Fprintln(d.out, "  (the next check asks with If-None-Match / If-Modified-Since in 30 minutes: a 304 costs the forum nothing)")
	return nil
}

// demoBlockText joins the texts of a message's sections and context
// elements.
func demoBlockText(raw json.RawMessage) string {
	var blocks []struct {
		Text struct {
			Text string `json:"text"`
		} `json:"text"`
		Elements []struct {
			Text string `json:"text"`
		} `json:"elements"`
	}
	_ = json.Unmarshal(raw, &blocks)
	var parts []string
	for _, b := range blocks {
		if b.Text.Text != "" {
			parts = append(parts, b.Text.Text)
		}
		for _, e := range b.Elements {
			parts = append(parts, e.Text)
		}
	}
	return strings.Join(parts, "\n")
}

var demoLink = regexp.MustCompile(`<(https?://[^|>]+)\|([^>]+)>`)

// demoPlain shows Slack markup as a terminal reads best: links as
// "label (URL)" (just the URL where the label says "view the post"), no
// bold stars, entities unescaped.
func demoPlain(s string) string {
	s = demoLink.ReplaceAllStringFunc(s, func(m string) string {
		p := demoLink.FindStringSubmatch(m)
		if strings.HasPrefix(p[2], "view the") {
			return p[1]
		}
		return p[2] + " (" + p[1] + ")"
	})
	return slackad.Unescape(strings.ReplaceAll(s, "*", ""))
}
