package main

import (
	"github.com/carebridge/carebridge/adapters/teams"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
)

// registerTeams registers Microsoft Teams as the chat surface (chat:
// teams), replacing what registerPlatforms set for Slack. Teams reports
// reactions and button clicks only on the bot's own messages, so every
// draft is decided on a card of its own (Options.DraftCards): its Approve
// button and the configured reaction (like) approve, Send as DM and
// Reject are buttons. The card shows where a draft stands, so the bot
// puts no marks on staff messages. Approvers, members and watchers are
// AAD object ids, or AAD groups and Teams tags that the surface's actions
// resolve through Microsoft Graph (teamsActions, a GroupDirectory).
func registerTeams(opt *bridge.Options, cfg *config.Config) {
	t := cfg.Teams
	opt.DraftCards = true
	opt.Gestures = bridge.Gestures{Approve: t.ApproveReaction, ApproveDM: teams.ActionApproveDM, Reject: teams.ActionReject, Close: t.CloseReaction}
	opt.Marks = teams.DraftMarks
	opt.Watchers = t.Watchers
	opt.ChatPacing = bridge.Pacing{PerSecond: t.Pacing.PerSecond, Burst: t.Pacing.Burst, Disabled: t.Pacing.Disabled}
}
