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
	// reserved counts rows claimed for the lane that have not taken
	// their token yet (admit, settle).
	reserved int
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

// busy lists the lanes that cannot send now: held, or without a token
// that no claimed row has reserved.
func (p *pacer) busy(now time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for lane, b := range p.lanes {
		tokens := min(p.burst, b.tokens+now.Sub(b.last).Seconds()*p.rate)
		if now.Before(b.until) || (!p.disabled && tokens-float64(b.reserved) < 1) {
			out = append(out, lane)
		}
	}
	return out
}

// admit reserves a token of lane for a claimed row and reports whether
// one was free. A row not admitted goes back to the queue: a claim may
// return more rows of a lane than the lane can send now, and rows that
// wait in the process for the lane's pace would go out ahead of what
// arrives meanwhile with a higher priority (an alert, a mention). The
// caller settles every admitted row once it has taken its token (or given
// up on it).
func (p *pacer) admit(lane string, now time.Time) bool {
	if lane == "" {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.bucket(lane, now)
	if p.disabled {
		return true
	}
	if now.Before(b.until) || b.tokens-float64(b.reserved) < 1 {
		if b.reserved > 0 {
			return false
		}
		// Nothing of the lane is in flight: this row waits for the next
		// token itself rather than going back and forth.
	}
	b.reserved++
	return true
}

// settle releases the reservation admit made for a row of lane.
func (p *pacer) settle(lane string) {
	if lane == "" || p.disabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.lanes[lane]; b != nil && b.reserved > 0 {
		b.reserved--
	}
}
