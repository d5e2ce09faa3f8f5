package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/carebridge/carebridge/bridge/route"
)

// Level says how much of the configuration must be present.
type Level int

// Validation levels.
const (
	// LevelRouting needs departments, routes and triage: enough for
	// `carebridge check` and `carebridge route`.
	LevelRouting Level = iota
	// LevelStore also needs a usable store section (`carebridge migrate`).
	LevelStore
	// LevelServe also needs what the running service uses: Slack and X
	// credentials, official accounts, the store.
	LevelServe
)

// needs reports whether problems under path count at this level.
func (l Level) needs(path string) bool {
	if l == LevelServe {
		return true
	}
	top := path
	if i := strings.IndexAny(top, ".["); i >= 0 {
		top = top[:i]
	}
	switch top {
	case "departments", "routes", "triage", "timezone":
		return true
	case "store":
		return l >= LevelStore
	}
	return false
}

// Defaults applied when a key is absent.
const (
	DefaultTimezone     = "UTC"
	DefaultHTTPAddr     = ":8080"
	DefaultSlackMode    = "socket"
	DefaultXAPIBaseURL  = "https://api.x.com"
	DefaultSlackBaseURL = "https://slack.com/api/"

	DefaultSpikeFactor   = 3.0
	DefaultSpikeMinPosts = 20
)

func (c *Config) applyDefaults() {
	setStr := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	setDur := func(p *Duration, v time.Duration) {
		if *p == 0 {
			*p = Duration(v)
		}
	}
	setStr(&c.Timezone, DefaultTimezone)
	setStr(&c.HTTP.Addr, DefaultHTTPAddr)
	setStr(&c.Slack.Mode, DefaultSlackMode)
	setStr(&c.Slack.APIBaseURL, DefaultSlackBaseURL)
	if c.Slack.Pacing.PerSecond == 0 {
		c.Slack.Pacing.PerSecond = 1
	}
	if c.Slack.Pacing.Burst == 0 {
		c.Slack.Pacing.Burst = 3
	}
	setStr(&c.X.APIBaseURL, DefaultXAPIBaseURL)
	setDur(&c.X.Poll.SearchInterval, time.Minute)
	setDur(&c.X.Poll.MentionsInterval, 30*time.Second)
	setDur(&c.X.Poll.DMInterval, time.Minute)
	if c.X.Poll.MaxResults == 0 {
		c.X.Poll.MaxResults = 100
	}
	for i := range c.X.Searches {
		setDur(&c.X.Searches[i].Interval, c.X.Poll.SearchInterval.D())
	}
	for i := range c.Departments {
		d := &c.Departments[i]
		setStr(&d.Name, d.ID)
		setStr(&d.Approval, ApprovalRequired)
		if d.Account == "" && len(c.X.Accounts) > 0 {
			d.Account = c.X.Accounts[0].Handle
		}
	}
	setStr(&c.Approvals.ApproveEmoji, "white_check_mark")
	setStr(&c.Approvals.ApproveDMEmoji, "incoming_envelope")
	setStr(&c.Approvals.RejectEmoji, "x")
	setStr(&c.Approvals.CloseEmoji, "ballot_box_with_check")
	setDur(&c.Approvals.UserGroupRefresh, 10*time.Minute)
	setDur(&c.SLA.FirstResponse, time.Hour)
	setDur(&c.SLA.NextResponse, 4*time.Hour)
	if c.SLA.WarnAt == 0 {
		c.SLA.WarnAt = 0.8
	}
	if c.Digests.Times == nil {
		c.Digests.Times = []string{"12:00", "18:00"}
	}
	setStr(&c.Watch.DigestTime, "09:00")
	if c.OfficeHours.Weekdays == nil {
		c.OfficeHours.Weekdays = []string{"mon", "tue", "wed", "thu", "fri"}
	}
	setDur(&c.Spikes.Window, 15*time.Minute)
	if c.Spikes.Factor == 0 {
		c.Spikes.Factor = DefaultSpikeFactor
	}
	if c.Spikes.MinPosts == 0 {
		c.Spikes.MinPosts = DefaultSpikeMinPosts
	}
	setDur(&c.Spikes.Cooldown, time.Hour)
	setDur(&c.Tickets.AutoCloseAfter, 7*24*time.Hour)
	if c.Outbox.Workers == 0 {
		c.Outbox.Workers = 4
	}
	if c.Outbox.MaxAttempts == 0 {
		c.Outbox.MaxAttempts = 50
	}
	setDur(&c.Outbox.MaxBackoff, 5*time.Minute)
	setDur(&c.Outbox.Lease, time.Minute)
}

