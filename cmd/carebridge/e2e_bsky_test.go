package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/bsky"
	"github.com/carebridge/carebridge/adapters/bsky/bskyfake"
	slackad "github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/store"
)

// bskyWorld is carebridge with a Bluesky account, sbcare.bsky.social,
// on the fake Bluesky (PDS and two Jetstream instances), beside the
// harness's X and Slack.
type bskyWorld struct {
	*harness
	t    *testing.T
	fake *bskyfake.Server
	js   [2]*bskyfake.Jetstream
	us   string // our DID
	cust string // the customer's DID
	stop func()
}

const bskyOurs = "sbcare.bsky.social"

func newBskyWorld(t *testing.T, storeURL string) *bskyWorld {
	t.Helper()
	w := &bskyWorld{t: t, fake: bskyfake.New()}
	t.Cleanup(w.fake.Close)
	w.js[0], w.js[1] = w.fake.NewJetstream(), w.fake.NewJetstream()
	t.Cleanup(w.fake.StartChatter(50 * time.Millisecond))
	w.us = w.fake.AddAccount(bskyOurs, "app-pass-e2e", "SB Care")
	w.cust = w.fake.AddAccount("kim.bsky.social", "x", "Kim")
	// A 2 s watchdog (30 s by default) keeps the silent-socket case
	// short; the chatter below keeps the sockets busy meanwhile.
	extra := fmt.Sprintf(`bluesky:
  pds_url: %s
  notifications_interval: 5s
  jetstream:
    instances: [%q, %q]
    silence: 2s
    rewind: 2s
  accounts:
    - handle: %s
      app_password: app-pass-e2e
`, w.fake.URL(), w.js[0].URL(), w.js[1].URL(), bskyOurs)
	w.harness = newHarness(t, storeURL, harnessOptions{brands: []string{"SBCare"}, extra: extra, searchInterval: "30s", mentionsInterval: "30s"})
	w.slack.AddUser(staff, "aiko", false)
	w.slack.AddUser(manager, "ken", false)
	// Retries after the crash come sooner than the harness's 2 s.
	w.cfg.Outbox.MaxBackoff = config.Duration(500 * time.Millisecond)
	w.stop = w.start()
	// Keyword listening starts at the live tail: posts before the first
	// connection are not carebridge's.
	eventually(t, 10*time.Second, "the Jetstream connection", func() (bool, string) { return w.js[0].Connections() == 1, "not yet" })
	return w
}

// mirrorsOf returns the bot's messages in channel that link the post at
// uri (its record key appears in the Bluesky link).
func (w *bskyWorld) mirrorsOf(channel, uri string) []string {
	_, _, rkey, _ := bsky.ParseURI(uri)
	var out []string
	for _, m := range w.slack.Messages(channel) {
		if m.FromBot() && strings.Contains(string(m.Blocks), "/post/"+rkey) {
			out = append(out, m.TS)
		}
	}
	return out
}

// waitMirrored waits for the post at uri in #care-network and returns the
// message's ts.
func (w *bskyWorld) waitMirrored(uri string) string {
	w.t.Helper()
	var ts string
	eventually(w.t, 15*time.Second, "the post mirrored", func() (bool, string) {
		if ms := w.mirrorsOf("C0NETWORK", uri); len(ms) > 0 {
			ts = ms[0]
			return true, ""
		}
		var all []string
		for _, d := range e2eDepartments {
			for _, m := range w.slack.Messages(d.channel) {
				all = append(all, d.id+": "+string(m.Blocks))
			}
		}
		return false, strings.Join(all, "\n")
	})
	return ts
}

// waitRecorded waits until carebridge has written down where n mirrored
// messages landed. Slack shows a message a moment before carebridge
// records it; a staff reply in that gap answers the post before.
func (w *bskyWorld) waitRecorded(n int) {
	w.t.Helper()
	st, err := store.Open(w.t.Context(), w.cfg.Store.URL.Reveal(), store.WithoutMigrations(), store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		w.t.Fatal(err)
	}
	defer st.Close()
	eventually(w.t, 15*time.Second, "the mirrors recorded", func() (bool, string) {
		var got int
		if err := st.DB().QueryRowContext(w.t.Context(), `SELECT COUNT(*) FROM mirrors`).Scan(&got); err != nil {
			return false, err.Error()
		}
		return got >= n, fmt.Sprintf("%d of %d", got, n)
	})
}

