package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// teamsMinimal is a complete Teams deployment: the same departments and
// routes as minimal, their channels and people on Teams.
const teamsMinimal = `chat: teams
teams:
  app_id: 8d3c1a52-55a1-4b1c-9f0e-3f6a2b7c9d10
  tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47
  client_secret: ${TEAMS_SECRET}
  departments:
    - department: network
      team: 0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b
      channel: "19:0a1b2c3d4e5f@thread.tacv2"
      approvers: [6b1f0d2e-1111-4c3a-9e8f-0a1b2c3d4e5f]
      escalation: {tag: "MjQzMmI1N2ItMGFiZC00M2Ri", name: "Network on-call"}
    - department: triage
      team: 0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b
      channel: "19:triage9f8e7d@thread.tacv2"
  watch: {team: 0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b, channel: "19:watch1234@thread.tacv2"}
  watchers: [9c8b7a6f-2222-4d3c-8b7a-6f5e4d3c2b1a]
departments:
  - id: network
    name: Network team
  - id: triage
    approval: none
routes:
  - department: network
    keywords: [signal]
triage: triage
x:
  bearer_token: t
  accounts:
    - handle: SBCare
      user_id: "1"
      oauth2: {access_token: a}
`

func TestTeamsConfig(t *testing.T) {
	cfg, errs := parse(t, teamsMinimal, LevelServe, map[string]string{"TEAMS_SECRET": "s3cret"})
	if errs != nil {
		t.Fatalf("a complete Teams configuration has problems (it needs no Slack token):\n%v", errs)
	}
	net := cfg.Department("network")
	if net.Channel != "19:0a1b2c3d4e5f@thread.tacv2" || len(net.Approvers) != 1 || net.Escalation != "MjQzMmI1N2ItMGFiZC00M2Ri" {
		t.Errorf("network's Teams channel and people were not copied: %+v", net)
	}
	if !cfg.EscalationIsGroup(net) || cfg.TeamsTags()["MjQzMmI1N2ItMGFiZC00M2Ri"] != "Network on-call" {
		t.Errorf("the escalation tag is not a group with its name: %v %v", cfg.EscalationIsGroup(net), cfg.TeamsTags())
	}
	if cfg.Watch.Channel != "19:watch1234@thread.tacv2" || cfg.TeamsGroups()["19:watch1234@thread.tacv2"] != "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b" {
		t.Errorf("watch channel %q", cfg.Watch.Channel)
	}
	tm := cfg.Teams
	if tm.Endpoint != "/teams/messages" || tm.ApproveReaction != "like" || tm.ClientSecret.Reveal() != "s3cret" ||
		tm.TeamsTokenURL() != "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token" {
		t.Errorf("defaults: %+v, token URL %s", tm, tm.TeamsTokenURL())
	}

	// Slack configurations are untouched: chat defaults to slack.
	if cfg, errs := parse(t, minimal, LevelRouting, nil); errs != nil || cfg.Chat != ChatSlack {
		t.Errorf("minimal Slack configuration: chat %q, problems %v", cfg.Chat, errs)
	}
}

// Approvers, members and watchers may name AAD groups and Teams tags,
// which the core resolves through Microsoft Graph.
func TestTeamsConfigAcceptsGroupsAndTags(t *testing.T) {
	const group = "group:5e4d3c2b-3333-4a1b-9c8d-7e6f5a4b3c2d"
	const tag = "tag:0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/MjQzMmI1N2ItMGFiZC00M2Ri+/x=="
	src := strings.Replace(teamsMinimal, "approvers: [6b1f0d2e-1111-4c3a-9e8f-0a1b2c3d4e5f]",
		"approvers: [6b1f0d2e-1111-4c3a-9e8f-0a1b2c3d4e5f, \""+group+"\"]\n      members: [\""+tag+"\"]", 1)
	src = strings.Replace(src, "watchers: [9c8b7a6f-2222-4d3c-8b7a-6f5e4d3c2b1a]", "watchers: [\""+group+"\"]", 1)
	cfg, errs := parse(t, src, LevelServe, map[string]string{"TEAMS_SECRET": "s3cret"})
	if errs != nil {
		t.Fatalf("group and tag references refused:\n%v", errs)
	}
	net := cfg.Department("network")
	if !slices.Equal(net.Approvers, []string{"6b1f0d2e-1111-4c3a-9e8f-0a1b2c3d4e5f", group}) || !slices.Equal(net.Members, []string{tag}) ||
		!slices.Equal(cfg.Teams.Watchers, []string{group}) {
		t.Errorf("approvers %v, members %v, watchers %v", net.Approvers, net.Members, cfg.Teams.Watchers)
	}
	if cfg.Teams.GraphURL != "https://graph.microsoft.com" {
		t.Errorf("graph_url default %q", cfg.Teams.GraphURL)
	}
}