var (
	idPattern      = regexp.MustCompile(`^[a-z0-9_-]+$`)
	channelName    = regexp.MustCompile(`^#[a-z0-9][a-z0-9._-]{0,79}$`)
	channelID      = regexp.MustCompile(`^[CGD][A-Z0-9]{6,}$`)
	userID         = regexp.MustCompile(`^[UW][A-Z0-9]{6,}$`)
	userGroupID    = regexp.MustCompile(`^S[A-Z0-9]{6,}$`)
	xHandle        = regexp.MustCompile(`^[A-Za-z0-9_]{1,15}$`)
	xUserID        = regexp.MustCompile(`^[0-9]{1,19}$`)
	hhmm           = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	emojiName      = regexp.MustCompile(`^[a-z0-9_+-]+$`)
	weekdayNames   = map[string]bool{"mon": true, "tue": true, "wed": true, "thu": true, "fri": true, "sat": true, "sun": true}
	slackModeNames = map[string]bool{"socket": true, "http": true}
)

type validator struct {
	d     *decoder
	cfg   *Config
	level Level
}

func (v *validator) bad(path, format string, args ...any) {
	v.d.problems = append(v.d.problems, Problem{Path: path, Line: v.d.line(path), Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) validate() {
	c := v.cfg
	if loc, err := time.LoadLocation(c.Timezone); err != nil {
		v.bad("timezone", "unknown time zone %q (use an IANA name such as Asia/Tokyo)", c.Timezone)
	} else {
		c.Location = loc
	}
	c.applyChatDefaults()
	depts := v.departments()
	v.routes(depts)
	v.feeds(depts)
	switch {
	case c.Triage == "":
		v.bad("triage", "required: the id of the department that gets posts no rule matches")
	case !depts[c.Triage]:
		v.bad("triage", "unknown department %q", c.Triage)
	}
	v.times()
	v.bundles()
	if n := c.Store.MaxConnections; n < 0 || n > 1000 {
		v.bad("store.max_connections", "%d is out of range: 1 to 1000, or 0 for the default (10)", n)
	}
	v.serve()
	v.chat(depts)
	v.bluesky()
	v.meta()
}

func (v *validator) departments() map[string]bool {
	c := v.cfg
	ids := map[string]bool{}
	if len(c.Departments) == 0 {
		v.bad("departments", "required: at least one department")
	}
	for i, d := range c.Departments {
		p := fmt.Sprintf("departments[%d]", i)
		switch {
		case d.ID == "":
			v.bad(p+".id", "required")
		case !idPattern.MatchString(d.ID):
			v.bad(p+".id", "%q must use only a-z, 0-9, _ and -", d.ID)
		case ids[d.ID]:
			v.bad(p+".id", "duplicate department id %q", d.ID)
		}
		ids[d.ID] = true
		if c.slackChat() {
			v.slackDepartment(p, d) // Teams: teams.go checks teams.departments
		}
		if d.Approval != ApprovalRequired && d.Approval != ApprovalNone {
			v.bad(p+".approval", "%q must be %q or %q", d.Approval, ApprovalRequired, ApprovalNone)
		}
		for j, t := range d.Digests {
			if !hhmm.MatchString(t) {
				v.bad(fmt.Sprintf("%s.digests[%d]", p, j), "%q is not a time as HH:MM (00:00–23:59)", t)
			}
		}
		if d.SLA != nil {
			v.sla(p+".sla", *d.SLA)
		}
	}
	return ids
}

// slackDepartment checks department d (at path p) for Slack: its channel,
// approvers, members and escalation are Slack ids.
func (v *validator) slackDepartment(p string, d Department) {
	switch {
	case d.Channel == "":
		v.bad(p+".channel", "required: a Slack channel name such as \"#care-network\" or an ID such as C0123ABCD")
	case !channelName.MatchString(d.Channel) && !channelID.MatchString(d.Channel):
		v.bad(p+".channel", "%q is neither a channel name (\"#lower-case-name\") nor a channel ID (C0123ABCD)", d.Channel)
	}
	if d.Approval == ApprovalRequired && len(d.Approvers) == 0 {
		v.bad(p+".approvers", "required when approval is %q: Slack user IDs (U…) or user group IDs (S…)", ApprovalRequired)
	}
	for j, a := range d.Approvers {
		if !userID.MatchString(a) && !userGroupID.MatchString(a) {
			v.bad(fmt.Sprintf("%s.approvers[%d]", p, j), "%q is neither a Slack user ID (U…/W…) nor a user group ID (S…)", a)
		}
	}
	for j, m := range d.Members {
		if !userID.MatchString(m) && !userGroupID.MatchString(m) {
			v.bad(fmt.Sprintf("%s.members[%d]", p, j), "%q is neither a Slack user ID (U…/W…) nor a user group ID (S…)", m)
		}
	}
	if d.Escalation != "" && !userGroupID.MatchString(d.Escalation) && !userID.MatchString(d.Escalation) {
		v.bad(p+".escalation", "%q is neither a Slack user group ID (S…) nor a user ID", d.Escalation)
	}
}

func (v *validator) routes(depts map[string]bool) {
	c := v.cfg
	if len(c.Routes) == 0 {
		v.bad("routes", "required: at least one routing rule")
	}
	accounts := map[string]bool{}
	for _, a := range c.X.Accounts {
		accounts[strings.ToLower(a.Handle)] = true
	}
	for i, r := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		switch {
		case r.Department == "":
			v.bad(p+".department", "required")
		case !depts[r.Department]:
			v.bad(p+".department", "unknown department %q", r.Department)
		}
		if len(r.Keywords) == 0 && len(r.Accounts) == 0 {
			v.bad(p, "needs keywords or accounts (or both)")
		}
		for j, k := range r.Keywords {
			if route.Normalize(k) == "" {
				v.bad(fmt.Sprintf("%s.keywords[%d]", p, j), "empty keyword")
			}
		}
		for j, k := range r.Exclude {
			if route.Normalize(k) == "" {
				v.bad(fmt.Sprintf("%s.exclude[%d]", p, j), "empty exclude word")
			}
		}
		for j, a := range r.Accounts {
			ap := fmt.Sprintf("%s.accounts[%d]", p, j)
			h := strings.TrimPrefix(a, "@")
			switch {
			case metaPageName(c, h):
				// A Facebook page and its Instagram account (meta.go).
			case !xHandle.MatchString(h):
				v.bad(ap, "%q is not an X handle (1–15 letters, digits or _)", a)
			case len(accounts) > 0 && !accounts[strings.ToLower(h)]:
				v.bad(ap, "%q is not one of x.accounts", a)
			}
		}
	}
}

func (v *validator) sla(p string, s SLA) {
	if s.WarnAt < 0 || s.WarnAt >= 1 {
		v.bad(p+".warn_at", "%v must be between 0 and 1 (e.g. 0.8 warns at 80%% of the target)", s.WarnAt)
	}
}

func (v *validator) times() {
	c := v.cfg
	check := func(p, t string) {
		if !hhmm.MatchString(t) {
			v.bad(p, "%q is not a time as HH:MM (00:00–23:59)", t)
		}
	}
	for i, t := range c.Digests.Times {
		check(fmt.Sprintf("digests.times[%d]", i), t)
	}
	check("watch.digest_time", c.Watch.DigestTime)
	if c.slackChat() && c.Watch.Channel != "" && !channelName.MatchString(c.Watch.Channel) && !channelID.MatchString(c.Watch.Channel) {
		v.bad("watch.channel", "%q is neither a channel name nor a channel ID", c.Watch.Channel)
	}
	oh := c.OfficeHours
	if oh.Open != "" || oh.Close != "" {
		check("office_hours.open", oh.Open)
		check("office_hours.close", oh.Close)
		if hhmm.MatchString(oh.Open) && hhmm.MatchString(oh.Close) && oh.Open >= oh.Close {
			v.bad("office_hours.close", "%s is not after open (%s)", oh.Close, oh.Open)
		}
	}
	for i, d := range oh.Weekdays {
		if !weekdayNames[strings.ToLower(d)] {
			v.bad(fmt.Sprintf("office_hours.weekdays[%d]", i), "%q is not a weekday (mon, tue, wed, thu, fri, sat, sun)", d)
		}
	}
	for i, h := range oh.Holidays {
		if _, err := time.Parse("2006-01-02", h); err != nil {
			v.bad(fmt.Sprintf("office_hours.holidays[%d]", i), "%q is not a date as YYYY-MM-DD", h)
		}
	}
	v.sla("sla", c.SLA)
	// As everywhere in the file, a number left out or given as 0 takes
	// its default; other values out of range are refused, and the message
	// says both.
	if c.Spikes.Factor < 1 {
		v.bad("spikes.factor", "%v is out of range: at least 1, or 0 (or no key) for the default, %v", c.Spikes.Factor, DefaultSpikeFactor)
	}
	if w := c.Spikes.Window.D(); w < time.Minute || w > 24*time.Hour {
		v.bad("spikes.window", "%s must be between 1m and 24h", c.Spikes.Window)
	}
	if c.Spikes.MinPosts < 1 {
		v.bad("spikes.min_posts", "%d is out of range: at least 1, or 0 (or no key) for the default, %d", c.Spikes.MinPosts, DefaultSpikeMinPosts)
	}
	for _, e := range []struct{ path, name string }{
		{"approvals.approve_emoji", c.Approvals.ApproveEmoji},
		{"approvals.approve_dm_emoji", c.Approvals.ApproveDMEmoji},
		{"approvals.reject_emoji", c.Approvals.RejectEmoji},
		{"approvals.close_emoji", c.Approvals.CloseEmoji},
	} {
		if !emojiName.MatchString(e.name) {
			v.bad(e.path, "%q is not an emoji name (write it without colons, e.g. white_check_mark)", e.name)
		}
	}
	if c.slackChat() {
		if c.Slack.Pacing.PerSecond <= 0 {
			v.bad("slack.pacing.per_second", "must be above 0")
		}
		if c.Slack.Pacing.Burst < 1 {
			v.bad("slack.pacing.burst", "must be at least 1")
		}
		for i, w := range c.Slack.Watchers {
			if !userID.MatchString(w) && !userGroupID.MatchString(w) {
				v.bad(fmt.Sprintf("slack.watchers[%d]", i), "%q is neither a Slack user ID nor a user group ID", w)
			}
		}
	}
	if c.X.Poll.MaxResults < 10 || c.X.Poll.MaxResults > 100 {
		v.bad("x.poll.max_results", "%d must be between 10 and 100 (the X API's range)", c.X.Poll.MaxResults)
	}
	if c.Tickets.AutoCloseAfter.D() < time.Hour {
		v.bad("tickets.auto_close_after", "%s is too short: at least 1h", c.Tickets.AutoCloseAfter)
	}
	for _, g := range []struct{ path, text string }{{"office_hours.greeting", c.OfficeHours.Greeting}, {"office_hours.sign_off", c.OfficeHours.SignOff}} {
		if len([]rune(g.text)) > 280 {
			v.bad(g.path, "is %d characters; an X post holds 280", len([]rune(g.text)))
		}
	}
	if c.slackChat() && c.Watch.Mirror && c.Watch.Channel == "" {
		v.bad("watch.mirror", "needs watch.channel")
	}
	if c.Outbox.Workers < 1 {
		v.bad("outbox.workers", "must be at least 1")
	}
	if c.Outbox.Lease.D() < time.Second {
		v.bad("outbox.lease", "%s is too short: at least 1s (a send must finish within it)", c.Outbox.Lease)
	}
}

// serve checks what only the running service needs.
func (v *validator) serve() {
	c := v.cfg
	if c.slackChat() && !slackModeNames[c.Slack.Mode] {
		v.bad("slack.mode", "%q must be \"socket\" or \"http\"", c.Slack.Mode)
	}
	if u := c.Store.URL.Reveal(); u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") && !strings.HasPrefix(u, "sqlite://") && strings.Contains(u, "://") {
		v.bad("store.url", "unsupported scheme: use postgres://…, sqlite:///path, a file path, or leave it empty for %s", DefaultSQLitePath)
	}
	for _, b := range []struct{ path, u string }{{"x.api_base_url", c.X.APIBaseURL}, {"slack.api_base_url", c.Slack.APIBaseURL}} {
		if b.path == "slack.api_base_url" && !c.slackChat() {
			continue
		}
		if pu, err := url.Parse(b.u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			v.bad(b.path, "%q is not an http(s) URL", b.u)
		}
	}
	handles := map[string]bool{}
	for i, a := range c.X.Accounts {
		p := fmt.Sprintf("x.accounts[%d]", i)
		if !xHandle.MatchString(a.Handle) {
			v.bad(p+".handle", "%q is not an X handle (1–15 letters, digits or _, without @)", a.Handle)
		}
		if handles[strings.ToLower(a.Handle)] {
			v.bad(p+".handle", "duplicate account %q", a.Handle)
		}
		handles[strings.ToLower(a.Handle)] = true
		for _, g := range []struct{ key, text string }{{"greeting", a.Greeting}, {"sign_off", a.SignOff}} {
			if len([]rune(g.text)) > 280 {
				v.bad(p+"."+g.key, "is %d characters; an X post holds 280", len([]rune(g.text)))
			}
		}
		if a.OAuth1 != nil && a.OAuth2 != nil {
			v.bad(p, "give oauth1 or oauth2, not both")
		}
		if v.level < LevelServe {
			continue
		}
		if !xUserID.MatchString(a.UserID) {
			v.bad(p+".user_id", "required: the account's numeric X user id")
		}
		switch {
		case a.OAuth1 != nil:
			o := a.OAuth1
			for _, s := range []struct {
				name string
				val  Secret
			}{{"consumer_key", o.ConsumerKey}, {"consumer_secret", o.ConsumerSecret}, {"access_token", o.AccessToken}, {"access_secret", o.AccessSecret}} {
				if !s.val.IsSet() {
					v.bad(p+".oauth1."+s.name, "required for OAuth 1.0a")
				} else {
					v.xToken(p+".oauth1."+s.name, s.val.Reveal())
				}
			}
		case a.OAuth2 != nil:
			o := a.OAuth2
			if !o.AccessToken.IsSet() {
				v.bad(p+".oauth2.access_token", "required for OAuth 2.0")
			} else {
				v.xToken(p+".oauth2.access_token", o.AccessToken.Reveal())
			}
			if o.RefreshToken.IsSet() {
				v.xToken(p+".oauth2.refresh_token", o.RefreshToken.Reveal())
			}
			if o.RefreshToken.IsSet() && o.ClientID == "" {
				v.bad(p+".oauth2.client_id", "required to refresh the access token")
			}
		default:
			v.bad(p, "user-context credentials are required to answer as this account: add oauth1 or oauth2")
		}
	}
	for i, d := range c.Departments {
		if d.Account != "" && len(c.X.Accounts) > 0 && !handles[strings.ToLower(d.Account)] {
			v.bad(fmt.Sprintf("departments[%d].account", i), "%q is not one of x.accounts", d.Account)
		}
	}
	for i, s := range c.X.Searches {
		p := fmt.Sprintf("x.searches[%d]", i)
		if s.Name == "" || !idPattern.MatchString(s.Name) {
			v.bad(p+".name", "required: a short id using a-z, 0-9, _ and - (it names the poller's cursor)")
		}
		if strings.TrimSpace(s.Query) == "" {
			v.bad(p+".query", "required")
		} else if len(s.Query) > 512 && !c.X.Enterprise {
			v.bad(p+".query", "is %d characters; X allows 512 (4,096 with enterprise: true)", len(s.Query))
		}
	}
	if v.level < LevelServe {
		return
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		v.bad("http.addr", "%q is not host:port (e.g. :8080)", c.HTTP.Addr)
	}
	if c.slackChat() {
		if !c.Slack.BotToken.IsSet() {
			v.bad("slack.bot_token", "required: the bot token (xoxb-…), or bot_token_file")
		} else {
			v.slackToken("slack.bot_token", c.Slack.BotToken.Reveal(), "xoxb-", "the Bot User OAuth Token")
		}
		if c.Slack.Mode == "socket" && !c.Slack.AppToken.IsSet() {
			v.bad("slack.app_token", "required in socket mode: the app-level token (xapp-…), or app_token_file")
		} else if c.Slack.Mode == "socket" {
			v.slackToken("slack.app_token", c.Slack.AppToken.Reveal(), "xapp-", "an App-Level Token with connections:write")
		}
		if c.Slack.Mode == "http" && !c.Slack.SigningSecret.IsSet() {
			v.bad("slack.signing_secret", "required in http mode, to verify Slack's requests")
		}
	}
	if !c.X.BearerToken.IsSet() {
		v.bad("x.bearer_token", "required: the app's bearer token for reading (or bearer_token_file)")
	} else {
		v.xToken("x.bearer_token", c.X.BearerToken.Reveal())
	}
	if len(c.X.Accounts) == 0 {
		v.bad("x.accounts", "required: at least one official account")
	}
}

