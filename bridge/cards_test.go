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

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/store"
)

// Draft cards: on a surface that reports gestures on the bot's own
// messages only (Teams), each draft that passes the guards is echoed as a
// card, a gesture on the card acts on the draft, and the card is rewritten
// with the outcome and who decided.

// cardSurface is a chat surface that can rewrite its messages.
type cardSurface struct {
	surface
	umu     sync.Mutex
	updates map[bridge.ChatRef][]bridge.ChatMessage
}

func (s *cardSurface) Update(_ context.Context, ref bridge.ChatRef, m bridge.ChatMessage) error {
	s.umu.Lock()
	defer s.umu.Unlock()
	if s.updates == nil {
		s.updates = map[bridge.ChatRef][]bridge.ChatMessage{}
	}
	s.updates[ref] = append(s.updates[ref], m)
	return nil
}

// card returns the latest version of the card posted at ref.
func (s *cardSurface) card(ref bridge.ChatRef) *bridge.DraftCard {
	s.umu.Lock()
	if u := s.updates[ref]; len(u) > 0 {
		s.umu.Unlock()
		return u[len(u)-1].Draft
	}
	s.umu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.refs {
		if r == ref {
			return s.msgs[i].Draft
		}
	}
	return nil
}

var _ bridge.MessageUpdater = (*cardSurface)(nil)

