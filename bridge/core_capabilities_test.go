package bridge_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/carebridge/carebridge/bridge"
)

// The optional network capabilities, with a made-up network "gamma" that
// answers a public post privately, once (as Meta does with comments).

// onceRules allows one private answer per post and says so up front.
type onceRules struct{ rules }

func (onceRules) AnswerOptions(p *bridge.Post) string { return "Public reply, or one private answer" }

func (r onceRules) AnswerableAfter(target *bridge.Post, others []bridge.Draft) (bridge.Eligibility, string) {
	for _, d := range others {
		if d.ReplyTo == target.ID && d.Visibility == bridge.VisibilityDM &&
			(d.State == bridge.DraftApproved || d.State == bridge.DraftSending || d.State == bridge.DraftSent) {
			return bridge.EligiblePublicOnly, "Gamma allows one private answer per post."
		}
	}
	return r.Answerable(target)
}

// privateReplier records private replies apart from DMs.
type privateReplier struct {
	replier
	mu              sync.Mutex
	private, direct []string
}

func (r *privateReplier) SendDM(_ context.Context, _, recipient, text string) (bridge.SentRef, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.direct = append(r.direct, recipient+": "+text)
	return bridge.SentRef{ID: "dm"}, nil
}

func (r *privateReplier) PrivateReply(_ context.Context, _, postID, text string) (bridge.SentRef, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.private = append(r.private, postID+": "+text)
	return bridge.SentRef{ID: "pr"}, nil
}

func (r *privateReplier) FindPrivateReply(context.Context, string, string, string) (bridge.SentRef, bool, error) {
	return bridge.SentRef{}, false, nil
}

func (r *privateReplier) sentPrivately() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.private...), append([]string(nil), r.direct...)
}

func TestPrivateAnswerOncePerPost(t *testing.T) {
	gamma := &privateReplier{}
	r := &rig{chat: &surface{}}
	r.start(t, []bridge.Network{onceRules{rules{"gamma", "Gamma", 280}}}, map[bridge.Platform]bridge.Replier{"gamma": gamma})

	thread := r.mirrored(t, "gamma", "g-1")
	parent, _, _ := r.chat.find(func(m bridge.ChatMessage) bool { return m.Kind == bridge.MessageParent })
	if parent.Answers != "Public reply, or one private answer" {
		t.Errorf("the parent says %q about answering, want the network's line", parent.Answers)
	}

	// dm: on a public post goes as a private reply to that post.
	r.event(t, bridge.ChatEvent{Kind: bridge.EventMessage, Channel: thread.Channel, User: "U0STAFF01", TS: "1700000400.000001", ThreadTS: thread.TS, Text: "dm: Details inside."})
	r.event(t, bridge.ChatEvent{Kind: bridge.EventReactionAdded, Channel: thread.Channel, User: "U0MANAGER1", ItemTS: "1700000400.000001", Reaction: "white_check_mark"})
	waitFor(t, "the private reply", func() bool { p, _ := gamma.sentPrivately(); return len(p) == 1 })
	if p, d := gamma.sentPrivately(); p[0] != "g-1: Details inside." || len(d) != 0 {
		t.Errorf("private %q, direct %q: want one private reply to g-1 and no DM", p, d)
	}

	// A second one is refused by the guards with the network's reason.
	r.event(t, bridge.ChatEvent{Kind: bridge.EventMessage, Channel: thread.Channel, User: "U0STAFF01", TS: "1700000400.000002", ThreadTS: thread.TS, Text: "dm: And another thing."})
	waitFor(t, "the guard's notice", func() bool {
		_, _, ok := r.chat.find(func(m bridge.ChatMessage) bool {
			return m.Kind == bridge.MessageNotice && strings.Contains(m.Text, "Gamma allows one private answer per post.")
		})
		return ok
	})
	// A public answer still passes.
	r.event(t, bridge.ChatEvent{Kind: bridge.EventMessage, Channel: thread.Channel, User: "U0STAFF01", TS: "1700000400.000003", ThreadTS: thread.TS, Text: "Thanks, all fixed."})
	r.event(t, bridge.ChatEvent{Kind: bridge.EventReactionAdded, Channel: thread.Channel, User: "U0MANAGER1", ItemTS: "1700000400.000003", Reaction: "white_check_mark"})
	waitFor(t, "the public reply", func() bool { return len(gamma.sent()) == 1 })
}
