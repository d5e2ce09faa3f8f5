package traffic_test

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/carebridge/carebridge/adapters/file"
	"github.com/carebridge/carebridge/adapters/x/xfake/traffic"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/bridge/route"
)

func TestSameSeedSameTraffic(t *testing.T) {
	a := traffic.Generate(traffic.Options{Seed: 7, Posts: 500})
	b := traffic.Generate(traffic.Options{Seed: 7, Posts: 500})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs with seed 7 differ")
	}
	c := traffic.Generate(traffic.Options{Seed: 8, Posts: 500})
	same := 0
	for i := range a {
		if a[i].Text == c[i].Text {
			same++
		}
	}
	if same > len(a)/4 {
		t.Errorf("seeds 7 and 8 share %d of %d texts at the same position", same, len(a))
	}
	if len(a) != 500 {
		t.Errorf("got %d posts, want 500", len(a))
	}
	// A prefix of a longer run is not promised, but the default is 100.
	if n := len(traffic.Generate(traffic.Options{Seed: 1})); n != 100 {
		t.Errorf("default: %d posts, want 100", n)
	}
}

func TestLanguageMix(t *testing.T) {
	posts := traffic.Generate(traffic.Options{Seed: 3, Posts: 3000})
	count := map[string]int{}
	script := map[string]*regexp.Regexp{
		"ja": regexp.MustCompile(`[\p{Hiragana}\p{Katakana}]`),
		"ko": regexp.MustCompile(`\p{Hangul}`),
	}
	hashtag := regexp.MustCompile(`#\S+`)
	for _, p := range posts {
		count[p.Lang]++
		text := hashtag.ReplaceAllString(p.Text, "")
		for lang, re := range script {
			if (lang == p.Lang) != re.MatchString(text) {
				t.Errorf("post %s (%s) %q: script of %s is %v", p.ID, p.Lang, p.Text, lang, re.MatchString(text))
			}
		}
	}
	// Default weights en 5 : ja 3 : ko 2, counted in posts (conversation
	// lengths vary), so with some slack.
	for lang, want := range map[string]float64{"en": 0.5, "ja": 0.3, "ko": 0.2} {
		got := float64(count[lang]) / float64(len(posts))
		if got < want-0.07 || got > want+0.07 {
			t.Errorf("%s: %.2f of posts, want about %.2f", lang, got, want)
		}
	}
	only := traffic.Generate(traffic.Options{Seed: 3, Posts: 200, Languages: map[string]int{"ko": 1}})
	for _, p := range only {
		if p.Lang != "ko" {
			t.Fatalf("Languages ko only: post in %s", p.Lang)
		}
	}
}

func TestConversations(t *testing.T) {
	brands := []string{"AcmeCare", "AcmeNet"}
	posts := traffic.Generate(traffic.Options{Seed: 11, Posts: 2000, Brands: brands})
	byID := map[string]traffic.Post{}
	var answers, followUps, selfReplies, opensMention, opensName, swearing int
	customers := map[string]int{}
	for i, p := range posts {
		if i > 0 && p.CreatedAt.Before(posts[i-1].CreatedAt) {
			t.Fatalf("post %s is older than the one before it", p.ID)
		}
		if _, dup := byID[p.ID]; dup || p.ID == "" {
			t.Fatalf("post id %q empty or repeated", p.ID)
		}
		if !regexp.MustCompile(`^[A-Za-z0-9_]{1,15}$`).MatchString(p.Author) {
			t.Errorf("author %q is not an X handle", p.Author)
		}
		if p.InReplyTo == "" {
			if p.Brand {
				t.Errorf("post %s: an official account opens a conversation", p.ID)
			}
			if p.Conversation != p.ID {
				t.Errorf("post %s opens conversation %s", p.ID, p.Conversation)
			}
			mentions := strings.Contains(p.Text, "@AcmeCare") || strings.Contains(p.Text, "@AcmeNet")
			names := regexp.MustCompile(`^(SoftBank|ソフトバンク|소프트뱅크) `).MatchString(p.Text)
			if !mentions && !names {
				t.Errorf("opening post %s neither mentions an account nor names the company: %q", p.ID, p.Text)
			}
			if mentions {
				opensMention++
			} else {
				opensName++
			}
			if regexp.MustCompile(`(?i)fuck|wtf|ffs|bullshit|garbage|クソ|ふざけんな|ㅅㅂ|짜증|빡치`).MatchString(p.Text) {
				swearing++
			}
			customers[p.Author]++
		} else {
			parent, ok := byID[p.InReplyTo]
			if !ok {
				t.Fatalf("post %s answers %s, which is not before it", p.ID, p.InReplyTo)
			}
			if p.Conversation != parent.Conversation || p.Lang != parent.Lang || p.Topic != parent.Topic {
				t.Errorf("post %s does not continue its parent's conversation", p.ID)
			}
			switch {
			case p.Brand:
				answers++
				if parent.Brand || !strings.HasPrefix(p.Text, "@"+parent.Author+" ") {
					t.Errorf("answer %s %q does not start with @%s", p.ID, p.Text, parent.Author)
				}
				if !slicesContains(brands, p.Author) {
					t.Errorf("answer %s by %s, not an official account", p.ID, p.Author)
				}
			case parent.Brand:
				followUps++
				if !strings.HasPrefix(p.Text, "@"+parent.Author+" ") {
					t.Errorf("follow-up %s %q does not start with @%s", p.ID, p.Text, parent.Author)
				}
			default:
				selfReplies++
				if parent.Author != p.Author || strings.HasPrefix(p.Text, "@") || !strings.Contains(p.Text, " @Acme") {
					t.Errorf("self-reply %s: author %s, parent's %s, text %q", p.ID, p.Author, parent.Author, p.Text)
				}
			}
		}
		if p.Topic == "wifi" && p.Brand && p.Author != "AcmeNet" {
			t.Errorf("a Wi-Fi conversation answered by %s", p.Author)
		}
		byID[p.ID] = p
	}
	returning := 0
	for _, n := range customers {
		if n > 1 {
			returning++
		}
	}
	t.Logf("answers %d, follow-ups %d, self-replies %d, opening mentions %d, names %d, swearing %d, returning customers %d",
		answers, followUps, selfReplies, opensMention, opensName, swearing, returning)
	for what, n := range map[string]int{"answers": answers, "follow-ups": followUps, "self-replies": selfReplies,
		"openings naming the company": opensName, "sworn openings": swearing, "returning customers": returning} {
		if n < 20 {
			t.Errorf("only %d %s in 2,000 posts", n, what)
		}
	}
	if opensMention < 2*opensName {
		t.Errorf("openings: %d mention an account, %d name the company; most should mention", opensMention, opensName)
	}
}

