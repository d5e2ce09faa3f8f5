// Package feedfake is an in-process fake of the web sites whose feeds
// carebridge reads, faithful to what feed readers meet: RSS 2.0, Atom 1.0
// and JSON Feed documents; ETag and Last-Modified with 304 Not Modified
// for conditional requests (If-None-Match wins over If-Modified-Since, as
// RFC 9110 says); scripted answers (429 with Retry-After as seconds or as
// an HTTP date, 503, 301/302/307/308 redirects, 410 Gone, oversize
// bodies); duplicate and missing GUIDs; documents in ISO-8859-1 or
// Shift_JIS, declared in the XML prolog, in Content-Type, or wrongly;
// stray control characters. Every request is logged per host with the
// time of the fake's clock, so that tests can check the spacing.
//
// One server serves any number of hosts: Client dials the server for any
// host name, and the request's Host picks the site.
package feedfake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"

	"github.com/carebridge/carebridge/bridge"
)

// Format is a feed document's format.
type Format string

// Formats.
const (
	RSS  Format = "rss"
	Atom Format = "atom"
	JSON Format = "json"
)

// Item is one entry of a fake feed.
type Item struct {
	GUID      string // "" writes no <guid>/<id>
	Link      string
	Title     string
	Author    string
	HTML      string // content, written as the format wants it (escaped HTML)
	Published time.Time
}

// Feed is one fake feed document and how it is served.
type Feed struct {
	Format Format
	Title  string
	Items  []Item // newest first, as feeds list them
	// TTL writes RSS <ttl> (minutes); 0 writes none.
	TTL int
	// CacheControl and Expires are sent as they are when set.
	CacheControl string
	Expires      string
	// NoValidators sends neither ETag nor Last-Modified (and so never
	// answers 304).
	NoValidators bool
	// Encoding is the charset of the document's bytes: "" (UTF-8),
	// "ISO-8859-1" or "Shift_JIS". Declare is what the XML prolog says
	// (default Encoding; "-" writes no encoding); HeaderCharset is the
	// charset parameter of Content-Type ("" sends none). Setting them
	// apart makes a mislabelled feed.
	Encoding, Declare, HeaderCharset string
	// Pad adds this many bytes of comment to the document (an oversize
	// body).
	Pad int
}

// Response is a scripted answer, served once instead of the feed.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Request is one request the fake received.
type Request struct {
	Host            string
	Path            string
	At              time.Time // on the fake's clock
	UserAgent       string
	IfNoneMatch     string
	IfModifiedSince string
	Status          int
}

type site struct {
	feed     Feed
	modified time.Time // Last-Modified: the last change
	script   []Response
	moved    *Response // served for every request: a permanent redirect, 410
}

// Server is the fake.
type Server struct {
	srv   *httptest.Server
	clock bridge.Clock

	mu    sync.Mutex
	sites map[string]*site // host + path
	log   []Request
	// inFlight counts requests being served per host, and overlaps
	// counts requests that arrived while another to the same host was
	// being served.
	inFlight map[string]int
	overlaps int
}