func newCardRig(t *testing.T) (*rig, *cardSurface) {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "cb.db"), store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, err := config.Parse([]byte(platformsConfig), "test.yaml", config.LevelRouting, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	router, err := cfg.Router()
	if err != nil {
		t.Fatal(err)
	}
	chat := &cardSurface{}
	r := &rig{chat: &chat.surface, alpha: &replier{}, beta: &replier{}}
	r.svc, err = bridge.New(bridge.Options{
		Store: st, Config: cfg, Router: router, Publisher: chat, Actions: chat,
		Networks:   []bridge.Network{rules{"alpha", "Alpha", 280}},
		Repliers:   map[bridge.Platform]bridge.Replier{"alpha": r.alpha},
		Gestures:   bridge.Gestures{Approve: "like", ApproveDM: "send_as_dm", Reject: "reject"},
		DraftCards: true,
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
	return r, chat
}

func TestDraftCards(t *testing.T) {
	r, chat := newCardRig(t)
	thread := r.mirrored(t, "alpha", "alpha-card")
	n := 0
	draftBy := func(user, text string) (ts string, card bridge.ChatRef) {
		t.Helper()
		n++
		ts = fmt.Sprintf("1700000400.%06d", n)
		r.event(t, bridge.ChatEvent{Kind: bridge.EventMessage, Channel: thread.Channel, User: user,
			TS: ts, ThreadTS: thread.TS, Text: text})
		waitFor(t, "the card of "+ts, func() bool {
			var ok bool
			_, card, ok = chat.find(func(m bridge.ChatMessage) bool {
				return m.Kind == bridge.MessageDraft && m.Draft != nil && m.Draft.Text == strings.TrimPrefix(text, "dm: ")
			})
			return ok
		})
		return ts, card
	}
	draft := func(text string) (string, bridge.ChatRef) { return draftBy("U0STAFF01", text) }
	click := func(user string, card bridge.ChatRef, gesture string) {
		t.Helper()
		r.event(t, bridge.ChatEvent{Kind: bridge.EventReactionAdded, Channel: card.Channel, User: user,
			ItemTS: card.TS, ThreadTS: thread.TS, Reaction: gesture})
	}
	waitCard := func(card bridge.ChatRef, what string, ok func(c *bridge.DraftCard) bool) *bridge.DraftCard {
		t.Helper()
		waitFor(t, what, func() bool { c := chat.card(card); return c != nil && ok(c) })
		return chat.card(card)
	}
	notice := func(prefix string) {
		t.Helper()
		waitFor(t, "the notice "+prefix, func() bool {
			_, _, ok := chat.find(func(m bridge.ChatMessage) bool {
				return m.Kind == bridge.MessageNotice && m.ThreadTS == thread.TS && strings.HasPrefix(m.Text, prefix)
			})
			return ok
		})
	}

	// A draft that passes the guards gets a card in its thread that waits.
	_, card := draft("Fixed now, sorry!")
	m, _, _ := chat.find(func(m bridge.ChatMessage) bool { return m.Kind == bridge.MessageDraft })
	if m.ThreadTS != thread.TS || m.Channel != thread.Channel || m.Draft.Author != "U0STAFF01" || m.Draft.DM ||
		m.Draft.Outcome != "" || m.Draft.Platform != "alpha" {
		t.Fatalf("card = %+v in %s/%s; want a waiting public card by U0STAFF01 in the thread %s", m.Draft, m.Channel, m.ThreadTS, thread.TS)
	}

	// A stranger's click is refused by name in the thread (the surface has
	// no notes to one person), and so is an approver's on their own draft.
	click("U0RANDOM01", card, "like")
	notice("<@U0RANDOM01>: Only Network team's approvers can approve or reject answers, so your “Approve” was ignored.")
	_, own := draftBy("U0MANAGER1", "Checking with the field team.")
	click("U0MANAGER1", own, "like")
	notice("<@U0MANAGER1>: You wrote this draft, so another approver has to approve it")
	if s := r.alpha.sent(); len(s) != 0 {
		t.Fatalf("sent before an approver decided: %q", s)
	}

	// The approver's click on the card sends the draft, and the card says
	// so and who decided.
	click("U0MANAGER1", card, "like")
	waitFor(t, "the answer", func() bool { return len(r.alpha.sent()) == 1 })
	if s := r.alpha.sent(); s[0] != "alpha-card: Fixed now, sorry!" {
		t.Errorf("sent %q", s)
	}
	c := waitCard(card, "the card's outcome", func(c *bridge.DraftCard) bool { return strings.HasPrefix(c.Outcome, "Sent publicly") })
	if c.DecidedBy != "U0MANAGER1" || c.Outcome != "Sent publicly as @"+c.Account+" on Alpha" {
		t.Errorf("sent card = %+v", c)
	}

	// Rejected from its card: nothing goes out; the card names the rejecter.
	_, card2 := draft("Please wait.")
	click("U0MANAGER1", card2, "reject")
	c = waitCard(card2, "the rejection on the card", func(c *bridge.DraftCard) bool { return c.Outcome != "" })
	if c.Outcome != "Rejected — nothing was sent" || c.DecidedBy != "U0MANAGER1" {
		t.Errorf("rejected card = %+v", c)
	}

	// An edit rewrites the card; a delete withdraws it.
	ts3, card3 := draft("Tomorrow.")
	r.event(t, bridge.ChatEvent{Kind: bridge.EventMessageChanged, Channel: thread.Channel, User: "U0STAFF01",
		ItemTS: ts3, ThreadTS: thread.TS, Text: "Tomorrow morning."})
	waitCard(card3, "the edited text on the card", func(c *bridge.DraftCard) bool { return c.Text == "Tomorrow morning." && c.Outcome == "" })
	r.event(t, bridge.ChatEvent{Kind: bridge.EventMessageDeleted, Channel: thread.Channel, User: "U0STAFF01",
		ItemTS: ts3, ThreadTS: thread.TS})
	c = waitCard(card3, "the withdrawal on the card", func(c *bridge.DraftCard) bool { return c.Outcome != "" })
	if c.Outcome != "Withdrawn by its author — nothing was sent" || c.DecidedBy != "U0STAFF01" {
		t.Errorf("deleted card = %+v", c)
	}
	click("U0MANAGER1", card3, "like")
	time.Sleep(100 * time.Millisecond)
	if s := r.alpha.sent(); len(s) != 1 {
		t.Errorf("a withdrawn draft went out from its card: %q", s)
	}

	// "Send as DM" on the card: this network refuses DMs for good, and the
	// card says it was not sent.
	_, card4 := draft("We'll DM you.")
	click("U0MANAGER1", card4, "send_as_dm")
	c = waitCard(card4, "the failure on the card", func(c *bridge.DraftCard) bool { return strings.HasPrefix(c.Outcome, "Not sent") })
	if !c.DM || c.DecidedBy != "U0MANAGER1" {
		t.Errorf("failed card = %+v", c)
	}
}

// A gesture on a card whose record is not committed yet (the approver
// clicked as soon as it showed) is delivered again later, not dropped; a
// gesture on an old unknown message, or a reaction that decides nothing,
// is ignored.
func TestCardGestureBeforeTheCardIsRecorded(t *testing.T) {
	r, _ := newCardRig(t)
	thread := r.mirrored(t, "alpha", "alpha-early")
	fresh := fmt.Sprintf("%d.000999", time.Now().Unix())
	ev := bridge.ChatEvent{ID: "early-click", Kind: bridge.EventReactionAdded, Channel: thread.Channel, User: "U0MANAGER1",
		ItemTS: fresh, ThreadTS: thread.TS, Reaction: "like", At: time.Now()}
	if err := r.svc.HandleChatEvent(t.Context(), ev); !errors.Is(err, bridge.ErrRetryLater) {
		t.Errorf("a click on a card not recorded yet: %v, want ErrRetryLater", err)
	}
	ev.ID, ev.Reaction = "early-heart", "heart"
	if err := r.svc.HandleChatEvent(t.Context(), ev); err != nil {
		t.Errorf("a reaction that decides nothing: %v", err)
	}
	ev.ID, ev.Reaction, ev.ItemTS = "old-click", "like", "1600000000.000100"
	if err := r.svc.HandleChatEvent(t.Context(), ev); err != nil {
		t.Errorf("a click on an old unknown message: %v", err)
	}
}
