// Package storetest is the conformance suite every *store.Store passes.
// A store's tests call Run with a function that opens a fresh, empty,
// migrated store:
//
//	func TestSQLite(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) *store.Store { … })
//	}
//
// The suite asserts behaviour users notice: a post seen twice is one post,
// text round-trips byte for byte, a failed transaction leaves nothing
// behind, outbox rows run in order and never twice at once, and the audit
// chain verifies. It passes every time explicitly (the port takes "now"
// parameters), so it never sleeps and never depends on the wall clock.
//
// Tamper tests edit audit rows directly through the store's database.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// test is one conformance check against a fresh store.
type test struct {
	name string
	fn   func(t *testing.T, s *store.Store)
}

// Run runs the suite. open must return a new, empty, migrated store each
// time it is called and arrange (with t.Cleanup) for it to be closed. The
// subtests run in parallel, each on its own store.
func Run(t *testing.T, open func(t *testing.T) *store.Store) {
	var tests []test
	tests = append(tests, postTests...)
	tests = append(tests, txTests...)
	tests = append(tests, ticketTests...)
	tests = append(tests, chatTests...)
	tests = append(tests, outboxTests...)
	tests = append(tests, laneTests...)
	tests = append(tests, auditTests...)
	tests = append(tests, watchTests...)
	tests = append(tests, batchTests...)
	tests = append(tests, inboxTests...)
	tests = append(tests, cardTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// onX is the platform of the suite's posts and tickets.
const onX bridge.Platform = "x"

// base is the suite's fixed clock: a time with nanoseconds in a zone other
// than UTC, so that tests notice when a store keeps either.
var base = time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.FixedZone("JST", 9*60*60))

// at returns base plus d.
func at(d time.Duration) time.Time { return base.Add(d) }

// stored is what a store keeps of a time: UTC, microseconds; zero stays
// zero.
func stored(tm time.Time) time.Time {
	if tm.IsZero() {
		return time.Time{}
	}
	return tm.UTC().Truncate(time.Microsecond)
}

// withTx runs fn in one transaction of s, which the suite sees whole: it
// runs every method of every port on both databases.
func withTx(s *store.Store, ctx context.Context, fn func(tx *store.Tx) error) error {
	r, err := store.Runner[*store.Tx](s)
	if err != nil {
		return err
	}
	return r.WithTx(ctx, fn)
}

// The one-row helpers below write and read single rows through the set
// methods the core calls (the store has no one-row variants).

func createTicket(ctx context.Context, tx *store.Tx, k *bridge.Ticket) error {
	return tx.CreateTickets(ctx, []*bridge.Ticket{k})
}

func saveCustomer(ctx context.Context, tx *store.Tx, c *bridge.Customer) error {
	return tx.SaveCustomers(ctx, []*bridge.Customer{c})
}

func setTicketThread(ctx context.Context, tx *store.Tx, id int64, channel, ts string) error {
	return tx.SetTicketThreads(ctx, map[int64]bridge.ChatRef{id: {Channel: channel, TS: ts}})
}

func saveMirror(ctx context.Context, tx *store.Tx, m bridge.Mirror) error {
	return tx.SaveMirrors(ctx, []bridge.Mirror{m})
}

func customerByAuthor(ctx context.Context, tx *store.Tx, platform bridge.Platform, authorID string) (*bridge.Customer, error) {
	cs, err := tx.CustomersByAuthor(ctx, platform, []string{authorID})
	if err != nil {
		return nil, err
	}
	if c := cs[authorID]; c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("customer %s/%s: %w", platform, authorID, bridge.ErrNotFound)
}

func ticketByConversation(ctx context.Context, tx *store.Tx, platform bridge.Platform, key string) (*bridge.Ticket, error) {
	ks, err := tx.TicketsByConversation(ctx, platform, []string{key})
	if err != nil {
		return nil, err
	}
	if k := ks[key]; k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("ticket %s/%s: %w", platform, key, bridge.ErrNotFound)
}

func postByExternalID(ctx context.Context, tx *store.Tx, platform bridge.Platform, externalID string) (*bridge.Post, error) {
	ids, err := tx.PostIDs(ctx, platform, []string{externalID})
	if err != nil {
		return nil, err
	}
	id, ok := ids[externalID]
	if !ok {
		return nil, fmt.Errorf("post %s/%s: %w", platform, externalID, bridge.ErrNotFound)
	}
	return tx.PostByID(ctx, id)
}

// mirrorsOfPost lists the messages that show a post, oldest first.
func mirrorsOfPost(ctx context.Context, tx *store.Tx, ticketID, postID int64) ([]bridge.Mirror, error) {
	all, err := tx.MirrorsOfTicket(ctx, ticketID)
	if err != nil {
		return nil, err
	}
	var out []bridge.Mirror
	for _, m := range all {
		if m.PostID == postID {
			out = append(out, m)
		}
	}
	return out, nil
}

func draftsOfTicket(ctx context.Context, tx *store.Tx, ticketID int64) ([]bridge.Draft, error) {
	ds, err := tx.DraftsOfTickets(ctx, []int64{ticketID})
	return ds[ticketID], err
}

// inTx runs fn in a transaction and fails the test if it returns an error.
func inTx(t *testing.T, s *store.Store, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := withTx(s, t.Context(), fn); err != nil {
		t.Fatalf("transaction: %v", err)
	}
}

// ctx is shorthand for the test's context.
func ctx(t *testing.T) context.Context { return t.Context() }

// same fails the test unless got and want are deeply equal.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// notFound fails the test unless err is bridge.ErrNotFound.
func notFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("%s: err = %v, want bridge.ErrNotFound", what, err)
	}
}

