package bsky

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzFacets: whatever the text, every facet's byte range lies inside
// it, on character boundaries, and covers what it says: "@" and the
// handle for a mention, the URL for a link.
func FuzzFacets(f *testing.F) {
	for _, s := range []string{"@kim.bsky.social hi", "電波 @a.b https://x.y/z。", "👩🏽‍💻@e.co", "@@a.b.c", "x@a.bc", "https://a.b/" + strings.Repeat("é", 10)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) {
			return // answers come from chat messages: valid UTF-8
		}
		fs := Facets(text, func(h string) string { return "did:plc:" + h })
		for _, fc := range fs {
			s, e := fc.Index.ByteStart, fc.Index.ByteEnd
			if s < 0 || e > len(text) || s >= e {
				t.Fatalf("facet [%d,%d) outside %d bytes", s, e, len(text))
			}
			if !utf8.RuneStart(text[s]) || (e < len(text) && !utf8.RuneStart(text[e])) {
				t.Fatalf("facet [%d,%d) splits a character of %q", s, e, text)
			}
			part := text[s:e]
			switch ft := fc.Features[0]; ft.Type {
			case FeatureMention:
				if part[0] != '@' || ft.DID != "did:plc:"+strings.ToLower(part[1:]) {
					t.Fatalf("mention facet covers %q with %s", part, ft.DID)
				}
			case FeatureLink:
				if ft.URI != part || !strings.HasPrefix(part, "http") {
					t.Fatalf("link facet covers %q with %s", part, ft.URI)
				}
			}
		}
	})
}
