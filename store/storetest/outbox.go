package storetest

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// enqueue adds rows in one transaction and returns their ids.
func enqueue(t *testing.T, s *store.Store, items ...bridge.OutboxItem) []int64 {
	t.Helper()
	ids := make([]int64, len(items))
	inTx(t, s, func(tx *store.Tx) error {
		for i := range items {
			if items[i].CreatedAt.IsZero() {
				items[i].CreatedAt = at(0)
			}
			ok, err := tx.Enqueue(ctx(t), &items[i])
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("row %d (%s) was not enqueued", i, items[i].Kind)
			}
			ids[i] = items[i].ID
		}
		return nil
	})
	return ids
}

// claim calls ClaimOutbox and returns the ids it leased, in order.
func claim(t *testing.T, s *store.Store, p bridge.ClaimParams) []int64 {
	t.Helper()
	if p.Lease == 0 {
		p.Lease = time.Minute
	}
	if p.Owner == "" {
		p.Owner = "worker-1"
	}
	if p.Limit == 0 {
		p.Limit = 100
	}
	items, err := s.ClaimOutbox(ctx(t), p)
	if err != nil {
		t.Fatalf("ClaimOutbox: %v", err)
	}
	ids := []int64{}
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	return ids
}

// finish completes (or, with kill, kills) a row leased to owner.
func finish(t *testing.T, s *store.Store, id int64, owner string, kill bool) {
	t.Helper()
	inTx(t, s, func(tx *store.Tx) error {
		if kill {
			return tx.KillOutbox(ctx(t), id, owner, "permanent: channel_not_found", at(time.Minute))
		}
		return tx.CompleteOutbox(ctx(t), id, owner, at(time.Minute))
	})
}

func ids(v ...int64) []int64 { return append([]int64{}, v...) }

