package bridge

import (
	"context"
	"encoding/json"
	"fmt"
)

// handleChatPost posts one queued chat message: a ticket's parent, a
// later post in its thread, an FYI copy or a notice.
func (s *relay) handleChatPost(ctx context.Context, it *OutboxItem) (completion, error) {
	var pl chatPayload
	if err := decodePayload(it, &pl); err != nil {
		return nil, err
	}
	if bundleable(it, pl) {
		// A channel under pressure shows new passive posts in bundles
		// (bundle.go).
		if size := s.bundleSize(ctx, it.Lane); size > 1 {
			return s.handleBundle(ctx, it, pl, size)
		}
		defer s.endStatus(ctx, it.Lane)
	} else {
		// The last messages of a flood may be mentions or notices: they
		// end the channel's status once its queue has drained.
		defer s.endStatusIfDrained(ctx, it.Lane)
	}
	return s.postChat(ctx, it, pl)
}

// postChat posts one chat message of row it.
func (s *relay) postChat(ctx context.Context, it *OutboxItem, pl chatPayload) (completion, error) {
	var t *Ticket
	var p *Post
	if pf := chatPrefetched(ctx); pf != nil && pf.wait(ctx) {
		if tk := pf.tickets[pl.TicketID]; tk != nil {
			cp := *tk
			t = &cp
		}
		p = pf.posts[pl.PostID]
	}
	var err error
	if t == nil || (pl.PostID != 0 && p == nil) {
		err = s.readChat(ctx, pl, &t, &p)
	}
	if err != nil {
		return nil, err
	}
	dept := s.cfg.Department(pl.Department)
	if dept == nil {
		return nil, &SendError{Platform: "carebridge", Code: "unknown_department", Permanent: true, Err: fmt.Errorf("department %q is no longer configured", pl.Department)}
	}
	msg := ChatMessage{
		Kind:       pl.Kind,
		OutboxID:   it.ID,
		Channel:    dept.Channel,
		Department: dept.ID,
		DeptName:   dept.Name,
		Ticket:     t,
		Post:       p,
		History:    pl.History,
		Text:       pl.Text,
	}
	if p != nil {
		msg.Official = s.isOfficial(p)
		_, msg.Answerable = s.answerable(p)
		if !msg.Official && s.afterHours != nil && (pl.Kind == MessageParent || pl.Kind == MessageReply) {
			msg.AfterHours = s.afterHours(pl.Received)
		}
		if o, ok := s.networks[p.Platform].(AnswerOptions); ok && !msg.Official && pl.Kind != MessageFYI {
			msg.Answers = o.AnswerOptions(p)
		}
	}
	if pl.Channel != "" {
		msg.Channel = pl.Channel // the watch channel's FYI stream
	}
	if pl.OpenedBy != "" {
		if t.SlackTS != "" {
			// Answer pressed on a bundled post whose thread a follow-up
			// or a notice opened meanwhile: nothing to open.
			return nil, nil
		}
		msg.OpenedBy = pl.OpenedBy
	}
	switch pl.Kind {
	case MessageReply, MessageNotice:
		if t.SlackTS == "" {
			// The ticket has no thread: its first post was shown in a
			// bundle (or its parent failed for good). This message opens
			// the thread instead, showing the conversation's first post
			// too.
			msg.Kind = MessageParent
			if err := s.threadOpener(ctx, pl, t, &msg); err != nil {
				return nil, err
			}
		} else {
			msg.Channel, msg.ThreadTS = t.SlackChannel, t.SlackTS
		}
	case MessageFYI:
		if owner := s.cfg.Department(t.Department); owner != nil {
			msg.OwnerName = owner.Name
		}
		if t.SlackTS != "" {
			link, err := s.publisher.Permalink(ctx, ChatRef{Channel: t.SlackChannel, TS: t.SlackTS})
			if err != nil {
				s.log.Warn("no permalink for FYI copy; sending it without a link", "ticket", t.ID, "err", err)
			}
			msg.OwnerLink = link
		}
	}

	ref, found, err := s.publishOnce(ctx, it, msg)
	if err != nil {
		return nil, err
	}
	if !found {
		s.metrics.MirrorLatency(s.clock.Now().Sub(pl.Received))
	}
	if ref.Bundle {
		// Found after a crash in a bundle: shown, but no thread.
		return nil, nil
	}
	p = msg.Post
	return func(ctx context.Context, g *groupWrites) error {
		if p != nil {
			role := MirrorReply
			switch msg.Kind {
			case MessageParent:
				role = MirrorParent
			case MessageFYI:
				role = MirrorFYI
			}
			g.Mirror(Mirror{PostID: p.ID, TicketID: t.ID, Department: dept.ID, Role: role,
				Channel: ref.Channel, TS: ref.TS, ThreadTS: msg.ThreadTS, CreatedAt: s.clock.Now().UTC()})
		}
		if msg.Kind == MessageParent {
			// Only the thread: ingest may have changed the ticket since.
			g.Thread(t.ID, ref)
		}
		return nil
	}, nil
}

