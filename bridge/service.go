package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/bridge/route"
)

// Options configure a Service. Store, Config and Router are required.
type Options struct {
	Store     Store
	Config    *config.Config
	Router    *route.Router
	Publisher Publisher   // the chat surface; required to mirror
	Actions   ChatActions // reactions, ephemeral notes, user groups; required for drafts
	Replier   Replier     // answers on the platform; required to send
	Poster    Poster      // original posts (greetings, sign-offs); optional
	// AfterHours, if set, returns the line shown on a customer post that
	// arrived at at outside office hours (when its SLA clock starts), or
	// "" during office hours. The composition root builds it from the
	// business-hours calendar.
	AfterHours func(at time.Time) string
	Fetcher    PostFetcher // optional: fetches unknown conversation roots
	// Networks are the rules of each network carebridge listens on, one
	// per platform.
	Networks []Network
	// BotUserID is our own chat user: its messages and reactions are
	// ignored.
	BotUserID string
	Sources   []Source
	Clock     Clock // default SystemClock
	Logger    *slog.Logger
	Metrics   Metrics // optional
	// Official maps the lower-case handles and user ids of our own
	// accounts; their posts never open tickets.
	Official map[string]bool
	// Identity names this process in outbox claims (default host:pid).
	Identity string
	// PollInterval is how often the outbox is checked when idle
	// (default 250ms); new work wakes it at once.
	PollInterval time.Duration
	// Lease is how long a claimed outbox row stays with its worker
	// (default outbox.lease).
	Lease time.Duration
	// Elector, if set, runs the sources only while this process leads.
	Elector Elector
	// LeaderCheck is how often leadership is checked (default 5s).
	LeaderCheck time.Duration
}

// Service runs the core loop: sources feed Ingest; the outbox relay
// delivers every queued side effect, paced and retried.
type Service struct {
	opt      Options
	store    Store
	cfg      *config.Config
	router   *route.Router
	clock    Clock
	log      *slog.Logger
	metrics  Metrics
	pacer    *pacer
	handlers map[string]handler
	networks map[Platform]Network
	wake     chan struct{}
	groups   *groupCache
	inq      *inboxWorker  // the chat event inbox (inbox.go)
	checks   outcomeChecks // checks of unknown outcomes (unknown.go)

	mu      sync.Mutex
	cancel  context.CancelFunc
	work    context.CancelFunc // cancels in-flight outbox work (on Stop's deadline)
	running sync.WaitGroup
	flight  sync.WaitGroup
}

// handler performs one kind of outbox work. It returns a completion that
// runs in the transaction marking the row done (saving a mirror, say).
type handler func(ctx context.Context, it *OutboxItem) (func(ctx context.Context, tx Tx) error, error)

// New checks the options and builds a Service.
func New(opt Options) (*Service, error) {
	if opt.Store == nil || opt.Config == nil || opt.Router == nil {
		return nil, errors.New("bridge: Store, Config and Router are required")
	}
	if opt.Clock == nil {
		opt.Clock = SystemClock{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Metrics == nil {
		opt.Metrics = noMetrics{}
	}
	if opt.Identity == "" {
		host, _ := os.Hostname()
		opt.Identity = fmt.Sprintf("%s:%d:%04x", host, os.Getpid(), rand.IntN(1<<16))
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = 250 * time.Millisecond
	}
	if opt.LeaderCheck <= 0 {
		opt.LeaderCheck = 5 * time.Second
	}
	if opt.Lease <= 0 {
		opt.Lease = opt.Config.Outbox.Lease.D()
	}
	if opt.Lease <= 0 {
		opt.Lease = 60 * time.Second
	}
	official := map[string]bool{}
	for k, v := range opt.Official {
		official[strings.ToLower(k)] = v
	}
	opt.Official = official
	p := opt.Config.Slack.Pacing
	s := &Service{
		opt:     opt,
		store:   opt.Store,
		cfg:     opt.Config,
		router:  opt.Router,
		clock:   opt.Clock,
		log:     opt.Logger,
		metrics: opt.Metrics,
		pacer:   newPacer(p.PerSecond, p.Burst, p.Disabled),
		wake:    make(chan struct{}, 1),
		inq:     newInboxWorker(),
	}
	s.networks = map[Platform]Network{}
	for _, n := range opt.Networks {
		if _, dup := s.networks[n.Platform()]; dup {
			return nil, fmt.Errorf("bridge: two Networks for platform %q", n.Platform())
		}
		s.networks[n.Platform()] = n
	}
	s.groups = newGroupCache(opt.Config.Approvals.UserGroupRefresh.D())
	s.handlers = map[string]handler{
		KindChatPost:      s.handleChatPost,
		KindChatReact:     s.handleChatReact,
		KindChatEphemeral: s.handleChatEphemeral,
		KindSend:          s.handleSend,
		KindChatReport:    s.handleChatReport,
		KindPlatformPost:  s.handlePlatformPost,
	}
	return s, nil
}

// Start launches the sources, the inbox worker and the outbox relay. It returns at once;
// Stop ends them.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return errors.New("bridge: service already started")
	}
	// Work in flight must survive the cancellation of the loops, so it
	// gets a context of its own that Stop cancels only at its deadline.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	workCtx, work := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel, s.work = cancel, work
	if len(s.opt.Sources) > 0 {
		s.running.Add(1)
		go func() {
			defer s.running.Done()
			s.runSources(runCtx)
		}()
	}
	s.startInbox(runCtx, workCtx)
	if s.opt.Publisher != nil {
		s.running.Add(1)
		go func() {
			defer s.running.Done()
			s.relay(runCtx, workCtx)
		}()
	}
	return nil
}

