package bsky

import (
	"regexp"
	"strings"
)

// Facet is an app.bsky.richtext.facet: a range of the text, in UTF-8
// bytes, and what it is (a mention of a DID, a link).
type Facet struct {
	Index    ByteSlice      `json:"index"`
	Features []FacetFeature `json:"features"`
}

// ByteSlice is a facet's range: bytes [ByteStart, ByteEnd) of the UTF-8
// text.
type ByteSlice struct {
	ByteStart int `json:"byteStart"`
	ByteEnd   int `json:"byteEnd"`
}

// FacetFeature is one feature of a facet; Type says which of DID and URI
// is set.
type FacetFeature struct {
	Type string `json:"$type"`
	DID  string `json:"did,omitempty"`
	URI  string `json:"uri,omitempty"`
}

// Facet feature types.
const (
	FeatureMention = "app.bsky.richtext.facet#mention"
	FeatureLink    = "app.bsky.richtext.facet#link"
)

var (
	// mentionRE finds @handles as the Bluesky app does: a handle is a
	// domain name (labels of letters, digits and hyphens, a dot between
	// them, a letter first in the last label), after the start of the text
	// or a non-word character.
	mentionRE = regexp.MustCompile(`(?:^|[^\w@.])(@([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)`)
	// linkRE finds explicit http(s) links; trailing punctuation is not
	// part of them.
	linkRE = regexp.MustCompile(`https?://[^\s<>"]+[^\s<>"\.,;:!?)\]'’”」』）]`)
)

// Facets finds the mentions and links in text and returns them as facets
// with UTF-8 byte offsets. resolve maps a handle (lower case, without @)
// to its DID; a handle it does not know ("" returned) stays plain text,
// since a mention facet needs a DID.
func Facets(text string, resolve func(handle string) string) []Facet {
	var out []Facet
	for _, m := range mentionRE.FindAllStringSubmatchIndex(text, -1) {
		start, end := m[2], m[3]
		handle := strings.ToLower(text[start+1 : end])
		did := ""
		if resolve != nil {
			did = resolve(handle)
		}
		if did == "" {
			continue
		}
		out = append(out, Facet{Index: ByteSlice{start, end}, Features: []FacetFeature{{Type: FeatureMention, DID: did}}})
	}
	for _, m := range linkRE.FindAllStringIndex(text, -1) {
		out = append(out, Facet{Index: ByteSlice{m[0], m[1]}, Features: []FacetFeature{{Type: FeatureLink, URI: text[m[0]:m[1]]}}})
	}
	return out
}

// Handles lists the @handles text mentions (lower case, without @), in
// order, each once.
func Handles(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range mentionRE.FindAllStringSubmatchIndex(text, -1) {
		h := strings.ToLower(text[m[2]+1 : m[3]])
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}
