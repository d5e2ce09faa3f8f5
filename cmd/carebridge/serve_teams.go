package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/carebridge/carebridge/adapters/teams"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
)

// newTeamsSurface builds the Microsoft Teams surface (chat: teams): a Bot
// Connector client with the bot's client-credentials token, the Publisher
// that opens a thread per ticket and posts and updates draft cards, and
// the messaging endpoint (teams.endpoint) that validates each activity's
// token and hands it to the core's inbox.
func newTeamsSurface(ctx context.Context, cfg *config.Config, log *slog.Logger, opt appOptions) (*chatSurface, error) {
	t := cfg.Teams
	var clock bridge.Clock = bridge.SystemClock{}
	if opt.Clock != nil {
		clock = opt.Clock
	}
	// One connection per outbox worker, as for Slack.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(cfg.Outbox.Workers, 2)
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	client, err := teams.NewClient(teams.ClientConfig{
		AppID: t.AppID, TenantID: t.TenantID, ClientSecret: t.ClientSecret.Reveal(),
		ServiceURL: t.ServiceURL, TokenURL: t.TeamsTokenURL(), HTTPClient: hc, Clock: clock, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	// Each channel's team, for links to messages; the escalation tags'
	// names, for tag mentions.
	publisher := teams.NewPublisher(client, teams.PublisherConfig{TeamGroupIDs: cfg.TeamsGroups(), Tags: cfg.TeamsTags(), Location: cfg.Location})
	// group: and tag: references among approvers, members and watchers
	// are resolved through Microsoft Graph, with a token of its own.
	graph, err := teams.NewGraph(teams.GraphConfig{
		AppID: t.AppID, TenantID: t.TenantID, ClientSecret: t.ClientSecret.Reveal(),
		TokenURL: t.TeamsTokenURL(), BaseURL: t.GraphURL, HTTPClient: hc, Clock: clock, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	log.Info("teams surface", "app_id", t.AppID, "tenant", t.TenantID, "endpoint", t.Endpoint, "note", config.TeamsRSCNote)
	return &chatSurface{
		publisher: publisher,
		actions:   teamsActions{publisher, graph},
		botUserID: "28:" + t.AppID,
		receive: func(inbox bridge.ChatEventHandler) (chatReceivers, error) {
			h, err := teamsEndpoint(cfg, client, inbox, clock, log)
			return chatReceivers{path: t.Endpoint, events: h}, err
		},
		register: func(opt *bridge.Options) { registerTeams(opt, cfg) },
	}, nil
}

// teamsActions are the Publisher's chat writes and Microsoft Graph's
// groups (bridge.GroupDirectory), which the core asks who is in a group:
// or tag: reference among approvers, members and watchers.
type teamsActions struct {
	*teams.Publisher
	*teams.Graph
}

var (
	_ bridge.ChatActions    = teamsActions{}
	_ bridge.GroupDirectory = teamsActions{}
)

// teamsEndpoint is the messaging endpoint: it validates each request's
// Bot Framework token (and, with teams.entra_tokens, Entra ID tokens of
// the bot's tenant) and hands the activity's events to the core's inbox.
// Card buttons arrive as the gestures registerTeams gives the core.
func teamsEndpoint(cfg *config.Config, client *teams.Client, inbox bridge.ChatEventHandler, clock bridge.Clock, log *slog.Logger) (http.Handler, error) {
	t := cfg.Teams
	hc := &http.Client{Timeout: 10 * time.Second}
	hcfg := teams.HandlerConfig{AppID: t.AppID, OpenIDMetadataURL: t.OpenIDURL, Client: client, HTTPClient: hc, Clock: clock, Logger: log}
	if t.EntraTokens {
		hcfg.ExtraIssuers = teams.EntraIssuers(t.TenantID)
	}
	var opt bridge.Options
	registerTeams(&opt, cfg)
	return teams.NewHandler(hcfg, opt.Gestures, inbox)
}
