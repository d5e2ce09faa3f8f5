package feed

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// itemKeys returns each item's dedupe key within its feed, as well-kept
// readers key entries: the GUID (RSS <guid>, Atom <id>, JSON Feed id);
// when a GUID repeats inside the document, GUID and link; without a GUID,
// the link; without either, a hash of the title and the content. An item
// whose key is already taken in the document (the same item listed twice)
// gets "" and is skipped.
func itemKeys(items []Item) []string {
	guids := map[string]int{}
	for _, it := range items {
		if g := strings.TrimSpace(it.GUID); g != "" {
			guids[g]++
		}
	}
	keys := make([]string, len(items))
	taken := map[string]bool{}
	for i, it := range items {
		k := ItemKey(it, guids[strings.TrimSpace(it.GUID)] > 1)
		if taken[k] {
			continue
		}
		taken[k] = true
		keys[i] = k
	}
	return keys
}

// ItemKey is an item's dedupe key (see itemKeys); guidRepeats says whether
// its GUID appears more than once in its document.
func ItemKey(it Item, guidRepeats bool) string {
	guid, link := strings.TrimSpace(it.GUID), strings.TrimSpace(it.Link)
	switch {
	case guid != "" && guidRepeats:
		return "guid:" + guid + "|" + link
	case guid != "":
		return "guid:" + guid
	case link != "":
		return "link:" + link
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(it.Title) + "\x00" + strings.TrimSpace(it.HTML)))
	return "hash:" + hex.EncodeToString(sum[:])
}

// externalID is a post's id in the core: a hash of the feed's configured
// URL and the item's key, so that it is the same whatever URL the feed
// moved to and never collides between feeds.
func externalID(feedURL, key string) string {
	sum := sha256.Sum256([]byte(feedURL + "\x00" + key))
	return hex.EncodeToString(sum[:16])
}
