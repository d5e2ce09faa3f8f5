package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Feeds configures listening to blogs and forums through their RSS and
// Atom feeds (a listen-only network: carebridge mirrors new items and
// cannot answer on the sites).
type Feeds struct {
	// UserAgent is sent with every request, so that site owners can tell
	// who polls them (default DefaultFeedUserAgent).
	UserAgent string `yaml:"user_agent"`
	// Interval is the default time between two checks of a feed
	// (default 30m; at least 1m).
	Interval Duration `yaml:"interval"`
	// Horizon: the first check of a new feed mirrors only items newer
	// than this (default 24h), so that a feed's archive does not flood a
	// channel.
	Horizon Duration `yaml:"horizon"`
	// MaxBodyBytes caps a feed document (default 5 MiB); a larger one is
	// an error, never silently cut.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// Subscriptions lists the feeds, one entry each.
	Subscriptions []Feed `yaml:"subscriptions"`
}

// Feed is one subscribed feed.
type Feed struct {
	// URL of the RSS or Atom document (required).
	URL string `yaml:"url"`
	// Name for people and logs (a-z, 0-9, _ and -; default the URL's
	// host).
	Name string `yaml:"name"`
	// Interval between checks (default feeds.interval). The feed's own
	// <ttl>, Cache-Control, Expires and Retry-After can make it longer.
	Interval Duration `yaml:"interval"`
	// Department takes the feed's items that no routing rule matches,
	// instead of the triage department (optional).
	Department string `yaml:"department"`
}

// Feed defaults.
const (
	DefaultFeedUserAgent    = "carebridge-feeds/1.0 (customer care; polite RSS/Atom reader)"
	DefaultFeedInterval     = 30 * time.Minute
	DefaultFeedHorizon      = 24 * time.Hour
	DefaultFeedMaxBodyBytes = 5 << 20
	// MinFeedInterval is the shortest interval allowed: feeds are other
	// people's sites.
	MinFeedInterval = time.Minute
)

// feeds applies the section's defaults and checks it; each problem names
// its field and line.
func (v *validator) feeds(depts map[string]bool) {
	f := &v.cfg.Feeds
	if f.UserAgent == "" {
		f.UserAgent = DefaultFeedUserAgent
	}
	if f.Interval == 0 {
		f.Interval = Duration(DefaultFeedInterval)
	}
	if f.Horizon == 0 {
		f.Horizon = Duration(DefaultFeedHorizon)
	}
	if f.MaxBodyBytes == 0 {
		f.MaxBodyBytes = DefaultFeedMaxBodyBytes
	}
	if strings.ContainsAny(f.UserAgent, "\r\n") {
		v.bad("feeds.user_agent", "must be one line")
	}
	if f.Interval.D() < MinFeedInterval {
		v.bad("feeds.interval", "%s is too often for someone else's site: at least %s", f.Interval, Duration(MinFeedInterval))
	}
	if f.Horizon.D() < 0 {
		v.bad("feeds.horizon", "%s must not be negative", f.Horizon)
	}
	if f.MaxBodyBytes < 1024 {
		v.bad("feeds.max_body_bytes", "%d is too small: at least 1024", f.MaxBodyBytes)
	}
	urls, names := map[string]bool{}, map[string]bool{}
	for i := range f.Subscriptions {
		s := &f.Subscriptions[i]
		p := fmt.Sprintf("feeds.subscriptions[%d]", i)
		u, err := url.Parse(s.URL)
		switch {
		case s.URL == "":
			v.bad(p+".url", "required: the address of the RSS or Atom feed")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			v.bad(p+".url", "%q is not an http(s) URL", s.URL)
		case urls[s.URL]:
			v.bad(p+".url", "duplicate feed %q", s.URL)
		}
		urls[s.URL] = true
		if s.Name == "" && err == nil && u != nil {
			s.Name = strings.NewReplacer(".", "-", ":", "-").Replace(strings.ToLower(u.Host))
		}
		switch {
		case s.Name != "" && !idPattern.MatchString(s.Name):
			v.bad(p+".name", "%q must use only a-z, 0-9, _ and -", s.Name)
		case s.Name != "" && names[s.Name]:
			v.bad(p+".name", "duplicate feed name %q (give each feed its own name)", s.Name)
		}
		names[s.Name] = true
		if s.Interval == 0 {
			s.Interval = f.Interval // checked once, above
		} else if s.Interval.D() < MinFeedInterval {
			v.bad(p+".interval", "%s is too often for someone else's site: at least %s", s.Interval, Duration(MinFeedInterval))
		}
		if s.Department != "" && !depts[s.Department] {
			v.bad(p+".department", "unknown department %q", s.Department)
		}
	}
}
