// Package examples holds the complete, commented example configuration
// and the sample posts of `carebridge demo`, embedded so that the binary
// carries them.
package examples

import _ "embed"

// Config is examples/carebridge.yaml.
//
//go:embed carebridge.yaml
var Config []byte

// DemoPosts is examples/demo-posts.jsonl: English, Japanese and Korean
// posts the demo replays.
//
//go:embed demo-posts.jsonl
var DemoPosts []byte
