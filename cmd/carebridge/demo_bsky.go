package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/carebridge/carebridge/adapters/bsky"
	"github.com/carebridge/carebridge/adapters/bsky/bskyfake"
	slackad "github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/bridge/config"
)

// demoBsky is the demo's fake Bluesky: a PDS and one Jetstream instance.
type demoBsky struct {
	fake *bskyfake.Server
	js   *bskyfake.Jetstream
	kim  string // the customer's DID
}

const demoBskyAccount = "sbcare.bsky.social"

// setupBluesky starts the fake Bluesky and gives the demo's configuration
// a Bluesky account on it.
func (d *demo) setupBluesky(cfg *config.Config) {
	f := bskyfake.New()
	b := &demoBsky{fake: f, js: f.NewJetstream()}
	f.AddAccount(demoBskyAccount, "demo-app-password", "SoftBank Care")
	b.kim = f.AddAccount("kim.bsky.social", "-", "Kim")
	cfg.Bluesky = config.Bluesky{
		PDSURL:                f.URL(),
		NotificationsInterval: config.Duration(5 * time.Second),
		Jetstream:             config.Jetstream{Instances: []string{b.js.URL()}, Silence: config.Duration(30 * time.Second), Rewind: config.Duration(5 * time.Second)},
		Accounts:              []config.BlueskyAccount{{Handle: demoBskyAccount, AppPassword: config.NewSecret("demo-app-password")}},
	}
	d.bsky = b
}

func (d *demo) closeBluesky() {
	if d.bsky != nil {
		d.bsky.fake.Close()
	}
}

// bluesky shows a keyword post on Bluesky answered with a reply.
func (d *demo) bluesky(ctx context.Context) error {
	b := d.bsky
	d.section("Bluesky: a keyword post on the open network, answered with a reply")
	if err := d.waitFor(ctx, 15*time.Second, "the Jetstream connection", func() bool { return b.js.Connections() > 0 }); err != nil {
		return err
	}
	const text = "no signal at Shibuya station since this morning 😢"
	uri := b.fake.AddPost(b.kim, text, bskyfake.PostOptions{Langs: []string{"en"}})
	fmt.Fprintf(d.out, "  @kim.bsky.social (Bluesky) %s\n", text)
	_, _, rkey, _ := bsky.ParseURI(uri)
	network := demoChannelID("#care-network")
	var thread string
	if err := d.waitFor(ctx, 15*time.Second, "the Bluesky post in Slack", func() bool {
		for _, m := range d.slack.Messages(network) {
			if m.FromBot() && m.ThreadTS == "" && strings.Contains(string(m.Blocks), "/post/"+rkey) {
				thread = m.TS
				return true
			}
		}
		return false
	}); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "  #care-network  ← matched on the Jetstream firehose by the same keywords (no mention of us needed)")
	answer := "Sorry @kim.bsky.social! Engineers are on it; service should be back by 15:00."
	ts, err := d.slack.UserPosts(network, demoStaff, thread, answer)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Aiko (thread reply): %s\n", answer)
	if err := d.waitFor(ctx, 15*time.Second, "the ⏳ on the Bluesky draft", func() bool { return hasReaction(d.slack.Reactions(network, ts), slackad.DraftMarks.Pending) }); err != nil {
		return err
	}
	if err := d.slack.UserReacts(network, ts, demoManager, d.cfg.Approvals.ApproveEmoji); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Ken reacts :%s:\n", d.cfg.Approvals.ApproveEmoji)
	if err := d.waitFor(ctx, 15*time.Second, "the reply on Bluesky", func() bool { return len(b.fake.RepliesTo(uri)) > 0 }); err != nil {
		return err
	}
	reply := b.fake.RepliesTo(uri)[0]
	fmt.Fprintf(d.out, "  Bluesky: @%s replied to @kim.bsky.social (record key %s chosen before the call; @kim is a mention facet): %q\n", demoBskyAccount, reply.RKey, reply.Text)
	if err := d.waitFor(ctx, 15*time.Second, "the confirmation in the thread", func() bool { return d.threadHas(network, thread, "Sent publicly") }); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Slack thread: %s\n", d.threadLine(network, thread, "Sent publicly"))
	return nil
}
