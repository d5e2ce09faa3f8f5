package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/carebridge/carebridge/adapters/x"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/bridge/watch"
)

// This file makes every labelled counter exist at 0 from the start, for
// the label values known before the first event: a dashboard shows a flat
// line instead of "no data", and an alert on increase() or rate() sees the
// series from the first scrape (Prometheus cannot tell a counter that went
// from absent to 1 from one that was always 1).

// Outbox kinds and the results a row can end an attempt with.
var (
	outboxKinds   = []string{bridge.KindChatPost, bridge.KindChatReport, bridge.KindChatReact, bridge.KindChatEphemeral, bridge.KindSend, bridge.KindPlatformPost}
	outboxResults = []string{"done", "retry", "dead"}
)

// apiErrorCodes are the error codes each platform's adapter classifies,
// as carebridge_api_errors_total{code} shows them; the auth codes among
// them are what examples/prometheus/alerts.yaml alerts on.
var apiErrorCodes = map[string][]string{
	"slack": {"network", "ratelimited", "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
		"missing_scope", "channel_not_found", "not_in_channel", "is_archived", "msg_too_long", "500", "503"},
	"x": {"network", x.CodeRateLimited, "auth", "401", "403", x.CodeDuplicate, x.CodeNotEligible, x.CodeDMClosed, "500", "503"},
}

// Chart upload results (adapters/slack.ChartOptions.Observe).
var chartResults = []string{"uploaded", "draw_failed", "upload_failed"}

// chartMetrics counts the executive digest's pictures.
type chartMetrics struct{ uploads *prometheus.CounterVec }

// preinit registers the gauges that describe the configuration and sets
// every known label combination of the counters to 0. sources counts the
// listening sources per platform.
func (m *metrics) preinit(cfg *config.Config, sources map[bridge.Platform]int) *chartMetrics {
	cm := &chartMetrics{uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "carebridge_report_charts_total", Help: "Executive digest charts, by result (uploaded, draw_failed, upload_failed); a failure never holds back the digest's text.",
	}, []string{"result"})}
	bi := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "carebridge_build_info", Help: "Always 1; the version label is the running binary's (carebridge -version).",
	}, []string{"version"})
	sc := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "carebridge_sources_configured", Help: "Listening sources configured (search and mention pollers, DM pollers, the stream), by platform.",
	}, []string{"platform"})
	m.reg.MustRegister(cm.uploads, bi, sc)
	bi.WithLabelValues(currentVersion()).Set(1)

	platforms := []string{string(x.Platform)}
	sourceKinds := []bridge.SourceKind{bridge.SourceSearch, bridge.SourceMention, bridge.SourceDM, bridge.SourceStream, bridge.SourceLookup, bridge.SourceImport}
	for _, p := range platforms {
		sc.WithLabelValues(p).Set(float64(sources[bridge.Platform(p)]))
		for _, s := range sourceKinds {
			m.ingested.WithLabelValues(string(s), p)
		}
	}
	for platform, codes := range apiErrorCodes {
		for _, c := range codes {
			m.apiErrors.WithLabelValues(platform, c)
		}
	}
	for _, k := range outboxKinds {
		for _, r := range outboxResults {
			m.processed.WithLabelValues(k, r)
		}
	}
	for _, r := range outboxResults {
		m.inbox.WithLabelValues(r)
	}
	for _, d := range cfg.Departments {
		m.routed.WithLabelValues(d.ID)
		m.watch.spikes.WithLabelValues(d.ID)
		m.watch.closed.WithLabelValues(d.ID)
		for _, level := range []string{watch.LevelWarning, watch.LevelBreach} {
			m.watch.sla.WithLabelValues(d.ID, level)
		}
	}
	for _, kind := range []string{"department", "executive"} {
		m.watch.digests.WithLabelValues(kind)
	}
	for _, a := range cfg.X.Accounts {
		for _, purpose := range []string{watch.Greeting, watch.SignOff} {
			m.watch.greeting.WithLabelValues(a.Handle, purpose)
		}
	}
	for _, r := range chartResults {
		cm.uploads.WithLabelValues(r)
	}
	return cm
}

// observe counts one chart by result.
func (c *chartMetrics) observe(result string) { c.uploads.WithLabelValues(result).Inc() }