func (w *bskyWorld) waitNotice(thread, want string) {
	w.t.Helper()
	eventually(w.t, 15*time.Second, "a thread notice with "+want, func() (bool, string) {
		var all []string
		for _, m := range w.slack.Thread("C0NETWORK", thread) {
			if m.FromBot() && strings.Contains(m.Text, want) {
				return true, ""
			}
			all = append(all, m.Text)
		}
		return false, strings.Join(all, " | ")
	})
}

func (w *bskyWorld) notices(thread, want string) int {
	n := 0
	for _, m := range w.slack.Thread("C0NETWORK", thread) {
		if m.FromBot() && strings.Contains(m.Text, want) {
			n++
		}
	}
	return n
}

// approveAnswer writes text as a draft in thread and approves it.
func (w *bskyWorld) approveAnswer(thread, text string) {
	w.t.Helper()
	ts, err := w.slack.UserPosts("C0NETWORK", staff, thread, text)
	if err != nil {
		w.t.Fatal(err)
	}
	eventually(w.t, 15*time.Second, "the draft's pending mark", func() (bool, string) {
		for _, r := range w.slack.Reactions("C0NETWORK", ts) {
			if r == slackad.DraftMarks.Pending {
				return true, ""
			}
		}
		return false, fmt.Sprint(w.slack.Reactions("C0NETWORK", ts))
	})
	if err := w.slack.UserReacts("C0NETWORK", ts, manager, w.cfg.Approvals.ApproveEmoji); err != nil {
		w.t.Fatal(err)
	}
}