func TestTeamsConfigProblemsNamedWithLine(t *testing.T) {
	cases := []struct{ name, old, new, want string }{
		{"bad app id", "app_id: 8d3c1a52-55a1-4b1c-9f0e-3f6a2b7c9d10", "app_id: my-bot",
			`teams.app_id: "my-bot" is not a Microsoft App ID (a GUID such as 00000000-0000-0000-0000-000000000000) (line 3)`},
		{"multi-tenant authority", "tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47", "tenant_id: botframework.com",
			`teams.tenant_id: botframework.com is the retired multi-tenant authority`},
		{"no secret", "  client_secret: ${TEAMS_SECRET}\n", "",
			`teams.client_secret: required: a client secret of the bot's app registration, or client_secret_file`},
		{"department without a channel", "    - department: triage\n      team: 0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b\n      channel: \"19:triage9f8e7d@thread.tacv2\"\n", "",
			`departments[1]: "triage" has no Teams channel: add it to teams.departments (line 17)`},
		{"Slack channel id", `channel: "19:0a1b2c3d4e5f@thread.tacv2"`, "channel: C0NETWORK",
			`teams.departments[0].channel: "C0NETWORK" is not a Teams channel id (19:…@thread.tacv2) (line 9)`},
		{"team is not a group id", "team: 0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b\n      channel: \"19:0a", "team: Network\n      channel: \"19:0a",
			`teams.departments[0].team: "Network" is not a team's group id`},
		{"approver as a tag", "approvers: [6b1f0d2e-1111-4c3a-9e8f-0a1b2c3d4e5f]", "approvers: [network-leads]",
			`teams.departments[0].approvers[0]: "network-leads" is not an AAD object id (a GUID) nor a group: or tag: reference: on Teams, approvers are people's AAD object ids (GUIDs), group:<AAD group object id> or tag:<team's group id>/<tag id> (line 10)`},
		{"group by name", "approvers: [6b1f0d2e-1111-4c3a-9e8f-0a1b2c3d4e5f]", "approvers: [6b1f0d2e-1111-4c3a-9e8f-0a1b2c3d4e5f, group:Network Leads]",
			`teams.departments[0].approvers[1]: "group:Network Leads" does not name a group by its object id (group:<GUID>, from the group's Overview in Entra ID)`},
		{"tag without its team", "approvers: [6b1f0d2e-1111-4c3a-9e8f-0a1b2c3d4e5f]", "approvers: [tag:MjQzMmI1N2ItMGFiZC00M2Ri]",
			`teams.departments[0].approvers[0]: "tag:MjQzMmI1N2ItMGFiZC00M2Ri" does not start with a team's group id (tag:<team's group id, a GUID>/<tag id>) (line 10)`},
		{"watcher tag without an id", "watchers: [9c8b7a6f-2222-4d3c-8b7a-6f5e4d3c2b1a]", "watchers: [tag:0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/]",
			`teams.watchers[0]: "tag:0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/" does not end with a Teams tag id (tag:<team's group id>/<tag id>) (line 16)`},
		{"no approvers", "      approvers: [6b1f0d2e-1111-4c3a-9e8f-0a1b2c3d4e5f]\n", "",
			`teams.departments[0].approvers: required when network's approval is "required"`},
		{"tag without name", `{tag: "MjQzMmI1N2ItMGFiZC00M2Ri", name: "Network on-call"}`, `{tag: "MjQzMmI1N2ItMGFiZC00M2Ri"}`,
			`teams.departments[0].escalation.name: required with tag: the tag's name, shown in the mention (line 11)`},
		{"unknown department", "department: triage", "department: billing", `teams.departments[1].department: unknown department "billing" (line 12)`},
		{"Slack key on Teams", "  - id: triage\n", "  - id: triage\n    channel: \"#care-triage\"\n",
			`departments[1].channel: is Slack's; with chat: teams, give it under teams.departments (department: triage) (line 21)`},
		{"reaction", "chat: teams\nteams:\n", "chat: teams\nteams:\n  approve_reaction: white_check_mark\n",
			`teams.approve_reaction: "white_check_mark" is not a reaction Teams reports to bots (like, heart, laugh, surprised, sad, angry) (line 3)`},
		{"unknown surface", "chat: teams", "chat: discord", `chat: "discord" must be "slack" or "teams" (line 1)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(teamsMinimal, c.old, c.new, 1)
			if src == teamsMinimal {
				t.Fatalf("the case changes nothing: %q not found", c.old)
			}
			_, errs := parse(t, src, LevelServe, map[string]string{"TEAMS_SECRET": "s3cret"})
			if !strings.Contains(errs.Error(), c.want) {
				t.Errorf("problems:\n%v\nwant one containing %q", errs, c.want)
			}
		})
	}
	// check (the routing level) needs no credentials, and Slack's are never
	// asked for on Teams.
	src := strings.Replace(teamsMinimal, "  client_secret: ${TEAMS_SECRET}\n", "", 1)
	if _, errs := parse(t, src, LevelRouting, nil); errs != nil {
		t.Errorf("routing level asks for credentials: %v", errs)
	}
	if _, errs := parse(t, teamsMinimal, LevelServe, nil); errs == nil || strings.Contains(errs.Error(), "slack") ||
		!strings.Contains(errs.Error(), "teams.client_secret: environment variable TEAMS_SECRET is not set") ||
		!strings.Contains(errs.Error(), "(line 5)") {
		t.Errorf("serve level without the environment: %v", errs)
	}
}

func TestTeamsExampleFileIsValid(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "carebridge-teams.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := parse(t, string(data), LevelRouting, nil); errs != nil {
		t.Fatalf("the Teams example has problems at routing level:\n%v", errs)
	}
	env := map[string]string{}
	for _, k := range []string{"TEAMS_CLIENT_SECRET", "X_BEARER_TOKEN", "X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_SBCARE_ACCESS_TOKEN", "X_SBCARE_ACCESS_SECRET"} {
		env[k] = "secret-" + strings.ToLower(k)
	}
	cfg, errs := parse(t, string(data), LevelServe, env)
	if errs != nil {
		t.Fatalf("the Teams example has problems at serve level:\n%v", errs)
	}
	if cfg.Chat != ChatTeams || cfg.Department("billing").Channel == "" || cfg.Watch.Channel == "" {
		t.Errorf("chat %q, billing channel %q, watch %q", cfg.Chat, cfg.Department("billing").Channel, cfg.Watch.Channel)
	}

	// The app manifest asks for the permission without which the bot sees
	// only @mentions.
	manifest, err := os.ReadFile(filepath.Join("..", "..", "examples", "teams-app", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Bots []struct {
			Scopes []string `json:"scopes"`
		} `json:"bots"`
		Authorization struct {
			Permissions struct {
				ResourceSpecific []struct{ Name, Type string } `json:"resourceSpecific"`
			} `json:"permissions"`
		} `json:"authorization"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	read := false
	for _, p := range m.Authorization.Permissions.ResourceSpecific {
		read = read || (p.Name == "ChannelMessage.Read.Group" && p.Type == "Application")
	}
	if len(m.Bots) != 1 || !slices.Contains(m.Bots[0].Scopes, "team") || !read {
		t.Errorf("manifest: bots %+v, resource-specific permissions %+v", m.Bots, m.Authorization.Permissions.ResourceSpecific)
	}
}

func TestUseTeams(t *testing.T) {
	cfg, errs := parse(t, minimal, LevelRouting, nil)
	if errs != nil {
		t.Fatal(errs)
	}
	team := "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
	tm := Teams{AppID: "8d3c1a52-55a1-4b1c-9f0e-3f6a2b7c9d10", TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", ClientSecret: NewSecret("s"),
		Departments: []TeamsDepartment{{Department: "network", Team: team, Channel: "19:abc@thread.tacv2", Approvers: []string{"6b1f0d2e-1111-4c3a-9e8f-0a1b2c3d4e5f"}}}}
	err := cfg.UseTeams(tm, LevelServe)
	if err == nil || !strings.Contains(err.Error(), `departments[1]: "triage" has no Teams channel`) {
		t.Errorf("a department left without a channel: %v", err)
	}
	tm.Departments = append(tm.Departments, TeamsDepartment{Department: "triage", Team: team, Channel: "19:def@thread.tacv2"})
	if err := cfg.UseTeams(tm, LevelServe); err != nil {
		t.Fatal(err)
	}
	if n := cfg.Department("network"); cfg.Chat != ChatTeams || n.Channel != "19:abc@thread.tacv2" || n.Approvers[0] != "6b1f0d2e-1111-4c3a-9e8f-0a1b2c3d4e5f" ||
		cfg.Teams.Endpoint != DefaultTeamsEndpoint {
		t.Errorf("after UseTeams: chat %q, network %+v, endpoint %q", cfg.Chat, n, cfg.Teams.Endpoint)
	}
}
