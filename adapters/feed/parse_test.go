package feed

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseFormats(t *testing.T) {
	rss := `<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Forum</title>
<atom:link href="https://f.example/rss" rel="self"/><link>https://f.example/</link><ttl>45</ttl>
<item><title>Router &amp;amp; modem</title><link>https://f.example/t/1</link><guid>t1</guid><author>kim@example.com (Kim)</author>
<pubDate>Fri, 20 Nov 2026 08:00:00 PST</pubDate><description>&lt;p&gt;It &lt;b&gt;drops&lt;/b&gt;&amp;nbsp;again&lt;/p&gt;</description></item></channel></rss>`
	atom := `<feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title><author><name>Team</name></author>
<entry><id>urn:1</id><title type="text">Slow &lt;wifi&gt;</title><link rel="self" href="https://b.example/self"/><link href="https://b.example/1"/>
<updated>2026-11-20T09:00:00+09:00</updated><summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>hello <a href="/x">there</a></p></div></summary></entry></feed>`
	jsonFeed := `{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[{"id":7,"url":"https://j.example/7","title":"Seven","content_text":"a <b> c","date_published":"2026-11-20T00:00:00Z","authors":[{"name":"Jo"}]}]}`
	for _, tc := range []struct {
		name, doc                            string
		guid, link, title, author, text, ttl string
		when                                 time.Time
	}{
		{"rss", rss, "t1", "https://f.example/t/1", "Router & modem", "Kim", "It drops again", "45m0s", time.Date(2026, 11, 20, 16, 0, 0, 0, time.UTC)},
		{"atom", atom, "urn:1", "https://b.example/1", "Slow <wifi>", "Team", "hello there (https://b.example/x)", "0s", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
		{"json", jsonFeed, "7", "https://j.example/7", "Seven", "Jo", "a <b> c", "0s", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := XMLParser{}.Parse([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Items) != 1 {
				t.Fatalf("items = %+v", d.Items)
			}
			it := d.Items[0]
			when := it.Published
			if when.IsZero() {
				when = it.Updated
			}
			text := strings.ReplaceAll(HTMLToText(it.HTML, it.Link), "\u00a0", " ")
			if it.GUID != tc.guid || it.Link != tc.link || it.Title != tc.title || it.Author != tc.author || text != tc.text ||
				d.TTL.String() != tc.ttl || !when.Equal(tc.when) {
				t.Errorf("got %+v text %q ttl %s", it, text, d.TTL)
			}
		})
	}
	if _, err := (XMLParser{}).Parse([]byte("<html><body>not a feed</body></html>")); err == nil {
		t.Error("an HTML page parsed as a feed")
	}
}

func TestHTMLToText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<p>One</p><p>Two <a href="https://x.example/a">link</a></p>`, "One\n\nTwo link (https://x.example/a)"},
		{`<ul><li>a</li><li>b</li></ul>`, "• a\n• b"},
		{`x<br>y<script>alert(1)</script><style>p{}</style>`, "x\ny"},
		{`<a href="javascript:alert(1)">click</a> <a href="https://u.example/">https://u.example/</a>`, "click https://u.example/"},
		{`<img alt="chart"> &lt;!channel&gt; &amp;`, "[chart] <!channel> &"},
		{"  lots   of\n\n\n   space  ", "lots of space"},
		{`<a href="/rel">rel</a>`, "rel (https://base.example/rel)"},
	} {
		if got := HTMLToText(tc.in, "https://base.example/post"); got != tc.want {
			t.Errorf("HTMLToText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestItemKeys(t *testing.T) {
	items := []Item{{GUID: "a", Link: "l1"}, {GUID: "a", Link: "l2"}, {GUID: "a", Link: "l2"}, {Link: "l3"}, {Title: "t", HTML: "c"}, {GUID: "b"}}
	keys := itemKeys(items)
	want := []string{"guid:a|l1", "guid:a|l2", "", "link:l3", "hash:", "guid:b"}
	for i, k := range keys {
		if !strings.HasPrefix(k, want[i]) || (want[i] == "" && k != "") {
			t.Errorf("key %d = %q, want %q", i, k, want[i])
		}
	}
	if externalID("https://a/feed", "guid:x") == externalID("https://b/feed", "guid:x") {
		t.Error("two feeds' items share an id")
	}
}

// FuzzHTMLToText: any input gives valid UTF-8 text without NUL or stray
// control characters, without more than one blank line in a row, and
// keeps the words of plain text.
func FuzzHTMLToText(f *testing.F) {
	for _, s := range []string{"<p>a</p>", `<a href="x">y</a>`, "<pre>  a\n  b</pre>", "<ul><li>x", "&lt;!here&gt;", "\x00\x1c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := HTMLToText(s, "https://base.example/")
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 from %q", s)
		}
		if strings.Contains(out, "\n\n\n") && !strings.Contains(s, "pre") {
			t.Fatalf("more than one blank line from %q: %q", s, out)
		}
		if strings.ContainsRune(out, 0) {
			t.Fatalf("NUL from %q", s)
		}
		printable := !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' && r != ' ' || r == 0x7F })
		if printable && !strings.ContainsAny(s, "<&") && utf8.ValidString(s) {
			if got, want := strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(s), " "); got != want {
				t.Fatalf("plain text changed: %q → %q", s, out)
			}
		}
	})
}