// TestBlueskyEndToEnd: a keyword post on the Jetstream firehose becomes a
// ticket in #care-network, and the approved answer goes out as a reply
// with the right strong refs; the source reconnects with its cursor after
// a disconnect and fails over from a silent socket without losing a post;
// a process that dies in the middle of createRecord leaves a reply that
// the next process finds with getRecord instead of sending it again.
func TestBlueskyEndToEnd(t *testing.T) {
	t.Parallel() // with the other end-to-end tests; the world has its own fakes
	for name, storeURL := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newBskyWorld(t, storeURL(t))

			root := w.fake.AddPost(w.cust, "no signal in Shibuya since 9am", bskyfake.PostOptions{Langs: []string{"en"}})
			thread := w.waitMirrored(root)
			parent := w.fake.AddPost(w.cust, "still nothing, 3 hours now", bskyfake.PostOptions{ReplyTo: root})
			w.waitMirrored(parent) // no keyword: it follows its conversation into the thread
			w.waitRecorded(2)      // before a staff reply answers it

			t.Run("answer approved and sent as a reply with strong refs", func(t *testing.T) {
				w.t = t
				const text = "Sorry @kim.bsky.social! A base station in Shibuya is being repaired; back by 15:00."
				w.approveAnswer(thread, text)
				w.waitNotice(thread, "Sent publicly as @"+bskyOurs)
				replies := w.fake.RepliesTo(parent)
				if len(replies) != 1 || replies[0].DID != w.us || replies[0].Text != text {
					t.Fatalf("replies on Bluesky: %+v, want ours", replies)
				}
				var rec bsky.PostRecord
				if err := json.Unmarshal(replies[0].Record, &rec); err != nil {
					t.Fatal(err)
				}
				rp, _ := w.fake.Post(root)
				pp, _ := w.fake.Post(parent)
				if rec.Reply.Root != (bsky.StrongRef{URI: rp.URI, CID: rp.CID}) || rec.Reply.Parent != (bsky.StrongRef{URI: pp.URI, CID: pp.CID}) {
					t.Errorf("reply refs %+v, want root %s and parent %s", rec.Reply, root, parent)
				}
				if len(rec.Facets) != 1 || rec.Facets[0].Features[0].DID != w.cust {
					t.Errorf("facets %+v, want the customer's mention", rec.Facets)
				}
				if !bsky.ValidTID(replies[0].RKey) {
					t.Errorf("record key %q is not a TID", replies[0].RKey)
				}
			})

			t.Run("reply gate shown up front", func(t *testing.T) {
				w.t = t
				gated := w.fake.AddPost(w.cust, "no signal again, not taking replies", bskyfake.PostOptions{Gated: true})
				w.waitMirrored(gated)
				for _, m := range w.slack.Messages("C0NETWORK") {
					if ts := w.mirrorsOf("C0NETWORK", gated); len(ts) == 1 && m.TS == ts[0] && !strings.Contains(string(m.Blocks), "limits who can reply") {
						t.Errorf("the mirror does not show the thread gate: %s", m.Blocks)
					}
				}
			})

			t.Run("reconnect with the cursor", func(t *testing.T) {
				w.t = t
				w.js[0].Disconnect()
				during := w.fake.AddPost(w.cust, "no signal at Shinjuku either", bskyfake.PostOptions{})
				w.waitMirrored(during)
				q := w.js[1].Queries()
				if len(q) == 0 || !strings.Contains(q[0], "cursor=") {
					t.Errorf("the second instance was asked %q, want a cursor", q)
				}
				time.Sleep(300 * time.Millisecond)
				if n := len(w.mirrorsOf("C0NETWORK", during)); n != 1 {
					t.Errorf("the post is mirrored %d times, want once", n)
				}
			})

			t.Run("silent socket", func(t *testing.T) {
				w.t = t
				w.js[1].SetSilent(true)
				swallowed := w.fake.AddPost(w.cust, "no signal in Ikebukuro now", bskyfake.PostOptions{})
				w.waitMirrored(swallowed)
				resp, err := http.Get("http://" + w.addr + "/metrics")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !regexp.MustCompile(`carebridge_bluesky_jetstream_silent_total [1-9]`).Match(body) {
					t.Errorf("/metrics does not count the silent socket")
				}
			})

			t.Run("crash mid-reply", func(t *testing.T) {
				w.t = t
				post := w.fake.AddPost(w.cust, "no signal in Ueno, can you check?", bskyfake.PostOptions{})
				th := w.waitMirrored(post)
				release := make(chan struct{})
				w.fake.DropAnswerAfter("com.atproto.repo.createRecord", release)
				before := w.fake.Calls("com.atproto.repo.createRecord")
				const text = "Checking Ueno now, thanks for telling us."
				w.approveAnswer(th, text)
				eventually(t, 15*time.Second, "the reply created on Bluesky", func() (bool, string) {
					return len(w.fake.RepliesTo(post)) == 1, "not yet"
				})
				// The process dies while createRecord has not answered.
				var wg sync.WaitGroup
				wg.Add(1)
				go func() { defer wg.Done(); w.stop() }()
				time.Sleep(100 * time.Millisecond)
				close(release)
				wg.Wait()
				w.stop = w.start()
				w.waitNotice(th, "Sent publicly")
				time.Sleep(500 * time.Millisecond)
				if n := len(w.fake.RepliesTo(post)); n != 1 {
					t.Errorf("%d replies on Bluesky, want 1", n)
				}
				if n := w.fake.Calls("com.atproto.repo.createRecord") - before; n != 1 {
					t.Errorf("createRecord called %d times, want once: the restart checks with getRecord", n)
				}
				if n := w.notices(th, "Sent publicly"); n != 1 {
					t.Errorf("%d sent notices, want 1", n)
				}
				if w.fake.Calls("com.atproto.repo.getRecord") == 0 {
					t.Error("the restart did not look the record up")
				}
				if n := w.fake.Calls("com.atproto.server.createSession"); n != 1 {
					t.Errorf("createSession called %d times, want once: the restart uses the saved session", n)
				}
			})
			w.t = t
		})
	}
}
