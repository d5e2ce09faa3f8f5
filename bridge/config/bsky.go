package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Bluesky configures listening and answering on Bluesky. Keyword
// listening uses the routes' keywords (matched locally on the Jetstream
// firehose); mentions and replies come from each account's
// notifications.
type Bluesky struct {
	// PDSURL is the accounts' PDS (default https://bsky.social); an
	// account may name its own.
	PDSURL    string    `yaml:"pds_url"`
	Jetstream Jetstream `yaml:"jetstream"`
	// NotificationsInterval is how often each account's notifications
	// are read (default 30s).
	NotificationsInterval Duration         `yaml:"notifications_interval"`
	Accounts              []BlueskyAccount `yaml:"accounts"`
}

// Jetstream configures keyword listening on the Bluesky firehose.
type Jetstream struct {
	// Listen turns keyword listening on (default on when an account is
	// configured).
	Listen *bool `yaml:"listen"`
	// Instances are tried in order; a silent or failing one hands over to
	// the next (default: Bluesky's four public instances).
	Instances []string `yaml:"instances"`
	// Silence is how long an open socket may stay silent before it is
	// dropped (default 30s).
	Silence Duration `yaml:"silence"`
	// Rewind is how far back a reconnect starts before the saved cursor
	// (default 5s).
	Rewind Duration `yaml:"rewind"`
}

// BlueskyAccount is one of our Bluesky accounts. It signs in with an app
// password (Settings → Privacy and security → App passwords; allow
// direct messages to answer by DM).
type BlueskyAccount struct {
	Handle          string `yaml:"handle"`
	AppPassword     Secret `yaml:"app_password"`
	AppPasswordFile string `yaml:"app_password_file"`
	PDSURL          string `yaml:"pds_url"`
	// Mentions turns the notifications poller on (default on).
	Mentions *bool `yaml:"mentions"`
}

// Bluesky defaults.
const DefaultBlueskyPDS = "https://bsky.social"

// DefaultJetstreamInstances are Bluesky's public Jetstream instances.
var DefaultJetstreamInstances = []string{
	"wss://jetstream1.us-east.bsky.network/subscribe",
	"wss://jetstream2.us-east.bsky.network/subscribe",
	"wss://jetstream1.us-west.bsky.network/subscribe",
	"wss://jetstream2.us-west.bsky.network/subscribe",
}

// ListenKeywords reports whether keyword listening on Jetstream is on.
func (b *Bluesky) ListenKeywords() bool {
	return len(b.Accounts) > 0 && (b.Jetstream.Listen == nil || *b.Jetstream.Listen)
}

// bskyHandle is a Bluesky handle: a domain name.
var bskyHandle = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

// bluesky applies the section's defaults and checks it.
func (v *validator) bluesky() {
	b := &v.cfg.Bluesky
	if b.PDSURL == "" {
		b.PDSURL = DefaultBlueskyPDS
	}
	if b.NotificationsInterval == 0 {
		b.NotificationsInterval = Duration(30 * time.Second)
	}
	j := &b.Jetstream
	if j.Instances == nil {
		j.Instances = DefaultJetstreamInstances
	}
	if j.Silence == 0 {
		j.Silence = Duration(30 * time.Second)
	}
	if j.Rewind == 0 {
		j.Rewind = Duration(5 * time.Second)
	}
	httpURL := func(path, u string) {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			v.bad(path, "%q is not an http(s) URL", u)
		}
	}
	httpURL("bluesky.pds_url", b.PDSURL)
	if b.NotificationsInterval.D() < 5*time.Second {
		v.bad("bluesky.notifications_interval", "%s is too short: at least 5s", b.NotificationsInterval)
	}
	for i, in := range j.Instances {
		if pu, err := url.Parse(in); err != nil || (pu.Scheme != "wss" && pu.Scheme != "ws") || pu.Host == "" {
			v.bad(fmt.Sprintf("bluesky.jetstream.instances[%d]", i), "%q is not a websocket URL (wss://host/subscribe)", in)
		}
	}
	if len(j.Instances) == 0 && b.ListenKeywords() {
		v.bad("bluesky.jetstream.instances", "needs at least one instance while listen is on")
	}
	if s := j.Silence.D(); s < time.Second || s > 10*time.Minute {
		v.bad("bluesky.jetstream.silence", "%s must be between 1s and 10m", j.Silence)
	}
	if r := j.Rewind.D(); r > time.Hour {
		v.bad("bluesky.jetstream.rewind", "%s must be at most 1h", j.Rewind)
	}
	seen := map[string]bool{}
	for i, a := range b.Accounts {
		p := fmt.Sprintf("bluesky.accounts[%d]", i)
		h := strings.TrimPrefix(a.Handle, "@")
		switch {
		case !bskyHandle.MatchString(h):
			v.bad(p+".handle", "%q is not a Bluesky handle (a domain name such as sbcare.bsky.social, without @)", a.Handle)
		case seen[strings.ToLower(h)]:
			v.bad(p+".handle", "duplicate account %q", a.Handle)
		}
		seen[strings.ToLower(h)] = true
		if a.PDSURL != "" {
			httpURL(p+".pds_url", a.PDSURL)
		}
		if v.level >= LevelServe && !a.AppPassword.IsSet() {
			v.bad(p+".app_password", "required: an app password of the account (or app_password_file)")
		}
	}
}
