package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// handleChatReact adds or removes one of the bot's reactions. A reaction
// already there (or already gone) counts as done.
func (s *Service) handleChatReact(ctx context.Context, it *OutboxItem) (func(context.Context, Tx) error, error) {
	var p reactPayload
	if err := json.Unmarshal(it.Payload, &p); err != nil {
		return nil, &SendError{Platform: "carebridge", Code: "bad_payload", Permanent: true, Err: err}
	}
	if s.opt.Actions == nil {
		return nil, nil
	}
	return nil, s.opt.Actions.React(ctx, ChatRef{Channel: p.Channel, TS: p.TS}, p.Name, p.Add)
}

// handleChatEphemeral shows a note to one person.
func (s *Service) handleChatEphemeral(ctx context.Context, it *OutboxItem) (func(context.Context, Tx) error, error) {
	var p ephemeralPayload
	if err := json.Unmarshal(it.Payload, &p); err != nil {
		return nil, &SendError{Platform: "carebridge", Code: "bad_payload", Permanent: true, Err: err}
	}
	if s.opt.Actions == nil {
		return nil, nil
	}
	return nil, s.opt.Actions.Ephemeral(ctx, p.Channel, p.User, p.Text)
}

// handleSend sends an approved draft to the customer, effectively once:
// the draft is marked sending in its own transaction before the call, and
// a draft found already sending (a crash or an unknown outcome earlier)
// is first looked for on the platform.
func (s *Service) handleSend(ctx context.Context, it *OutboxItem) (func(context.Context, Tx) error, error) {
	var p sendPayload
	if err := json.Unmarshal(it.Payload, &p); err != nil {
		return nil, &SendError{Platform: "carebridge", Code: "bad_payload", Permanent: true, Err: err}
	}
	if s.opt.Replier == nil {
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
	err := s.store.WithTx(ctx, func(tx Tx) error {
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
		return s.audit(ctx, tx, AuditSendAttempted, "system", t.Department, t.ID, d.ID,
			map[string]any{"attempt": it.Attempts, "visibility": d.Visibility, "account": d.Account, "reconcile": reconcile}, now)
	})
	if err != nil || skip {
		return nil, err
	}

	var ref SentRef
	found := false
	if reconcile {
		err = s.paced(ctx, checkReply+d.Account, func(ctx context.Context) error {
			var err error
			if d.Visibility == VisibilityDM {
				ref, found, err = s.opt.Replier.FindDM(ctx, d.Account, d.Recipient, d.Text)
			} else {
				ref, found, err = s.opt.Replier.FindReply(ctx, d.Account, target.ExternalID, d.Text)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("check whether draft %d already went out: %w", d.ID, err)
		}
	}
	if !found {
		if d.Visibility == VisibilityDM {
			ref, err = s.opt.Replier.SendDM(ctx, d.Account, d.Recipient, d.Text)
		} else {
			ref, err = s.opt.Replier.Reply(ctx, d.Account, target.ExternalID, d.Text)
		}
	}
	if err != nil {
		s.sendFailed(ctx, it, d, t, err)
		return nil, err
	}
	return func(ctx context.Context, tx Tx) error {
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
		if err := s.audit(ctx, tx, kind, "system", tk.Department, tk.ID, cur.ID,
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
			line += " — <" + ref.URL + "|view on X>"
		}
		if err := s.enqueueNotice(ctx, tx, tk, line, now); err != nil {
			return err
		}
		msg := ChatRef{Channel: cur.Channel, TS: cur.TS}
		if err := s.enqueueReact(ctx, tx, tk, msg, ReactionPending, false, now); err != nil {
			return err
		}
		return s.enqueueReact(ctx, tx, tk, msg, ReactionSent, true, now)
	}, nil
}

// sendFailed records a failed send: a permanent failure ends the draft
// and says why in the thread; a temporary one says when it is retried
// (once, not at every attempt).
func (s *Service) sendFailed(ctx context.Context, it *OutboxItem, d *Draft, t *Ticket, sendErr error) {
	now := s.clock.Now().UTC()
	permanent := IsPermanent(sendErr) || it.Attempts >= s.cfg.Outbox.MaxAttempts
	why := plainWords(sendErr, d.Account, s.cfg.Approvals.ApproveDMEmoji)
	err := s.store.WithTx(ctx, func(tx Tx) error {
		cur, err := tx.DraftByID(ctx, d.ID)
		if err != nil {
			return err
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
		if err := s.audit(ctx, tx, kind, "system", t.Department, t.ID, d.ID, map[string]any{"error": sendErr.Error(), "attempt": it.Attempts}, now); err != nil {
			return err
		}
		switch {
		case permanent:
			msg := ChatRef{Channel: cur.Channel, TS: cur.TS}
			if err := s.enqueueNotice(ctx, tx, t, ":warning: Not sent: "+why, now); err != nil {
				return err
			}
			if err := s.enqueueReact(ctx, tx, t, msg, ReactionPending, false, now); err != nil {
				return err
			}
			return s.enqueueReact(ctx, tx, t, msg, ReactionFailed, true, now)
		case firstFailure:
			retry := now.Add(s.backoff(it.Attempts))
			var se *SendError
			if errors.As(sendErr, &se) && se.RetryAfter > 0 {
				retry = now.Add(se.RetryAfter)
			}
			return s.enqueueNotice(ctx, tx, t, fmt.Sprintf(":hourglass: Not sent yet: %s Retrying at %s.", why, retry.In(s.cfg.Location).Format("15:04")), now)
		}
		return nil
	})
	if err != nil {
		s.log.Error("cannot record a failed send", "draft", d.ID, "err", err)
	}
}

// plainWords explains a send failure to a busy person.
func plainWords(err error, account, dmEmoji string) string {
	var se *SendError
	if !errors.As(err, &se) {
		return "carebridge could not reach the platform (" + err.Error() + ")."
	}
	switch se.Code {
	case "reply_not_allowed":
		return fmt.Sprintf("X refused a public reply because the customer didn't mention or quote @%s. React with :%s: to send it as a DM, or answer in the X app.", account, dmEmoji)
	case "duplicate_content":
		return "X refused it as a duplicate of an earlier post. Edit the wording and have it approved again."
	case "dm_not_allowed":
		return fmt.Sprintf("the customer doesn't accept DMs from @%s. Reply publicly instead, or ask them to open their DMs.", account)
	case "429":
		return fmt.Sprintf("X is rate-limiting @%s.", account)
	case "401", "auth":
		return fmt.Sprintf("X refused @%s's credentials; an operator must renew them.", account)
	case "network":
		return "X could not be reached."
	}
	if strings.HasPrefix(se.Code, "5") {
		return "X is having trouble (HTTP " + se.Code + ")."
	}
	return "X answered " + se.Code + ": " + se.Error()
}
