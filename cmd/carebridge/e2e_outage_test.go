package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/adapters/x/xfake"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store/storetest"
)

// outageWindow is how long the platform outages last:
// CAREBRIDGE_E2E_OUTAGE_WINDOW, default (and CI) one minute: several
// times the outbox's retry cap in this test (10 s), and 20 s for each of
// X's phases (503s; 429s with a 15-second reset; normal), so every fault
// is met more than once; a longer window only adds waiting.
func outageWindow() time.Duration { return envDuration("CAREBRIDGE_E2E_OUTAGE_WINDOW", time.Minute) }

// realisticBackoff replaces the harness's 2 s retry cap by 10 s: with
// 50 attempts, a 2 s cap gives up on a row after about 100 s of outage,
// which the default (5 m) never does; 10 s keeps the test quick after the
// outage and the attempts well under the limit.
func realisticBackoff(w *serveWorld) {
	w.writeConfig(strings.Replace(w.cfgSrc, "max_backoff: 2s", "max_backoff: 10s", 1))
}

// backlogSampler scrapes /metrics every second and keeps the largest
// outbox depth and oldest age seen per kind, and whether /readyz ever
// failed.
type backlogSampler struct {
	mu       sync.Mutex
	depth    map[string]float64
	age      map[string]float64
	apiErrs  float64
	notReady []string
	stop     chan struct{}
	done     chan struct{}
}

func sampleBacklog(addr string) *backlogSampler {
	b := &backlogSampler{depth: map[string]float64{}, age: map[string]float64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-tick.C:
			}
			m, err := scrape(addr)
			code, body := readyz(addr)
			b.mu.Lock()
			if err == nil {
				for _, kind := range []string{bridge.KindChatPost, bridge.KindChatReact, bridge.KindSend} {
					b.depth[kind] = max(b.depth[kind], m[fmt.Sprintf("carebridge_outbox_depth{kind=%q}", kind)])
					b.age[kind] = max(b.age[kind], m[fmt.Sprintf("carebridge_outbox_oldest_age_seconds{kind=%q}", kind)])
				}
				b.apiErrs = max(b.apiErrs, sumMetric(m, "carebridge_api_errors_total"))
			}
			if code != 200 {
				b.notReady = append(b.notReady, fmt.Sprintf("%d %s", code, body))
			}
			b.mu.Unlock()
		}
	}()
	return b
}

func (b *backlogSampler) finish() {
	close(b.stop)
	<-b.done
}

// TestPlatformOutages: for a minute every Slack Web API call fails (429
// storms with Retry-After, HTTP 500 and 503, HTTP 200 ok:false
// internal_error) while X answers 503s and then 429s with
// x-rate-limit-reset on search and mentions, and 503s then 429s on
// POST /2/tweets. Posts keep arriving and 20 approved replies wait to go
// out. During the outage /metrics shows the backlog and /readyz stays
// ready (the database is fine); afterwards every post is mirrored once
// and every reply sent once. Both stores run concurrently.
func TestPlatformOutages(t *testing.T) {
	if testing.Short() {
		t.Skip("outages of the real binary; skipped with -short")
	}
	t.Parallel() // with the other end-to-end tests
	for name, storeURL := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testPlatformOutages(t, storeURL(t))
		})
	}
}