// ---- posts

func newPost(id string) *bridge.Post {
	return &bridge.Post{
		Platform:        onX,
		ExternalID:      id,
		Source:          bridge.SourceSearch,
		AuthorID:        "u-" + id,
		AuthorHandle:    "kim",
		AuthorName:      "Kim",
		Text:            "my wifi is down again",
		Lang:            "en",
		CreatedAt:       at(0),
		ReceivedAt:      at(2 * time.Second),
		URL:             "https://x.com/kim/status/" + id,
		ConversationKey: "conv-" + id,
		InReplyTo:       "",
		Mentions:        []string{"sbcare", "sbcarewifi"},
		Eligibility:     bridge.EligiblePublic,
		Raw:             json.RawMessage(`{"id":"` + id + `"}`),
	}
}

// storedPost is p as a store returns it.
func storedPost(p bridge.Post) *bridge.Post {
	p.CreatedAt, p.ReceivedAt = stored(p.CreatedAt), stored(p.ReceivedAt)
	return &p
}

func insertPost(t *testing.T, s *store.Store, p *bridge.Post) {
	t.Helper()
	inTx(t, s, func(tx *store.Tx) error {
		_, err := tx.InsertPost(ctx(t), p)
		return err
	})
}

var postTests = []test{
	{"Post/InsertTwiceIsOnePost", func(t *testing.T, s *store.Store) {
		first := newPost("100")
		var inserted bool
		inTx(t, s, func(tx *store.Tx) (err error) {
			inserted, err = tx.InsertPost(ctx(t), first)
			return err
		})
		if !inserted || first.ID == 0 {
			t.Fatalf("first insert: inserted=%v id=%d, want true and an id", inserted, first.ID)
		}

		// Seen again through another source, with other text: still one
		// post, the first one.
		again := newPost("100")
		again.Source, again.Text = bridge.SourceMention, "edited"
		inTx(t, s, func(tx *store.Tx) (err error) {
			inserted, err = tx.InsertPost(ctx(t), again)
			return err
		})
		if inserted || again.ID != first.ID {
			t.Errorf("second insert: inserted=%v id=%d, want false and id %d", inserted, again.ID, first.ID)
		}

		// Twice in one transaction, too.
		inTx(t, s, func(tx *store.Tx) error {
			p1, p2 := newPost("200"), newPost("200")
			if ok, err := tx.InsertPost(ctx(t), p1); err != nil || !ok {
				return fmt.Errorf("insert 200: %v %v", ok, err)
			}
			if ok, err := tx.InsertPost(ctx(t), p2); err != nil || ok || p2.ID != p1.ID {
				return fmt.Errorf("insert 200 again: inserted=%v id=%d (want %d) err=%v", ok, p2.ID, p1.ID, err)
			}
			return nil
		})

		inTx(t, s, func(tx *store.Tx) error {
			got, err := postByExternalID(ctx(t), tx, onX, "100")
			if err != nil {
				return err
			}
			same(t, "post after second insert", got, storedPost(*first))
			return nil
		})
	}},

	{"Post/TextRoundTripsByteForByte", func(t *testing.T, s *store.Store) {
		texts := map[string]string{
			"unicode":  "Wi-Fiが遅い！ Ｗｉ－Ｆｉ ñandú Ünïcödé 中文 한국어 עברית العربية",
			"emoji":    "😡🔥📶 👨‍👩‍👧‍👦 🏳️‍🌈 👍🏽",
			"long":     strings.Repeat("x", 3000) + strings.Repeat("電", 4000) + strings.Repeat("🙂", 3000),
			"slack":    "<!channel> <!here> <@U012AB3CD> <#C123|general> <https://evil.example|google.com> &amp; &lt;b&gt;",
			"controls": "line1\nline2\r\n\ttab \\ backslash 'single' \"double\" ; DROP TABLE posts; --",
			"zerowide": "wi\u200bfi\u200d\ufeff",
		}
		ids := map[string]int64{}
		for name, text := range texts {
			p := newPost("text-" + name)
			p.Text, p.AuthorName = text, text
			insertPost(t, s, p)
			ids[name] = p.ID
		}
		if n := len([]rune(texts["long"])); n != 10000 {
			t.Fatalf("long text has %d characters, want 10000", n)
		}
		inTx(t, s, func(tx *store.Tx) error {
			for name, text := range texts {
				got, err := tx.PostByID(ctx(t), ids[name])
				if err != nil {
					return err
				}
				if got.Text != text || got.AuthorName != text {
					t.Errorf("%s: text changed on the way through the store:\n got  %q\n want %q", name, got.Text, text)
				}
			}
			return nil
		})
	}},

	{"Post/FieldsRoundTrip", func(t *testing.T, s *store.Store) {
		full := newPost("300")
		full.Source, full.Eligibility = bridge.SourceDM, bridge.EligibleDM
		full.InReplyTo = "299"
		// Raw JSON is kept as it came, whitespace and key order included.
		full.Raw = json.RawMessage("{ \"z\" : 1,\n  \"a\": [1, 2.50, \"\\u00e9\"] }")

		bare := &bridge.Post{Platform: onX, ExternalID: "301"}

		insertPost(t, s, full)
		insertPost(t, s, bare)
		inTx(t, s, func(tx *store.Tx) error {
			got, err := tx.PostByID(ctx(t), full.ID)
			if err != nil {
				return err
			}
			same(t, "full post", got, storedPost(*full))
			if string(got.Raw) != string(full.Raw) {
				t.Errorf("raw JSON: got %q, want %q", got.Raw, full.Raw)
			}
			got, err = postByExternalID(ctx(t), tx, onX, "301")
			if err != nil {
				return err
			}
			// Zero times, nil lists and nil raw JSON come back as such.
			same(t, "bare post", got, storedPost(*bare))
			return nil
		})
	}},

	{"Post/TitleRoundTrips", func(t *testing.T, s *store.Store) {
		// A feed item: a headline, no handle, answerable on its site only.
		// Stored one by one and in a batch, read back one by one and in a
		// batch.
		one := newPost("feed-1")
		one.Title, one.Source, one.Eligibility = "Router drops every evening — ルーター", bridge.SourceFeed, bridge.EligibleNone
		one.AuthorHandle = ""
		insertPost(t, s, one)
		two := newPost("feed-2")
		two.Title = "<b>Not</b> markup: & stays"
		inTx(t, s, func(tx *store.Tx) error {
			_, err := tx.InsertPosts(ctx(t), []*bridge.Post{two})
			return err
		})
		inTx(t, s, func(tx *store.Tx) error {
			got, err := tx.PostByID(ctx(t), one.ID)
			if err != nil {
				return err
			}
			same(t, "titled post", got, storedPost(*one))
			byID, err := tx.PostsByID(ctx(t), []int64{one.ID, two.ID})
			if err != nil {
				return err
			}
			if byID[two.ID] == nil || byID[two.ID].Title != two.Title || byID[one.ID] == nil || byID[one.ID].Title != one.Title {
				t.Errorf("PostsByID lost the titles: %+v", byID)
			}
			return nil
		})
	}},

	{"Post/LookupsReportNotFound", func(t *testing.T, s *store.Store) {
		insertPost(t, s, newPost("400"))
		inTx(t, s, func(tx *store.Tx) error {
			_, err := tx.PostByID(ctx(t), 987654)
			notFound(t, "PostByID", err)
			_, err = postByExternalID(ctx(t), tx, onX, "401")
			notFound(t, "PostByExternalID", err)
			_, err = postByExternalID(ctx(t), tx, "bluesky", "400")
			notFound(t, "PostByExternalID on another platform", err)
			return nil
		})
	}},

	{"Post/RejectsPostWithoutIdentity", func(t *testing.T, s *store.Store) {
		err := withTx(s, ctx(t), func(tx *store.Tx) error {
			_, err := tx.InsertPost(ctx(t), &bridge.Post{Platform: onX})
			return err
		})
		if err == nil {
			t.Error("InsertPost without an external id succeeded, want an error")
		}
	}},
}