// Stop ends the sources and the relay, lets in-flight sends finish until
// ctx is done, and then cancels them (their rows are retried later).
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	cancel, work := s.cancel, s.work
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() {
		s.running.Wait()
		s.flight.Wait()
		close(done)
	}()
	select {
	case <-done:
		work()
		return nil
	case <-ctx.Done():
		work()
		<-done
		return fmt.Errorf("bridge: stop: in-flight work cancelled: %w", ctx.Err())
	}
}

// runSources runs every source while this process leads (always, without
// an elector), starting them when it becomes the leader and stopping them
// when it stops being one.
func (s *Service) runSources(ctx context.Context) {
	start := func(ctx context.Context, wg *sync.WaitGroup) {
		for _, src := range s.opt.Sources {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.superviseSource(ctx, src)
			}()
		}
	}
	var wg sync.WaitGroup
	if s.opt.Elector == nil {
		start(ctx, &wg)
		wg.Wait()
		return
	}
	tick := time.NewTicker(s.opt.LeaderCheck)
	defer tick.Stop()
	var stop context.CancelFunc
	for {
		err := s.opt.Elector.IsLeader(ctx)
		switch {
		case err == nil && stop == nil:
			s.log.Info("leading: starting the sources", "sources", len(s.opt.Sources))
			var lctx context.Context
			lctx, stop = context.WithCancel(ctx)
			start(lctx, &wg)
		case err != nil && stop != nil:
			s.log.Warn("no longer leading: stopping the sources", "err", err)
			stop()
			wg.Wait()
			stop = nil
		}
		select {
		case <-ctx.Done():
			if stop != nil {
				stop()
			}
			wg.Wait()
			return
		case <-tick.C:
		}
	}
}

// superviseSource runs src until ctx ends, restarting it with backoff.
func (s *Service) superviseSource(ctx context.Context, src Source) {
	backoff := time.Second
	for {
		start := s.clock.Now()
		err := src.Run(ctx, s)
		if ctx.Err() != nil {
			return
		}
		if s.clock.Now().Sub(start) > time.Minute {
			backoff = time.Second
		}
		s.log.Warn("source stopped; restarting", "source", src.Name(), "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Minute)
	}
}

// notify wakes the relay after new work was committed.
func (s *Service) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Cursor implements Sink.
func (s *Service) Cursor(ctx context.Context, key string) (string, error) {
	var v string
	err := s.store.WithTx(ctx, func(tx Tx) error {
		var err error
		v, err = tx.Cursor(ctx, key)
		return err
	})
	return v, err
}

// Seen implements Sink.
func (s *Service) Seen(ctx context.Context, platform Platform, ids []string) (map[string]bool, error) {
	seen := map[string]bool{}
	err := s.store.WithTx(ctx, func(tx Tx) error {
		for _, id := range ids {
			_, err := tx.PostByExternalID(ctx, platform, id)
			switch {
			case err == nil:
				seen[id] = true
			case !errors.Is(err, ErrNotFound):
				return err
			}
		}
		return nil
	})
	return seen, err
}

// isOfficial reports whether handle or id belongs to one of our accounts.
func (s *Service) isOfficial(p *Post) bool {
	return s.opt.Official[strings.ToLower(p.AuthorHandle)] || (p.AuthorID != "" && s.opt.Official[p.AuthorID])
}

// sameAnswer reports whether seen, a post of ours read back from platform,
// is the answer sent: the network decides; without one, the trimmed texts
// must be equal.
func (s *Service) sameAnswer(platform Platform, sent, seen string) bool {
	if n := s.networks[platform]; n != nil {
		return n.SameAnswer(sent, seen)
	}
	return strings.TrimSpace(sent) == strings.TrimSpace(seen)
}
