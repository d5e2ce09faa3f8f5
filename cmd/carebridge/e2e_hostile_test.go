package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// tableRows counts the rows of every table of the store at storeURL.
func tableRows(t *testing.T, storeURL string) map[string]int {
	t.Helper()
	db, err := sqlx.Open(dbDriver(storeURL), dbDSN(storeURL))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	if dbDriver(storeURL) == "postgres" {
		err = db.Select(&tables, `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`)
	} else {
		err = db.Select(&tables, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1`)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 5 {
		t.Fatalf("only %d tables found: %v", len(tables), tables)
	}
	out := map[string]int{}
	for _, tb := range tables {
		var n int
		if err := db.Get(&n, `SELECT COUNT(*) FROM "`+tb+`"`); err != nil {
			t.Fatalf("count %s: %v", tb, err)
		}
		out[tb] = n
	}
	return out
}

// settledRows waits until the row counts stop changing and returns them.
func settledRows(t *testing.T, storeURL string) map[string]int {
	t.Helper()
	var last map[string]int
	eventually(t, 30*time.Second, "the store to settle", func() (bool, string) {
		now := tableRows(t, storeURL)
		same := maps.Equal(now, last)
		last = now
		if !same {
			time.Sleep(300 * time.Millisecond)
		}
		return same, fmt.Sprint(now)
	})
	return last
}

// rowDiff describes the tables whose counts differ.
func rowDiff(before, after map[string]int) string {
	var out []string
	for _, tb := range slices.Sorted(maps.Keys(after)) {
		if before[tb] != after[tb] {
			out = append(out, fmt.Sprintf("%s %d→%d", tb, before[tb], after[tb]))
		}
	}
	return strings.Join(out, ", ")
}

// signSlack returns Slack's v0 signature of body at Unix time ts.
func signSlack(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%d:", ts)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// postEvent sends body to carebridge's /slack/events with the given
// timestamp and signature headers and returns the status and body.
func postEvent(t *testing.T, addr string, body []byte, ts, sig string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/slack/events", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if ts != "" {
		req.Header.Set("X-Slack-Request-Timestamp", ts)
	}
	if sig != "" {
		req.Header.Set("X-Slack-Signature", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestHostileEventRequests posts hostile requests to the running app's
// Events API endpoint, backed by the real store, and checks each answer and
// that none of them leaves a row in any table — while a genuine request
// built the same way does (so the counting can see a change).
func TestHostileEventRequests(t *testing.T) {
	for name, storeURL := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			testHostileEventRequests(t, storeURL(t))
		})
	}
}

func testHostileEventRequests(t *testing.T, storeURL string) {
	w := newReplyWorld(t, storeURL, true)
	_, thread := w.conversation("@SBCare my iphone battery gets hot")
	secret := w.slack.Identity().SigningSecret
	n := 0
	// A staff reply in the conversation's thread: accepted, it would
	// become a draft.
	staffReply := func(eventID, text string) []byte {
		n++
		ts := fmt.Sprintf("%d.%06d", time.Now().Unix(), 900000+n)
		return []byte(fmt.Sprintf(`{"token":"legacy","team_id":"T0FAKETEAM","api_app_id":"A0FAKEAPP","type":"event_callback",`+
			`"event_id":%q,"event_time":%d,"event":{"type":"message","channel":"C0DEVICES","channel_type":"channel",`+
			`"user":%q,"text":%q,"ts":%q,"thread_ts":%q,"event_ts":%q}}`,
			eventID, time.Now().Unix(), staff, text, ts, thread, ts))
	}
	now := func() int64 { return time.Now().Unix() }
	signed := func(body []byte, at int64) (string, string) {
		return strconv.FormatInt(at, 10), signSlack(secret, at, body)
	}
	before := settledRows(t, w.store)

	for _, tc := range []struct {
		name   string
		send   func() (int, string)
		status int
	}{
		{"bad signature", func() (int, string) {
			body := staffReply("EvHOSTILE1", "Please reset your phone.")
			ts, _ := signed(body, now())
			return postEvent(t, w.addr, body, ts, signSlack("not-the-signing-secret", now(), body))
		}, http.StatusUnauthorized},
		{"tampered body", func() (int, string) {
			body := staffReply("EvHOSTILE2", "Please reset your phone.")
			ts, sig := signed(body, now())
			return postEvent(t, w.addr, bytes.Replace(body, []byte("reset"), []byte("throw away"), 1), ts, sig)
		}, http.StatusUnauthorized},
		{"unsigned", func() (int, string) {
			return postEvent(t, w.addr, staffReply("EvHOSTILE3", "Please reset your phone."), "", "")
		}, http.StatusUnauthorized},
		{"stale timestamp", func() (int, string) {
			body := staffReply("EvHOSTILE4", "Please reset your phone.")
			ts, sig := signed(body, now()-10*60)
			return postEvent(t, w.addr, body, ts, sig)
		}, http.StatusUnauthorized},
		{"oversized body", func() (int, string) {
			body := staffReply("EvHOSTILE5", strings.Repeat("a", 1<<20))
			ts, sig := signed(body, now())
			return postEvent(t, w.addr, body, ts, sig)
		}, http.StatusRequestEntityTooLarge},
		{"malformed JSON", func() (int, string) {
			body := staffReply("EvHOSTILE6", "Please reset your phone.")
			body = body[:len(body)-7]
			ts, sig := signed(body, now())
			return postEvent(t, w.addr, body, ts, sig)
		}, http.StatusBadRequest},
		{"unknown event type", func() (int, string) {
			body := []byte(fmt.Sprintf(`{"type":"event_callback","team_id":"T0FAKETEAM","event_id":"EvHOSTILE7","event_time":%d,`+
				`"event":{"type":"brand_new_event","channel":"C0DEVICES","user":%q,"ts":"1.000001"}}`, now(), staff))
			ts, sig := signed(body, now())
			return postEvent(t, w.addr, body, ts, sig)
		}, http.StatusOK},
		{"unknown outer type", func() (int, string) {
			body := []byte(`{"type":"some_future_type","event_id":"EvHOSTILE8"}`)
			ts, sig := signed(body, now())
			return postEvent(t, w.addr, body, ts, sig)
		}, http.StatusOK},
	} {
		status, resp := tc.send()
		if status != tc.status {
			t.Errorf("%s: status %d (%q), want %d", tc.name, status, resp, tc.status)
		}
		if after := tableRows(t, w.store); !maps.Equal(before, after) {
			t.Errorf("%s left rows behind: %s", tc.name, rowDiff(before, after))
			before = after
		}
	}

	// The same request, correctly signed, is taken: rows appear (the draft,
	// its audit record, the event id, the outbox rows) — so the counts
	// above could have seen a change. Its redelivery adds nothing.
	body := staffReply("EvGENUINE1", "Could you tell us which iOS version you have?")
	ts, sig := signed(body, now())
	if status, resp := postEvent(t, w.addr, body, ts, sig); status != http.StatusOK {
		t.Fatalf("genuine request: status %d (%q)", status, resp)
	}
	after := tableRows(t, w.store)
	if maps.Equal(before, after) {
		t.Fatal("a genuine event left no row either: the counting sees nothing")
	}
	t.Logf("a genuine event wrote: %s", rowDiff(before, after))
	settled := settledRows(t, w.store)
	if status, _ := postEvent(t, w.addr, body, ts, sig); status != http.StatusOK {
		t.Errorf("redelivery: status %d", status)
	}
	if again := tableRows(t, w.store); !maps.Equal(settled, again) {
		t.Errorf("the redelivered event wrote rows: %s", rowDiff(settled, again))
	}
}
