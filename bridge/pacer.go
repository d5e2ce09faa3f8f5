package bridge

import (
	"sync"
	"time"
)

// pacer keeps one token bucket per lane (a chat channel), so that a spike
// in one channel queues instead of tripping the platform's rate limit, and
// never slows the other channels.
type pacer struct {
	mu       sync.Mutex
	rate     float64 // tokens per second
	burst    float64
	disabled bool
	lanes    map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
	until  time.Time // the platform asked us to hold off until then
}

func newPacer(perSecond float64, burst int, disabled bool) *pacer {
	if perSecond <= 0 {
		perSecond = 1
	}
	if burst < 1 {
		burst = 1
	}
	return &pacer{rate: perSecond, burst: float64(burst), disabled: disabled, lanes: map[string]*bucket{}}
}

func (p *pacer) bucket(lane string, now time.Time) *bucket {
	b := p.lanes[lane]
	if b == nil {
		b = &bucket{tokens: p.burst, last: now}
		p.lanes[lane] = b
	}
	b.tokens = min(p.burst, b.tokens+now.Sub(b.last).Seconds()*p.rate)
	b.last = now
	return b
}

// take spends a token of lane if one is there, or returns how long to wait.
func (p *pacer) take(lane string, now time.Time) time.Duration {
	if lane == "" {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.bucket(lane, now)
	if now.Before(b.until) {
		return b.until.Sub(now)
	}
	if p.disabled {
		return 0
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / p.rate * float64(time.Second))
}

// hold stops lane until t (a Retry-After from the platform).
func (p *pacer) hold(lane string, now, t time.Time) {
	if lane == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.bucket(lane, now)
	if t.After(b.until) {
		b.until = t
	}
}

// busy lists the lanes that cannot send now.
func (p *pacer) busy(now time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for lane, b := range p.lanes {
		tokens := min(p.burst, b.tokens+now.Sub(b.last).Seconds()*p.rate)
		if now.Before(b.until) || (!p.disabled && tokens < 1) {
			out = append(out, lane)
		}
	}
	return out
}