// New starts a fake on the clock (nil: the wall clock).
func New(clock bridge.Clock) *Server {
	if clock == nil {
		clock = bridge.SystemClock{}
	}
	s := &Server{clock: clock, sites: map[string]*site{}, inFlight: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Addr is the server's host:port; a URL with it as host reaches the fake
// without Client.
func (s *Server) Addr() string { return s.srv.Listener.Addr().String() }

// Client returns an HTTP client that reaches the fake for every host
// name, so that tests can use many hosts ("forum.example",
// "blog.example").
func (s *Server) Client() *http.Client {
	addr := s.Addr()
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func key(host, path string) string { return strings.ToLower(host) + path }

// Publish sets (or replaces) the feed at host and path; its Last-Modified
// becomes now on the fake's clock.
func (s *Server) Publish(host, path string, f Feed) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sites[key(host, path)]
	if st == nil {
		st = &site{}
		s.sites[key(host, path)] = st
	}
	st.feed, st.modified = f, s.clock.Now()
}

// AddItem puts an item at the top of the feed at host and path.
func (s *Server) AddItem(host, path string, it Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sites[key(host, path)]
	if st == nil {
		panic("feedfake: no feed at " + host + path)
	}
	st.feed.Items = append([]Item{it}, st.feed.Items...)
	st.modified = s.clock.Now()
}

// Script queues answers served, in order, before the feed again.
func (s *Server) Script(host, path string, rs ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sites[key(host, path)]
	if st == nil {
		st = &site{}
		s.sites[key(host, path)] = st
	}
	st.script = append(st.script, rs...)
}

// Move answers every request for host and path with a redirect (301 or
// 308: permanent) to target.
func (s *Server) Move(host, path string, status int, target string) {
	s.always(host, path, Response{Status: status, Header: http.Header{"Location": {target}}})
}

// Gone answers every request for host and path with 410 Gone.
func (s *Server) Gone(host, path string) {
	s.always(host, path, Response{Status: http.StatusGone, Body: "This feed was removed."})
}

func (s *Server) always(host, path string, r Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sites[key(host, path)]
	if st == nil {
		st = &site{}
		s.sites[key(host, path)] = st
	}
	st.moved = &r
}

// RetryAfterDate formats t as an HTTP date for Retry-After.
func RetryAfterDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// Requests returns the requests to host, oldest first ("" for all).
func (s *Server) Requests(host string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.log {
		if host == "" || strings.EqualFold(r.Host, host) {
			out = append(out, r)
		}
	}
	return out
}

// Overlaps counts requests that reached a host while another request to
// it was being served (a polite reader makes none).
func (s *Server) Overlaps() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overlaps
}

// MinGap returns the shortest time between two consecutive requests to
// host, and false when it received fewer than two.
func (s *Server) MinGap(host string) (time.Duration, bool) {
	rs := s.Requests(host)
	if len(rs) < 2 {
		return 0, false
	}
	gap := rs[1].At.Sub(rs[0].At)
	for i := 2; i < len(rs); i++ {
		gap = min(gap, rs[i].At.Sub(rs[i-1].At))
	}
	return gap, true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.Host)
	s.mu.Lock()
	if s.inFlight[host] > 0 {
		s.overlaps++
	}
	s.inFlight[host]++
	req := Request{Host: host, Path: r.URL.Path, At: s.clock.Now(), UserAgent: r.UserAgent(),
		IfNoneMatch: r.Header.Get("If-None-Match"), IfModifiedSince: r.Header.Get("If-Modified-Since")}
	st := s.sites[key(host, r.URL.Path)]
	var resp *Response
	var feed Feed
	var modified time.Time
	if st != nil {
		switch {
		case st.moved != nil:
			resp = st.moved
		case len(st.script) > 0:
			resp = &st.script[0]
			st.script = st.script[1:]
		}
		feed, modified = st.feed, st.modified
	}
	s.mu.Unlock()
	// The request is logged, and its host freed, before the answer goes
	// out: a client may act on the status line before the body is sent.
	record := func(status int) {
		s.mu.Lock()
		s.inFlight[host]--
		req.Status = status
		s.log = append(s.log, req)
		s.mu.Unlock()
	}
	s.answer(w, r, st, resp, feed, modified, record)
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, st *site, resp *Response, feed Feed, modified time.Time, record func(int)) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		record(http.StatusMethodNotAllowed)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if resp != nil {
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		record(resp.Status)
		w.WriteHeader(resp.Status)
		_, _ = w.Write([]byte(resp.Body))
		return
	}
	if st == nil || feed.Format == "" {
		record(http.StatusNotFound)
		http.NotFound(w, r)
		return
	}
	body, ctype := render(feed)
	if feed.CacheControl != "" {
		w.Header().Set("Cache-Control", feed.CacheControl)
	}
	if feed.Expires != "" {
		w.Header().Set("Expires", feed.Expires)
	}
	if !feed.NoValidators {
		sum := sha256.Sum256(body)
		etag := `"` + hex.EncodeToString(sum[:8]) + `"`
		lm := modified.UTC().Truncate(time.Second)
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lm.Format(http.TimeFormat))
		if inm := r.Header.Get("If-None-Match"); inm != "" {
			if matchETag(inm, etag) {
				record(http.StatusNotModified)
				w.WriteHeader(http.StatusNotModified)
				return
			}
		} else if ims := r.Header.Get("If-Modified-Since"); ims != "" {
			if t, err := http.ParseTime(ims); err == nil && !lm.After(t) {
				record(http.StatusNotModified)
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
	}
	if feed.HeaderCharset != "" {
		ctype += "; charset=" + feed.HeaderCharset
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	record(http.StatusOK)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// matchETag is If-None-Match's weak comparison over a list of tags.
func matchETag(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

// esc escapes XML text the way feed generators do: the five characters
// and nothing else, so control characters pass as they are (as broken
// feeds send them).
var esc = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

// render writes the document in its format and charset.
func render(f Feed) ([]byte, string) {
	if f.Format == JSON {
		return renderJSON(f), "application/feed+json"
	}
	enc := f.Encoding
	declare := f.Declare
	if declare == "" {
		declare = enc
	}
	if declare == "" {
		declare = "UTF-8"
	}
	var b strings.Builder
	if declare == "-" {
		b.WriteString("<?xml version=\"1.0\"?>\n")
	} else {
		fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"%s\"?>\n", declare)
	}
	if f.Pad > 0 {
		b.WriteString("<!-- " + strings.Repeat("x", f.Pad) + " -->\n")
	}
	ctype := "application/rss+xml"
	switch f.Format {
	case Atom:
		ctype = "application/atom+xml"
		b.WriteString(`<feed xmlns="http://www.w3.org/2005/Atom">` + "\n")
		fmt.Fprintf(&b, "<title>%s</title>\n<id>urn:feedfake:%s</id>\n", esc.Replace(f.Title), esc.Replace(f.Title))
		for _, it := range f.Items {
			b.WriteString("<entry>\n")
			if it.GUID != "" {
				fmt.Fprintf(&b, "  <id>%s</id>\n", esc.Replace(it.GUID))
			}
			fmt.Fprintf(&b, "  <title type=\"html\">%s</title>\n", esc.Replace(it.Title))
			if it.Link != "" {
				fmt.Fprintf(&b, "  <link rel=\"alternate\" href=\"%s\"/>\n", esc.Replace(it.Link))
			}
			if it.Author != "" {
				fmt.Fprintf(&b, "  <author><name>%s</name></author>\n", esc.Replace(it.Author))
			}
			if !it.Published.IsZero() {
				fmt.Fprintf(&b, "  <published>%s</published>\n  <updated>%s</updated>\n", it.Published.Format(time.RFC3339), it.Published.Format(time.RFC3339))
			}
			fmt.Fprintf(&b, "  <content type=\"html\">%s</content>\n</entry>\n", esc.Replace(it.HTML))
		}
		b.WriteString("</feed>\n")
	default:
		b.WriteString(`<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/">` + "\n<channel>\n")
		fmt.Fprintf(&b, "<title>%s</title>\n<link>https://feedfake.invalid/</link>\n<description>fake</description>\n", esc.Replace(f.Title))
		if f.TTL > 0 {
			fmt.Fprintf(&b, "<ttl>%d</ttl>\n", f.TTL)
		}
		for _, it := range f.Items {
			b.WriteString("<item>\n")
			fmt.Fprintf(&b, "  <title>%s</title>\n", esc.Replace(it.Title))
			if it.Link != "" {
				fmt.Fprintf(&b, "  <link>%s</link>\n", esc.Replace(it.Link))
			}
			if it.GUID != "" {
				fmt.Fprintf(&b, "  <guid isPermaLink=\"false\">%s</guid>\n", esc.Replace(it.GUID))
			}
			if it.Author != "" {
				fmt.Fprintf(&b, "  <dc:creator>%s</dc:creator>\n", esc.Replace(it.Author))
			}
			if !it.Published.IsZero() {
				fmt.Fprintf(&b, "  <pubDate>%s</pubDate>\n", it.Published.Format(time.RFC1123Z))
			}
			fmt.Fprintf(&b, "  <description>%s</description>\n</item>\n", esc.Replace(it.HTML))
		}
		b.WriteString("</channel>\n</rss>\n")
	}
	out := []byte(b.String())
	var e encoding.Encoding
	switch strings.ToLower(enc) {
	case "iso-8859-1", "latin1":
		e = charmap.ISO8859_1
	case "shift_jis", "sjis":
		e = japanese.ShiftJIS
	}
	if e != nil {
		if conv, err := e.NewEncoder().Bytes(out); err == nil {
			out = conv
		}
	}
	return out, ctype
}

func renderJSON(f Feed) []byte {
	type item struct {
		ID        string `json:"id,omitempty"`
		URL       string `json:"url,omitempty"`
		Title     string `json:"title,omitempty"`
		HTML      string `json:"content_html"`
		Published string `json:"date_published,omitempty"`
		Authors   []struct {
			Name string `json:"name"`
		} `json:"authors,omitempty"`
	}
	doc := struct {
		Version string `json:"version"`
		Title   string `json:"title"`
		Items   []item `json:"items"`
	}{Version: "https://jsonfeed.org/version/1.1", Title: f.Title}
	for _, it := range f.Items {
		j := item{ID: it.GUID, URL: it.Link, Title: it.Title, HTML: it.HTML}
		if !it.Published.IsZero() {
			j.Published = it.Published.Format(time.RFC3339)
		}
		if it.Author != "" {
			j.Authors = append(j.Authors, struct {
				Name string `json:"name"`
			}{it.Author})
		}
		doc.Items = append(doc.Items, j)
	}
	b, _ := json.Marshal(doc)
	if f.Pad > 0 {
		b = append(b, bytes.Repeat([]byte(" "), f.Pad)...)
	}
	return b
}
