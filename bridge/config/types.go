package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration file. Field order follows
// examples/carebridge.yaml, which documents every key.
type Config struct {
	Timezone    string       `yaml:"timezone"`
	Store       Store        `yaml:"store"`
	HTTP        HTTP         `yaml:"http"`
	Chat        string       `yaml:"chat"` // ChatSlack (default) or ChatTeams
	Slack       Slack        `yaml:"slack"`
	Teams       Teams        `yaml:"teams"` // teams.go
	X           X            `yaml:"x"`
	Bluesky     Bluesky      `yaml:"bluesky"`
	Meta        Meta         `yaml:"meta"`
	Departments []Department `yaml:"departments"`
	Routes      []Route      `yaml:"routes"`
	Triage      string       `yaml:"triage"`
	Approvals   Approvals    `yaml:"approvals"`
	SLA         SLA          `yaml:"sla"`
	Digests     Digests      `yaml:"digests"`
	Watch       Watch        `yaml:"watch"`
	OfficeHours OfficeHours  `yaml:"office_hours"`
	Spikes      Spikes       `yaml:"spikes"`
	Tickets     Tickets      `yaml:"tickets"`
	Outbox      Outbox       `yaml:"outbox"`
	Feeds       Feeds        `yaml:"feeds"`
	Bundles     Bundles      `yaml:"bundles"`

	// Location is Timezone loaded; set by Load.
	Location *time.Location `yaml:"-"`
	// Path is the file the configuration was read from.
	Path string `yaml:"-"`
}

// Store says where state is kept.
type Store struct {
	// URL: empty for SQLite at DefaultSQLitePath; "sqlite:///path" or a
	// file path for SQLite elsewhere; "postgres://…" for PostgreSQL.
	URL     Secret `yaml:"url"`
	URLFile string `yaml:"url_file"`
	// MaxConnections caps the PostgreSQL connection pool of one replica
	// (0: the default, 10). SQLite always uses one connection.
	MaxConnections int `yaml:"max_connections"`
}

// DefaultSQLitePath is where the SQLite store lives when store.url is empty.
const DefaultSQLitePath = "./carebridge-data/carebridge.db"

// HTTP configures the HTTP listener (health, metrics, Slack events).
type HTTP struct {
	Addr string `yaml:"addr"`
}

// Slack configures the Slack workspace connection.
type Slack struct {
	// Mode is "socket" (Socket Mode, needs app_token) or "http" (Events
	// API at /slack/events, needs signing_secret).
	Mode              string   `yaml:"mode"`
	BotToken          Secret   `yaml:"bot_token"`
	BotTokenFile      string   `yaml:"bot_token_file"`
	AppToken          Secret   `yaml:"app_token"`
	AppTokenFile      string   `yaml:"app_token_file"`
	SigningSecret     Secret   `yaml:"signing_secret"`
	SigningSecretFile string   `yaml:"signing_secret_file"`
	APIBaseURL        string   `yaml:"api_base_url"`
	Pacing            Pacing   `yaml:"pacing"`
	Watchers          []string `yaml:"watchers"`
}

// Pacing limits chat posts per channel.
type Pacing struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
	Disabled  bool    `yaml:"disabled"`
}

// X configures the X (Twitter) API v2 connection.
type X struct {
	APIBaseURL      string    `yaml:"api_base_url"`
	BearerToken     Secret    `yaml:"bearer_token"`
	BearerTokenFile string    `yaml:"bearer_token_file"`
	Enterprise      bool      `yaml:"enterprise"`
	Stream          bool      `yaml:"stream"`
	Accounts        []Account `yaml:"accounts"`
	Searches        []Search  `yaml:"searches"`
	Poll            Poll      `yaml:"poll"`
}

// Account is an official X account carebridge listens and answers as.
type Account struct {
	Handle string  `yaml:"handle"`
	UserID string  `yaml:"user_id"`
	OAuth1 *OAuth1 `yaml:"oauth1"`
	OAuth2 *OAuth2 `yaml:"oauth2"`
	// Mentions turns the mentions poller for this account on (default on).
	Mentions *bool `yaml:"mentions"`
	// DMs turns the DM poller for this account on (default on).
	DMs *bool `yaml:"dms"`
	// Greeting and SignOff override office_hours.greeting and sign_off
	// for this account ("-" posts nothing).
	Greeting string `yaml:"greeting"`
	SignOff  string `yaml:"sign_off"`
}

// OAuth1 holds OAuth 1.0a user-context credentials.
type OAuth1 struct {
	ConsumerKey        Secret `yaml:"consumer_key"`
	ConsumerKeyFile    string `yaml:"consumer_key_file"`
	ConsumerSecret     Secret `yaml:"consumer_secret"`
	ConsumerSecretFile string `yaml:"consumer_secret_file"`
	AccessToken        Secret `yaml:"access_token"`
	AccessTokenFile    string `yaml:"access_token_file"`
	AccessSecret       Secret `yaml:"access_secret"`
	AccessSecretFile   string `yaml:"access_secret_file"`
}