// slackTokenKinds name Slack's token types by prefix, so that a token
// pasted into the wrong key is named (Slack's token types:
// api.slack.com/authentication/token-types). Token rotation prefixes
// bot tokens with xoxe. too.
var slackTokenKinds = []struct{ prefix, kind string }{
	{"xoxb-", "a bot token (xoxb-…)"},
	{"xapp-", "an app-level token (xapp-…)"},
	{"xoxp-", "a user token (xoxp-…)"},
	{"xoxe-", "a refresh token (xoxe-…)"},
	{"xoxc-", "a browser session token (xoxc-…)"},
	{"xoxa-", "a workspace token (xoxa-…)"},
}

// slackToken checks, offline, that a Slack token has the shape of the kind
// want names (its prefix); what is for tells where to find the right one.
// The token itself is never printed.
func (v *validator) slackToken(path, tok, want, what string) {
	t := strings.TrimPrefix(tok, "xoxe.") // a rotating token: xoxe.xoxb-…
	if strings.HasPrefix(t, want) && !strings.ContainsAny(tok, " \t\r\n") {
		return
	}
	switch {
	case strings.ContainsAny(tok, " \t\r\n"):
		v.bad(path, "contains white space; a Slack token is one word starting with %s", want)
		return
	}
	for _, k := range slackTokenKinds {
		if strings.HasPrefix(t, k.prefix) {
			v.bad(path, "is %s; this key needs %s (%s…)", k.kind, what, want)
			return
		}
	}
	v.bad(path, "does not look like a Slack token: it should start with %s (%s)", want, what)
}

