package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/carebridge/carebridge/bridge/watch"
)

// watchMetrics counts what the watching jobs did.
type watchMetrics struct {
	sla      *prometheus.CounterVec
	spikes   *prometheus.CounterVec
	digests  *prometheus.CounterVec
	greeting *prometheus.CounterVec
	closed   *prometheus.CounterVec
}

var _ watch.Metrics = (*watchMetrics)(nil)

func newWatchMetrics(reg *prometheus.Registry) *watchMetrics {
	m := &watchMetrics{
		sla: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carebridge_sla_alerts_total", Help: "SLA warnings (80% of the target) and breaches posted, by department and level.",
		}, []string{"department", "level"}),
		spikes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carebridge_spike_alerts_total", Help: "Spike alerts posted, by department.",
		}, []string{"department"}),
		digests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carebridge_digests_total", Help: "Digests queued, by kind (department, executive).",
		}, []string{"kind"}),
		greeting: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carebridge_greetings_total", Help: "Opening greetings and closing sign-offs queued, by account and purpose.",
		}, []string{"account", "purpose"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carebridge_tickets_auto_closed_total", Help: "Answered tickets closed after tickets.auto_close_after of silence, by department.",
		}, []string{"department"}),
	}
	reg.MustRegister(m.sla, m.spikes, m.digests, m.greeting, m.closed)
	return m
}

func (m *watchMetrics) SLAAlert(dept, level string) { m.sla.WithLabelValues(dept, level).Inc() }
func (m *watchMetrics) SpikeAlert(dept string)      { m.spikes.WithLabelValues(dept).Inc() }
func (m *watchMetrics) DigestQueued(kind string)    { m.digests.WithLabelValues(kind).Inc() }
func (m *watchMetrics) GreetingQueued(account, purpose string) {
	m.greeting.WithLabelValues(account, purpose).Inc()
}
func (m *watchMetrics) TicketAutoClosed(dept string) { m.closed.WithLabelValues(dept).Inc() }