func testPlatformOutages(t *testing.T, storeURL string) {
	began := time.Now()
	window := outageWindow()
	rng := seededRNG(t)
	w := newServeWorld(t, storeURL, serveWorldOptions{posts: 300, seed: rng.Uint64()})
	realisticBackoff(w)
	w.serve()
	before, during := w.posts[:150], w.posts[150:]
	for _, p := range before {
		w.publish(p)
	}
	w.waitMirrored(before, 3*time.Minute)
	replies := w.prepareReplies(rng, 20, 2*time.Minute, nil)
	waitReady(t, w.addr, 30*time.Second)

	// For the outage, X's windows shrink from 15 minutes to 15 seconds
	// (the request counts stay X's), so that the x-rate-limit-reset of a
	// 429 — which carebridge honours — is seconds away, not 15 minutes:
	// the faults are X's answers to an exhausted window, compressed in
	// time. Afterwards the windows are X's again.
	const rlWindow = 15 * time.Second
	for _, ep := range []xfake.Endpoint{xfake.EndpointSearchRecent, xfake.EndpointMentions, xfake.EndpointCreateTweet} {
		w.x.SetRateLimit(ep, xLimits[ep], rlWindow)
	}
	// X first: replies cannot go out, so the approvals queue up.
	w.x.FailNext(xfake.EndpointCreateTweet, http.StatusServiceUnavailable, 1_000_000)
	w.x.FailNext(xfake.EndpointSearchRecent, http.StatusServiceUnavailable, 1_000_000)
	w.x.FailNext(xfake.EndpointMentions, http.StatusServiceUnavailable, 1_000_000)
	start := time.Now()
	for _, r := range replies {
		w.approve(r)
	}
	eventually(t, time.Minute, "the approved replies queued", func() (bool, string) {
		m, err := scrape(w.addr)
		return err == nil && m[`carebridge_outbox_depth{kind="platform.send"}`] >= float64(len(replies)), fmt.Sprint(err, m[`carebridge_outbox_depth{kind="platform.send"}`])
	})
	// Slack: every Web API call fails, in turn 429 (Retry-After 1–3 s),
	// HTTP 500, HTTP 503 and ok:false internal_error.
	var slackN atomic.Int64
	slackKinds := map[string]*atomic.Int64{"429": {}, "500": {}, "503": {}, "ok:false": {}}
	slackEnd := time.Now().Add(window)
	w.slack.SetFaults(func(method string) (slackfake.Fault, bool) {
		if time.Now().After(slackEnd) {
			return slackfake.Fault{}, false
		}
		n := slackN.Add(1)
		switch n % 4 {
		case 0:
			slackKinds["429"].Add(1)
			return slackfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Duration(1+n%3) * time.Second}, true
		case 1:
			slackKinds["500"].Add(1)
			return slackfake.Fault{Status: http.StatusInternalServerError}, true
		case 2:
			slackKinds["503"].Add(1)
			return slackfake.Fault{Status: http.StatusServiceUnavailable}, true
		default:
			slackKinds["ok:false"].Add(1)
			return slackfake.Fault{Error: "internal_error"}, true
		}
	})
	sampler := sampleBacklog(w.addr)

	// Posts keep coming during the outage.
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		gap := window * 8 / 10 / time.Duration(len(during))
		for _, p := range during {
			w.publish(p)
			time.Sleep(gap)
		}
	}()
	// X's reads: 503 for the first third, then 429 with a reset time for
	// the second (one request per 15 s window), then normal. Sends: 503
	// for the first half, then 429 with a reset time.
	phase := func(at time.Duration) { time.Sleep(time.Until(start.Add(at))) }
	phase(window / 3)
	rlFrom := time.Now()
	for _, ep := range []xfake.Endpoint{xfake.EndpointSearchRecent, xfake.EndpointMentions} {
		w.x.FailNext(ep, 0, 0)
		w.x.SetRateLimit(ep, 1, rlWindow)
	}
	phase(window / 2)
	w.x.FailNext(xfake.EndpointCreateTweet, http.StatusTooManyRequests, 1_000_000)
	phase(window * 2 / 3)
	rlTo := time.Now()
	for _, ep := range []xfake.Endpoint{xfake.EndpointSearchRecent, xfake.EndpointMentions} {
		w.x.SetRateLimit(ep, xLimits[ep], 15*time.Minute) // X's own window again
	}
	phase(window)
	w.x.FailNext(xfake.EndpointCreateTweet, 0, 0)
	w.x.SetRateLimit(xfake.EndpointCreateTweet, xLimits[xfake.EndpointCreateTweet], 15*time.Minute)
	w.slack.SetFaults(nil)
	end := time.Now()
	<-pubDone
	t.Logf("outage over after %.0fs; Slack failures: 429 %d, 500 %d, 503 %d, ok:false %d", end.Sub(start).Seconds(),
		slackKinds["429"].Load(), slackKinds["500"].Load(), slackKinds["503"].Load(), slackKinds["ok:false"].Load())

	// X's 429s were honoured: after one, the pollers wait for the reset
	// instead of polling on (without it, the search poller at 2 s and the
	// three mentions pollers at 6 s would collect dozens).
	limited, polls := 0, 0
	for _, r := range w.x.Requests() {
		if r.Time.Before(rlFrom) || r.Time.After(rlTo) || (r.Endpoint != xfake.EndpointSearchRecent && r.Endpoint != xfake.EndpointMentions) {
			continue
		}
		polls++
		if r.Status == http.StatusTooManyRequests {
			limited++
		}
	}
	pollers := len(w.cfg.X.Searches) + len(w.cfg.X.Accounts)
	windows := int(rlTo.Sub(rlFrom)/rlWindow) + 2
	t.Logf("X read requests while rate limited: %d, of which 429: %d (%d pollers, %d reset windows)", polls, limited, pollers, windows)
	if limited > 2*pollers*windows {
		t.Errorf("%d requests answered 429 in %s: x-rate-limit-reset is not honoured", limited, rlTo.Sub(rlFrom).Round(time.Second))
	}

	// Everything is delivered afterwards.
	eventually(t, 5*time.Minute, "every reply sent", func() (bool, string) {
		c := w.tallyReplies(replies)
		return c.sent == len(replies), fmt.Sprintf("%d of %d sent", c.sent, len(replies))
	})
	w.waitMirrored(w.posts, 5*time.Minute)
	recovered := time.Since(end)
	eventually(t, 2*time.Minute, "the backlog drained", func() (bool, string) {
		m, err := scrape(w.addr)
		if err != nil {
			return false, err.Error()
		}
		d := sumMetric(m, "carebridge_outbox_depth")
		return d == 0, fmt.Sprintf("depth %v", d)
	})
	sampler.finish()
	time.Sleep(3 * time.Second)

	sampler.mu.Lock()
	t.Logf("backlog during the outage: max depth %v, max oldest age %v s, API errors counted %v", sampler.depth, sampler.age, sampler.apiErrs)
	if sampler.depth[bridge.KindSend] < float64(len(replies)) || sampler.depth[bridge.KindChatPost] == 0 {
		t.Errorf("/metrics did not show the backlog: max depth %v", sampler.depth)
	}
	if sampler.age[bridge.KindChatPost] < 10 {
		t.Errorf("carebridge_outbox_oldest_age_seconds for chat.post peaked at %v during a %s outage", sampler.age[bridge.KindChatPost], window)
	}
	if sampler.apiErrs == 0 {
		t.Error("carebridge_api_errors_total stayed 0 during the outage")
	}
	if len(sampler.notReady) > 0 {
		t.Errorf("/readyz failed during a platform outage (the database was fine): %v", sampler.notReady[:min(3, len(sampler.notReady))])
	}
	sampler.mu.Unlock()

	mt, rt := w.tallyMirrors(w.posts), w.tallyReplies(replies)
	if mt.lost+mt.doubled+rt.lost+rt.doubled > 0 {
		t.Errorf("posts: %+v; replies: %+v", mt, rt)
	}
	t.Logf("RESULT platform outage (%s): %d posts (mirrored %d, lost %d, doubled %d), %d replies (sent %d, lost %d, doubled %d), all delivered %.0fs after the outage, %.0fs in all",
		window, mt.posts, mt.mirrored, mt.lost, mt.doubled, rt.replies, rt.sent, rt.lost, rt.doubled, recovered.Seconds(), time.Since(began).Seconds())
}