// threadOpener completes msg, a reply or notice that opens ticket t's
// thread because its first post was shown in a bundle: a follow-up shows
// the first post as Earlier; a notice shows the first post itself, with
// the notice's text.
func (s *relay) threadOpener(ctx context.Context, pl chatPayload, t *Ticket, msg *ChatMessage) error {
	if t.RootPostID == 0 || t.RootPostID == pl.PostID {
		return nil
	}
	var root *Post
	err := s.store.WithTx(ctx, func(tx RelayTx) error {
		var err error
		root, err = tx.PostByID(ctx, t.RootPostID)
		return err
	})
	if err != nil {
		return fmt.Errorf("first post %d of ticket %d: %w", t.RootPostID, t.ID, err)
	}
	if msg.Post == nil {
		msg.Post = root // a notice: the thread opens with the first post
		msg.Official = s.isOfficial(root)
	} else {
		msg.Earlier = root
	}
	return nil
}

// readChat reads the ticket and post a chat message shows.
func (s *relay) readChat(ctx context.Context, pl chatPayload, tp **Ticket, pp **Post) error {
	return s.store.WithTx(ctx, func(tx RelayTx) error {
		var err error
		if *tp, err = tx.TicketByID(ctx, pl.TicketID); err != nil {
			return fmt.Errorf("ticket %d: %w", pl.TicketID, err)
		}
		if pl.PostID != 0 {
			if *pp, err = tx.PostByID(ctx, pl.PostID); err != nil {
				return fmt.Errorf("post %d: %w", pl.PostID, err)
			}
		}
		return nil
	})
}

// chatPrefetch holds the tickets and posts of the chat messages one claim
// returned, read together while the relay goes on claiming.
type chatPrefetch struct {
	ready   chan struct{} // closed once the maps are set (or the read failed)
	tickets map[int64]*Ticket
	posts   map[int64]*Post
}

// wait returns once the read is over, true if it succeeded.
func (pf *chatPrefetch) wait(ctx context.Context) bool {
	select {
	case <-pf.ready:
		return pf.tickets != nil
	case <-ctx.Done():
		return false
	}
}

type chatPrefetchKey struct{}

// withChatPrefetch hands pf to the handlers of the claimed rows.
func withChatPrefetch(ctx context.Context, pf *chatPrefetch) context.Context {
	if pf == nil {
		return ctx
	}
	return context.WithValue(ctx, chatPrefetchKey{}, pf)
}

// chatPrefetched returns what withChatPrefetch stored, or nil.
func chatPrefetched(ctx context.Context) *chatPrefetch {
	pf, _ := ctx.Value(chatPrefetchKey{}).(*chatPrefetch)
	return pf
}

