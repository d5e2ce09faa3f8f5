package schedule

import (
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/carebridge/carebridge/bridge"
)

// gocronClock adapts the process's clock (a bridge.TimerClock) to
// clockwork.Clock, the clock gocron takes (gocron.WithClock), so that the
// schedules run on the same time as everything else: the real one in
// production, a test's fake in tests. gocron v2 calls Now and AfterFunc;
// the other methods are built on those two.
type gocronClock struct{ c bridge.TimerClock }

var _ clockwork.Clock = gocronClock{}

func (g gocronClock) Now() time.Time                  { return g.c.Now() }
func (g gocronClock) Since(t time.Time) time.Duration { return g.c.Now().Sub(t) }
func (g gocronClock) Until(t time.Time) time.Duration { return t.Sub(g.c.Now()) }

func (g gocronClock) AfterFunc(d time.Duration, f func()) clockwork.Timer {
	t := &timer{clock: g.c, f: f}
	t.Reset(d)
	return t
}

func (g gocronClock) NewTimer(d time.Duration) clockwork.Timer {
	ch := make(chan time.Time, 1)
	t := &timer{clock: g.c, ch: ch}
	t.f = func() {
		select {
		case ch <- g.c.Now():
		default:
		}
	}
	t.Reset(d)
	return t
}

func (g gocronClock) After(d time.Duration) <-chan time.Time { return g.NewTimer(d).Chan() }

func (g gocronClock) Sleep(d time.Duration) { <-g.After(d) }

func (g gocronClock) NewTicker(d time.Duration) clockwork.Ticker {
	if d <= 0 {
		panic("schedule: non-positive interval for NewTicker") // as time.NewTicker
	}
	tk := &ticker{clock: g.c, ch: make(chan time.Time, 1)}
	tk.Reset(d)
	return tk
}

// timer is a clockwork.Timer over TimerClock.AfterFunc.
type timer struct {
	clock bridge.TimerClock
	f     func()
	ch    chan time.Time // NewTimer's; nil for AfterFunc's

	mu      sync.Mutex
	pending bridge.Timer
}

func (t *timer) Chan() <-chan time.Time { return t.ch }

// Reset plans the call d from now, cancelling the pending one; it reports
// whether one was pending.
func (t *timer) Reset(d time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := t.pending != nil && t.pending.Stop()
	t.pending = t.clock.AfterFunc(d, t.f)
	return was
}

func (t *timer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pending != nil && t.pending.Stop()
}

// ticker is a clockwork.Ticker over TimerClock.AfterFunc: each tick plans
// the next one.
type ticker struct {
	clock bridge.TimerClock
	ch    chan time.Time

	mu      sync.Mutex
	period  time.Duration
	gen     int // a tick planned under an older Reset or Stop does nothing
	pending bridge.Timer
}

func (tk *ticker) Chan() <-chan time.Time { return tk.ch }

func (tk *ticker) Reset(d time.Duration) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	tk.stopLocked()
	tk.period = d
	tk.planLocked()
}

func (tk *ticker) Stop() {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	tk.stopLocked()
}

func (tk *ticker) stopLocked() {
	tk.gen++
	if tk.pending != nil {
		tk.pending.Stop()
		tk.pending = nil
	}
}

func (tk *ticker) planLocked() {
	gen := tk.gen
	tk.pending = tk.clock.AfterFunc(tk.period, func() {
		tk.mu.Lock()
		defer tk.mu.Unlock()
		if gen != tk.gen {
			return
		}
		select {
		case tk.ch <- tk.clock.Now():
		default: // a slow reader misses ticks, as with time.Ticker
		}
		tk.planLocked()
	})
}
