package bsky

import (
	"github.com/rivo/uniseg"

	"github.com/carebridge/carebridge/bridge"
)

// Bluesky's text limits (lexicons app.bsky.feed.post and
// chat.bsky.convo.defs#messageInput): graphemes as Unicode's extended
// grapheme clusters (an emoji with skin tone or a family ZWJ sequence is
// one), bytes of UTF-8.
const (
	PostGraphemes = 300
	PostBytes     = 3000
	DMGraphemes   = 1000
	DMBytes       = 10000
)

// Graphemes counts text's grapheme clusters as Bluesky does.
func Graphemes(text string) int { return uniseg.GraphemeClusterCount(text) }

func measure(text string, maxG, maxB int, of string) bridge.TextLength {
	if n := len(text); n > maxB && Graphemes(text) <= maxG {
		return bridge.TextLength{N: n, Limit: maxB, Of: of, How: "this limit counts bytes of UTF-8: Japanese and Korean take 3 each, emoji 4 or more"}
	}
	return bridge.TextLength{N: Graphemes(text), Limit: maxG, Of: of, How: "an emoji or a letter with its accents counts once"}
}