// TestDatabaseOutage stops PostgreSQL (pg_ctl stop -m fast) while
// `carebridge serve` is mirroring a backlog and sending replies, keeps it
// down while posts keep arriving on X, and starts it again. During the
// outage /readyz answers 503 naming the database and /metrics reports
// carebridge_store_up 0; afterwards /readyz is ready again and every post
// is mirrored once, every reply sent once. The test runs a cluster of its
// own (the shared one must not be stopped): it needs Debian's PostgreSQL
// binaries and skips without them.
func TestDatabaseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("stops and starts a PostgreSQL cluster; skipped with -short")
	}
	t.Parallel() // with the other end-to-end tests
	if os.Getenv("CAREBRIDGE_TEST_POSTGRES_URL") == "" {
		t.Skip("set CAREBRIDGE_TEST_POSTGRES_URL to run the PostgreSQL tests (this one starts, stops and restarts a cluster of its own beside that server)")
	}
	began := time.Now()
	pg := startPGCluster(t)
	down := envDuration("CAREBRIDGE_E2E_DB_OUTAGE", 30*time.Second)
	rng := seededRNG(t)
	w := newServeWorld(t, storetest.FreshPostgresSchema(t, pg.URL), serveWorldOptions{posts: 300, seed: rng.Uint64()})
	realisticBackoff(w)
	w.serve()
	first, second, third := w.posts[:100], w.posts[100:200], w.posts[200:]
	for _, p := range first {
		w.publish(p)
	}
	w.waitMirrored(first, 3*time.Minute)
	replies := w.prepareReplies(rng, 20, 2*time.Minute, nil)
	early, late := replies[:10], replies[10:]
	for _, r := range early {
		w.approve(r)
	}
	eventually(t, time.Minute, "the early replies sent", func() (bool, string) {
		c := w.tallyReplies(early)
		return c.sent == len(early), fmt.Sprintf("%d of %d", c.sent, len(early))
	})

	// Stop the database in the middle of mirroring a backlog.
	for _, p := range second {
		w.publish(p)
	}
	eventually(t, 2*time.Minute, "mirroring under way", func() (bool, string) {
		c := w.tallyMirrors(second)
		return c.mirrored >= len(second)/4, fmt.Sprintf("%d of %d", c.mirrored, len(second))
	})
	atStop := w.tallyMirrors(second).mirrored
	stopTook := pg.stop()
	stopped := time.Now()
	t.Logf("PostgreSQL stopped (pg_ctl stop -m fast took %s) with %d of %d posts of the backlog mirrored", stopTook.Round(time.Millisecond), atStop, len(second))
	eventually(t, 30*time.Second, "/readyz reports the database outage", func() (bool, string) {
		code, body := readyz(w.addr)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "database"), fmt.Sprintf("%d %s", code, body)
	})
	eventually(t, 30*time.Second, "/metrics reports the store down", func() (bool, string) {
		m, err := scrape(w.addr)
		return err == nil && m["carebridge_store_up"] == 0, fmt.Sprint(err, m["carebridge_store_up"])
	})
	code, body := readyz(w.addr)
	t.Logf("during the outage: /readyz %d %q", code, body)
	for _, p := range third {
		w.publish(p)
		time.Sleep(down / 2 / time.Duration(len(third)))
	}
	time.Sleep(time.Until(stopped.Add(down)))
	pg.start()
	restarted := time.Now()
	waitReady(t, w.addr, time.Minute)
	readyAfter := time.Since(restarted)
	m, err := scrape(w.addr)
	if err != nil || m["carebridge_store_up"] != 1 {
		t.Errorf("carebridge_store_up after the restart: %v %v", m["carebridge_store_up"], err)
	}
	// Approvals after the outage go out too.
	for _, r := range late {
		w.approve(r)
	}
	eventually(t, 3*time.Minute, "every reply sent", func() (bool, string) {
		c := w.tallyReplies(replies)
		return c.sent == len(replies), fmt.Sprintf("%d of %d", c.sent, len(replies))
	})
	w.waitMirrored(w.posts, 5*time.Minute)
	caughtUp := time.Since(restarted)
	time.Sleep(3 * time.Second)
	mt, rt := w.tallyMirrors(w.posts), w.tallyReplies(replies)
	if mt.lost+mt.doubled+rt.lost+rt.doubled > 0 {
		t.Errorf("posts: %+v; replies: %+v", mt, rt)
	}
	t.Logf("RESULT database outage (%s down): %d posts (mirrored %d, lost %d, doubled %d), %d replies (sent %d, lost %d, doubled %d), ready %.1fs after the restart, caught up after %.0fs, %.0fs in all",
		down, mt.posts, mt.mirrored, mt.lost, mt.doubled, rt.replies, rt.sent, rt.lost, rt.doubled, readyAfter.Seconds(), caughtUp.Seconds(), time.Since(began).Seconds())
}