// ---- transactions

var errBoom = errors.New("boom")

var txTests = []test{
	{"Tx/RollbackLeavesNothing", func(t *testing.T, s *store.Store) {
		err := withTx(s, ctx(t), func(tx *store.Tx) error {
			p := newPost("500")
			if _, err := tx.InsertPost(ctx(t), p); err != nil {
				return err
			}
			k := &bridge.Ticket{Platform: onX, ConversationKey: "conv-500",
				State: bridge.TicketOpen, RootPostID: p.ID, CreatedAt: at(0)}
			if err := createTicket(ctx(t), tx, k); err != nil {
				return err
			}
			if _, err := tx.Enqueue(ctx(t), &bridge.OutboxItem{Kind: "slack.post", TicketID: k.ID,
				DedupeKey: "mirror:500", CreatedAt: at(0)}); err != nil {
				return err
			}
			if err := tx.SetCursor(ctx(t), "x:search", "500", at(0)); err != nil {
				return err
			}
			if _, err := tx.MarkSeen(ctx(t), "slack", "Ev500", at(0)); err != nil {
				return err
			}
			if err := tx.AppendAudit(ctx(t), &bridge.AuditRecord{At: at(0), Kind: "post.ingested", Actor: "system"}); err != nil {
				return err
			}
			// Everything is visible inside the transaction…
			if _, err := postByExternalID(ctx(t), tx, onX, "500"); err != nil {
				return fmt.Errorf("post not visible in its own transaction: %w", err)
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("WithTx = %v, want fn's error", err)
		}
		// …and nothing after the rollback.
		assertEmpty(t, s, "500")
	}},

	{"Tx/PanicRollsBackAndStoreStaysUsable", func(t *testing.T, s *store.Store) {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("the panic in fn did not reach the caller")
				}
			}()
			_ = withTx(s, ctx(t), func(tx *store.Tx) error {
				if _, err := tx.InsertPost(ctx(t), newPost("600")); err != nil {
					return err
				}
				panic("fn panics")
			})
		}()
		assertEmpty(t, s, "600")
		insertPost(t, s, newPost("601")) // the connection was given back
	}},

	{"Tx/CommitIsVisible", func(t *testing.T, s *store.Store) {
		p := newPost("700")
		insertPost(t, s, p)
		inTx(t, s, func(tx *store.Tx) error {
			got, err := tx.PostByID(ctx(t), p.ID)
			if err != nil {
				return err
			}
			same(t, "committed post", got, storedPost(*p))
			return nil
		})
		if err := s.Ping(ctx(t)); err != nil {
			t.Errorf("Ping: %v", err)
		}
	}},
}

