package slack

import (
	"strings"

	"github.com/carebridge/carebridge/bridge"
)

// The Publisher has every optional chat capability the core knows.
var (
	_ bridge.MessageFinder  = (*Publisher)(nil)
	_ bridge.EphemeralNotes = (*Publisher)(nil)
	_ bridge.GroupDirectory = (*Publisher)(nil)
)

// DraftMarks are the reactions the bot puts on drafts in Slack.
var DraftMarks = bridge.DraftMarks{
	Pending: "hourglass_flowing_sand",
	Sent:    "white_check_mark",
	Blocked: "no_entry_sign",
	Failed:  "warning",
}

// IsGroup implements bridge.GroupDirectory: Slack user group ids start
// with S (people's with U or W).
func (p *Publisher) IsGroup(id string) bool { return strings.HasPrefix(id, "S") }