var outboxTests = []test{
	{"Outbox/EnqueueAndRead", func(t *testing.T, s *store.Store) {
		_, _, k := seedTicket(t, s, "conv-o")
		it := bridge.OutboxItem{Kind: "slack.post", Priority: bridge.PriorityHigh, Lane: "C0NETWORK",
			OrderKey: "ticket:1", DedupeKey: "mirror:post:1", TicketID: k.ID,
			Payload:       json.RawMessage(`{"text": "<!channel> 😡",  "b":1}`),
			NextAttemptAt: at(time.Second), CreatedAt: at(0), UpdatedAt: at(0)}
		id := enqueue(t, s, it)[0]
		got := readOutbox(t, s, id)
		want := it
		want.ID, want.State = id, bridge.OutboxPending
		want.NextAttemptAt, want.CreatedAt, want.UpdatedAt = stored(it.NextAttemptAt), stored(it.CreatedAt), stored(it.UpdatedAt)
		same(t, "outbox row", got, &want)

		if _, err := OutboxRow(t, s, id+1000); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("outbox row %d that was never written: err = %v, want no rows", id+1000, err)
		}
	}},

	{"Outbox/ClaimLeasesAndCountsAttempts", func(t *testing.T, s *store.Store) {
		id := enqueue(t, s, bridge.OutboxItem{Kind: "slack.post"})[0]
		items, err := s.ClaimOutbox(ctx(t), bridge.ClaimParams{Now: at(time.Minute), Limit: 5,
			Lease: 30 * time.Second, Owner: "worker-a"})
		if err != nil || len(items) != 1 {
			t.Fatalf("claim = %d rows, %v; want 1", len(items), err)
		}
		got := items[0]
		if got.ID != id || got.State != bridge.OutboxSending || got.Attempts != 1 || got.ClaimedBy != "worker-a" ||
			!got.ClaimedUntil.Equal(stored(at(time.Minute+30*time.Second))) || got.Recovered {
			t.Errorf("claimed row = %+v; want id %d, sending, 1 attempt, worker-a until %v, not recovered", got, id, at(90*time.Second))
		}
		same(t, "row as read back", readOutbox(t, s, id), &got)
	}},

	{"Outbox/PriorityThenID", func(t *testing.T, s *store.Store) {
		r := enqueue(t, s,
			bridge.OutboxItem{Kind: "fyi", Priority: bridge.PriorityLow},
			bridge.OutboxItem{Kind: "keyword", Priority: bridge.PriorityNormal},
			bridge.OutboxItem{Kind: "mention", Priority: bridge.PriorityHigh},
			bridge.OutboxItem{Kind: "dm", Priority: bridge.PriorityHigh},
			bridge.OutboxItem{Kind: "keyword", Priority: bridge.PriorityNormal},
		)
		same(t, "first claim of 2", claim(t, s, bridge.ClaimParams{Now: at(0), Limit: 2}), ids(r[2], r[3]))
		same(t, "second claim", claim(t, s, bridge.ClaimParams{Now: at(0)}), ids(r[1], r[4], r[0]))
	}},

	{"Outbox/OrderKeyRunsInIDOrder", func(t *testing.T, s *store.Store) {
		r := enqueue(t, s,
			bridge.OutboxItem{Kind: "slack.post", OrderKey: "ticket:1"},
			bridge.OutboxItem{Kind: "slack.post", OrderKey: "ticket:1"},
			bridge.OutboxItem{Kind: "slack.post", OrderKey: "ticket:1"},
			bridge.OutboxItem{Kind: "slack.post"}, // no key: runs freely
			bridge.OutboxItem{Kind: "slack.post", OrderKey: "ticket:2", Priority: bridge.PriorityLow},
		)
		now := at(0)
		// At most one row per key, and only the first.
		same(t, "first claim", claim(t, s, bridge.ClaimParams{Now: now}), ids(r[0], r[3], r[4]))
		// Row 2 waits while row 1 is sending.
		same(t, "claim while row 1 is sending", claim(t, s, bridge.ClaimParams{Now: now}), ids())
		finish(t, s, r[0], "worker-1", false)
		same(t, "claim after row 1 is done", claim(t, s, bridge.ClaimParams{Now: now}), ids(r[1]))
		// A dead row does not block its key forever.
		finish(t, s, r[1], "worker-1", true)
		same(t, "claim after row 2 died", claim(t, s, bridge.ClaimParams{Now: now}), ids(r[2]))
	}},

	{"Outbox/OrderKeyWaitsForEarlierRowsNotDueOrFiltered", func(t *testing.T, s *store.Store) {
		r := enqueue(t, s,
			bridge.OutboxItem{Kind: "slack.post", OrderKey: "ticket:3", NextAttemptAt: at(time.Hour)},
			bridge.OutboxItem{Kind: "slack.post", OrderKey: "ticket:3"},
			bridge.OutboxItem{Kind: "slack.post", OrderKey: "ticket:4", Lane: "C1"},
			bridge.OutboxItem{Kind: "slack.react", OrderKey: "ticket:4", Lane: "C2"},
		)
		// Row 1 is not due, row 3 is in a paced lane: rows 2 and 4 wait.
		got := claim(t, s, bridge.ClaimParams{Now: at(0), SkipLanes: []string{"C1"}})
		same(t, "claim with earlier rows held back", got, ids())
		got = claim(t, s, bridge.ClaimParams{Now: at(0), Kinds: []string{"slack.react"}})
		same(t, "claim of a kind behind another kind", got, ids())
		same(t, "claim when all are due", claim(t, s, bridge.ClaimParams{Now: at(time.Hour)}), ids(r[0], r[2]))
	}},

	{"Outbox/ExpiredLeaseIsReclaimed", func(t *testing.T, s *store.Store) {
		id := enqueue(t, s, bridge.OutboxItem{Kind: "x.reply"})[0]
		lease := time.Minute
		same(t, "claim by a", claim(t, s, bridge.ClaimParams{Now: at(0), Lease: lease, Owner: "a"}), ids(id))
		same(t, "claim by b while a holds the lease",
			claim(t, s, bridge.ClaimParams{Now: at(59 * time.Second), Lease: lease, Owner: "b"}), ids())
		// a stalls; its lease runs out and b takes the row over.
		same(t, "claim by b after the lease expired",
			claim(t, s, bridge.ClaimParams{Now: at(lease), Lease: lease, Owner: "b"}), ids(id))
		// b must reconcile: a may have reached the platform before it stalled.
		if it := readOutbox(t, s, id); it.Attempts != 2 || it.ClaimedBy != "b" || !it.Recovered {
			t.Errorf("after reclaim: attempts %d, claimed by %q, recovered %v; want 2, b, true",
				it.Attempts, it.ClaimedBy, it.Recovered)
		}

		// a wakes up: it may not overwrite b's result.
		err := withTx(s, ctx(t), func(tx *store.Tx) error { return tx.CompleteOutbox(ctx(t), id, "a", at(2*lease)) })
		notFound(t, "CompleteOutbox by the owner who lost the lease", err)
		err = withTx(s, ctx(t), func(tx *store.Tx) error {
			return tx.RetryOutbox(ctx(t), id, "a", at(3*lease), "timeout", at(2*lease))
		})
		notFound(t, "RetryOutbox by the owner who lost the lease", err)
		err = withTx(s, ctx(t), func(tx *store.Tx) error { return tx.KillOutbox(ctx(t), id, "a", "403", at(2*lease)) })
		notFound(t, "KillOutbox by the owner who lost the lease", err)
		if it := readOutbox(t, s, id); it.State != bridge.OutboxSending || it.ClaimedBy != "b" {
			t.Errorf("after a's late calls: %s by %q; want sending by b", it.State, it.ClaimedBy)
		}

		finish(t, s, id, "b", false)
		if it := readOutbox(t, s, id); it.State != bridge.OutboxDone {
			t.Errorf("after b completed: state %s, want done", it.State)
		}
		err = withTx(s, ctx(t), func(tx *store.Tx) error { return tx.CompleteOutbox(ctx(t), id, "b", at(2*lease)) })
		notFound(t, "completing a done row again", err)
		same(t, "claim long after", claim(t, s, bridge.ClaimParams{Now: at(24 * time.Hour), Owner: "c"}), ids())
	}},

	{"Outbox/RetryWaitsUntilNextAttempt", func(t *testing.T, s *store.Store) {
		id := enqueue(t, s, bridge.OutboxItem{Kind: "x.reply"})[0]
		same(t, "claim", claim(t, s, bridge.ClaimParams{Now: at(0)}), ids(id))
		inTx(t, s, func(tx *store.Tx) error {
			return tx.RetryOutbox(ctx(t), id, "worker-1", at(10*time.Minute), "429 Too Many Requests", at(time.Second))
		})
		it := readOutbox(t, s, id)
		if it.State != bridge.OutboxPending || it.LastError != "429 Too Many Requests" || it.ClaimedBy != "" ||
			!it.NextAttemptAt.Equal(stored(at(10*time.Minute))) || !it.ClaimedUntil.IsZero() {
			t.Errorf("after retry: %+v; want pending until %v with the error and no claim", it, at(10*time.Minute))
		}
		same(t, "claim before the next attempt", claim(t, s, bridge.ClaimParams{Now: at(9 * time.Minute)}), ids())
		same(t, "claim at the next attempt", claim(t, s, bridge.ClaimParams{Now: at(10 * time.Minute)}), ids(id))
		// A retry after a known outcome is not a recovery.
		if it := readOutbox(t, s, id); it.Attempts != 2 || it.Recovered {
			t.Errorf("attempts = %d, recovered %v; want 2, false", it.Attempts, it.Recovered)
		}
	}},

	{"Outbox/UnknownOutcomeStaysUntilSettled", func(t *testing.T, s *store.Store) {
		id := enqueue(t, s, bridge.OutboxItem{Kind: "chat.post"})[0]
		lease := time.Minute
		same(t, "claim by a", claim(t, s, bridge.ClaimParams{Now: at(0), Lease: lease, Owner: "a"}), ids(id))
		if it := readOutbox(t, s, id); it.Recovered || !it.UnknownAt.IsZero() {
			t.Errorf("first claim: recovered %v, unknown at %v; want false, zero", it.Recovered, it.UnknownAt)
		}
		// a dies; b takes the row over: the outcome is unknown from then on.
		same(t, "claim by b", claim(t, s, bridge.ClaimParams{Now: at(lease), Lease: lease, Owner: "b"}), ids(id))
		if it := readOutbox(t, s, id); !it.Recovered || !it.UnknownAt.Equal(stored(at(lease))) || it.Attempts != 2 {
			t.Errorf("after takeover: recovered %v, unknown at %v, attempts %d; want true, %v, 2", it.Recovered, it.UnknownAt, it.Attempts, at(lease))
		}
		// b's check is rate-limited: deferred, not counted.
		inTx(t, s, func(tx *store.Tx) error {
			return tx.DeferOutbox(ctx(t), id, "b", at(3*lease), "slack ratelimited", at(lease+time.Second))
		})
		it := readOutbox(t, s, id)
		if it.State != bridge.OutboxPending || it.Attempts != 1 || it.LastError != "slack ratelimited" ||
			!it.NextAttemptAt.Equal(stored(at(3*lease))) || it.ClaimedBy != "" {
			t.Errorf("after defer: %+v; want pending until %v, 1 attempt, the error, no claim", it, at(3*lease))
		}
		same(t, "claim before the deferred time", claim(t, s, bridge.ClaimParams{Now: at(2 * lease), Owner: "b"}), ids())
		// The next claim is no takeover, but the outcome is still unknown.
		same(t, "claim after the deferred time", claim(t, s, bridge.ClaimParams{Now: at(3 * lease), Lease: lease, Owner: "b"}), ids(id))
		if it := readOutbox(t, s, id); !it.Recovered || !it.UnknownAt.Equal(stored(at(lease))) || it.Attempts != 2 {
			t.Errorf("claim after defer: recovered %v, unknown at %v, attempts %d; want true, %v, 2", it.Recovered, it.UnknownAt, it.Attempts, at(lease))
		}
		// An ordinary retry keeps it unknown too.
		inTx(t, s, func(tx *store.Tx) error {
			return tx.RetryOutbox(ctx(t), id, "b", at(4*lease), "network", at(3*lease))
		})
		same(t, "claim after the retry", claim(t, s, bridge.ClaimParams{Now: at(4 * lease), Lease: lease, Owner: "c"}), ids(id))
		if it := readOutbox(t, s, id); !it.Recovered || !it.UnknownAt.Equal(stored(at(lease))) {
			t.Errorf("claim after retry: recovered %v, unknown at %v; want true, %v", it.Recovered, it.UnknownAt, at(lease))
		}
		// Only the owner settles it.
		err := withTx(s, ctx(t), func(tx *store.Tx) error { return tx.SettleOutbox(ctx(t), id, "b", at(4*lease)) })
		notFound(t, "SettleOutbox by a worker without the claim", err)
		err = withTx(s, ctx(t), func(tx *store.Tx) error {
			return tx.DeferOutbox(ctx(t), id, "b", at(5*lease), "x", at(4*lease))
		})
		notFound(t, "DeferOutbox by a worker without the claim", err)
		// c's check found nothing: settled, and c sends; its retry is a plain one.
		inTx(t, s, func(tx *store.Tx) error { return tx.SettleOutbox(ctx(t), id, "c", at(4*lease)) })
		if it := readOutbox(t, s, id); it.State != bridge.OutboxSending || !it.UnknownAt.IsZero() || it.Recovered {
			t.Errorf("after settle: state %s, unknown at %v, recovered %v; want sending, zero, false", it.State, it.UnknownAt, it.Recovered)
		}
		inTx(t, s, func(tx *store.Tx) error {
			return tx.RetryOutbox(ctx(t), id, "c", at(5*lease), "channel busy", at(4*lease))
		})
		same(t, "claim after the settled retry", claim(t, s, bridge.ClaimParams{Now: at(5 * lease), Lease: lease, Owner: "c"}), ids(id))
		if it := readOutbox(t, s, id); it.Recovered || !it.UnknownAt.IsZero() {
			t.Errorf("claim after settled retry: recovered %v, unknown at %v; want false, zero", it.Recovered, it.UnknownAt)
		}
		// A failed attempt that may have reached the platform makes it
		// unknown again.
		err = withTx(s, ctx(t), func(tx *store.Tx) error { return tx.MarkOutboxUnknown(ctx(t), id, "b", at(5*lease)) })
		notFound(t, "MarkOutboxUnknown by a worker without the claim", err)
		inTx(t, s, func(tx *store.Tx) error { return tx.MarkOutboxUnknown(ctx(t), id, "c", at(5*lease+time.Second)) })
		inTx(t, s, func(tx *store.Tx) error {
			return tx.RetryOutbox(ctx(t), id, "c", at(5*lease+2*time.Second), "network", at(5*lease+time.Second))
		})
		same(t, "claim after the lost answer", claim(t, s, bridge.ClaimParams{Now: at(5*lease + 2*time.Second), Lease: lease, Owner: "c"}), ids(id))
		if it := readOutbox(t, s, id); !it.Recovered || !it.UnknownAt.Equal(stored(at(5*lease+time.Second))) {
			t.Errorf("claim after a lost answer: recovered %v, unknown at %v; want true, %v", it.Recovered, it.UnknownAt, at(5*lease+time.Second))
		}
		// A second takeover makes it unknown again, from the new time.
		same(t, "takeover by d", claim(t, s, bridge.ClaimParams{Now: at(7 * lease), Lease: lease, Owner: "d"}), ids(id))
		if it := readOutbox(t, s, id); !it.Recovered || !it.UnknownAt.Equal(stored(at(7*lease))) {
			t.Errorf("second takeover: recovered %v, unknown at %v; want true, %v", it.Recovered, it.UnknownAt, at(7*lease))
		}
	}},

	{"Outbox/KillIsFinal", func(t *testing.T, s *store.Store) {
		id := enqueue(t, s, bridge.OutboxItem{Kind: "x.reply"})[0]
		same(t, "claim", claim(t, s, bridge.ClaimParams{Now: at(0)}), ids(id))
		finish(t, s, id, "worker-1", true)
		it := readOutbox(t, s, id)
		if it.State != bridge.OutboxDead || it.LastError != "permanent: channel_not_found" {
			t.Errorf("after kill: state %s, error %q", it.State, it.LastError)
		}
		same(t, "claim after kill", claim(t, s, bridge.ClaimParams{Now: at(24 * time.Hour)}), ids())
	}},

	{"Outbox/FinishRequiresAClaim", func(t *testing.T, s *store.Store) {
		id := enqueue(t, s, bridge.OutboxItem{Kind: "x.reply"})[0]
		err := withTx(s, ctx(t), func(tx *store.Tx) error { return tx.CompleteOutbox(ctx(t), id, "worker-1", at(0)) })
		notFound(t, "CompleteOutbox of a pending row", err)
		err = withTx(s, ctx(t), func(tx *store.Tx) error { return tx.CompleteOutbox(ctx(t), id+1000, "worker-1", at(0)) })
		notFound(t, "CompleteOutbox of a missing row", err)
	}},

	{"Outbox/DedupeKey", func(t *testing.T, s *store.Store) {
		enq := func(key string) (bool, int64) {
			it := bridge.OutboxItem{Kind: "x.reply", DedupeKey: key, CreatedAt: at(0)}
			var ok bool
			inTx(t, s, func(tx *store.Tx) (err error) {
				ok, err = tx.Enqueue(ctx(t), &it)
				return err
			})
			return ok, it.ID
		}
		ok1, id1 := enq("send:draft:7")
		ok2, id2 := enq("send:draft:7")
		if !ok1 || ok2 || id2 != id1 {
			t.Errorf("same dedupe key twice: enqueued %v then %v, ids %d and %d; want true, false, same id", ok1, ok2, id1, id2)
		}
		// Still deduplicated once the first row is done.
		same(t, "claim", claim(t, s, bridge.ClaimParams{Now: at(0)}), ids(id1))
		finish(t, s, id1, "worker-1", false)
		if ok, _ := enq("send:draft:7"); ok {
			t.Error("a done row's dedupe key was enqueued again")
		}
		// Rows without a key never collide.
		okA, a := enq("")
		okB, b := enq("")
		if !okA || !okB || a == b {
			t.Errorf("rows without a dedupe key: enqueued %v, %v ids %d, %d; want both", okA, okB, a, b)
		}
	}},

	{"Outbox/SkipLanesAndKinds", func(t *testing.T, s *store.Store) {
		r := enqueue(t, s,
			bridge.OutboxItem{Kind: "slack.post", Lane: "C1"},
			bridge.OutboxItem{Kind: "slack.post", Lane: "C2"},
			bridge.OutboxItem{Kind: "slack.post"},
			bridge.OutboxItem{Kind: "x.reply", Lane: "x:SBCare"},
			bridge.OutboxItem{Kind: "x.dm", Lane: "x:SBCare"},
		)
		same(t, "kinds x.*", claim(t, s, bridge.ClaimParams{Now: at(0), Kinds: []string{"x.reply", "x.dm"},
			SkipLanes: []string{"C1"}}), ids(r[3], r[4]))
		same(t, "skip C1 and C2", claim(t, s, bridge.ClaimParams{Now: at(0), SkipLanes: []string{"C1", "C2", ""}}), ids(r[2]))
		same(t, "the rest", claim(t, s, bridge.ClaimParams{Now: at(0)}), ids(r[0], r[1]))
	}},

	{"Outbox/ClaimValidatesParams", func(t *testing.T, s *store.Store) {
		enqueue(t, s, bridge.OutboxItem{Kind: "slack.post"})
		if _, err := s.ClaimOutbox(ctx(t), bridge.ClaimParams{Now: at(0), Limit: 1, Lease: time.Minute}); err == nil {
			t.Error("claim without an owner succeeded")
		}
		if _, err := s.ClaimOutbox(ctx(t), bridge.ClaimParams{Now: at(0), Limit: 1, Owner: "w"}); err == nil {
			t.Error("claim without a lease succeeded")
		}
		items, err := s.ClaimOutbox(ctx(t), bridge.ClaimParams{Now: at(0), Limit: 0, Lease: time.Minute, Owner: "w"})
		if err != nil || len(items) != 0 {
			t.Errorf("claim of 0 rows = %d rows, %v", len(items), err)
		}
	}},

	{"Outbox/Stats", func(t *testing.T, s *store.Store) {
		r := enqueue(t, s,
			bridge.OutboxItem{Kind: "slack.post", CreatedAt: at(10 * time.Minute)},
			bridge.OutboxItem{Kind: "slack.post", CreatedAt: at(5 * time.Minute)}, // oldest pending post
			bridge.OutboxItem{Kind: "slack.post", CreatedAt: at(20 * time.Minute)},
			bridge.OutboxItem{Kind: "x.reply", CreatedAt: at(0)},
			bridge.OutboxItem{Kind: "x.reply", CreatedAt: at(time.Minute)},
			bridge.OutboxItem{Kind: "slack.react", CreatedAt: at(0)},
		)
		now := at(30 * time.Minute)
		same(t, "claim", claim(t, s, bridge.ClaimParams{Now: now, Kinds: []string{"x.reply", "slack.react"}}),
			ids(r[3], r[4], r[5]))
		finish(t, s, r[3], "worker-1", true)  // x.reply dead
		finish(t, s, r[4], "worker-1", false) // x.reply done
		finish(t, s, r[5], "worker-1", false) // slack.react done: no backlog at all
		same(t, "claim one post", claim(t, s, bridge.ClaimParams{Now: now, Limit: 1, Kinds: []string{"slack.post"}}), ids(r[0]))

		got, err := s.OutboxStats(ctx(t), at(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := []bridge.OutboxStat{
			{Kind: "slack.post", Pending: 3, Dead: 0, OldestAge: 55 * time.Minute},
			{Kind: "x.reply", Pending: 0, Dead: 1},
		}
		same(t, "stats", got, want)
	}},

	{"Outbox/ConcurrentClaimersNeverShareARow", func(t *testing.T, s *store.Store) {
		const rows, workers = 500, 8
		items := make([]bridge.OutboxItem, rows)
		for i := range items {
			items[i] = bridge.OutboxItem{Kind: "slack.post", Priority: bridge.Priority(i % 3)}
		}
		all := enqueue(t, s, items...)

		var (
			mu      sync.Mutex
			claimed = map[int64]string{}
			dup     []string
			wg      sync.WaitGroup
		)
		for w := range workers {
			owner := fmt.Sprintf("worker-%d", w)
			wg.Go(func() {
				for {
					got, err := s.ClaimOutbox(ctx(t), bridge.ClaimParams{Now: at(0), Limit: 7, Lease: time.Hour, Owner: owner})
					if err != nil {
						t.Errorf("%s: claim: %v", owner, err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, it := range got {
						if prev, ok := claimed[it.ID]; ok {
							dup = append(dup, fmt.Sprintf("row %d to %s and %s", it.ID, prev, owner))
						}
						claimed[it.ID] = owner
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(dup) > 0 {
			t.Errorf("rows claimed twice: %v", dup)
		}
		if len(claimed) != rows {
			var missing []int64
			for _, id := range all {
				if _, ok := claimed[id]; !ok {
					missing = append(missing, id)
				}
			}
			t.Errorf("claimed %d of %d rows; never claimed: %v", len(claimed), rows, missing)
		}
	}},

	{"Outbox/ConcurrentClaimersKeepOrderKeys", func(t *testing.T, s *store.Store) {
		const keys, perKey, workers = 6, 10, 4
		var items []bridge.OutboxItem
		for i := range keys * perKey {
			items = append(items, bridge.OutboxItem{Kind: "slack.post", OrderKey: fmt.Sprintf("ticket:%d", i%keys)})
		}
		enqueue(t, s, items...)

		var (
			mu       sync.Mutex
			inFlight = map[string]int64{}   // key → row being worked on
			order    = map[string][]int64{} // key → rows in the order they ran
			wg       sync.WaitGroup
		)
		for w := range workers {
			owner := fmt.Sprintf("worker-%d", w)
			wg.Go(func() {
				idle := 0
				for idle < 50 {
					got, err := s.ClaimOutbox(ctx(t), bridge.ClaimParams{Now: at(0), Limit: 3, Lease: time.Hour, Owner: owner})
					if err != nil {
						t.Errorf("%s: claim: %v", owner, err)
						return
					}
					if len(got) == 0 {
						mu.Lock()
						done := len(inFlight) == 0 && countRuns(order) == keys*perKey
						mu.Unlock()
						if done {
							return
						}
						idle++
						runtime.Gosched() // other workers hold the next rows
						continue
					}
					idle = 0
					mu.Lock()
					for _, it := range got {
						if other, busy := inFlight[it.OrderKey]; busy {
							t.Errorf("%s got row %d of %s while row %d was still in flight", owner, it.ID, it.OrderKey, other)
						}
						inFlight[it.OrderKey] = it.ID
						order[it.OrderKey] = append(order[it.OrderKey], it.ID)
					}
					mu.Unlock()
					for _, it := range got {
						mu.Lock()
						delete(inFlight, it.OrderKey) // before the commit that frees the key
						mu.Unlock()
						err := withTx(s, ctx(t), func(tx *store.Tx) error {
							return tx.CompleteOutbox(ctx(t), it.ID, owner, at(time.Second))
						})
						if err != nil {
							t.Errorf("%s: complete %d: %v", owner, it.ID, err)
						}
					}
				}
			})
		}
		wg.Wait()
		if n := countRuns(order); n != keys*perKey {
			t.Errorf("%d rows ran, want %d", n, keys*perKey)
		}
		for key, run := range order {
			if !slices.IsSorted(run) {
				t.Errorf("%s ran out of id order: %v", key, run)
			}
		}
	}},
}

func countRuns(order map[string][]int64) int {
	n := 0
	for _, run := range order {
		n += len(run)
	}
	return n
}
