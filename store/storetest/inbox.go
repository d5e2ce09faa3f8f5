package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

var inboxTests = []test{
	{"InboxInsertDedupesOnEventID", testInboxInsertDedupe},
	{"InboxDueOrderAndRetry", testInboxDueOrder},
	{"InboxLockFinish", testInboxLockFinish},
	{"InboxStats", testInboxStats},
}

// store inserts inbox rows in one transaction and returns their ids.
func inboxInsert(t *testing.T, s *store.Store, evs ...bridge.InboxEvent) []int64 {
	t.Helper()
	ids := make([]int64, len(evs))
	inTx(t, s, func(tx *store.Tx) error {
		for i := range evs {
			if evs[i].ReceivedAt.IsZero() {
				evs[i].ReceivedAt = at(0)
			}
			if evs[i].Payload == nil {
				evs[i].Payload = json.RawMessage(`{"ID":"` + evs[i].EventID + `"}`)
			}
			if _, err := tx.InsertInbox(ctx(t), &evs[i]); err != nil {
				return err
			}
			ids[i] = evs[i].ID
		}
		return nil
	})
	return ids
}

// due returns the ids DueInbox lists at now.
func due(t *testing.T, s *store.Store, now time.Time) []int64 {
	t.Helper()
	rows, err := s.DueInbox(ctx(t), now, 100)
	if err != nil {
		t.Fatalf("DueInbox: %v", err)
	}
	ids := []int64{}
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids
}

func testInboxInsertDedupe(t *testing.T, s *store.Store) {
	payload := json.RawMessage(`{"ID":"Ev1","Kind":"reaction_added","Text":"é ✅"}`)
	first := bridge.InboxEvent{EventID: "Ev1", OrderKey: "C1/1.1", Payload: payload, ReceivedAt: at(time.Second)}
	var again bridge.InboxEvent
	inTx(t, s, func(tx *store.Tx) error {
		ok, err := tx.InsertInbox(ctx(t), &first)
		if err != nil || !ok {
			t.Errorf("first insert: inserted %v, err %v", ok, err)
		}
		again = bridge.InboxEvent{EventID: "Ev1", OrderKey: "C1/1.1", Payload: json.RawMessage(`{"other":1}`), ReceivedAt: at(2 * time.Second)}
		ok, err = tx.InsertInbox(ctx(t), &again)
		if err != nil || ok {
			t.Errorf("duplicate insert: inserted %v, err %v; want false, nil", ok, err)
		}
		return nil
	})
	if again.ID != first.ID || first.ID == 0 {
		t.Errorf("duplicate got id %d, first %d", again.ID, first.ID)
	}
	// Events without an id are never deduplicated.
	ids := inboxInsert(t, s, bridge.InboxEvent{OrderKey: "C1/2.2"}, bridge.InboxEvent{OrderKey: "C1/3.3"})
	if ids[0] == ids[1] {
		t.Errorf("two events without id share row %d", ids[0])
	}
	rows, err := s.DueInbox(ctx(t), at(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("due rows = %d, want 3", len(rows))
	}
	got := rows[0]
	same(t, "stored row", got, bridge.InboxEvent{ID: first.ID, EventID: "Ev1", OrderKey: "C1/1.1", Payload: payload,
		State: bridge.InboxPending, ReceivedAt: stored(at(time.Second)), UpdatedAt: stored(at(time.Second))})
}

func testInboxDueOrder(t *testing.T, s *store.Store) {
	ids := inboxInsert(t, s,
		bridge.InboxEvent{EventID: "a1", OrderKey: "C1/1"},
		bridge.InboxEvent{EventID: "b1", OrderKey: "C1/2"},
		bridge.InboxEvent{EventID: "a2", OrderKey: "C1/1"},
		bridge.InboxEvent{EventID: "a3", OrderKey: "C1/1"},
		bridge.InboxEvent{EventID: "n1"}, // no key: never held back
		bridge.InboxEvent{EventID: "n2"},
	)
	a1, b1, a2, a3, n1, n2 := ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]
	same(t, "due: the first of each key", due(t, s, at(time.Minute)), []int64{a1, b1, n1, n2})
	rows, err := s.DueInbox(ctx(t), at(time.Minute), 2)
	if err != nil || len(rows) != 2 || rows[0].ID != a1 || rows[1].ID != b1 {
		t.Errorf("DueInbox limit 2 = %v, %v", rows, err)
	}

	// A retried row holds back the rest of its key until it is due.
	inTx(t, s, func(tx *store.Tx) error {
		return tx.RetryInbox(ctx(t), a1, at(2*time.Minute), "thread unknown", at(time.Minute))
	})
	same(t, "due while a1 waits", due(t, s, at(time.Minute)), []int64{b1, n1, n2})
	same(t, "due when a1 is due again", due(t, s, at(2*time.Minute)), []int64{a1, b1, n1, n2})

	// Done and dead rows release the next row of their key.
	inTx(t, s, func(tx *store.Tx) error {
		return tx.FinishInbox(ctx(t), a1, bridge.InboxDone, "", at(2*time.Minute))
	})
	same(t, "due after a1 done", due(t, s, at(2*time.Minute)), []int64{b1, a2, n1, n2})
	inTx(t, s, func(tx *store.Tx) error {
		return tx.FinishInbox(ctx(t), a2, bridge.InboxDead, "boom", at(2*time.Minute))
	})
	same(t, "due after a2 dead", due(t, s, at(2*time.Minute)), []int64{b1, a3, n1, n2})
}

