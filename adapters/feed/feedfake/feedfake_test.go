package feedfake

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge/clocktest"
)

// The fake answers conditional requests as RFC 9110 says: If-None-Match
// decides when present (a stale ETag gets the document even with a
// matching If-Modified-Since), otherwise If-Modified-Since does; and it
// encodes the document in the charset it declares.
func TestConditionalAndCharset(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	s := New(clk)
	defer s.Close()
	s.Publish("f.example", "/rss", Feed{Format: RSS, Title: "Café", Encoding: "ISO-8859-1", HeaderCharset: "ISO-8859-1",
		Items: []Item{{GUID: "1", Title: "Café", Published: clk.Now()}}})
	c := s.Client()
	get := func(h http.Header) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://f.example/rss", nil)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	first, body := get(nil)
	etag, lm := first.Header.Get("ETag"), first.Header.Get("Last-Modified")
	if first.StatusCode != 200 || etag == "" || lm == "" || first.Header.Get("Content-Type") != "application/rss+xml; charset=ISO-8859-1" {
		t.Fatalf("first answer: %d %v", first.StatusCode, first.Header)
	}
	if !bytes.Contains(body, []byte("Caf\xe9")) || !bytes.Contains(body, []byte(`encoding="ISO-8859-1"`)) {
		t.Errorf("body not in ISO-8859-1 as declared: %q", body[:120])
	}
	for _, tc := range []struct {
		name string
		h    http.Header
		want int
	}{
		{"etag", http.Header{"If-None-Match": {etag}}, 304},
		{"date", http.Header{"If-Modified-Since": {lm}}, 304},
		{"stale etag wins over date", http.Header{"If-None-Match": {`"other"`}, "If-Modified-Since": {lm}}, 200},
	} {
		if r, _ := get(tc.h); r.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, r.StatusCode, tc.want)
		}
	}
	clk.Advance(time.Minute)
	s.AddItem("f.example", "/rss", Item{GUID: "2", Title: "new"})
	if r, _ := get(http.Header{"If-None-Match": {etag}, "If-Modified-Since": {lm}}); r.StatusCode != 200 || r.Header.Get("ETag") == etag {
		t.Errorf("after a change: %d, ETag %q", r.StatusCode, r.Header.Get("ETag"))
	}
	if reqs := s.Requests("f.example"); len(reqs) != 5 || !reqs[4].At.Equal(clk.Now()) {
		t.Errorf("request log = %+v", reqs)
	}
}
