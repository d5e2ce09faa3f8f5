// Package file is a source adapter that reads posts from files: JSON Lines
// (carebridge's own simple form, or X API v2 tweet objects and pages) and
// CSV in the layout of the Kaggle "Customer Support on Twitter" data set
// (tweet_id,author_id,inbound,created_at,text,…). `carebridge route` uses
// it to show how real posts would be routed, and the demo and tests use it
// to replay posts.
package file

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// twitter is the platform of every post the files hold: X, whose export
// and API formats they are in.
const twitter bridge.Platform = "x"

// LineError is a record that could not be read. Reading can go on after it.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Format is an input layout.
type Format string

// Formats Reader understands.
const (
	FormatJSONL Format = "jsonl"
	FormatTWCS  Format = "twcs-csv"
)

// Reader reads posts one at a time. It detects the format from the first
// line: a CSV header naming tweet_id and text means TWCS CSV; anything else
// is read as JSON Lines.
type Reader struct {
	format Format
	br     *bufio.Reader
	csv    *csv.Reader
	col    map[string]int
	line   int
	queue  []bridge.Post // tweets of a page not yet returned
	qline  int
	// company: the last record read is a company's own post (TWCS
	// inbound = False), not a customer's.
	company bool
}

// NewReader sniffs the format of r.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	head, err := br.Peek(4096)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read input: %w", err)
	}
	first := string(head)
	if i := strings.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	first = strings.TrimPrefix(strings.TrimSpace(first), "\ufeff")
	rd := &Reader{br: br, format: FormatJSONL}
	if !strings.HasPrefix(first, "{") && strings.Contains(first, "tweet_id") && strings.Contains(first, "text") {
		rd.format = FormatTWCS
		rd.csv = csv.NewReader(br)
		rd.csv.FieldsPerRecord = -1
		rd.csv.LazyQuotes = true
		header, err := rd.csv.Read()
		if err != nil {
			return nil, fmt.Errorf("read CSV header: %w", err)
		}
		rd.col = map[string]int{}
		for i, h := range header {
			rd.col[strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")] = i
		}
		for _, need := range []string{"tweet_id", "text"} {
			if _, ok := rd.col[need]; !ok {
				return nil, fmt.Errorf("CSV header has no %q column", need)
			}
		}
		rd.line = 1
	}
	return rd, nil
}

// FromCompany reports whether the post Next returned last is marked as the
// company's own (a TWCS record with inbound = False: a brand's reply to a
// customer). JSON Lines do not say, and count as customers' posts.
func (r *Reader) FromCompany() bool { return r.company }

// Format returns the detected format.
func (r *Reader) Format() Format { return r.format }

// Next returns the next post and the line it started on. At the end it
// returns io.EOF. A record that cannot be read yields a *LineError; call
// Next again to go on.
func (r *Reader) Next() (bridge.Post, int, error) {
	r.company = false
	if len(r.queue) > 0 {
		p := r.queue[0]
		r.queue = r.queue[1:]
		return p, r.qline, nil
	}
	if r.format == FormatTWCS {
		return r.nextCSV()
	}
	return r.nextJSON()
}

func (r *Reader) nextCSV() (bridge.Post, int, error) {
	rec, err := r.csv.Read()
	line, _ := r.csv.FieldPos(0)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return bridge.Post{}, 0, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return bridge.Post{}, pe.StartLine, &LineError{Line: pe.StartLine, Err: pe.Err}
		}
		return bridge.Post{}, line, &LineError{Line: line, Err: err}
	}
	get := func(name string) string {
		if i, ok := r.col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	p := bridge.Post{
		Platform:     twitter,
		Source:       bridge.SourceImport,
		ExternalID:   strings.TrimSpace(get("tweet_id")),
		AuthorHandle: get("author_id"),
		AuthorID:     get("author_id"),
		Text:         get("text"),
	}
	if p.ExternalID == "" {
		return p, line, &LineError{Line: line, Err: errors.New("empty tweet_id")}
	}
	r.company = strings.EqualFold(strings.TrimSpace(get("inbound")), "false")
	if ts := get("created_at"); ts != "" {
		t, err := time.Parse(time.RubyDate, ts)
		if err != nil {
			return p, line, &LineError{Line: line, Err: fmt.Errorf("created_at %q: want e.g. \"Tue Oct 31 22:10:47 +0000 2017\"", ts)}
		}
		p.CreatedAt = t.UTC()
	}
	if in := strings.TrimSuffix(get("in_response_to_tweet_id"), ".0"); in != "" {
		p.InReplyTo = in
	}
	p.Mentions = Mentions(p.Text)
	return p, line, nil
}

