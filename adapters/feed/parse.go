package feed

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"time"
)

// Parser reads a feed document. The Source does the HTTP itself
// (conditional GET, redirects, limits) and hands the parser the body,
// already UTF-8.
type Parser interface {
	Parse(doc []byte) (*Document, error)
}

// Document is a parsed feed.
type Document struct {
	Title string
	Link  string
	TTL   time.Duration // RSS <ttl>; 0 when absent
	Items []Item
}

// Item is one entry of a feed.
type Item struct {
	GUID      string // RSS <guid>, Atom <id>, JSON Feed id; may be ""
	Link      string
	Title     string
	Author    string
	HTML      string // the fullest content there is, as HTML
	Published time.Time
	Updated   time.Time
}

// XMLParser parses RSS 2.0, RSS 1.0 (RDF), Atom 1.0 and JSON Feed 1.x with
// the standard library. It is carebridge's own: the one maintained Go
// feed parser (gofeed) is served to this project only from an unapproved
// copy, and the formats carebridge needs fit in this file.
type XMLParser struct{}

var _ Parser = XMLParser{}

// ErrNotAFeed is returned for a document that is none of the formats.
var ErrNotAFeed = errors.New("not an RSS, Atom or JSON feed")

// Parse implements Parser.
func (XMLParser) Parse(doc []byte) (*Document, error) {
	trimmed := bytes.TrimSpace(doc)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return parseJSONFeed(trimmed)
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = false // entities such as &nbsp; appear in real feeds
	d.Entity = xml.HTMLEntity
	// The body is UTF-8 already (toUTF8); the prolog may still name the
	// charset it came in.
	d.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotAFeed, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch strings.ToLower(se.Name.Local) {
		case "rss", "rdf":
			var r rssDoc
			if err := d.DecodeElement(&r, &se); err != nil {
				return nil, fmt.Errorf("parse RSS: %w", err)
			}
			return r.document(), nil
		case "feed":
			var a atomFeed
			if err := d.DecodeElement(&a, &se); err != nil {
				return nil, fmt.Errorf("parse Atom: %w", err)
			}
			return a.document(), nil
		default:
			return nil, fmt.Errorf("%w: the document is <%s>", ErrNotAFeed, se.Name.Local)
		}
	}
}

const (
	nsContent = "http://purl.org/rss/1.0/modules/content/"
	nsDC      = "http://purl.org/dc/elements/1.1/"
	nsAtom    = "http://www.w3.org/2005/Atom"
)

type xmlLink struct {
	XMLName xml.Name
	Href    string `xml:"href,attr"`
	Rel     string `xml:"rel,attr"`
	Value   string `xml:",chardata"`
}

type rssItem struct {
	Title       string    `xml:"title"`
	Links       []xmlLink `xml:"link"`
	GUID        string    `xml:"guid"`
	Description string    `xml:"description"`
	Content     string    `xml:"http://purl.org/rss/1.0/modules/content/ encoded"`
	PubDate     string    `xml:"pubDate"`
	Date        string    `xml:"http://purl.org/dc/elements/1.1/ date"`
	Author      string    `xml:"author"`
	Creator     string    `xml:"http://purl.org/dc/elements/1.1/ creator"`
	About       string    `xml:"about,attr"`
}

type rssDoc struct {
	Channel struct {
		Title string    `xml:"title"`
		Links []xmlLink `xml:"link"`
		TTL   string    `xml:"ttl"`
		Items []rssItem `xml:"item"`
	} `xml:"channel"`
	Items []rssItem `xml:"item"` // RSS 1.0 keeps items beside the channel
}

// plainLink is the RSS <link> text (not an atom:link).
func plainLink(ls []xmlLink) string {
	for _, l := range ls {
		if l.XMLName.Space != nsAtom && strings.TrimSpace(l.Value) != "" {
			return strings.TrimSpace(l.Value)
		}
	}
	return ""
}

func (r *rssDoc) document() *Document {
	c := r.Channel
	d := &Document{Title: strings.TrimSpace(c.Title), Link: plainLink(c.Links)}
	if n, err := strconv.Atoi(strings.TrimSpace(c.TTL)); err == nil && n > 0 {
		d.TTL = time.Duration(n) * time.Minute
	}
	for _, it := range append(c.Items, r.Items...) {
		body := it.Content
		if strings.TrimSpace(body) == "" {
			body = it.Description
		}
		author := strings.TrimSpace(it.Creator)
		if author == "" {
			author = rssAuthor(it.Author)
		}
		guid := strings.TrimSpace(it.GUID)
		if guid == "" {
			guid = strings.TrimSpace(it.About)
		}
		published := parseDate(it.PubDate)
		if published.IsZero() {
			published = parseDate(it.Date)
		}
		d.Items = append(d.Items, Item{GUID: guid, Link: plainLink(it.Links), Title: titleText(it.Title, true),
			Author: author, HTML: body, Published: published})
	}
	return d
}

// rssAuthor reads RSS's "email (Name)" author form.
func rssAuthor(s string) string {
	s = strings.TrimSpace(s)
	if i, j := strings.Index(s, "("), strings.LastIndex(s, ")"); i >= 0 && j > i {
		if name := strings.TrimSpace(s[i+1 : j]); name != "" {
			return name
		}
	}
	return s
}

// titleText turns a title into one line of text; RSS titles may hold
// HTML.
func titleText(s string, mayBeHTML bool) string {
	if mayBeHTML && strings.ContainsAny(s, "<&") {
		s = HTMLToText(s, "")
	}
	return strings.Join(strings.Fields(s), " ")
}

