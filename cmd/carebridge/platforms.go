package main

import (
	"github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/adapters/x"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
)

// This file is the one place where networks and the chat surface register
// with the core. The core (bridge/) knows no platform: it is given each
// network's rules and adapters, our accounts there, the chat surface's
// gestures, watchers and pacing. Adding a network or a chat surface means
// adding its adapter and registering it here (docs/ARCHITECTURE.md has the
// checklists).

// xParts are X's adapters the core uses.
type xParts struct {
	replier *x.Replier
	fetcher bridge.PostFetcher
}

// registerPlatforms fills in opt everything platform- and surface-specific.
func registerPlatforms(opt *bridge.Options, cfg *config.Config, xp xParts) {
	// X.
	opt.Networks = append(opt.Networks, x.Network{Enterprise: cfg.X.Enterprise})
	opt.Repliers = map[bridge.Platform]bridge.Replier{x.Platform: xp.replier}
	opt.Posters = map[bridge.Platform]bridge.Poster{x.Platform: xp.replier}
	opt.Fetchers = map[bridge.Platform]bridge.PostFetcher{x.Platform: xp.fetcher}
	opt.Accounts = map[bridge.Platform][]string{}
	for _, a := range cfg.X.Accounts {
		opt.Accounts[x.Platform] = append(opt.Accounts[x.Platform], a.Handle)
	}

	registerFeed(opt, cfg) // blogs and forums (platforms_feed.go)
	// Slack: approvers' gestures are emoji names, watchers and approvers
	// Slack user (U…) and user group (S…) ids, posts paced per channel.
	a := cfg.Approvals
	opt.Marks = slack.DraftMarks
	opt.Gestures = bridge.Gestures{Approve: a.ApproveEmoji, ApproveDM: a.ApproveDMEmoji, Reject: a.RejectEmoji, Close: a.CloseEmoji}
	opt.Watchers = cfg.Slack.Watchers
	p := cfg.Slack.Pacing
	opt.ChatPacing = bridge.Pacing{PerSecond: p.PerSecond, Burst: p.Burst, Disabled: p.Disabled}
}
