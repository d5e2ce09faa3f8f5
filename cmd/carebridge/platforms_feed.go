package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carebridge/carebridge/adapters/feed"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
)

// Blogs and forums (RSS/Atom feeds): a listen-only network. Its rules say
// "answer on the site" and it has no replier; its one source checks every
// configured feed.

// registerFeed registers the feeds' rules with the core.
func registerFeed(opt *bridge.Options, _ *config.Config) {
	opt.Networks = append(opt.Networks, feed.Network{})
}

// feedSources returns the source that polls the configured feeds (none
// without feeds), on the process's clock, with its metrics registered.
func feedSources(cfg *config.Config, opt appOptions, m *metrics, log *slog.Logger) []bridge.Source {
	fc := cfg.Feeds
	if len(fc.Subscriptions) == 0 {
		return nil
	}
	var feeds []feed.Feed
	for _, s := range fc.Subscriptions {
		feeds = append(feeds, feed.Feed{URL: s.URL, Name: s.Name, Interval: s.Interval.D(), Department: s.Department})
	}
	var clock bridge.TimerClock = bridge.SystemClock{}
	if opt.Clock != nil {
		clock = opt.Clock
	}
	return []bridge.Source{feed.NewSource(feeds, feed.Options{UserAgent: fc.UserAgent, Horizon: fc.Horizon.D(), MaxBodyBytes: int64(fc.MaxBodyBytes)},
		clock, log.With("source", "feeds"), newFeedMetrics(m.reg, feeds))}
}

// feedMetrics is the Prometheus side of feed.Metrics. Every series of
// every configured feed exists from the start at 0, so that alerts see
// them before the first failure.
type feedMetrics struct {
	checks *prometheus.CounterVec
	errors *prometheus.GaugeVec
}

func newFeedMetrics(reg *prometheus.Registry, feeds []feed.Feed) *feedMetrics {
	fm := &feedMetrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carebridge_feed_checks_total", Help: "Checks of blog and forum feeds, by feed and result (new, unchanged, not_modified, redirect, rate_limited, gone, error).",
		}, []string{"feed", "result"}),
		errors: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "carebridge_feed_consecutive_errors", Help: "Failed checks in a row of each feed (0 after a success); the feed backs off exponentially meanwhile.",
		}, []string{"feed"}),
	}
	reg.MustRegister(fm.checks, fm.errors)
	for _, f := range feeds {
		for _, r := range feed.Results {
			fm.checks.WithLabelValues(f.Name, r)
		}
		fm.errors.WithLabelValues(f.Name).Set(0)
	}
	return fm
}

func (fm *feedMetrics) FeedChecked(f, result string) { fm.checks.WithLabelValues(f, result).Inc() }
func (fm *feedMetrics) FeedErrors(f string, n int)   { fm.errors.WithLabelValues(f).Set(float64(n)) }

// checkFeeds adds the feeds to `carebridge check`'s summary.
func checkFeeds(w io.Writer, cfg *config.Config) {
	for _, f := range cfg.Feeds.Subscriptions {
		dept := "routed by keywords, else triage"
		if f.Department != "" {
			dept = "routed by keywords, else " + f.Department
		}
		fmt.Fprintf(w, "  feed %-18s every %-6s %s  (%s)\n", f.Name, f.Interval, f.URL, dept)
	}
}
