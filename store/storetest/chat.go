package storetest

import (
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// storedDraft is d as a store returns it.
func storedDraft(d bridge.Draft) bridge.Draft {
	d.CreatedAt, d.UpdatedAt, d.SentAt, d.ApprovedAt = stored(d.CreatedAt), stored(d.UpdatedAt), stored(d.SentAt), stored(d.ApprovedAt)
	return d
}

var chatTests = []test{
	{"Mirror/SaveIsIdempotentAndListsInOrder", func(t *testing.T, s *store.Store) {
		p, _, k := seedTicket(t, s, "conv-m")
		p2 := newPost("conv-m-2")
		p2.ConversationKey = "conv-m"
		insertPost(t, s, p2)

		parent := bridge.Mirror{PostID: p.ID, TicketID: k.ID, Department: "network", Role: bridge.MirrorParent,
			Channel: "C0NETWORK", TS: "1767225600.000100", CreatedAt: at(time.Second)}
		fyi := bridge.Mirror{PostID: p.ID, TicketID: k.ID, Department: "exec", Role: bridge.MirrorFYI,
			Channel: "C0EXEC", TS: "1767225600.000150", CreatedAt: at(2 * time.Second)}
		reply := bridge.Mirror{PostID: p2.ID, TicketID: k.ID, Department: "network", Role: bridge.MirrorReply,
			Channel: "C0NETWORK", TS: "1767225600.000200", ThreadTS: "1767225600.000100", CreatedAt: at(3 * time.Second)}
		inTx(t, s, func(tx *store.Tx) error {
			for _, m := range []bridge.Mirror{parent, fyi, reply, parent} { // parent twice
				if err := saveMirror(ctx(t), tx, m); err != nil {
					return err
				}
			}
			return nil
		})
		// A retried worker saves the parent again in a later transaction.
		inTx(t, s, func(tx *store.Tx) error { return saveMirror(ctx(t), tx, parent) })

		// One message cannot show two posts.
		clash := parent
		clash.PostID = p2.ID
		if err := withTx(s, ctx(t), func(tx *store.Tx) error { return saveMirror(ctx(t), tx, clash) }); err == nil {
			t.Error("a message was mapped to a second post")
		}

		norm := func(m bridge.Mirror) bridge.Mirror { m.CreatedAt = stored(m.CreatedAt); return m }
		inTx(t, s, func(tx *store.Tx) error {
			got, err := mirrorsOfPost(ctx(t), tx, k.ID, p.ID)
			if err != nil {
				return err
			}
			same(t, "mirrors of the first post", got, []bridge.Mirror{norm(parent), norm(fyi)})
			got, err = tx.MirrorsOfTicket(ctx(t), k.ID)
			if err != nil {
				return err
			}
			same(t, "mirrors of the ticket", got, []bridge.Mirror{norm(parent), norm(fyi), norm(reply)})
			got, err = mirrorsOfPost(ctx(t), tx, k.ID, p.ID+1000)
			if err != nil || len(got) != 0 {
				t.Errorf("mirrors of a missing post = %v, %v; want none", got, err)
			}
			return nil
		})
	}},

	{"Draft/CreateFindUpdate", func(t *testing.T, s *store.Store) {
		p, _, k := seedTicket(t, s, "conv-d")
		d1 := &bridge.Draft{TicketID: k.ID, Channel: "C0NETWORK", TS: "1767225700.000100", Author: "U0STAFF",
			Text: "We're sorry 🙇 — could you DM us your area?", Visibility: bridge.VisibilityPublic,
			ReplyTo: p.ID, Account: "SBCare", Recipient: "42",
			State: bridge.DraftPending, CreatedAt: at(time.Minute), UpdatedAt: at(time.Minute)}
		d2 := &bridge.Draft{TicketID: k.ID, Channel: "C0NETWORK", TS: "1767225800.000100", Author: "U0STAFF",
			Text: "dm: follow-up", Visibility: bridge.VisibilityDM, State: bridge.DraftPending,
			CreatedAt: at(2 * time.Minute), UpdatedAt: at(2 * time.Minute)}
		inTx(t, s, func(tx *store.Tx) error {
			if err := tx.CreateDraft(ctx(t), d1); err != nil {
				return err
			}
			return tx.CreateDraft(ctx(t), d2)
		})
		if d1.ID == 0 || d2.ID == 0 || d1.ID == d2.ID {
			t.Fatalf("draft ids %d and %d, want two distinct ids", d1.ID, d2.ID)
		}

		// The same Slack message is one draft.
		err := withTx(s, ctx(t), func(tx *store.Tx) error {
			dup := *d1
			return tx.CreateDraft(ctx(t), &dup)
		})
		if err == nil {
			t.Error("a second draft for the same message was created")
		}

		upd := *d1
		upd.Text = "edited answer"
		upd.State = bridge.DraftSent
		upd.GuardReason = "none"
		upd.ApprovedBy, upd.ApprovedAt = "U0MANAGER", at(9*time.Minute)
		upd.Account = "SBCareWiFi"
		upd.SentID, upd.SentURL = "1900000000000000001", "https://x.com/SBCare/status/1900000000000000001"
		upd.Error = "first try: 503"
		upd.UpdatedAt, upd.SentAt = at(10*time.Minute), at(10*time.Minute)
		inTx(t, s, func(tx *store.Tx) error { return tx.UpdateDraft(ctx(t), &upd) })

		inTx(t, s, func(tx *store.Tx) error {
			got, err := tx.DraftByMessage(ctx(t), "C0NETWORK", "1767225700.000100")
			if err != nil {
				return err
			}
			want := storedDraft(upd)
			same(t, "DraftByMessage", got, &want)
			got, err = tx.DraftByID(ctx(t), d2.ID)
			if err != nil {
				return err
			}
			want = storedDraft(*d2)
			same(t, "DraftByID", got, &want)
			list, err := draftsOfTicket(ctx(t), tx, k.ID)
			if err != nil {
				return err
			}
			same(t, "DraftsOfTicket", list, []bridge.Draft{storedDraft(upd), storedDraft(*d2)})
			byTicket, err := tx.DraftsOfTickets(ctx(t), []int64{k.ID + 1000, k.ID, k.ID})
			if err != nil {
				return err
			}
			same(t, "DraftsOfTickets", byTicket, map[int64][]bridge.Draft{k.ID: {storedDraft(upd), storedDraft(*d2)}})

			_, err = tx.DraftByMessage(ctx(t), "C0NETWORK", "1767225900.000100")
			notFound(t, "DraftByMessage of another message", err)
			_, err = tx.DraftByID(ctx(t), d2.ID+1000)
			notFound(t, "DraftByID of a missing draft", err)
			missing := upd
			missing.ID = d2.ID + 1000
			notFound(t, "UpdateDraft of a missing draft", tx.UpdateDraft(ctx(t), &missing))
			return nil
		})
	}},

	{"Draft/Approvals", func(t *testing.T, s *store.Store) {
		_, _, k := seedTicket(t, s, "conv-a")
		d := &bridge.Draft{TicketID: k.ID, Channel: "C1", TS: "1.1", State: bridge.DraftPending, CreatedAt: at(0)}
		other := &bridge.Draft{TicketID: k.ID, Channel: "C1", TS: "1.2", State: bridge.DraftPending, CreatedAt: at(0)}
		approvals := []bridge.Approval{
			{User: "U0MANAGER", Emoji: "white_check_mark", Decision: bridge.DecisionApprove, CreatedAt: at(time.Minute)},
			{User: "U0MANAGER", Emoji: "white_check_mark", Decision: bridge.DecisionRevoke, CreatedAt: at(2 * time.Minute)},
			{User: "U0BOSS", Emoji: "envelope", Decision: bridge.DecisionApproveDM, CreatedAt: at(3 * time.Minute)},
		}
		inTx(t, s, func(tx *store.Tx) error {
			if err := tx.CreateDraft(ctx(t), d); err != nil {
				return err
			}
			if err := tx.CreateDraft(ctx(t), other); err != nil {
				return err
			}
			if err := tx.AddApproval(ctx(t), &bridge.Approval{DraftID: other.ID, User: "U0X",
				Decision: bridge.DecisionReject, CreatedAt: at(0)}); err != nil {
				return err
			}
			for i := range approvals {
				approvals[i].DraftID = d.ID
				if err := tx.AddApproval(ctx(t), &approvals[i]); err != nil {
					return err
				}
				if approvals[i].ID == 0 {
					t.Errorf("AddApproval %d did not set the id", i)
				}
			}
			return nil
		})
		for i := range approvals {
			approvals[i].CreatedAt = stored(approvals[i].CreatedAt)
		}
		same(t, "approvals in order", approvalsOfDraft(t, s, d.ID), approvals)
	}},

	{"Cursor/UnsetSetOverwrite", func(t *testing.T, s *store.Store) {
		inTx(t, s, func(tx *store.Tx) error {
			v, err := tx.Cursor(ctx(t), "x:search:wifi")
			if err != nil || v != "" {
				t.Errorf("unset cursor = %q, %v; want \"\" and no error", v, err)
			}
			return tx.SetCursor(ctx(t), "x:search:wifi", "1900000000000000001", at(0))
		})
		inTx(t, s, func(tx *store.Tx) error {
			if err := tx.SetCursor(ctx(t), "x:search:wifi", "1900000000000000009", at(time.Minute)); err != nil {
				return err
			}
			return tx.SetCursor(ctx(t), "x:mentions", "m-7", at(time.Minute))
		})
		inTx(t, s, func(tx *store.Tx) error {
			for key, want := range map[string]string{"x:search:wifi": "1900000000000000009", "x:mentions": "m-7", "x:dm": ""} {
				v, err := tx.Cursor(ctx(t), key)
				if err != nil || v != want {
					t.Errorf("cursor %s = %q, %v; want %q", key, v, err, want)
				}
			}
			return nil
		})
	}},

	{"Seen/FirstTimeOnly", func(t *testing.T, s *store.Store) {
		mark := func(ns, id string) bool {
			var first bool
			inTx(t, s, func(tx *store.Tx) (err error) {
				first, err = tx.MarkSeen(ctx(t), ns, id, at(0))
				return err
			})
			return first
		}
		if !mark("slack", "Ev01") {
			t.Error("first delivery of Ev01 was not new")
		}
		if mark("slack", "Ev01") {
			t.Error("Slack's retry of Ev01 was new again")
		}
		if !mark("x-dm", "Ev01") {
			t.Error("the same id in another namespace was not new")
		}
	}},
}
