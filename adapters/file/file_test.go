package file

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/x/xfake/traffic"
	"github.com/carebridge/carebridge/bridge"
)

func readAll(t *testing.T, r io.Reader) ([]bridge.Post, []*LineError) {
	t.Helper()
	rd, err := NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	var posts []bridge.Post
	var bad []*LineError
	for {
		p, _, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return posts, bad
		}
		var le *LineError
		if errors.As(err, &le) {
			bad = append(bad, le)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		posts = append(posts, p)
	}
}

func TestJSONLForms(t *testing.T) {
	in := strings.Join([]string{
		`{"id":"1","text":"電波が悪い @SBCare","author":"kim","lang":"ja","created_at":"2026-11-20T09:30:00Z","mentions":["SBCareWiFi"]}`,
		``,
		`{"id":2,"text":"numeric id"}`,
		`not json`,
		`{"text":"no id"}`,
		`{"data":{"id":"3","text":"stream line","author_id":"9","conversation_id":"1","referenced_tweets":[{"type":"replied_to","id":"1"}],"entities":{"mentions":[{"username":"SBCare"}]}},"matching_rules":[{"id":"1","tag":"network"}]}`,
		`{"data":[{"id":"5","text":"a","author_id":"7"},{"id":"4","text":"b"}],"includes":{"users":[{"id":"7","username":"lee","name":"Lee"}]},"meta":{"result_count":2}}`,
		`{"meta":{"result_count":0}}`,
		`{"id":"6","text":"bad time","created_at":"yesterday"}`,
	}, "\n")
	posts, bad := readAll(t, strings.NewReader(in))
	ids := []string{}
	for _, p := range posts {
		ids = append(ids, p.ExternalID)
	}
	if got := strings.Join(ids, ","); got != "1,2,3,5,4" {
		t.Fatalf("ids = %s", got)
	}
	if len(bad) != 3 || bad[0].Line != 4 || bad[1].Line != 5 || bad[2].Line != 9 {
		t.Fatalf("bad lines = %v", bad)
	}
	p := posts[0]
	if p.AuthorHandle != "kim" || p.Lang != "ja" || !p.CreatedAt.Equal(time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("post 1 = %+v", p)
	}
	if got := strings.Join(p.Mentions, ","); got != "sbcarewifi,sbcare" {
		t.Errorf("mentions = %s", got)
	}
	if s := posts[2]; s.ConversationKey != "1" || s.InReplyTo != "1" || strings.Join(s.Mentions, ",") != "sbcare" {
		t.Errorf("stream post = %+v", s)
	}
	if s := posts[3]; s.AuthorHandle != "lee" || s.AuthorName != "Lee" {
		t.Errorf("page post author = %q %q", s.AuthorHandle, s.AuthorName)
	}
}

func TestTWCSCSV(t *testing.T) {
	in := "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n" +
		"192624,161253,True,Wed Oct 04 13:59:33 +0000 2017,\"@161252 What's that\negg website\",192623,192625.0\n" +
		",x,True,Wed Oct 04 13:59:33 +0000 2017,no id,,\n" +
		"738238,296574,True,Fri Oct 06 18:29:06 +0000 2017,Why! #iOS11 @AppleSupport,,\n"
	posts, bad := readAll(t, strings.NewReader(in))
	if len(posts) != 2 || len(bad) != 1 || bad[0].Line != 4 {
		t.Fatalf("posts %d, bad %v", len(posts), bad)
	}
	if p := posts[0]; p.Text != "@161252 What's that\negg website" || p.InReplyTo != "192625" || p.AuthorID != "161253" ||
		!p.CreatedAt.Equal(time.Date(2017, 10, 4, 13, 59, 33, 0, time.UTC)) {
		t.Errorf("post = %+v", p)
	}
	if got := strings.Join(posts[1].Mentions, ","); got != "applesupport" {
		t.Errorf("mentions = %q", got)
	}
}

// TestTWCSFiles reads 5,000 generated posts in the TWCS layout, and the
// real TWCS samples when ../shared/data is beside the repository (they
// are not needed: without them the generated file is the test).
func TestTWCSFiles(t *testing.T) {
	var buf bytes.Buffer
	if err := traffic.WriteTWCSCSV(&buf, traffic.Generate(traffic.Options{Seed: 4, Posts: 5000})); err != nil {
		t.Fatal(err)
	}
	posts, bad := readAll(t, &buf)
	if len(posts) != 5000 || len(bad) != 0 {
		t.Errorf("generated: %d posts, %d bad lines; want 5000 and 0", len(posts), len(bad))
	}
	dir := filepath.Join("..", "..", "..", "shared", "data", "twcs")
	for _, name := range []string{"twcs_random_5000.csv", "twcs_head_5000_with_index_col.csv"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Logf("real TWCS sample not read (%v); it lives in ../shared/data beside the repository", err)
			continue
		}
		posts, bad := readAll(t, f)
		f.Close()
		if len(posts) != 5000 || len(bad) != 0 {
			t.Errorf("%s: %d posts, %d bad lines; want 5000 and 0", name, len(posts), len(bad))
		}
	}
}

func TestMentions(t *testing.T) {
	cases := map[string]string{
		"@SBCare help":              "sbcare",
		"mail me a@b.com":           "",
		"RT @a_b: hi @A_B @c":       "a_b,c",
		"(@SBCareWiFi)電波":           "sbcarewifi",
		"no mentions":               "",
		"@waytoolonghandle12345 hi": "",
	}
	for in, want := range cases {
		if got := strings.Join(Mentions(in), ","); got != want {
			t.Errorf("Mentions(%q) = %q, want %q", in, got, want)
		}
	}
}