// xToken checks, offline, what can be known of an X credential's shape:
// X documents no prefix, so only a pasted header ("Bearer …"), white space
// or a Slack token are caught. The token itself is never printed.
func (v *validator) xToken(path, tok string) {
	switch {
	case strings.HasPrefix(strings.ToLower(tok), "bearer ") || strings.HasPrefix(strings.ToLower(tok), "oauth "):
		v.bad(path, "starts with the header's scheme (%q): give the token alone", strings.Fields(tok)[0])
	case strings.ContainsAny(tok, " \t\r\n"):
		v.bad(path, "contains white space; X tokens and keys are one word")
	case strings.HasPrefix(tok, "xox") || strings.HasPrefix(tok, "xapp-"):
		v.bad(path, "is a Slack token; this key needs an X credential")
	}
}

// Department returns the department with id, or nil.
func (c *Config) Department(id string) *Department {
	for i := range c.Departments {
		if c.Departments[i].ID == id {
			return &c.Departments[i]
		}
	}
	return nil
}

// RouteRules converts the routes for the router.
func (c *Config) RouteRules() []route.Rule {
	rules := make([]route.Rule, len(c.Routes))
	for i, r := range c.Routes {
		rules[i] = route.Rule{
			Department: r.Department,
			Keywords:   r.Keywords,
			Exclude:    r.Exclude,
			Accounts:   r.Accounts,
			Continue:   r.Continue,
			Tag:        r.Tag,
		}
	}
	return rules
}

// Router compiles the routes.
func (c *Config) Router() (*route.Router, error) {
	r, err := route.New(c.RouteRules(), c.Triage)
	if err != nil {
		return nil, fmt.Errorf("compile routes: %w", err)
	}
	return r, nil
}

// Summary counts what the configuration defines.
type Summary struct {
	Departments, Rules, Keywords, Accounts, Searches int
}

// Summarize counts departments, rules, keywords (include and exclude),
// accounts and searches.
func (c *Config) Summarize() Summary {
	s := Summary{Departments: len(c.Departments), Rules: len(c.Routes), Accounts: len(c.X.Accounts), Searches: len(c.X.Searches)}
	for _, r := range c.Routes {
		s.Keywords += len(r.Keywords)
	}
	return s
}
