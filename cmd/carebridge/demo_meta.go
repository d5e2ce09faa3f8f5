package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/carebridge/carebridge/adapters/meta/metafake"
	slackad "github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
)

// metaDemo is the demo's Facebook Page and Instagram account, on the
// fake Meta.
type metaDemo struct {
	fake *metafake.Server
}

const (
	demoPageID = "104857600"
	demoIGID   = "17841400000"
)

// newMetaDemo starts the fake Meta and configures one Page with its
// linked Instagram account.
func newMetaDemo(cfg *config.Config) *metaDemo {
	fake := metafake.New(bridge.SystemClock{}, config.DefaultGraphAPIVersion)
	fake.AddPage(metafake.Page{ID: demoPageID, Name: "softbankcare", Token: "demo-page-token", AppSecret: "demo-app-secret", VerifyToken: "demo-verify", InstagramID: demoIGID})
	cfg.Meta = config.Meta{GraphAPIBaseURL: fake.URL(), GraphAPIVersion: config.DefaultGraphAPIVersion, Pages: []config.MetaPage{{
		Name: "softbankcare", PageID: demoPageID, PageToken: config.NewSecret("demo-page-token"), AppSecret: config.NewSecret("demo-app-secret"),
		VerifyToken: config.NewSecret("demo-verify"), InstagramID: demoIGID}}}
	return &metaDemo{fake: fake}
}

// metaStep shows a Facebook comment and an Instagram comment landing in
// the network team's channel, one answered publicly, one by private
// reply.
func (d *demo) metaStep(ctx context.Context, addr string) error {
	fake := d.meta.fake
	defer fake.Close()
	fake.SetWebhook("http://" + addr + "/meta/webhook")
	d.section("Facebook and Instagram: comments arrive by webhook, answered publicly or by private reply")
	fb := fake.AddComment(metafake.Comment{PageID: demoPageID, PostID: demoPageID + "_2001", FromID: "6029", FromName: "Tom Baker",
		Text: "Weak signal in my flat in Shibuya since yesterday, calls keep failing."})
	ig := fake.AddComment(metafake.Comment{PageID: demoPageID, Instagram: true, PostID: "18020", FromID: "5511", FromName: "yuki.travels",
		Text: "Reception in Ebisu station is terrible today 😩"})
	if code, err := fake.Deliver(ctx, fake.CommentUpdate(fb, "add"), fake.CommentUpdate(ig, "add")); err != nil || code != 200 {
		return fmt.Errorf("demo: the signed webhook delivery was refused: %d %v", code, err)
	}
	fmt.Fprintf(d.out, "  Facebook  Tom Baker     %s\n  Instagram @yuki.travels %s\n", oneLine(fb.Text, 70), oneLine(ig.Text, 70))
	network := demoChannelID("#care-network")
	var fbTS, igTS string
	if err := d.waitFor(ctx, 15*time.Second, "both comments in Slack", func() bool {
		fbTS, igTS = d.metaMirror(network, "Weak signal in my flat"), d.metaMirror(network, "Reception in Ebisu")
		return fbTS != "" && igTS != ""
	}); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  #care-network ← both, each saying up front: %q\n", d.metaAnswerLine(network, fbTS))

	answer := "Sorry Tom! We've sent an engineer to check the Shibuya cell; it should be fixed tonight."
	if err := d.metaApproved(ctx, network, fbTS, answer); err != nil {
		return err
	}
	if err := d.waitFor(ctx, 15*time.Second, "the Facebook reply", func() bool { return d.threadHas(network, fbTS, "Sent publicly") }); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Facebook: softbankcare replied under Tom's comment: %q\n", fake.Replies()[0].Text)

	private := "dm: Yuki, could you send us the time it happened? We'll check the station's antenna."
	if err := d.metaApproved(ctx, network, igTS, private); err != nil {
		return err
	}
	if err := d.waitFor(ctx, 15*time.Second, "the private reply", func() bool { return d.threadHas(network, igTS, "Sent by DM") }); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Instagram: private reply to @yuki.travels (once per comment, within 7 days): %q\n", fake.Sent()[0].Text)
	fmt.Fprintf(d.out, "  Slack thread: %s\n", d.threadLine(network, igTS, "Sent by DM"))
	return nil
}

// metaApproved writes an answer as Aiko and has Ken approve it.
func (d *demo) metaApproved(ctx context.Context, channel, thread, text string) error {
	ts, err := d.slack.UserPosts(channel, demoStaff, thread, text)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Aiko (thread reply): %s\n", text)
	if err := d.waitFor(ctx, 15*time.Second, "the draft", func() bool { return hasReaction(d.slack.Reactions(channel, ts), slackad.DraftMarks.Pending) }); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Ken reacts :%s:\n", d.cfg.Approvals.ApproveEmoji)
	return d.slack.UserReacts(channel, ts, demoManager, d.cfg.Approvals.ApproveEmoji)
}

// metaMirror finds the parent message showing text.
func (d *demo) metaMirror(channel, text string) string {
	for _, msg := range d.slack.Messages(channel) {
		if msg.FromBot() && msg.ThreadTS == "" && strings.Contains(slackad.Unescape(string(msg.Blocks)), text) {
			return msg.TS
		}
	}
	return ""
}

// metaAnswerLine is the mirrored item's line saying how it can be
// answered.
func (d *demo) metaAnswerLine(channel, ts string) string {
	for _, msg := range d.slack.Messages(channel) {
		if msg.TS == ts {
			b := string(msg.Blocks)
			if i := strings.Index(b, "Public reply"); i >= 0 {
				if j := strings.Index(b[i:], `"`); j > 0 {
					return b[i : i+j]
				}
			}
		}
	}
	return ""
}
