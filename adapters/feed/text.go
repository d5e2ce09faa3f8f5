package feed

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTMLToText turns an item's HTML into plain text for routing and the
// chat: block elements become line breaks (at most one blank line in a
// row), list items bullets, links "label (URL)" with the URL made
// absolute against base (only http, https and mailto links are kept),
// images their alt text; scripts, styles and comments vanish and runs of
// white space collapse. The result is for people, not for re-parsing as
// HTML: characters such as < stay as they are (the chat surface escapes
// them).
func HTMLToText(src, base string) string {
	doc, err := html.ParseFragment(strings.NewReader(src), &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div})
	if err != nil {
		return strings.TrimSpace(src)
	}
	baseURL, _ := url.Parse(base)
	w := &textWriter{base: baseURL}
	for _, n := range doc {
		w.node(n)
	}
	return w.String()
}

type textWriter struct {
	b     strings.Builder
	base  *url.URL
	space bool // a space is pending before the next word
	nl    int  // newlines at the end of b (0, 1 or 2)
	pre   int  // inside <pre>
}

func (w *textWriter) String() string {
	out := strings.ToValidUTF8(w.b.String(), "\uFFFD")
	out = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7F {
			return -1
		}
		return r
	}, out)
	return strings.TrimSpace(out)
}

// text writes inline text, collapsing white space outside <pre>.
func (w *textWriter) text(s string) {
	if w.pre > 0 {
		w.b.WriteString(s)
		w.nl = 0
		if strings.HasSuffix(s, "\n") {
			w.nl = 1
		}
		return
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if s != "" && unicode.IsSpace(first) {
		w.space = true
	}
	words := strings.Fields(s)
	for i, word := range words {
		if (i > 0 || w.space) && w.b.Len() > 0 && w.nl == 0 {
			w.b.WriteByte(' ')
		}
		w.b.WriteString(word)
		w.nl = 0
	}
	w.space = len(words) == 0 && w.space || len(words) > 0 && unicode.IsSpace(last)
}

// breakLine ends the current line; blank adds an empty line after it.
func (w *textWriter) breakLine(blank bool) {
	w.space = false
	if w.b.Len() == 0 {
		return
	}
	want := 1
	if blank {
		want = 2
	}
	for w.nl < want {
		w.b.WriteByte('\n')
		w.nl++
	}
}

var blocks = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Section: true, atom.Article: true, atom.Blockquote: true, atom.Pre: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Ul: true, atom.Ol: true, atom.Table: true, atom.Header: true, atom.Footer: true, atom.Figure: true,
	atom.Dl: true, atom.Hr: true, atom.Aside: true, atom.Main: true, atom.Nav: true,
}

func (w *textWriter) node(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		w.text(n.Data)
		return
	case html.CommentNode, html.DoctypeNode:
		return
	case html.ElementNode:
	default:
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			w.node(c)
		}
		return
	}
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Head, atom.Template, atom.Noscript, atom.Iframe, atom.Object, atom.Svg:
		return
	case atom.Br:
		w.breakLine(false)
		return
	case atom.Img:
		if alt := strings.TrimSpace(attr(n, "alt")); alt != "" {
			w.text(" [" + alt + "] ")
		}
		return
	case atom.Li:
		w.breakLine(false)
		w.text("• ")
	case atom.Tr, atom.Dt, atom.Dd:
		w.breakLine(false)
	case atom.Td, atom.Th:
		w.space = true
	case atom.A:
		w.link(n)
		return
	}
	block := blocks[n.DataAtom]
	if block {
		w.breakLine(true)
	}
	if n.DataAtom == atom.Pre {
		w.pre++
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.node(c)
	}
	if n.DataAtom == atom.Pre {
		w.pre--
	}
	if block {
		w.breakLine(true)
	}
}

// link writes a link's text and, when it says something the text does
// not, its absolute URL in brackets.
func (w *textWriter) link(n *html.Node) {
	start := w.b.Len()
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.node(c)
	}
	label := strings.TrimSpace(w.b.String()[start:])
	href := w.absolute(attr(n, "href"))
	switch {
	case href == "":
	case label == "":
		w.text(" " + href + " ")
	case label != href && label != strings.TrimPrefix(href, "mailto:"):
		w.text(" (" + href + ")")
	}
}

// absolute resolves href against the base; "" for links that are not
// http, https or mailto.
func (w *textWriter) absolute(href string) string {
	href = strings.TrimSpace(href)
	if href == "" {
		return ""
	}
	u, err := url.Parse(href)
	if err != nil {
		return ""
	}
	if w.base != nil {
		u = w.base.ResolveReference(u)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return ""
		}
	case "mailto":
	default:
		return ""
	}
	return u.String()
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// mustParse parses u, or returns nil.
func mustParse(u string) *url.URL {
	p, err := url.Parse(u)
	if err != nil {
		return nil
	}
	return p
}