// prefetchChat starts reading the tickets and posts of the claimed chat
// messages in one transaction, and returns at once; handlers wait for the
// read (chatPrefetch.wait). Claims take at most one row per ticket, and a
// ticket's rows are claimed only once the earlier ones are recorded, so
// what is read here is what each message would read itself. It returns
// nil when there is nothing worth reading together; when the read fails
// every handler reads its own.
func (s *relay) prefetchChat(ctx context.Context, items []OutboxItem) *chatPrefetch {
	var tickets, posts []int64
	for _, it := range items {
		if it.Kind != KindChatPost {
			continue
		}
		var pl chatPayload
		if json.Unmarshal(it.Payload, &pl) != nil {
			continue
		}
		tickets = append(tickets, pl.TicketID)
		if pl.PostID != 0 {
			posts = append(posts, pl.PostID)
		}
	}
	if len(tickets) < 2 {
		return nil
	}
	pf := &chatPrefetch{ready: make(chan struct{})}
	s.flight.Add(1)
	go func() {
		defer s.flight.Done()
		defer close(pf.ready)
		var tk map[int64]*Ticket
		var ps map[int64]*Post
		err := s.store.WithTx(ctx, func(tx RelayTx) error {
			var err error
			if tk, err = tx.TicketsByID(ctx, tickets); err != nil {
				return err
			}
			ps, err = tx.PostsByID(ctx, posts)
			return err
		})
		if err != nil {
			s.log.Warn("outbox: cannot read the claimed messages' tickets and posts together; reading them one by one", "err", err)
			return
		}
		pf.tickets, pf.posts = tk, ps
	}()
	return pf
}

// publishOnce posts msg for outbox row it. A row whose outcome is unknown
// (Recovered: taken over after a crash, or a post whose connection was
// lost after the request was sent) may have been posted by an earlier
// attempt: then that message is returned with found set and nothing is
// posted again. The check is paced and retried until it succeeds
// (unknown.go); the row is never posted unchecked on a surface that can
// look for its messages.
func (s *relay) publishOnce(ctx context.Context, it *OutboxItem, msg ChatMessage) (ref ChatRef, found bool, err error) {
	finder, _ := s.publisher.(MessageFinder)
	if it.Recovered && finder == nil {
		s.log.Warn("outbox: cannot look for a message posted before a restart on this chat surface; posting it (again)", "id", it.ID, "channel", msg.Channel)
	}
	if it.Recovered && finder != nil {
		ref, found, err = s.findPosted(ctx, finder, it, msg)
		if err != nil {
			return ChatRef{}, false, fmt.Errorf("reconcile outbox %d: %w", it.ID, err)
		}
		if found {
			s.log.Info("outbox: message was already posted before a restart; not posting again", "id", it.ID, "channel", ref.Channel, "ts", ref.TS)
			return ref, true, nil
		}
	}
	if err := s.leaseEnding(it); err != nil {
		return ChatRef{}, false, err
	}
	ref, err = s.publisher.Publish(ctx, msg)
	if err != nil {
		s.markUnknown(ctx, it, err)
	}
	return ref, false, err
}

// handleChatReport posts a queued Report.
func (s *relay) handleChatReport(ctx context.Context, it *OutboxItem) (completion, error) {
	var pl ReportPayload
	if err := decodePayload(it, &pl); err != nil {
		return nil, err
	}
	msg := ChatMessage{Kind: MessageReport, OutboxID: it.ID, Channel: pl.Channel, Department: pl.Department, Report: &pl.Report}
	if d := s.cfg.Department(pl.Department); d != nil {
		msg.DeptName = d.Name
	}
	_, _, err := s.publishOnce(ctx, it, msg)
	return nil, err
}

// handleChatReact adds or removes one of the bot's reactions. A reaction
// already there (or already gone) counts as done.
func (s *relay) handleChatReact(ctx context.Context, it *OutboxItem) (completion, error) {
	var p reactPayload
	if err := decodePayload(it, &p); err != nil {
		return nil, err
	}
	if s.actions == nil {
		return nil, nil
	}
	return nil, s.actions.React(ctx, ChatRef{Channel: p.Channel, TS: p.TS}, p.Name, p.Add)
}

// handleChatEphemeral shows a note to one person.
func (s *relay) handleChatEphemeral(ctx context.Context, it *OutboxItem) (completion, error) {
	var p ephemeralPayload
	if err := decodePayload(it, &p); err != nil {
		return nil, err
	}
	notes, _ := s.actions.(EphemeralNotes)
	if notes == nil {
		// Queued before the surface lost the capability: nowhere to show it.
		s.log.Warn("outbox: the chat surface cannot show a note to one person; dropped", "id", it.ID, "user", p.User)
		return nil, nil
	}
	return nil, notes.Ephemeral(ctx, p.Channel, p.User, p.Text)
}
