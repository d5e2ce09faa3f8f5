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
//
// The core knows no platform and no chat surface: cmd/carebridge builds
// everything platform-specific — the networks' rules and adapters, our
// accounts on each, the chat surface's adapters, gestures and identities —
// in one place (cmd/carebridge/platforms.go) and passes it here.
type Options struct {
	Store     Store
	Config    *config.Config
	Router    *route.Router
	Publisher Publisher // the chat surface; required to mirror
	// Actions are the chat writes beyond messages; required for drafts.
	// A surface that also shows notes to one person (EphemeralNotes) or
	// lists user groups (GroupDirectory) implements those too; without
	// them, notes go into the thread naming the person, and groups are
	// not resolved.
	Actions ChatActions
	// Networks are the rules of each network carebridge listens on, one
	// per platform.
	Networks []Network
	// Repliers answer on each platform: a ticket's answers go to the
	// replier of its platform. Required to send.
	Repliers map[Platform]Replier
	// Posters publish original posts (greetings, sign-offs) per
	// platform; optional.
	Posters map[Platform]Poster
	// Fetchers fetch unknown conversation roots per platform; optional.
	Fetchers map[Platform]PostFetcher
	// Accounts are the handles of our answering accounts per platform: a
	// post that mentions one is answered as that account.
	Accounts map[Platform][]string
	// Official maps the lower-case handles and user ids of our own
	// accounts (every platform); their posts never open tickets.
	Official map[string]bool
	// Watchers are chat identities (people, or groups the surface
	// resolves) who read every conversation but never answer, approve or
	// reject.
	Watchers []string
	// Gestures are what approvers do on the chat surface (default: the
	// configuration's approvals section).
	Gestures Gestures
	// Marks are the bot's marks on drafts, showing where each stands; an
	// empty one is not put.
	Marks DraftMarks
	// DraftCards has every draft that passes the guards echoed in its
	// thread as a card (MessageDraft) that approvers act on, and updated
	// with the outcome (cards.go): for surfaces that report gestures on
	// the bot's own messages only (Teams).
	DraftCards bool
	// ChatPacing paces posts per chat channel (default one per second,
	// bursts of one).
	ChatPacing Pacing
	// AfterHours, if set, returns the line shown on a customer post that
	// arrived at at outside office hours (when its SLA clock starts), or
	// "" during office hours. The composition root builds it from the
	// business-hours calendar.
	AfterHours func(at time.Time) string
	// BotUserID is our own chat user: its messages and reactions are
	// ignored.
	BotUserID string
	Sources   []Source
	Clock     Clock // default SystemClock
	Logger    *slog.Logger
	Metrics   Metrics // optional
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
	// TicketsOpened, if set, is called after each ingested batch is
	// committed with the tickets it opened per department, so that a
	// spike check can run as posts arrive instead of once a minute. It
	// runs on the ingest path: it must return at once (start its work in
	// the background) and must not keep ctx.
	TicketsOpened func(ctx context.Context, byDepartment map[string]int)
}

// Gestures are what people do on the chat surface to decide on answers.
// The chat adapter and the configuration name them (on Slack, emoji
// names).
type Gestures struct {
	Approve   string // releases a draft as written
	ApproveDM string // releases a draft as a DM
	Reject    string // stops a draft
	Close     string // on a ticket's parent message: closes the ticket
}

// DraftMarks are the marks (reactions, on Slack emoji names) the bot puts
// on a draft message to show where it stands. The chat adapter names
// them.
type DraftMarks struct {
	Pending string // waiting for an approver
	Sent    string // went out
	Blocked string // a guard refused it
	Failed  string // could not be sent
}

// Pacing is a token bucket per chat channel.
type Pacing struct {
	PerSecond float64
	Burst     int
	Disabled  bool // tests with a fake surface: no pacing (Retry-After still holds)
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
	if opt.Gestures == (Gestures{}) {
		a := opt.Config.Approvals
		opt.Gestures = Gestures{Approve: a.ApproveEmoji, ApproveDM: a.ApproveDMEmoji, Reject: a.RejectEmoji, Close: a.CloseEmoji}
	}
	e := &env{cfg: opt.Config, clock: opt.Clock, log: opt.Logger, metrics: opt.Metrics,
		official: map[string]bool{}, networks: map[Platform]Network{}, gestures: opt.Gestures, marks: opt.Marks, draftCards: opt.DraftCards}
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
	p := opt.ChatPacing
	s.relay = newRelay(e, relay{
		store: tx.Relay, outcomes: tx.Outcomes, claims: opt.Store, identity: opt.Identity, lease: opt.Lease, poll: opt.PollInterval,
		publisher: opt.Publisher, actions: opt.Actions, repliers: opt.Repliers, posters: opt.Posters, afterHours: opt.AfterHours,
		pacer: newPacer(p.PerSecond, p.Burst, p.Disabled), lanes: opt.Store, flight: &s.flight,
	})
	e.wakeRelay = s.relay.notify
	s.ingest = &ingester{env: e, store: tx.Ingest, router: opt.Router, fetchers: opt.Fetchers, accounts: opt.Accounts,
		sources: opt.Sources, elector: opt.Elector, leaderCheck: opt.LeaderCheck, ticketsOpened: opt.TicketsOpened}
	s.approvals = &approvals{env: e, store: tx.Approvals, inboxTx: tx.Inbox, due: opt.Store, actions: opt.Actions,
		botUserID: opt.BotUserID, watchers: opt.Watchers, groups: newGroupCache(opt.Config.Approvals.UserGroupRefresh.D()), inq: newInboxWorker()}
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
