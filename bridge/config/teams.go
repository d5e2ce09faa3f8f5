package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Chat surfaces: one per deployment, chosen by the top-level key chat.
const (
	ChatSlack = "slack" // the default
	ChatTeams = "teams"
)

// Teams configures the Microsoft Teams surface (chat: teams): the bot's
// Azure registration, where each department's tickets go, who approves,
// who watches. With chat: teams, Parse copies each department's channel,
// approvers, members and escalation from here into Config.Departments, and
// the watch channel into Config.Watch, so that the rest of carebridge
// reads one place whatever the surface.
type Teams struct {
	// AppID is the bot's Microsoft App ID (the Azure Bot's app
	// registration, a GUID); TenantID the Entra tenant it lives in
	// (single-tenant bots, the only kind Azure still creates).
	AppID            string `yaml:"app_id"`
	TenantID         string `yaml:"tenant_id"`
	ClientSecret     Secret `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	// Endpoint is the path Teams posts activities to (default
	// /teams/messages), on http.addr; the Azure Bot's messaging endpoint
	// is https://<your host><endpoint>.
	Endpoint string `yaml:"endpoint"`
	// ServiceURL is the Bot Connector base used to open new threads
	// (default https://smba.trafficmanager.net/teams/).
	ServiceURL string `yaml:"service_url"`
	// TokenURL and OpenIDURL are Microsoft's login endpoints (defaults:
	// the tenant's token endpoint and the Bot Framework's OpenID
	// metadata); set them only to point carebridge at a fake.
	TokenURL  string `yaml:"token_url"`
	OpenIDURL string `yaml:"openid_url"`
	// GraphURL is Microsoft Graph's base (default
	// https://graph.microsoft.com), used to resolve group: and tag:
	// references in approvers, members and watchers; set it only to point
	// carebridge at a fake.
	GraphURL string `yaml:"graph_url"`
	// EntraTokens also accepts tokens Entra ID issues for the bot's
	// tenant (issuers login.microsoftonline.com/<tenant>/v2.0 and
	// sts.windows.net/<tenant>/), which Teams may send single-tenant bots
	// instead of Bot Framework's. Default false.
	EntraTokens bool `yaml:"entra_tokens"`
	// ApproveReaction is the reaction on a draft card that approves it
	// (default like); the card's buttons approve, send as a DM or reject.
	ApproveReaction string `yaml:"approve_reaction"`
	// CloseReaction, if set, closes a ticket when a department member
	// puts it on the ticket's first message.
	CloseReaction string            `yaml:"close_reaction"`
	Departments   []TeamsDepartment `yaml:"departments"`
	// Watch is the executive watch channel (watch.channel on Slack).
	Watch TeamsChannel `yaml:"watch"`
	// Watchers read but never answer: people's AAD object ids, or
	// groups (see TeamsDepartment.Approvers).
	Watchers []string `yaml:"watchers"`
	// Pacing limits posts per channel (default 0.5 a second, bursts of
	// 7: Teams allows a bot 7 messages a second, 60 in 30 seconds and
	// 1,800 an hour per thread, and carebridge counts a channel as one).
	Pacing Pacing `yaml:"pacing"`
}

// TeamsChannel is a channel of a team.
type TeamsChannel struct {
	// Team is the team's group id (the groupId= of a channel's link, a
	// GUID); Channel the channel's id (19:…@thread.tacv2).
	Team    string `yaml:"team"`
	Channel string `yaml:"channel"`
}

// TeamsDepartment is where a department's tickets go on Teams, and who
// decides there.
type TeamsDepartment struct {
	Department string `yaml:"department"` // a departments[].id
	Team       string `yaml:"team"`
	Channel    string `yaml:"channel"`
	// Approvers and Members are people's AAD object ids (GUIDs) or
	// groups: "group:<AAD group object id>" (the group's people, nested
	// groups included) or "tag:<team's group id>/<tag id>" (a Teams tag's
	// people), resolved through Microsoft Graph and cached. Groups need
	// the bot's app registration to hold the application permission
	// GroupMember.Read.All, tags TeamworkTag.Read.All (admin consent).
	Approvers []string `yaml:"approvers"`
	Members   []string `yaml:"members"`
	// Escalation is who an SLA breach mentions: a Teams tag (its id and
	// name, as a tag mention needs both) or one person.
	Escalation *TeamsEscalation `yaml:"escalation"`
}

// TeamsEscalation names a Teams tag (Tag and Name) or a person (User).
type TeamsEscalation struct {
	Tag  string `yaml:"tag"`
	Name string `yaml:"name"`
	User string `yaml:"user"`
}

// Teams defaults.
const (
	DefaultTeamsEndpoint   = "/teams/messages"
	DefaultTeamsServiceURL = "https://smba.trafficmanager.net/teams/"
	DefaultTeamsOpenIDURL  = "https://login.botframework.com/v1/.well-known/openidconfiguration"
	DefaultTeamsReaction   = "like"
	DefaultTeamsGraphURL   = "https://graph.microsoft.com"
)

// TeamsTokenURL is the client-credentials token endpoint of the bot's
// tenant.
func (t Teams) TeamsTokenURL() string {
	if t.TokenURL != "" {
		return t.TokenURL
	}
	return "https://login.microsoftonline.com/" + url.PathEscape(t.TenantID) + "/oauth2/v2.0/token"
}

// TeamsRSCNote says what the bot cannot see without the resource-specific
// consent permission; `check` and the docs print it.
const TeamsRSCNote = "the Teams app must be installed in each team with the RSC permission ChannelMessage.Read.Group " +
	"(examples/teams-app/manifest.json has it): without it the bot sees only messages that @mention it, " +
	"so staff replies in threads do not become drafts"

var (
	guidPattern   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	teamsChannel  = regexp.MustCompile(`^19:[^\s;@/]+@thread\.(tacv2|skype)$`)
	teamsTagID    = regexp.MustCompile(`^[A-Za-z0-9+/=_-]{8,}$`)
	teamsReaction = map[string]bool{"like": true, "heart": true, "laugh": true, "surprised": true, "sad": true, "angry": true}
)

// applyChatDefaults fills in the chat surface's defaults.
func (c *Config) applyChatDefaults() {
	if c.Chat == "" {
		c.Chat = ChatSlack
	}
	if c.Chat != ChatTeams {
		return
	}
	t := &c.Teams
	if t.Endpoint == "" {
		t.Endpoint = DefaultTeamsEndpoint
	}
	if t.ServiceURL == "" {
		t.ServiceURL = DefaultTeamsServiceURL
	}
	if t.OpenIDURL == "" {
		t.OpenIDURL = DefaultTeamsOpenIDURL
	}
	if t.GraphURL == "" {
		t.GraphURL = DefaultTeamsGraphURL
	}
	if t.ApproveReaction == "" {
		t.ApproveReaction = DefaultTeamsReaction
	}
	if t.Pacing.PerSecond == 0 {
		t.Pacing.PerSecond = 0.5
	}
	if t.Pacing.Burst == 0 {
		t.Pacing.Burst = 7
	}
}

// chatNeeds reports whether a problem under path concerns the chosen chat
// surface: the other surface's section is not read.
func (c *Config) chatNeeds(path string) bool {
	if c.slackChat() {
		return path != "teams" && !strings.HasPrefix(path, "teams.")
	}
	return path != "slack" && !strings.HasPrefix(path, "slack.")
}

// slackChat reports whether the deployment's chat surface is Slack: the
// Slack-only checks run only then.
func (c *Config) slackChat() bool { return c.Chat != ChatTeams }

// chat checks the chat key and, on Teams, the teams section, and copies
// the Teams channels and people into the departments and the watch
// section. depts are the valid department ids.
func (v *validator) chat(depts map[string]bool) {
	c := v.cfg
	c.applyChatDefaults()
	switch c.Chat {
	case ChatSlack:
		return
	case ChatTeams:
	default:
		v.bad("chat", "%q must be %q or %q", c.Chat, ChatSlack, ChatTeams)
		return
	}
	t := &c.Teams
	// Slack's keys say nothing on Teams: a value there is a mistake.
	for i, d := range c.Departments {
		p := fmt.Sprintf("departments[%d]", i)
		for _, f := range []struct {
			key string
			set bool
		}{{"channel", d.Channel != ""}, {"approvers", len(d.Approvers) > 0}, {"members", len(d.Members) > 0}, {"escalation", d.Escalation != ""}} {
			if f.set {
				v.bad(p+"."+f.key, "is Slack's; with chat: teams, give it under teams.departments (department: %s)", d.ID)
			}
		}
	}
	if c.Watch.Channel != "" {
		v.bad("watch.channel", "is Slack's; with chat: teams, give the watch channel as teams.watch (team and channel)")
	}
	if len(c.Slack.Watchers) > 0 {
		v.bad("slack.watchers", "is Slack's; with chat: teams, list watchers' AAD object ids (or group: and tag: references) under teams.watchers")
	}

	if v.level >= LevelServe {
		if t.AppID == "" {
			v.bad("teams.app_id", "required: the bot's Microsoft App ID (a GUID, from the Azure Bot's Configuration page)")
		}
		if t.TenantID == "" {
			v.bad("teams.tenant_id", "required: the Directory (tenant) ID of the bot's app registration")
		}
		if !t.ClientSecret.IsSet() {
			v.bad("teams.client_secret", "required: a client secret of the bot's app registration, or client_secret_file")
		}
	}
	if t.AppID != "" && !guidPattern.MatchString(t.AppID) {
		v.bad("teams.app_id", "%q is not a Microsoft App ID (a GUID such as 00000000-0000-0000-0000-000000000000)", t.AppID)
	}
	switch {
	case strings.EqualFold(t.TenantID, "botframework.com"):
		v.bad("teams.tenant_id", "botframework.com is the retired multi-tenant authority; single-tenant bots get tokens from their own tenant: give its Directory (tenant) ID")
	case t.TenantID != "" && !guidPattern.MatchString(t.TenantID):
		v.bad("teams.tenant_id", "%q is not a Directory (tenant) ID (a GUID)", t.TenantID)
	}
	if !strings.HasPrefix(t.Endpoint, "/") || strings.ContainsAny(t.Endpoint, " ?#") {
		v.bad("teams.endpoint", "%q is not a URL path such as %s", t.Endpoint, DefaultTeamsEndpoint)
	}
	for _, u := range []struct{ path, u string }{{"teams.service_url", t.ServiceURL}, {"teams.openid_url", t.OpenIDURL}, {"teams.token_url", t.TokenURL}, {"teams.graph_url", t.GraphURL}} {
		if u.u == "" {
			continue
		}
		if pu, err := url.Parse(u.u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			v.bad(u.path, "%q is not an http(s) URL", u.u)
		}
	}
	if !teamsReaction[t.ApproveReaction] {
		v.bad("teams.approve_reaction", "%q is not a reaction Teams reports to bots (like, heart, laugh, surprised, sad, angry)", t.ApproveReaction)
	}
	if t.CloseReaction != "" && (!teamsReaction[t.CloseReaction] || t.CloseReaction == t.ApproveReaction) {
		v.bad("teams.close_reaction", "%q must be one of like, heart, laugh, surprised, sad, angry, and not the approve reaction", t.CloseReaction)
	}
	if t.Pacing.PerSecond <= 0 {
		v.bad("teams.pacing.per_second", "must be above 0")
	}
	if t.Pacing.Burst < 1 || t.Pacing.Burst > 7 {
		v.bad("teams.pacing.burst", "%d must be between 1 and 7 (Teams allows a bot 7 messages a second per thread)", t.Pacing.Burst)
	}
	people := func(path string, ids []string, what string) {
		for j, id := range ids {
			switch problem := teamsPersonOrGroup(id); {
			case problem == "":
			case strings.HasPrefix(id, "group:") || strings.HasPrefix(id, "tag:"):
				v.bad(fmt.Sprintf("%s[%d]", path, j), "%q %s", id, problem)
			default:
				v.bad(fmt.Sprintf("%s[%d]", path, j), "%q %s: on Teams, %s are people's AAD object ids (GUIDs), group:<AAD group object id> or tag:<team's group id>/<tag id>", id, problem, what)
			}
		}
	}
	people("teams.watchers", t.Watchers, "watchers")
	if t.Watch.Team != "" || t.Watch.Channel != "" {
		v.teamsChannel("teams.watch", t.Watch)
	}
	if c.Watch.Mirror && t.Watch.Channel == "" {
		v.bad("watch.mirror", "needs teams.watch")
	}

	seen := map[string]int{}
	for i, td := range t.Departments {
		p := fmt.Sprintf("teams.departments[%d]", i)
		switch {
		case td.Department == "":
			v.bad(p+".department", "required: the id of one of departments")
		case !depts[td.Department]:
			v.bad(p+".department", "unknown department %q", td.Department)
		}
		if j, dup := seen[td.Department]; dup && td.Department != "" {
			v.bad(p+".department", "%q has its channel at teams.departments[%d] already", td.Department, j)
		}
		seen[td.Department] = i
		v.teamsChannel(p, TeamsChannel{Team: td.Team, Channel: td.Channel})
		people(p+".approvers", td.Approvers, "approvers")
		people(p+".members", td.Members, "members")
		if e := td.Escalation; e != nil {
			switch {
			case e.User != "" && e.Tag != "":
				v.bad(p+".escalation", "give tag (with name) or user, not both")
			case e.User != "":
				if !guidPattern.MatchString(e.User) {
					v.bad(p+".escalation.user", "%q is not an AAD object id (a GUID)", e.User)
				}
			case e.Tag == "":
				v.bad(p+".escalation", "needs tag (a Teams tag's id, with its name) or user (an AAD object id)")
			default:
				if !teamsTagID.MatchString(e.Tag) {
					v.bad(p+".escalation.tag", "%q is not a Teams tag id", e.Tag)
				}
				if strings.TrimSpace(e.Name) == "" {
					v.bad(p+".escalation.name", "required with tag: the tag's name, shown in the mention")
				}
			}
		}
		if d := c.Department(td.Department); d != nil && d.Approval == ApprovalRequired && len(td.Approvers) == 0 {
			v.bad(p+".approvers", "required when %s's approval is %q: AAD object ids of its approvers, or group: and tag: references", td.Department, ApprovalRequired)
		}
	}
	for i, d := range c.Departments {
		if _, ok := seen[d.ID]; !ok && d.ID != "" {
			v.bad(fmt.Sprintf("departments[%d]", i), "%q has no Teams channel: add it to teams.departments", d.ID)
		}
	}
	v.resolveTeams()
}

// teamsPersonOrGroup checks one entry of an approver, member or watcher
// list on Teams: a person's AAD object id, "group:<group object id>" or
// "tag:<team's group id>/<tag id>". It returns what is wrong, or "".
func teamsPersonOrGroup(id string) string {
	if g, ok := strings.CutPrefix(id, "group:"); ok {
		if !guidPattern.MatchString(g) {
			return "does not name a group by its object id (group:<GUID>, from the group's Overview in Entra ID)"
		}
		return ""
	}
	if t, ok := strings.CutPrefix(id, "tag:"); ok {
		team, tag, _ := strings.Cut(t, "/")
		switch {
		case !guidPattern.MatchString(team):
			return "does not start with a team's group id (tag:<team's group id, a GUID>/<tag id>)"
		case !teamsTagID.MatchString(tag):
			return "does not end with a Teams tag id (tag:<team's group id>/<tag id>)"
		}
		return ""
	}
	if !guidPattern.MatchString(id) {
		return "is not an AAD object id (a GUID) nor a group: or tag: reference"
	}
	return ""
}

// teamsChannel checks a team and channel pair under path.
func (v *validator) teamsChannel(path string, ch TeamsChannel) {
	switch {
	case ch.Team == "":
		v.bad(path+".team", "required: the team's group id (the groupId= in a link to the channel, a GUID)")
	case !guidPattern.MatchString(ch.Team):
		v.bad(path+".team", "%q is not a team's group id (a GUID: the groupId= in a link to the channel)", ch.Team)
	}
	switch {
	case ch.Channel == "":
		v.bad(path+".channel", "required: the channel's id (19:…@thread.tacv2, in a link to the channel)")
	case !teamsChannel.MatchString(ch.Channel):
		v.bad(path+".channel", "%q is not a Teams channel id (19:…@thread.tacv2)", ch.Channel)
	}
}

// resolveTeams copies the Teams channels and people into the departments
// and the watch section, where the core and the watching jobs read them.
func (v *validator) resolveTeams() {
	c := v.cfg
	for _, td := range c.Teams.Departments {
		d := c.Department(td.Department)
		if d == nil {
			continue
		}
		d.Channel, d.Approvers, d.Members = td.Channel, td.Approvers, td.Members
		if e := td.Escalation; e != nil {
			d.Escalation = e.Tag
			if e.User != "" {
				d.Escalation = e.User
			}
		}
	}
	c.Watch.Channel = c.Teams.Watch.Channel
}

// EscalationIsGroup reports whether d's escalation names a group (a Slack
// user group, a Teams tag) rather than a person.
func (c *Config) EscalationIsGroup(d *Department) bool {
	if d == nil || d.Escalation == "" {
		return false
	}
	if c.Chat == ChatTeams {
		for _, td := range c.Teams.Departments {
			if td.Department == d.ID && td.Escalation != nil {
				return td.Escalation.Tag != ""
			}
		}
		return false
	}
	return strings.HasPrefix(d.Escalation, "S")
}

// TeamsTags maps the Teams tags named as escalations to their names.
func (c *Config) TeamsTags() map[string]string {
	tags := map[string]string{}
	for _, td := range c.Teams.Departments {
		if e := td.Escalation; e != nil && e.Tag != "" {
			tags[e.Tag] = e.Name
		}
	}
	return tags
}

// TeamsGroups maps each configured Teams channel id to its team's group
// id.
func (c *Config) TeamsGroups() map[string]string {
	groups := map[string]string{}
	for _, td := range c.Teams.Departments {
		groups[td.Channel] = td.Team
	}
	if w := c.Teams.Watch; w.Channel != "" {
		groups[w.Channel] = w.Team
	}
	return groups
}

// UseTeams makes c a Teams deployment: as if its file said chat: teams
// and gave t as the teams section, with the departments' Slack keys (and
// the watch channel and Slack watchers) left out. It checks t at level
// and copies the channels and people into the departments, as Parse
// does. `carebridge demo -chat teams` runs the example configuration on
// the Teams fake this way.
func (c *Config) UseTeams(t Teams, level Level) error {
	for i := range c.Departments {
		d := &c.Departments[i]
		d.Channel, d.Approvers, d.Members, d.Escalation = "", nil, nil, ""
	}
	c.Watch.Channel, c.Slack.Watchers = "", nil
	c.Chat, c.Teams = ChatTeams, t
	v := &validator{d: &decoder{lines: map[string]int{}}, cfg: c, level: level}
	depts := map[string]bool{}
	for _, d := range c.Departments {
		depts[d.ID] = true
	}
	v.chat(depts)
	if len(v.d.problems) > 0 {
		return v.d.problems
	}
	return nil
}
