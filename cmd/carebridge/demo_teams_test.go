package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// `carebridge demo -chat teams` shows the whole loop on the Teams fake and
// ends with a verified audit trail.
func TestTeamsDemo(t *testing.T) {
	var out bytes.Buffer
	if err := runDemo(t.Context(), []string{"-chat", "teams"}, &out, io.Discard); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"#care-network  ← @kim_minji",
		"│ 📝 Draft #1 by Aiko",
		"│ [Approve] [Send as DM] [Reject]",
		"X: @SBCare replied to @kim_minji",
		"│ Sent publicly as @SBCare on X — decided by Ken",
		"this answer can't go out as it is",
		"X: DM from @SBCare to @kim_minji",
		"✅ Sent by DM as @SBCare, approved by @Ken",
		"│ Spike: Network team — 12 new conversations in 15m",
		"│ Network team — digest",
		"│ Customer care — daily watch",
		"audit verify: OK",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
}