// assertEmpty checks that a rolled-back transaction left no trace.
func assertEmpty(t *testing.T, s *store.Store, id string) {
	t.Helper()
	inTx(t, s, func(tx *store.Tx) error {
		_, err := postByExternalID(ctx(t), tx, onX, id)
		notFound(t, "post after rollback", err)
		_, err = ticketByConversation(ctx(t), tx, onX, "conv-"+id)
		notFound(t, "ticket after rollback", err)
		if c, err := tx.Cursor(ctx(t), "x:search"); err != nil || c != "" {
			t.Errorf("cursor after rollback = %q, %v; want unset", c, err)
		}
		if first, err := tx.MarkSeen(ctx(t), "slack", "Ev"+id, at(time.Hour)); err != nil || !first {
			t.Errorf("event after rollback: first=%v err=%v, want first", first, err)
		}
		recs, err := tx.AuditRecords(ctx(t), bridge.AuditFilter{})
		if err != nil || len(recs) != 0 {
			t.Errorf("audit after rollback = %d records, %v; want none", len(recs), err)
		}
		return nil
	})
	stats, err := s.OutboxStats(ctx(t), at(time.Hour))
	if err != nil || len(stats) != 0 {
		t.Errorf("outbox after rollback = %+v, %v; want empty", stats, err)
	}
	items, err := s.ClaimOutbox(ctx(t), bridge.ClaimParams{Now: at(time.Hour), Limit: 10, Lease: time.Minute, Owner: "w"})
	if err != nil || len(items) != 0 {
		t.Errorf("claim after rollback = %d rows, %v; want none", len(items), err)
	}
}
