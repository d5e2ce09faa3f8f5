package teams

import (
	"html"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscapeText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain words", "plain words"},
		{"*bold* _it_", "&#42;bold&#42; &#95;it&#95;"},
		{`back\slash`, "back&#92;slash"},
		{"<at>Ana</at> hi", "&lt;at&gt;Ana&lt;/at&gt; hi"},
		{"&lt; stays literal", "&amp;lt; stays literal"},
		{`<b onclick="x">bold</b>`, "&lt;b onclick=&quot;x&quot;&gt;bold&lt;/b&gt;"},
		{"[click](https://evil.example)", "&#91;click&#93;(https://evil.example)"},
		{"`code` ~strike~ # head |t|", "&#96;code&#96; &#126;strike&#126; &#35; head &#124;t&#124;"},
		{"evil\u202Efdp.exe", "evil&#91;U+202E&#93;fdp.exe"}, // shows "evil[U+202E]fdp.exe"
		{"zero\u200Bwidth\uFEFF", "zero&#91;U+200B&#93;width&#91;U+FEFF&#93;"},
		{"שלום عربي", "שלום عربي"},
		{"emoji 👩‍💻 keeps ZWJ", "emoji 👩‍💻 keeps ZWJ"},
		{"two\nlines\r\nthree", "two<br>lines<br>three"},
		{"it's", "it&#39;s"},
	} {
		if got := EscapeText(c.in); got != c.want {
			t.Errorf("EscapeText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func testResolver() resolver {
	return resolver{
		person: func(id string) mentionTarget { return mentionTarget{ID: id, Name: "Name of " + id} },
		group: func(id string) (mentionTarget, bool) {
			if id == "tag1" {
				return mentionTarget{ID: id, Name: "Leads", Tag: true}, true
			}
			return mentionTarget{}, false
		},
	}
}

func TestTranslateMarkup(t *testing.T) {
	for _, c := range []struct {
		in, want string
		mentions int
	}{
		{":white_check_mark: Sent publicly as @SBCare, approved by <@u1>", "✅ Sent publicly as @SBCare, approved by <at>Name of u1</at>", 1},
		{":rotating_light: *SLA breached*: due 10:30", "🚨 <b>SLA breached</b>: due 10:30", 0},
		{"<!subteam^tag1> and <!subteam^S9|@ops>", "<at>Leads</at> and @ops", 1},
		{"<@u1> <@u1>", "<at>Name of u1</at> <at>Name of u1</at>", 1},
		{"&lt;@u1&gt; is text", "&lt;@u1&gt; is text", 0},
		{"<at>x</at> <b>no</b>", "&lt;at&gt;x&lt;/at&gt; &lt;b&gt;no&lt;/b&gt;", 0},
		{"<@bad id> :nope: 10:30 * not bold *", "&lt;@bad id&gt; :nope: 10:30 &#42; not bold &#42;", 0},
		{"a_b\\c\u202E", "a&#95;b&#92;c&#91;U+202E&#93;", 0},
		{"*bold <@u2>*", "<b>bold <at>Name of u2</at></b>", 1},
		{"see <https://x.com/a_b|the *post*> :pencil2:", `see <a href="https://x.com/a&#95;b">the &#42;post&#42;</a> ✏️`, 0},
		{"<javascript:alert(1)|x> <https://a.example/\"x|y>", "&lt;javascript:alert(1)&#124;x&gt; &lt;https://a.example/&quot;x&#124;y&gt;", 0},
	} {
		got, ents := translateMarkup(c.in, testResolver())
		if got != c.want || len(ents) != c.mentions {
			t.Errorf("translateMarkup(%q) = %q with %d mentions, want %q with %d", c.in, got, len(ents), c.want, c.mentions)
		}
		for _, e := range ents {
			if !strings.Contains(got, e.Text) {
				t.Errorf("mention %q not in %q", e.Text, got)
			}
		}
	}
	_, ents := translateMarkup("<!subteam^tag1>", testResolver())
	if ents[0].Mentioned.Type != "tag" || ents[0].Mentioned.ID != "tag1" {
		t.Fatalf("tag mention entity %+v", ents[0].Mentioned)
	}
}

func TestPlainFromHTML(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"reply: hi", "reply: hi"},
		{"<p>reply: one</p><p>two</p>", "reply: one\ntwo"},
		{"a &lt; b &amp;&amp; c&nbsp;d", "a < b && c\u00a0d"},
		{"a < b", "a < b"},
		{"<div>x<br>y</div>", "x\ny"},
		{"hi <at>Bo</at>", "hi Bo"},
	} {
		if got := plainFromHTML(c.in); got != c.want {
			t.Errorf("plainFromHTML(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

var linkTag = regexp.MustCompile(`<a href="https://[^"<>]*">`)

// FuzzTranslateMarkup: whatever the core's text, the output has no tag
// other than our own <at>, <b>, <br> and https links, each mention entity's text is in
// it, and what a reader sees keeps the input's visible characters.
func FuzzTranslateMarkup(f *testing.F) {
	for _, s := range []string{":x: Rejected by <@U1>", "<!subteam^tag1|@x> *b*", "<at>x</at>&lt;", "*a <@u> b*", "\u202E\u200B", "::", "<@", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !utf8.ValidString(in) {
			return
		}
		out, ents := translateMarkup(in, testResolver())
		rest := linkTag.ReplaceAllString(out, "")
		for _, tag := range []string{"<at>", "</at>", "<b>", "</b>", "<br>", "</a>"} {
			rest = strings.ReplaceAll(rest, tag, "")
		}
		if strings.ContainsAny(rest, "<>") {
			t.Fatalf("translateMarkup(%q) = %q: stray markup", in, out)
		}
		for _, e := range ents {
			if !strings.Contains(out, e.Text) || !strings.HasPrefix(e.Text, "<at>") {
				t.Fatalf("entity %q not in %q", e.Text, out)
			}
		}
		if strings.ContainsFunc(html.UnescapeString(rest), hiddenControl) {
			t.Fatalf("hidden control survived in %q", out)
		}
	})
}