// TestRoutesOfTheExample: the example configuration's router sends
// generated posts of every language to every department, and "other"
// posts to triage.
func TestRoutesOfTheExample(t *testing.T) {
	cfg, err := config.Load("../../../../examples/carebridge.yaml", config.LevelRouting)
	if err != nil {
		t.Fatal(err)
	}
	router, err := cfg.Router()
	if err != nil {
		t.Fatal(err)
	}
	posts := traffic.Generate(traffic.Options{Seed: 5, Posts: 3000})
	reached := map[string]map[string]int{} // department → language → posts
	for _, p := range posts {
		if p.InReplyTo != "" {
			continue
		}
		res := router.Route(routeInput(p.Text))
		if reached[res.Department] == nil {
			reached[res.Department] = map[string]int{}
		}
		reached[res.Department][p.Lang]++
		if p.Topic == "other" && res.Department != cfg.Triage {
			t.Errorf("an %q post went to %s (matched %v): %q", p.Topic, res.Department, res.Matched, p.Text)
		}
		if p.Topic != "other" && res.Department == cfg.Triage {
			t.Errorf("a %s post went to triage: %q", p.Topic, p.Text)
		}
	}
	for _, d := range cfg.Departments {
		for _, lang := range []string{"en", "ja", "ko"} {
			if reached[d.ID][lang] == 0 {
				t.Errorf("no %s opening post reached %s (%v)", lang, d.ID, reached[d.ID])
			}
		}
	}
}

func routeInput(text string) (in route.Input) {
	in.Text = text
	for _, m := range regexp.MustCompile(`@([A-Za-z0-9_]+)`).FindAllStringSubmatch(text, -1) {
		in.Mentions = append(in.Mentions, m[1])
	}
	return in
}

// TestTWCSCSV: the CSV reads back through adapters/file as the same posts.
func TestTWCSCSV(t *testing.T) {
	posts := traffic.Generate(traffic.Options{Seed: 2, Posts: 300})
	var buf bytes.Buffer
	if err := traffic.WriteTWCSCSV(&buf, posts); err != nil {
		t.Fatal(err)
	}
	rd, err := file.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Format() != file.FormatTWCS {
		t.Fatalf("format %v", rd.Format())
	}
	for i := 0; ; i++ {
		p, _, err := rd.Next()
		if errors.Is(err, io.EOF) {
			if i != len(posts) {
				t.Fatalf("read %d posts, wrote %d", i, len(posts))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		w := posts[i]
		if p.ExternalID != w.ID || p.Text != w.Text || p.AuthorID != w.Author || p.InReplyTo != w.InReplyTo || !p.CreatedAt.Equal(w.CreatedAt) {
			t.Fatalf("post %d read back as %+v, wrote %+v", i, p, w)
		}
	}
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
