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

// Service runs the core loop. It is three parts with one job each,
// composed here and started and stopped together:
//
//   - ingest (ingest.go): sources → posts → tickets → outbox;
//   - the relay (relay.go, mirror.go, sender.go): outbox → chat surface
//     and platforms, paced, retried, reconciled;
//   - approvals (approvals.go, inbox.go): chat events → drafts → guards →
//     approvals → sends.
//
// The parts share only the store (each through its own port) and the
// outbox, whose kinds are listed in outboxkinds.go.
type Service struct {
	ingest    *ingester
	relay     *relay
	approvals *approvals

	mu      sync.Mutex
	cancel  context.CancelFunc
	work    context.CancelFunc // cancels in-flight outbox work (on Stop's deadline)
	running sync.WaitGroup
	flight  sync.WaitGroup
}

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
	e := &env{cfg: opt.Config, clock: opt.Clock, log: opt.Logger, metrics: opt.Metrics,
		official: map[string]bool{}, networks: map[Platform]Network{}}
	for k, v := range opt.Official {
		e.official[strings.ToLower(k)] = v
	}
	for _, n := range opt.Networks {
		if _, dup := e.networks[n.Platform()]; dup {
			return nil, fmt.Errorf("bridge: two Networks for platform %q", n.Platform())
		}
		e.networks[n.Platform()] = n
	}
	tx := opt.Store.Transactions()
	s := &Service{}
	p := opt.Config.Slack.Pacing
	s.relay = newRelay(e, relay{
		store: tx.Relay, claims: opt.Store, identity: opt.Identity, lease: opt.Lease, poll: opt.PollInterval,
		publisher: opt.Publisher, actions: opt.Actions, replier: opt.Replier, poster: opt.Poster, afterHours: opt.AfterHours,
		pacer: newPacer(p.PerSecond, p.Burst, p.Disabled), flight: &s.flight,
	})
	e.wakeRelay = s.relay.notify
	s.ingest = &ingester{env: e, store: tx.Ingest, router: opt.Router, fetcher: opt.Fetcher,
		sources: opt.Sources, elector: opt.Elector, leaderCheck: opt.LeaderCheck}
	s.approvals = &approvals{env: e, store: tx.Approvals, inboxTx: tx.Inbox, due: opt.Store, actions: opt.Actions,
		botUserID: opt.BotUserID, groups: newGroupCache(opt.Config.Approvals.UserGroupRefresh.D()), inq: newInboxWorker()}
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
	if len(s.ingest.sources) > 0 {
		s.running.Add(1)
		go func() {
			defer s.running.Done()
			s.ingest.runSources(runCtx)
		}()
	}
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		s.approvals.runInbox(runCtx, workCtx)
	}()
	if s.relay.publisher != nil {
		s.running.Add(1)
		go func() {
			defer s.running.Done()
			s.relay.run(runCtx, workCtx)
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

// Ingest implements Sink: see its documentation.
func (s *Service) Ingest(ctx context.Context, b Batch) (IngestResult, error) {
	return s.ingest.Ingest(ctx, b)
}

// Cursor implements Sink.
func (s *Service) Cursor(ctx context.Context, key string) (string, error) {
	return s.ingest.Cursor(ctx, key)
}

// Seen implements Sink.
func (s *Service) Seen(ctx context.Context, platform Platform, ids []string) (map[string]bool, error) {
	return s.ingest.Seen(ctx, platform, ids)
}

// HandleChatEvent implements ChatEventHandler: it applies ev at once (see
// approvals.HandleChatEvent). Receivers in production deliver to Inbox.
func (s *Service) HandleChatEvent(ctx context.Context, ev ChatEvent) error {
	return s.approvals.HandleChatEvent(ctx, ev)
}

// Inbox returns the ChatEventHandler receivers should deliver to: it
// stores each event in the durable inbox (a nil error means it is stored
// and may be acknowledged) and the inbox worker applies it.
func (s *Service) Inbox() ChatEventHandler { return s.approvals.Inbox() }