type atomText struct {
	Type  string `xml:"type,attr"`
	Text  string `xml:",chardata"`
	Inner string `xml:",innerxml"`
}

// html returns the construct as HTML.
func (t atomText) html() string {
	switch strings.ToLower(t.Type) {
	case "html", "text/html":
		return t.Text
	case "xhtml":
		return t.Inner
	}
	return html.EscapeString(t.Text)
}

type atomPerson struct {
	Name  string `xml:"name"`
	Email string `xml:"email"`
}

type atomEntry struct {
	ID        string       `xml:"id"`
	Title     atomText     `xml:"title"`
	Links     []xmlLink    `xml:"link"`
	Published string       `xml:"published"`
	Updated   string       `xml:"updated"`
	Authors   []atomPerson `xml:"author"`
	Content   atomText     `xml:"content"`
	Summary   atomText     `xml:"summary"`
}

type atomFeed struct {
	Title   atomText     `xml:"title"`
	Links   []xmlLink    `xml:"link"`
	Authors []atomPerson `xml:"author"`
	Entries []atomEntry  `xml:"entry"`
}

// alternate is the entry's link to read it: rel="alternate" or no rel.
func alternate(ls []xmlLink) string {
	for _, l := range ls {
		if (l.Rel == "" || l.Rel == "alternate") && strings.TrimSpace(l.Href) != "" {
			return strings.TrimSpace(l.Href)
		}
	}
	return ""
}

func personName(ps []atomPerson) string {
	for _, p := range ps {
		if n := strings.TrimSpace(p.Name); n != "" {
			return n
		}
		if e := strings.TrimSpace(p.Email); e != "" {
			return e
		}
	}
	return ""
}

func (a *atomFeed) document() *Document {
	d := &Document{Title: titleText(a.Title.html(), true), Link: alternate(a.Links)}
	for _, e := range a.Entries {
		body := e.Content.html()
		if strings.TrimSpace(body) == "" {
			body = e.Summary.html()
		}
		author := personName(e.Authors)
		if author == "" {
			author = personName(a.Authors)
		}
		d.Items = append(d.Items, Item{GUID: strings.TrimSpace(e.ID), Link: alternate(e.Links), Title: titleText(e.Title.html(), true),
			Author: author, HTML: body, Published: parseDate(e.Published), Updated: parseDate(e.Updated)})
	}
	return d
}

type jsonFeed struct {
	Version string `json:"version"`
	Title   string `json:"title"`
	Home    string `json:"home_page_url"`
	Items   []struct {
		ID          json.RawMessage `json:"id"` // a string; some feeds write a number
		URL         string          `json:"url"`
		Title       string          `json:"title"`
		ContentHTML string          `json:"content_html"`
		ContentText string          `json:"content_text"`
		Summary     string          `json:"summary"`
		Published   string          `json:"date_published"`
		Modified    string          `json:"date_modified"`
		Author      *struct {
			Name string `json:"name"`
		} `json:"author"`
		Authors []struct {
			Name string `json:"name"`
		} `json:"authors"`
	} `json:"items"`
}

func parseJSONFeed(doc []byte) (*Document, error) {
	var f jsonFeed
	if err := json.Unmarshal(doc, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotAFeed, err)
	}
	if !strings.HasPrefix(f.Version, "https://jsonfeed.org/version/") {
		return nil, fmt.Errorf("%w: JSON without a JSON Feed version", ErrNotAFeed)
	}
	d := &Document{Title: f.Title, Link: f.Home}
	for _, it := range f.Items {
		var id string
		if err := json.Unmarshal(it.ID, &id); err != nil {
			id = strings.Trim(string(it.ID), `"`)
		}
		body := it.ContentHTML
		if body == "" {
			body = html.EscapeString(it.ContentText)
		}
		if body == "" {
			body = html.EscapeString(it.Summary)
		}
		author := ""
		if len(it.Authors) > 0 {
			author = it.Authors[0].Name
		} else if it.Author != nil {
			author = it.Author.Name
		}
		d.Items = append(d.Items, Item{GUID: id, Link: it.URL, Title: titleText(it.Title, false), Author: author, HTML: body,
			Published: parseDate(it.Published), Updated: parseDate(it.Modified)})
	}
	return d, nil
}

// dateLayouts are the date forms found in feeds: RFC 822/1123 with their
// common deviations (no weekday, one-digit day, no seconds, zone names)
// and RFC 3339 / ISO 8601.
var dateLayouts = []string{
	time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700", "Mon, 2 Jan 2006 15:04:05 MST",
	"2 Jan 2006 15:04:05 -0700", "2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04 -0700", "Mon, 2 Jan 2006 15:04 MST",
	"Mon, 02 Jan 06 15:04:05 -0700", "Mon, 02 Jan 06 15:04:05 MST", "Mon, 2 January 2006 15:04:05 MST",
	time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04Z07:00", "2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05", "2006-01-02",
}

// zoneOffsets are the RFC 822 zone names Go does not know by offset.
var zoneOffsets = map[string]int{"EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "UT": 0, "GMT": 0, "Z": 0}

// parseDate reads a feed date; the zero time when it cannot.
func parseDate(s string) time.Time {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return time.Time{}
	}
	for _, l := range dateLayouts {
		t, err := time.Parse(l, s)
		if err != nil {
			continue
		}
		if name, off := t.Zone(); off == 0 {
			if h, ok := zoneOffsets[name]; ok && h != 0 {
				t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.FixedZone(name, h*3600))
			}
		}
		return t.UTC()
	}
	return time.Time{}
}
