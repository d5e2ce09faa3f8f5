package main

import (
	"fmt"
	"io"

	"github.com/carebridge/carebridge/bridge/config"
)

// checkTeams adds the Teams surface to `carebridge check`'s summary, and
// what the configuration cannot show: the RSC permission the app needs.
func checkTeams(w io.Writer, cfg *config.Config) {
	t := cfg.Teams
	fmt.Fprintf(w, "  Teams: messaging endpoint POST %s; approve with the card's buttons or the %q reaction\n", t.Endpoint, t.ApproveReaction)
	if t.Watch.Channel != "" {
		fmt.Fprintf(w, "  Teams: watch channel %s, %d watcher%s\n", t.Watch.Channel, len(t.Watchers), plural(len(t.Watchers)))
	}
	fmt.Fprintf(w, "  Note: %s.\n", config.TeamsRSCNote)
}
