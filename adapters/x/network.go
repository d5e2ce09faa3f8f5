package x

import (
	"strings"

	"github.com/carebridge/carebridge/bridge"
)

// Network is X's rules as the core needs them.
type Network struct{}

var _ bridge.Network = Network{}

// Platform implements bridge.Network.
func (Network) Platform() bridge.Platform { return bridge.PlatformX }

// SameAnswer implements bridge.Network: the texts must be equal once
// trimmed.
func (Network) SameAnswer(sent, seen string) bool {
	return strings.TrimSpace(sent) == strings.TrimSpace(seen)
}
