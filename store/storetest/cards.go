package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

var cardTests = []test{
	{"DraftCard/RecordFindReplace", func(t *testing.T, s *store.Store) {
		p, _, k := seedTicket(t, s, "conv-card")
		d := &bridge.Draft{TicketID: k.ID, Channel: "19:net@thread.tacv2", TS: "1767225700100", Author: "aad-staff",
			Text: "We're on it 🙇", Visibility: bridge.VisibilityPublic, ReplyTo: p.ID, Account: "SBCare",
			State: bridge.DraftPending, CreatedAt: at(time.Minute), UpdatedAt: at(time.Minute)}
		other := &bridge.Draft{TicketID: k.ID, Channel: "19:net@thread.tacv2", TS: "1767225700200", Author: "aad-staff",
			Text: "dm: later", Visibility: bridge.VisibilityDM, ReplyTo: p.ID, Account: "SBCare",
			State: bridge.DraftPending, CreatedAt: at(time.Minute), UpdatedAt: at(time.Minute)}
		inTx(t, s, func(tx *store.Tx) error {
			if err := tx.CreateDraft(ctx(t), d); err != nil {
				return err
			}
			return tx.CreateDraft(ctx(t), other)
		})

		// No card yet: both look-ups say so.
		inTx(t, s, func(tx *store.Tx) error {
			if _, err := tx.DraftCard(ctx(t), d.ID); !errors.Is(err, bridge.ErrNotFound) {
				t.Errorf("DraftCard before any card: err = %v, want ErrNotFound", err)
			}
			if _, err := tx.DraftByCard(ctx(t), "19:net@thread.tacv2", "1767225700900"); !errors.Is(err, bridge.ErrNotFound) {
				t.Errorf("DraftByCard of an unknown message: err = %v, want ErrNotFound", err)
			}
			return nil
		})

		card := bridge.ChatRef{Channel: "19:net@thread.tacv2", TS: "1767225700900"}
		inTx(t, s, func(tx *store.Tx) error { return tx.SetDraftCard(ctx(t), d.ID, card) })
		// Recording it again (a retried completion) is no error.
		inTx(t, s, func(tx *store.Tx) error { return tx.SetDraftCard(ctx(t), d.ID, card) })
		inTx(t, s, func(tx *store.Tx) error {
			got, err := tx.DraftCard(ctx(t), d.ID)
			if err != nil {
				return err
			}
			same(t, "DraftCard", got, card)
			byCard, err := tx.DraftByCard(ctx(t), card.Channel, card.TS)
			if err != nil {
				return err
			}
			want := storedDraft(*d)
			same(t, "DraftByCard", byCard, &want)
			// The card is not the draft's own message.
			if _, err := tx.DraftByMessage(ctx(t), card.Channel, card.TS); !errors.Is(err, bridge.ErrNotFound) {
				t.Errorf("DraftByMessage of the card: err = %v, want ErrNotFound", err)
			}
			return nil
		})

		// A card posted anew replaces the old one.
		moved := bridge.ChatRef{Channel: "19:net@thread.tacv2", TS: "1767225701000"}
		inTx(t, s, func(tx *store.Tx) error { return tx.SetDraftCard(ctx(t), d.ID, moved) })
		inTx(t, s, func(tx *store.Tx) error {
			if _, err := tx.DraftByCard(ctx(t), card.Channel, card.TS); !errors.Is(err, bridge.ErrNotFound) {
				t.Errorf("the replaced card still finds its draft: err = %v", err)
			}
			got, err := tx.DraftByCard(ctx(t), moved.Channel, moved.TS)
			if err != nil {
				return err
			}
			if got.ID != d.ID {
				t.Errorf("DraftByCard(new card) = draft %d, want %d", got.ID, d.ID)
			}
			return nil
		})

		// One message is the card of one draft only, and a missing draft
		// gets no card.
		if err := withTx(s, ctx(t), func(tx *store.Tx) error { return tx.SetDraftCard(ctx(t), other.ID, moved) }); err == nil {
			t.Error("one chat message became the card of two drafts")
		}
		if err := withTx(s, ctx(t), func(tx *store.Tx) error {
			return tx.SetDraftCard(ctx(t), d.ID+1000, bridge.ChatRef{Channel: "19:net@thread.tacv2", TS: "1767225702000"})
		}); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("card of a missing draft: err = %v, want ErrNotFound", err)
		}
	}},
}
