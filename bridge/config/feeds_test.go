package config

import (
	"strings"
	"testing"
	"time"
)

// A feeds section gets its defaults, and each problem names its field and
// line.
func TestFeedsSection(t *testing.T) {
	good := minimal + `feeds:
  user_agent: "ExampleCare/2 (+https://care.example/bot)"
  subscriptions:
    - url: https://community.example.com/c/network.rss
      department: network
    - url: https://blog.example.org/feed.atom
      name: blog
      interval: 2h
`
	cfg, errs := parse(t, good, LevelServe, nil)
	for _, e := range errs {
		if strings.HasPrefix(e.Path, "feeds") {
			t.Errorf("unexpected problem: %v", e)
		}
	}
	f := cfg.Feeds
	if f.UserAgent != "ExampleCare/2 (+https://care.example/bot)" || f.Horizon.D() != 24*time.Hour || f.MaxBodyBytes != DefaultFeedMaxBodyBytes {
		t.Errorf("defaults: %+v", f)
	}
	if s := f.Subscriptions[0]; s.Name != "community-example-com" || s.Interval.D() != 30*time.Minute || s.Department != "network" {
		t.Errorf("first feed: %+v", s)
	}
	if s := f.Subscriptions[1]; s.Name != "blog" || s.Interval.D() != 2*time.Hour {
		t.Errorf("second feed: %+v", s)
	}

	bad := minimal + `feeds:
  interval: 10s
  subscriptions:
    - url: ftp://example.com/feed
    - url: https://a.example/feed
      name: Blog!
      interval: 5s
      department: nobody
    - url: https://a.example/feed
    - name: empty
`
	_, errs = parse(t, bad, LevelRouting, nil)
	all := ""
	for _, e := range errs {
		all += e.String() + "\n"
	}
	for _, w := range []string{
		"feeds.interval: 10s is too often for someone else's site: at least 1m0s (line 15)",
		`feeds.subscriptions[0].url: "ftp://example.com/feed" is not an http(s) URL (line 17)`,
		`feeds.subscriptions[1].name: "Blog!" must use only a-z, 0-9, _ and - (line 19)`,
		"feeds.subscriptions[1].interval: 5s is too often for someone else's site: at least 1m0s (line 20)",
		`feeds.subscriptions[1].department: unknown department "nobody" (line 21)`,
		`feeds.subscriptions[2].url: duplicate feed "https://a.example/feed" (line 22)`,
		"feeds.subscriptions[3].url: required: the address of the RSS or Atom feed (line 23)",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("problems lack %q:\n%s", w, all)
		}
	}
}
