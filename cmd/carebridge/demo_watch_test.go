package main

import (
	"bytes"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/carebridge/carebridge/adapters/chart"
)

// The demo shows a spike alert, a department digest and the executive
// digest as Slack received them, and leaves the executive chart (the PNG
// uploaded to the fake Slack) where it says.
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
		"the week as a picture, uploaded with the digest",
		"A forum post (RSS feed) lands in its department",
		"can't answer there",
		"Bluesky: a keyword post on the open network, answered with a reply",
		"Sent publicly as @sbcare.bsky.social",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
	m := regexp.MustCompile(`The executive chart stays at (\S+\.png)`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("the demo does not say where the chart is:\n%s", s)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(m[1])) })
	f, err := os.Open(m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width != chart.DefaultWidth || cfg.Height != chart.DefaultHeight {
		t.Errorf("chart %s: %+v, %v", m[1], cfg, err)
	}
	if left, _ := os.ReadDir(filepath.Dir(m[1])); len(left) != 1 {
		t.Errorf("the demo left %d files, want only the chart", len(left))
	}
}
