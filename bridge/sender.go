package bridge

import (
	"context"
	"errors"
	"fmt"
)

// handleSend sends an approved draft to the customer, effectively once:
// the draft is marked sending in its own transaction before the call, and
// a draft found already sending (a crash or an unknown outcome earlier)
// is first looked for on the platform.
func (s *relay) handleSend(ctx context.Context, it *OutboxItem) (completion, error) {
	var p sendPayload
	if err := decodePayload(it, &p); err != nil {
		return nil, err
	}
	if len(s.repliers) == 0 {
		return nil, &SendError{Platform: "carebridge", Code: "no_replier", Err: errors.New("no replier configured")}
	}
	var (
		d         *Draft
		t         *Ticket
		target    *Post
		reconcile bool
		skip      bool
	)
	now := s.clock.Now().UTC()
	err := s.store.WithTx(ctx, func(tx RelayTx) error {
		var err error
		if d, err = tx.DraftByID(ctx, p.DraftID); err != nil {
			return err
		}
		switch d.State {
		case DraftApproved:
		case DraftSending:
			reconcile = true
		default:
			skip = true // withdrawn, edited, deleted or sent meanwhile
			return nil
		}
		reconcile = reconcile || it.Recovered
		if t, err = tx.TicketByID(ctx, d.TicketID); err != nil {
			return err
		}
		if target, err = tx.PostByID(ctx, d.ReplyTo); err != nil {
			return err
		}
		if d.State == DraftApproved {
			d.State, d.UpdatedAt = DraftSending, now
			if err := tx.UpdateDraft(ctx, d); err != nil {
				return err
			}
		}
		return audit(ctx, tx, AuditSendAttempted, "system", t.Department, t.ID, d.ID,
			map[string]any{"attempt": it.Attempts, "visibility": d.Visibility, "account": d.Account, "reconcile": reconcile}, now)
	})
	if err != nil || skip {
		return nil, err
	}
	replier := s.repliers[t.Platform]
	if replier == nil {
		return nil, &SendError{Platform: "carebridge", Code: "no_replier", Err: fmt.Errorf("no replier for platform %q", t.Platform)}
	}

	var ref SentRef
	found := false
	if reconcile {
		err = s.paced(ctx, checkReply+d.Account, func(ctx context.Context) error {
			var err error
			switch pr, private := replier.(PrivateReplier); {
			case d.Visibility == VisibilityDM && private && !target.IsDM():
				ref, found, err = pr.FindPrivateReply(ctx, d.Account, target.ExternalID, d.Text)
			case d.Visibility == VisibilityDM:
				ref, found, err = replier.FindDM(ctx, d.Account, d.Recipient, d.Text)
			default:
				ref, found, err = replier.FindReply(ctx, d.Account, target.ExternalID, d.Text)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("check whether draft %d already went out: %w", d.ID, err)
		}
	}
	if !found {
		if err := s.leaseEnding(it); err != nil {
			return nil, err // the draft stays sending: the next attempt checks first
		}
		// A DM in answer to a public post goes as a private reply to
		// that post where the network has them (Meta).
		switch pr, private := replier.(PrivateReplier); {
		case d.Visibility == VisibilityDM && private && !target.IsDM():
			ref, err = pr.PrivateReply(ctx, d.Account, target.ExternalID, d.Text)
		case d.Visibility == VisibilityDM:
			ref, err = replier.SendDM(ctx, d.Account, d.Recipient, d.Text)
		default:
			ref, err = replier.Reply(ctx, d.Account, target.ExternalID, d.Text)
		}
	}
	if err != nil {
		s.sendFailed(ctx, it, d, t, err)
		return nil, err
	}
	return func(ctx context.Context, g *groupWrites) error {
		tx, err := g.Tx(ctx)
		if err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		cur, err := tx.DraftByID(ctx, d.ID)
		if err != nil {
			return err
		}
		cur.State, cur.SentID, cur.SentURL, cur.SentAt, cur.UpdatedAt, cur.Error = DraftSent, ref.ID, ref.URL, now, now, ""
		if err := tx.UpdateDraft(ctx, cur); err != nil {
			return err
		}
		tk, err := tx.TicketByID(ctx, t.ID)
		if err != nil {
			return err
		}
		tk.State, tk.AnsweredAt, tk.UpdatedAt = TicketAnswered, now, now
		if tk.FirstResponseAt.IsZero() {
			tk.FirstResponseAt = now
		}
		if err := tx.UpdateTicket(ctx, tk); err != nil {
			return err
		}
		// Our answer will come back through search or the stream: store
		// it now so that it is recognised and not mirrored again.
		if cur.Visibility == VisibilityPublic && ref.ID != "" {
			own := &Post{Platform: target.Platform, ExternalID: ref.ID, Source: SourceLookup, AuthorHandle: cur.Account,
				Text: cur.Text, CreatedAt: now, ReceivedAt: now, URL: ref.URL, ConversationKey: tk.ConversationKey,
				InReplyTo: target.ExternalID, Eligibility: EligiblePublic}
			if _, err := tx.InsertPost(ctx, own); err != nil {
				return err
			}
		}
		kind := AuditSent
		if found {
			kind = AuditSentAlreadyOnCheck
		}
		if err := audit(ctx, tx, kind, "system", tk.Department, tk.ID, cur.ID,
			map[string]any{"platform": string(target.Platform), "platform_id": ref.ID, "url": ref.URL, "visibility": cur.Visibility,
				"account": cur.Account, "approved_by": cur.ApprovedBy, "author": cur.Author, "text": cur.Text}, now); err != nil {
			return err
		}
		how := "Sent publicly"
		if cur.Visibility == VisibilityDM {
			how = "Sent by DM"
		}
		line := fmt.Sprintf(":white_check_mark: %s as @%s, approved by <@%s>", how, cur.Account, cur.ApprovedBy)
		if ref.URL != "" && cur.Visibility == VisibilityPublic {
			line += " — <" + ref.URL + "|view on " + s.networkName(t.Platform) + ">"
		}
		if err := enqueueNotice(ctx, tx, s.cfg, tk, line, now); err != nil {
			return err
		}
		if err := s.enqueueCard(ctx, tx, tk, cur, "", now); err != nil {
			return err
		}
		msg := ChatRef{Channel: cur.Channel, TS: cur.TS}
		if err := enqueueReact(ctx, tx, tk, msg, s.marks.Pending, false, now); err != nil {
			return err
		}
		return enqueueReact(ctx, tx, tk, msg, s.marks.Sent, true, now)
	}, nil
}

// sendFailed records a failed send: a permanent failure ends the draft
// and says why in the thread; a temporary one says when it is retried
// (once, not at every attempt).
func (s *relay) sendFailed(ctx context.Context, it *OutboxItem, d *Draft, t *Ticket, sendErr error) {
	now := s.clock.Now().UTC()
	permanent := IsPermanent(sendErr) || it.Attempts >= s.cfg.Outbox.MaxAttempts
	why := s.explain(sendErr, t.Platform, d.Account)
	err := s.store.WithTx(ctx, func(tx RelayTx) error {
		cur, err := tx.DraftByID(ctx, d.ID)
		if err != nil {
			return err
		}
		if cur.State != DraftSending {
			// Another attempt settled it meanwhile (this one stalled past
			// its lease and the row was taken over): its outcome stands.
			return nil
		}
		firstFailure := cur.Error == ""
		cur.Error, cur.UpdatedAt = why, now
		kind := AuditSendRetrying
		if permanent {
			cur.State, kind = DraftFailed, AuditSendFailed
		}
		if err := tx.UpdateDraft(ctx, cur); err != nil {
			return err
		}
		if err := audit(ctx, tx, kind, "system", t.Department, t.ID, d.ID, map[string]any{"error": sendErr.Error(), "attempt": it.Attempts}, now); err != nil {
			return err
		}
		switch {
		case permanent:
			msg := ChatRef{Channel: cur.Channel, TS: cur.TS}
			if err := enqueueNotice(ctx, tx, s.cfg, t, ":warning: Not sent: "+why, now); err != nil {
				return err
			}
			if err := s.enqueueCard(ctx, tx, t, cur, "", now); err != nil {
				return err
			}
			if err := enqueueReact(ctx, tx, t, msg, s.marks.Pending, false, now); err != nil {
				return err
			}
			return enqueueReact(ctx, tx, t, msg, s.marks.Failed, true, now)
		case firstFailure:
			retry := now.Add(s.backoff(it.Attempts))
			var se *SendError
			if errors.As(sendErr, &se) && se.RetryAfter > 0 {
				retry = now.Add(se.RetryAfter)
			}
			return enqueueNotice(ctx, tx, s.cfg, t, fmt.Sprintf(":hourglass: Not sent yet: %s Retrying at %s.", why, retry.In(s.cfg.Location).Format("15:04")), now)
		}
		return nil
	})
	if err != nil {
		s.log.Error("cannot record a failed send", "draft", d.ID, "err", err)
	}
}

// handlePlatformPost publishes a greeting or sign-off, effectively once: a
// row recovered after a crash first looks for the post on the platform.
func (s *relay) handlePlatformPost(ctx context.Context, it *OutboxItem) (completion, error) {
	var p PostPayload
	if err := decodePayload(it, &p); err != nil {
		return nil, err
	}
	poster := s.posters[p.Platform]
	if poster == nil {
		return nil, &SendError{Platform: "carebridge", Code: "no_poster", Permanent: true, Err: fmt.Errorf("no poster configured for platform %q", p.Platform)}
	}
	var ref SentRef
	found := false
	var err error
	if it.Recovered || it.Attempts > 1 {
		err = s.paced(ctx, checkPost+p.Account, func(ctx context.Context) error {
			var err error
			ref, found, err = poster.FindPost(ctx, p.Account, p.Text)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("check whether the %s of @%s already went out: %w", p.Purpose, p.Account, err)
		}
	}
	if !found {
		if err := s.leaseEnding(it); err != nil {
			return nil, err
		}
		if ref, err = poster.Post(ctx, p.Account, p.Text); err != nil {
			return nil, err
		}
	}
	return func(ctx context.Context, g *groupWrites) error {
		tx, err := g.Tx(ctx)
		if err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		if ref.ID != "" {
			// Our post will come back through search: store it so it is
			// recognised and not mirrored.
			own := &Post{Platform: p.Platform, ExternalID: ref.ID, Source: SourceLookup, AuthorHandle: p.Account,
				Text: p.Text, CreatedAt: now, ReceivedAt: now, URL: ref.URL, ConversationKey: ref.ID, Eligibility: EligiblePublic}
			if _, err := tx.InsertPost(ctx, own); err != nil {
				return err
			}
		}
		return Audit(ctx, tx, AuditPosted, p.Account, "", 0, map[string]any{"purpose": p.Purpose, "text": p.Text, "platform_id": ref.ID, "url": ref.URL, "found_on_check": found}, now)
	}, nil
}