func testInboxLockFinish(t *testing.T, s *store.Store) {
	ids := inboxInsert(t, s, bridge.InboxEvent{EventID: "e1", OrderKey: "C/1"})
	id := ids[0]
	inTx(t, s, func(tx *store.Tx) error {
		ev, err := tx.LockInbox(ctx(t), id)
		if err != nil {
			t.Fatalf("LockInbox: %v", err)
		}
		if ev.EventID != "e1" || ev.State != bridge.InboxPending {
			t.Errorf("locked row = %+v", ev)
		}
		if err := tx.RetryInbox(ctx(t), id, at(time.Hour), "later", at(time.Minute)); err != nil {
			return err
		}
		return tx.FinishInbox(ctx(t), id, bridge.InboxDone, "", at(2*time.Minute))
	})
	err := withTx(s, ctx(t), func(tx *store.Tx) error {
		_, err := tx.LockInbox(ctx(t), id)
		notFound(t, "LockInbox of a done row", err)
		notFound(t, "FinishInbox of a done row", tx.FinishInbox(ctx(t), id, bridge.InboxDead, "x", at(3*time.Minute)))
		notFound(t, "RetryInbox of a done row", tx.RetryInbox(ctx(t), id, at(3*time.Minute), "x", at(3*time.Minute)))
		if err := tx.FinishInbox(ctx(t), id, bridge.InboxPending, "", at(3*time.Minute)); err == nil {
			t.Error("FinishInbox to pending: no error")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := due(t, s, at(time.Hour)); len(got) != 0 {
		t.Errorf("due after done = %v", got)
	}
	// A rolled back finish leaves the row pending.
	ids = inboxInsert(t, s, bridge.InboxEvent{EventID: "e2", OrderKey: "C/1"})
	_ = withTx(s, ctx(t), func(tx *store.Tx) error {
		if _, err := tx.LockInbox(ctx(t), ids[0]); err != nil {
			return err
		}
		if err := tx.FinishInbox(ctx(t), ids[0], bridge.InboxDone, "", at(time.Minute)); err != nil {
			return err
		}
		return bridge.ErrRetryLater // roll back
	})
	same(t, "due after a rolled back finish", due(t, s, at(time.Minute)), []int64{ids[0]})
	rows, _ := s.DueInbox(ctx(t), at(time.Minute), 1)
	if len(rows) != 1 || rows[0].Attempts != 0 {
		t.Errorf("attempts after rollback: %+v", rows)
	}
}

func testInboxStats(t *testing.T, s *store.Store) {
	st, err := s.InboxStats(ctx(t), at(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	same(t, "empty stats", st, bridge.InboxStat{})
	ids := inboxInsert(t, s,
		bridge.InboxEvent{EventID: "1", ReceivedAt: at(time.Minute)},
		bridge.InboxEvent{EventID: "2", ReceivedAt: at(2 * time.Minute)},
		bridge.InboxEvent{EventID: "3", ReceivedAt: at(3 * time.Minute)},
		bridge.InboxEvent{EventID: "4", ReceivedAt: at(4 * time.Minute)},
	)
	inTx(t, s, func(tx *store.Tx) error {
		if err := tx.FinishInbox(ctx(t), ids[0], bridge.InboxDone, "", at(5*time.Minute)); err != nil {
			return err
		}
		return tx.FinishInbox(ctx(t), ids[1], bridge.InboxDead, "bad", at(5*time.Minute))
	})
	st, err = s.InboxStats(ctx(t), at(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	same(t, "stats", st, bridge.InboxStat{Pending: 2, Dead: 1, OldestAge: 7 * time.Minute})
}
