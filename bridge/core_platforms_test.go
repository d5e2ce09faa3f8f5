package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/store"
)

// These tests drive the core with two made-up networks and a chat surface
// without optional capabilities, to show that the core asks the
// registered rules and adapters instead of knowing any platform.

const platformsConfig = `
timezone: UTC
departments:
  - id: network
    name: Network team
    channel: "#care-network"
    approvers: [U0MANAGER1]
  - id: triage
    name: Triage
    channel: "#care-triage"
    approvers: [U0MANAGER1]
routes:
  - department: network
    keywords: [outage]
triage: triage
`

// rules is a network's rules for the tests: plain characters, a limit.
type rules struct {
	platform bridge.Platform
	name     string
	limit    int
}

func (r rules) Platform() bridge.Platform                              { return r.platform }
func (r rules) Name() string                                           { return r.name }
func (r rules) SameAnswer(sent, seen string) bool                      { return sent == seen }
func (r rules) Answerable(p *bridge.Post) (bridge.Eligibility, string) { return p.Eligibility, "" }
func (r rules) Measure(text string, _ bridge.Visibility) bridge.TextLength {
	return bridge.TextLength{N: utf8.RuneCountInString(text), Limit: r.limit, Of: r.name}
}
func (r rules) Explain(err *bridge.SendError, _, _ string) string {
	return r.name + " said " + err.Code
}

// replier records the answers sent through one network.
type replier struct {
	mu      sync.Mutex
	replies []string // "inReplyTo: text"
}

func (r *replier) Reply(_ context.Context, _, inReplyTo, text string) (bridge.SentRef, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replies = append(r.replies, inReplyTo+": "+text)
	return bridge.SentRef{ID: fmt.Sprintf("answer-%d", len(r.replies))}, nil
}
func (r *replier) SendDM(context.Context, string, string, string) (bridge.SentRef, error) {
	return bridge.SentRef{}, &bridge.SendError{Platform: "test", Code: "dm_not_allowed", Permanent: true}
}
func (r *replier) FindReply(context.Context, string, string, string) (bridge.SentRef, bool, error) {
	return bridge.SentRef{}, false, nil
}
func (r *replier) FindDM(context.Context, string, string, string) (bridge.SentRef, bool, error) {
	return bridge.SentRef{}, false, nil
}
func (r *replier) sent() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.replies...)
}

// surface is a chat surface with reactions only: no notes to one person,
// no groups, no finding messages again.
type surface struct {
	mu   sync.Mutex
	msgs []bridge.ChatMessage
	refs []bridge.ChatRef
}

func (s *surface) Publish(_ context.Context, m bridge.ChatMessage) (bridge.ChatRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref := bridge.ChatRef{Channel: m.Channel, TS: fmt.Sprintf("%d.%06d", time.Now().Unix(), len(s.msgs)+1)}
	s.msgs = append(s.msgs, m)
	s.refs = append(s.refs, ref)
	return ref, nil
}
func (s *surface) Permalink(context.Context, bridge.ChatRef) (string, error) { return "", nil }
func (s *surface) React(context.Context, bridge.ChatRef, string, bool) error { return nil }

// find returns the first message matching ok and where it landed.
func (s *surface) find(ok func(bridge.ChatMessage) bool) (bridge.ChatMessage, bridge.ChatRef, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, m := range s.msgs {
		if ok(m) {
			return m, s.refs[i], true
		}
	}
	return bridge.ChatMessage{}, bridge.ChatRef{}, false
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type rig struct {
	svc         *bridge.Service
	chat        *surface
	alpha, beta *replier
	events      int
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{chat: &surface{}, alpha: &replier{}, beta: &replier{}}
	r.start(t, []bridge.Network{rules{"alpha", "Alpha", 280}, rules{"beta", "Beta", 20}},
		map[bridge.Platform]bridge.Replier{"alpha": r.alpha, "beta": r.beta})
	return r
}

// start runs a Service over a fresh SQLite store, the rig's surface and
// the given networks; it stops with the test.
func (r *rig) start(t *testing.T, networks []bridge.Network, repliers map[bridge.Platform]bridge.Replier) {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "cb.db"), store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(platformsConfig), "test.yaml", config.LevelRouting, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	router, err := cfg.Router()
	if err != nil {
		t.Fatal(err)
	}
	r.svc, err = bridge.New(bridge.Options{
		Store: st, Config: cfg, Router: router, Publisher: r.chat, Actions: r.chat,
		Networks: networks, Repliers: repliers,
		// An in-process surface has no rate limit to respect.
		ChatPacing: bridge.Pacing{Disabled: true},
		Logger:     slog.New(slog.DiscardHandler), PollInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.svc.Stop(context.Background()) })
}

// mirrored ingests a customer post on platform and returns its thread.
func (r *rig) mirrored(t *testing.T, platform bridge.Platform, id string) bridge.ChatRef {
	t.Helper()
	post := bridge.Post{Platform: platform, ExternalID: id, Source: bridge.SourceMention, AuthorID: "cust-" + id,
		AuthorHandle: "kim", Text: "outage again", CreatedAt: time.Now(), Eligibility: bridge.EligiblePublic}
	if _, err := r.svc.Ingest(t.Context(), bridge.Batch{Posts: []bridge.Post{post}}); err != nil {
		t.Fatal(err)
	}
	var ref bridge.ChatRef
	waitFor(t, "the parent of "+id, func() bool {
		var ok bool
		_, ref, ok = r.chat.find(func(m bridge.ChatMessage) bool {
			return m.Kind == bridge.MessageParent && m.Post != nil && m.Post.ExternalID == id
		})
		return ok
	})
	return ref
}