// OAuth2 holds an OAuth 2.0 user token, refreshed with the refresh token.
type OAuth2 struct {
	ClientID         string `yaml:"client_id"`
	ClientSecret     Secret `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	AccessToken      Secret `yaml:"access_token"`
	AccessTokenFile  string `yaml:"access_token_file"`
	RefreshToken     Secret `yaml:"refresh_token"`
	RefreshTokenFile string `yaml:"refresh_token_file"`
}

// Search is one recent-search poller.
type Search struct {
	Name     string   `yaml:"name"`
	Query    string   `yaml:"query"`
	Interval Duration `yaml:"interval"`
}

// Poll holds polling defaults.
type Poll struct {
	SearchInterval   Duration `yaml:"search_interval"`
	MentionsInterval Duration `yaml:"mentions_interval"`
	DMInterval       Duration `yaml:"dm_interval"`
	MaxResults       int      `yaml:"max_results"`
}

// Department is a team with a Slack channel that answers a topic.
type Department struct {
	ID      string `yaml:"id"`
	Name    string `yaml:"name"`
	Channel string `yaml:"channel"`
	// Account is the handle of the official X account it answers as;
	// default the first of x.accounts.
	Account string `yaml:"account"`
	// Approval is "required" (default) or "none".
	Approval          string   `yaml:"approval"`
	Approvers         []string `yaml:"approvers"`
	AllowSelfApproval bool     `yaml:"allow_self_approval"`
	// Members may close the department's tickets with the close reaction
	// (Slack user IDs or user group IDs); approvers always may. Empty:
	// anyone in the channel but the watchers.
	Members []string `yaml:"members"`
	// Escalation is the user group mentioned on an SLA breach.
	Escalation string   `yaml:"escalation"`
	SLA        *SLA     `yaml:"sla"`
	Digests    []string `yaml:"digests"`
}

// Approval modes.
const (
	ApprovalRequired = "required"
	ApprovalNone     = "none"
)

// Route is one ordered routing rule.
type Route struct {
	Department string   `yaml:"department"`
	Keywords   []string `yaml:"keywords"`
	Exclude    []string `yaml:"exclude"`
	Accounts   []string `yaml:"accounts"`
	Continue   bool     `yaml:"continue"`
	Tag        string   `yaml:"tag"`
}

// Approvals names the reactions that decide on drafts.
type Approvals struct {
	ApproveEmoji   string `yaml:"approve_emoji"`
	ApproveDMEmoji string `yaml:"approve_dm_emoji"`
	RejectEmoji    string `yaml:"reject_emoji"`
	CloseEmoji     string `yaml:"close_emoji"`
	// UserGroupRefresh is how often approver user groups are re-read.
	UserGroupRefresh Duration `yaml:"usergroup_refresh"`
}

// SLA holds response-time targets.
type SLA struct {
	FirstResponse Duration `yaml:"first_response"`
	NextResponse  Duration `yaml:"next_response"`
	// WarnAt is the share of the target at which a warning is posted.
	WarnAt float64 `yaml:"warn_at"`
}

// Digests configures department digests.
type Digests struct {
	Times []string `yaml:"times"`
}

// Watch configures the executive watch channel.
type Watch struct {
	Channel    string `yaml:"channel"`
	DigestTime string `yaml:"digest_time"`
	Mirror     bool   `yaml:"mirror"`
}

// OfficeHours configures business hours, greetings and sign-offs.
type OfficeHours struct {
	Open     string   `yaml:"open"`
	Close    string   `yaml:"close"`
	Weekdays []string `yaml:"weekdays"`
	Holidays []string `yaml:"holidays"`
	Greeting string   `yaml:"greeting"`
	SignOff  string   `yaml:"sign_off"`
}

// Spikes configures spike alerts.
type Spikes struct {
	Window   Duration `yaml:"window"`
	Factor   float64  `yaml:"factor"`
	MinPosts int      `yaml:"min_posts"`
	Cooldown Duration `yaml:"cooldown"`
}

// Tickets configures ticket life cycle.
type Tickets struct {
	AutoCloseAfter Duration `yaml:"auto_close_after"`
}

// Outbox configures side-effect delivery.
type Outbox struct {
	Workers     int      `yaml:"workers"`
	MaxAttempts int      `yaml:"max_attempts"`
	MaxBackoff  Duration `yaml:"max_backoff"`
	// Lease is how long a worker holds a row it claimed; a row whose
	// worker died is taken over (and reconciled) after it.
	Lease Duration `yaml:"lease"`
}

// Secret is a configuration value that must never be printed. Its String,
// GoString, MarshalText and MarshalJSON forms are redacted; Reveal returns
// the value.
type Secret struct{ value string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.value }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s.value != "" }

func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// MarshalText redacts.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalYAML reads a scalar.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("must be a string")
	}
	s.value = n.Value
	return nil
}

// Duration is a time.Duration written as "90s", "15m", "4h" or "7d".
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats like time.Duration, with whole days as "Nd".
func (d Duration) String() string {
	t := time.Duration(d)
	if t > 0 && t%(24*time.Hour) == 0 {
		return strconv.Itoa(int(t/(24*time.Hour))) + "d"
	}
	return t.String()
}

// ParseDuration accepts Go durations plus a whole-day suffix "d".
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q (want e.g. 90s, 15m, 4h, 7d)", s)
		}
		return Duration(time.Duration(n) * 24 * time.Hour), nil
	}
	t, err := time.ParseDuration(s)
	if err != nil || t < 0 {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 90s, 15m, 4h, 7d)", s)
	}
	return Duration(t), nil
}

// UnmarshalYAML parses a duration scalar.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("must be a duration such as 15m")
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText formats the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
