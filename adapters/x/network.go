package x

import (
	"strings"

	"github.com/carebridge/carebridge/bridge"
)

// Network is X's rules as the core needs them (rules.go has the rest).
type Network struct {
	// Enterprise: the app has X's Enterprise access, which may reply to
	// every post.
	Enterprise bool
}

var _ bridge.Network = Network{}

// Platform implements bridge.Network.
func (Network) Platform() bridge.Platform { return Platform }

// SameAnswer implements bridge.Network: the texts must be equal once
// trimmed.
func (Network) SameAnswer(sent, seen string) bool {
	return strings.TrimSpace(sent) == strings.TrimSpace(seen)
}
