// Package clocktest provides Clock, a fake of the process's one clock
// (bridge.Clock and bridge.TimerClock) for tests of every package: the
// time moves only when the test says so (Set, Advance), and the functions
// given to AfterFunc run when it passes their time, so tests never sleep
// to wait for a schedule.
//
// The package imports nothing of carebridge, so that the tests of package
// bridge itself can use it too.
package clocktest

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// Clock is a settable clock. The zero value is not usable; use New. It is
// safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	pending []*timer // by due time, then creation
	seq     uint64
	// added is closed and replaced whenever a timer is added, waking
	// WaitForTimers.
	added chan struct{}
}

// New returns a Clock showing now.
func New(now time.Time) *Clock {
	return &Clock{now: now, added: make(chan struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t (forward or back). Moving forward runs, in
// order of their due time, the AfterFunc functions due at or before t,
// each in its own goroutine with the clock showing its due time at that
// moment; Set returns when all have been started (not finished), with the
// clock showing t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending) > 0 && !c.pending[0].due.After(t) {
		tm := c.pending[0]
		c.pending = c.pending[1:]
		if tm.due.After(c.now) {
			c.now = tm.due
		}
		go tm.f()
	}
	c.now = t
}

// Advance moves the clock forward by d, as Set(Now().Add(d)).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	t := c.now.Add(d)
	c.mu.Unlock()
	c.Set(t)
}

// AfterFunc calls f in its own goroutine once the clock reaches Now()+d
// (at once when d <= 0). It implements bridge.TimerClock.
func (c *Clock) AfterFunc(d time.Duration, f func()) interface{ Stop() bool } {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	tm := &timer{c: c, due: c.now.Add(d), seq: c.seq, f: f}
	if d <= 0 {
		go f()
		return tm
	}
	i, _ := slices.BinarySearchFunc(c.pending, tm, func(a, b *timer) int {
		return cmp.Or(a.due.Compare(b.due), cmp.Compare(a.seq, b.seq))
	})
	c.pending = slices.Insert(c.pending, i, tm)
	close(c.added)
	c.added = make(chan struct{})
	return tm
}

// Timers returns how many AfterFunc calls are pending.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// WaitForTimers waits until at least n AfterFunc calls are pending (e.g.
// until a scheduler has planned its n jobs), or ctx ends.
func (c *Clock) WaitForTimers(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		enough, added := len(c.pending) >= n, c.added
		c.mu.Unlock()
		if enough {
			return nil
		}
		select {
		case <-added:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// timer is one pending AfterFunc call.
type timer struct {
	c   *Clock
	due time.Time
	seq uint64
	f   func()
}

// Stop cancels the call unless it has been started.
func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	i := slices.Index(t.c.pending, t)
	if i < 0 {
		return false
	}
	t.c.pending = slices.Delete(t.c.pending, i, i+1)
	return true
}
