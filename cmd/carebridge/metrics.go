package main

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carebridge/carebridge/bridge"
)

// metrics is the Prometheus implementation of bridge.Metrics.
type metrics struct {
	reg       *prometheus.Registry
	ingested  *prometheus.CounterVec
	routed    *prometheus.CounterVec
	apiErrors *prometheus.CounterVec
	latency   prometheus.Histogram
	processed *prometheus.CounterVec
	inbox     *prometheus.CounterVec
	watch     *watchMetrics
}

var _ bridge.Metrics = (*metrics)(nil)

func newMetrics(st bridge.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carebridge_posts_ingested_total", Help: "Posts stored, by the source that delivered them.",
		}, []string{"source", "platform"}),
		routed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carebridge_tickets_opened_total", Help: "New tickets (conversations), by owning department.",
		}, []string{"department"}),
		apiErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carebridge_api_errors_total", Help: "Failed platform calls, by platform and error code.",
		}, []string{"platform", "code"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "carebridge_post_to_chat_seconds", Help: "Time from storing a post to its message in Slack.",
			Buckets: []float64{.01, .025, .05, .1, .2, .5, 1, 2, 5, 10, 30, 60, 300, 900},
		}),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carebridge_outbox_processed_total", Help: "Outbox rows attempted, by kind and result (done, retry, dead).",
		}, []string{"kind", "result"}),
		inbox: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carebridge_inbox_processed_total", Help: "Stored chat events applied, by result (done, retry, dead).",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.ingested, m.routed, m.apiErrors, m.latency, m.processed, m.inbox,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}),
		&outboxCollector{store: st})
	m.watch = newWatchMetrics(m.reg)
	return m
}

func (m *metrics) PostIngested(src bridge.SourceKind, p bridge.Platform, _ bool) {
	m.ingested.WithLabelValues(string(src), string(p)).Inc()
}
func (m *metrics) PostRouted(dept string) { m.routed.WithLabelValues(dept).Inc() }
func (m *metrics) APIError(platform, code string) {
	m.apiErrors.WithLabelValues(platform, code).Inc()
}
func (m *metrics) MirrorLatency(d time.Duration) { m.latency.Observe(d.Seconds()) }
func (m *metrics) OutboxDone(kind string, err error, permanent bool) {
	result := "done"
	switch {
	case permanent:
		result = "dead"
	case err != nil:
		result = "retry"
	}
	m.processed.WithLabelValues(kind, result).Inc()
}

// InboxDone implements bridge.InboxMetrics.
func (m *metrics) InboxDone(result string) { m.inbox.WithLabelValues(result).Inc() }

// outboxCollector reads the backlog (outbox and inbox) from the store at
// scrape time.
type outboxCollector struct {
	store bridge.Store
	mu    sync.Mutex
	lanes map[string]bool // chat channels seen with a queue: they report 0 once it is gone
}

var (
	outboxDepth = prometheus.NewDesc("carebridge_outbox_depth", "Outbox rows waiting or in flight, by kind.", []string{"kind"}, nil)
	outboxAge   = prometheus.NewDesc("carebridge_outbox_oldest_age_seconds", "Age of the oldest waiting outbox row, by kind.", []string{"kind"}, nil)
	outboxDead  = prometheus.NewDesc("carebridge_outbox_dead", "Outbox rows given up after a permanent failure, by kind.", []string{"kind"}, nil)
	inboxDepth  = prometheus.NewDesc("carebridge_inbox_depth", "Received chat events stored but not yet applied.", nil, nil)
	inboxAge    = prometheus.NewDesc("carebridge_inbox_oldest_age_seconds", "Age of the oldest chat event not yet applied.", nil, nil)
	inboxDead   = prometheus.NewDesc("carebridge_inbox_dead", "Chat events given up (permanent failure or too many attempts).", nil, nil)
	storeUp     = prometheus.NewDesc("carebridge_store_up", "1 if the database answered the last scrape.", nil, nil)
	// Per chat channel: what a traffic spike queued there (a channel
	// shows about one message a second).
	channelDepth = prometheus.NewDesc("carebridge_channel_queue_depth", "Chat messages waiting or in flight, by channel.", []string{"channel"}, nil)
	channelAge   = prometheus.NewDesc("carebridge_channel_oldest_unsent_age_seconds", "Age of the oldest chat message not yet sent, by channel.", []string{"channel"}, nil)
)

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxDepth
	ch <- outboxAge
	ch <- outboxDead
	ch <- inboxDepth
	ch <- inboxAge
	ch <- inboxDead
	ch <- storeUp
	ch <- channelDepth
	ch <- channelAge
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	stats, err := c.store.OutboxStats(ctx, time.Now())
	if err != nil {
		ch <- prometheus.MustNewConstMetric(storeUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(storeUp, prometheus.GaugeValue, 1)
	if in, err := c.store.InboxStats(ctx, time.Now()); err == nil {
		ch <- prometheus.MustNewConstMetric(inboxDepth, prometheus.GaugeValue, float64(in.Pending))
		ch <- prometheus.MustNewConstMetric(inboxAge, prometheus.GaugeValue, in.OldestAge.Seconds())
		ch <- prometheus.MustNewConstMetric(inboxDead, prometheus.GaugeValue, float64(in.Dead))
	}
	seen := map[string]bool{}
	for _, s := range stats {
		seen[s.Kind] = true
		ch <- prometheus.MustNewConstMetric(outboxDepth, prometheus.GaugeValue, float64(s.Pending), s.Kind)
		ch <- prometheus.MustNewConstMetric(outboxAge, prometheus.GaugeValue, s.OldestAge.Seconds(), s.Kind)
		ch <- prometheus.MustNewConstMetric(outboxDead, prometheus.GaugeValue, float64(s.Dead), s.Kind)
	}
	c.collectChannels(ctx, ch)
	// Kinds with no backlog report zero, so that alerts see the series.
	for _, kind := range outboxKinds {
		if !seen[kind] {
			ch <- prometheus.MustNewConstMetric(outboxDepth, prometheus.GaugeValue, 0, kind)
			ch <- prometheus.MustNewConstMetric(outboxAge, prometheus.GaugeValue, 0, kind)
			ch <- prometheus.MustNewConstMetric(outboxDead, prometheus.GaugeValue, 0, kind)
		}
	}
}

// collectChannels reports the queue of each chat channel (the outbox's
// chat lanes).
func (c *outboxCollector) collectChannels(ctx context.Context, ch chan<- prometheus.Metric) {
	lanes, err := c.store.OutboxLanes(ctx, time.Now())
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lanes == nil {
		c.lanes = map[string]bool{}
	}
	now := map[string]bool{}
	for _, l := range lanes {
		name, ok := strings.CutPrefix(l.Lane, "chat:")
		if !ok {
			continue
		}
		now[name], c.lanes[name] = true, true
		ch <- prometheus.MustNewConstMetric(channelDepth, prometheus.GaugeValue, float64(l.Pending), name)
		ch <- prometheus.MustNewConstMetric(channelAge, prometheus.GaugeValue, l.OldestAge.Seconds(), name)
	}
	for name := range c.lanes {
		if !now[name] {
			ch <- prometheus.MustNewConstMetric(channelDepth, prometheus.GaugeValue, 0, name)
			ch <- prometheus.MustNewConstMetric(channelAge, prometheus.GaugeValue, 0, name)
		}
	}
}