// event delivers a chat event. Like Slack, it delivers it again while the
// core asks for that (a reply to a thread whose parent was posted a moment
// ago but is not recorded yet).
func (r *rig) event(t *testing.T, ev bridge.ChatEvent) {
	t.Helper()
	r.events++
	ev.ID = fmt.Sprintf("Ev%d", r.events)
	ev.At = time.Now()
	waitFor(t, "event "+ev.ID+" handled", func() bool {
		err := r.svc.HandleChatEvent(t.Context(), ev)
		if err != nil && !errors.Is(err, bridge.ErrRetryLater) {
			t.Fatal(err)
		}
		return err == nil
	})
}

func TestAnswersGoToTheirTicketsNetwork(t *testing.T) {
	r := newRig(t)
	for _, c := range []struct {
		platform bridge.Platform
		to       *replier
		other    *replier
	}{{"alpha", r.alpha, r.beta}, {"beta", r.beta, r.alpha}} {
		id := string(c.platform) + "-1"
		thread := r.mirrored(t, c.platform, id)
		draft := fmt.Sprintf("%d.%s", time.Now().Unix(), c.platform)
		r.event(t, bridge.ChatEvent{Kind: bridge.EventMessage, Channel: thread.Channel, User: "U0STAFF01",
			TS: draft, ThreadTS: thread.TS, Text: "Fixed now."})
		r.event(t, bridge.ChatEvent{Kind: bridge.EventReactionAdded, Channel: thread.Channel, User: "U0MANAGER1",
			ItemTS: draft, Reaction: "white_check_mark"})
		want := id + ": Fixed now."
		waitFor(t, "the answer on "+string(c.platform), func() bool {
			s := c.to.sent()
			return len(s) > 0 && s[len(s)-1] == want
		})
		for _, s := range c.other.sent() {
			if strings.HasPrefix(s, id) {
				t.Errorf("the answer to %s also went to the other network: %q", id, s)
			}
		}
	}
}

func TestGuardsMeasureWithTheTicketsNetwork(t *testing.T) {
	r := newRig(t)
	text := "This answer is longer than twenty characters."
	for _, c := range []struct {
		platform bridge.Platform
		blocked  bool
	}{{"alpha", false}, {"beta", true}} {
		thread := r.mirrored(t, c.platform, string(c.platform)+"-long")
		r.event(t, bridge.ChatEvent{Kind: bridge.EventMessage, Channel: thread.Channel, User: "U0STAFF01",
			TS: "1700000200." + string(c.platform), ThreadTS: thread.TS, Text: text})
		want := fmt.Sprintf("Too long for Beta: %d of 20 characters. Shorten it by %d.", utf8.RuneCountInString(text), utf8.RuneCountInString(text)-20)
		notice := func(m bridge.ChatMessage) bool {
			return m.Kind == bridge.MessageNotice && m.ThreadTS == thread.TS && strings.Contains(m.Text, "can't go out")
		}
		if c.blocked {
			waitFor(t, "the guard's notice on beta", func() bool { _, _, ok := r.chat.find(notice); return ok })
			m, _, _ := r.chat.find(notice)
			if !strings.Contains(m.Text, want) {
				t.Errorf("notice = %q, want it to say %q", m.Text, want)
			}
		} else {
			time.Sleep(200 * time.Millisecond)
			if m, _, ok := r.chat.find(notice); ok {
				t.Errorf("a %d-character answer was blocked on alpha (limit 280): %q", utf8.RuneCountInString(text), m.Text)
			}
		}
	}
}

func TestPostWithoutPlatformIsRefused(t *testing.T) {
	r := newRig(t)
	_, err := r.svc.Ingest(t.Context(), bridge.Batch{Posts: []bridge.Post{{ExternalID: "1", Text: "outage", AuthorID: "c"}}})
	if err == nil {
		t.Fatal("a post without a platform was ingested (it would have been counted as some network's)")
	}
}

func TestNoteToOnePersonFallsBackToTheThread(t *testing.T) {
	r := newRig(t)
	thread := r.mirrored(t, "alpha", "alpha-note")
	r.event(t, bridge.ChatEvent{Kind: bridge.EventMessage, Channel: thread.Channel, User: "U0STAFF01",
		TS: "1700000300.000001", ThreadTS: thread.TS, Text: "On it."})
	r.event(t, bridge.ChatEvent{Kind: bridge.EventReactionAdded, Channel: thread.Channel, User: "U0RANDOM01",
		ItemTS: "1700000300.000001", Reaction: "white_check_mark"})
	waitFor(t, "the refusal in the thread", func() bool {
		_, _, ok := r.chat.find(func(m bridge.ChatMessage) bool {
			return m.Kind == bridge.MessageNotice && m.ThreadTS == thread.TS &&
				strings.HasPrefix(m.Text, "<@U0RANDOM01>: Only Network team's approvers can approve or reject answers")
		})
		return ok
	})
	if s := r.alpha.sent(); len(s) != 0 {
		t.Errorf("a non-approver's reaction sent %q", s)
	}
}