// simple is carebridge's own JSONL form, and the fields of an X API v2 tweet
// object it understands; unknown fields are ignored.
type simple struct {
	ID        json.RawMessage `json:"id"`
	Text      *string         `json:"text"`
	Author    string          `json:"author"`
	AuthorID  string          `json:"author_id"`
	Lang      string          `json:"lang"`
	CreatedAt string          `json:"created_at"`
	Mentions  []string        `json:"mentions"`
	ConvID    string          `json:"conversation_id"`
	Entities  struct {
		Mentions []struct {
			Username string `json:"username"`
		} `json:"mentions"`
	} `json:"entities"`
	Referenced []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"referenced_tweets"`
}

func (r *Reader) nextJSON() (bridge.Post, int, error) {
	for {
		raw, err := r.br.ReadBytes('\n')
		if len(raw) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return bridge.Post{}, 0, io.EOF
			}
			return bridge.Post{}, r.line, fmt.Errorf("read input: %w", err)
		}
		r.line++
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		posts, err := decodeLine(raw)
		if err != nil {
			return bridge.Post{}, r.line, &LineError{Line: r.line, Err: err}
		}
		if len(posts) == 0 {
			continue // an empty page
		}
		r.queue, r.qline = posts[1:], r.line
		return posts[0], r.line, nil
	}
}

// decodeLine reads one JSON line: a post, {"data": post} (a stream line) or
// {"data": [posts], "includes": …} (a search page).
func decodeLine(raw []byte) ([]bridge.Post, error) {
	var env struct {
		Data     json.RawMessage `json:"data"`
		Meta     json.RawMessage `json:"meta"`
		Includes struct {
			Users []struct {
				ID       string `json:"id"`
				Username string `json:"username"`
				Name     string `json:"name"`
			} `json:"users"`
		} `json:"includes"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	var items []json.RawMessage
	switch {
	case len(env.Data) > 0 && env.Data[0] == '[':
		if err := json.Unmarshal(env.Data, &items); err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
	case len(env.Data) > 0 && env.Data[0] == '{':
		items = []json.RawMessage{env.Data}
	case len(env.Meta) > 0:
		return nil, nil // a page with no posts: {"meta":{"result_count":0}}
	default:
		items = []json.RawMessage{raw}
	}
	users := map[string][2]string{}
	for _, u := range env.Includes.Users {
		users[u.ID] = [2]string{u.Username, u.Name}
	}
	posts := make([]bridge.Post, 0, len(items))
	for _, it := range items {
		p, err := decodePost(it)
		if err != nil {
			return nil, err
		}
		if u, ok := users[p.AuthorID]; ok {
			p.AuthorHandle, p.AuthorName = u[0], u[1]
		}
		posts = append(posts, p)
	}
	return posts, nil
}

func decodePost(raw json.RawMessage) (bridge.Post, error) {
	var s simple
	if err := json.Unmarshal(raw, &s); err != nil {
		return bridge.Post{}, fmt.Errorf("not a post: %w", err)
	}
	id := strings.Trim(string(s.ID), `"`)
	if id == "" || id == "null" {
		return bridge.Post{}, errors.New(`missing "id"`)
	}
	if s.Text == nil {
		return bridge.Post{}, errors.New(`missing "text"`)
	}
	p := bridge.Post{
		Platform:        twitter,
		Source:          bridge.SourceImport,
		ExternalID:      id,
		AuthorID:        s.AuthorID,
		AuthorHandle:    s.Author,
		Text:            *s.Text,
		Lang:            s.Lang,
		ConversationKey: s.ConvID,
		Raw:             append(json.RawMessage(nil), raw...),
	}
	if p.AuthorID == "" {
		p.AuthorID = s.Author
	}
	if s.CreatedAt != "" {
		t, err := time.Parse(time.RFC3339, s.CreatedAt)
		if err != nil {
			return p, fmt.Errorf("created_at %q: want RFC 3339, e.g. 2026-11-20T09:30:00Z", s.CreatedAt)
		}
		p.CreatedAt = t.UTC()
	}
	for _, r := range s.Referenced {
		if r.Type == "replied_to" {
			p.InReplyTo = r.ID
		}
	}
	seen := map[string]bool{}
	add := func(h string) {
		h = strings.ToLower(strings.TrimPrefix(h, "@"))
		if h != "" && !seen[h] {
			seen[h] = true
			p.Mentions = append(p.Mentions, h)
		}
	}
	for _, m := range s.Mentions {
		add(m)
	}
	for _, m := range s.Entities.Mentions {
		add(m.Username)
	}
	for _, m := range Mentions(p.Text) {
		add(m)
	}
	return p, nil
}

var mentionRE = regexp.MustCompile(`(?:^|[^A-Za-z0-9_@])@([A-Za-z0-9_]{1,15})\b`)

// Mentions returns the @handles in text, lower case, deduplicated, in
// order.
func Mentions(text string) []string {
	if !strings.Contains(text, "@") {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, m := range mentionRE.FindAllStringSubmatch(text, -1) {
		h := strings.ToLower(m[1])
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}
