package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// The demo shows a spike alert, a department digest and the executive
// digest as Slack received them.
func TestDemoShowsWatching(t *testing.T) {
	var out bytes.Buffer
	if err := runDemo(t.Context(), nil, &out, io.Discard); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"▌ Spike: Network team — 12 new conversations in 15m",
		"▌ Network team — digest",
		"*New*: 12",
		"▌ Customer care — daily watch",
		"In the customers' own words (unfiltered)",
		"spike_alert",
		"Facebook: softbankcare replied under Tom's comment", // demo_meta.go
		"Instagram: private reply to @yuki.travels",
		"platform=instagram",
		"audit verify: OK",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
}
