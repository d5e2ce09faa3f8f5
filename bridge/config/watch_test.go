package config

import (
	"strings"
	"testing"
)

// The watching settings are checked strictly, each problem naming its key.
func TestWatchingSettings(t *testing.T) {
	src := strings.Replace(minimal, "    approvers: [U0MANAGER1]\n", "    approvers: [U0MANAGER1]\n    members: [kim]\n", 1)
	src += "\nspikes:\n  window: 10s\ntickets:\n  auto_close_after: 5m\nwatch:\n  mirror: true\noffice_hours:\n  greeting: \"" + strings.Repeat("x", 281) + "\"\n"
	_, errs := parse(t, src, LevelRouting, nil)
	want := []string{
		`departments[0].members[0]: "kim" is neither a Slack user ID (U…/W…) nor a user group ID (S…)`,
		`spikes.window: 10s must be between 1m and 24h`,
		`tickets.auto_close_after: 5m0s is too short: at least 1h`,
		`office_hours.greeting: is 281 characters; an X post holds 280`,
		`watch.mirror: needs watch.channel`,
	}
	all := ""
	for _, e := range errs {
		all += e.String() + "\n"
	}
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("problems lack %q:\n%s", w, all)
		}
	}
}
