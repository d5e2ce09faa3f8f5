package slack

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/carebridge/carebridge/bridge"
)

// A report reaches Slack as a header and sections; every string is
// escaped (customer text and keywords ping nobody), the escalation group
// is mentioned, and thread references become permalinks.
func TestReportIsEscapedAndLinked(t *testing.T) {
	f, p := newFake(t)
	parent, err := p.Publish(t.Context(), bridge.ChatMessage{Kind: bridge.MessageNotice, Channel: "C0NETWORK", Text: "parent"})
	if err != nil {
		t.Fatal(err)
	}
	post := hostilePost()
	rep := bridge.Report{
		Title: "Spike: Network <!here> team", Subtitle: "5.0× the usual 5", Mention: "S0NETONCALL",
		Sections: []bridge.ReportSection{
			{Heading: "Top keywords", Text: "<@U999> 3 · 圏外 2"},
			{Fields: []bridge.ReportField{{Label: "New", Value: "12"}, {Label: "Answered", Value: "<!channel>"}}},
			{Items: []bridge.ReportItem{{Text: "#7 — waiting 1h00m", Ref: &parent}, {Text: "evil|<x>", URL: "https://x.com/kim/status/1"}}},
			{Heading: "Raw", Posts: []bridge.Post{*post}},
		},
	}
	ref, err := p.Publish(t.Context(), bridge.ChatMessage{Kind: bridge.MessageReport, Channel: "C0NETWORK", Report: &rep})
	if err != nil {
		t.Fatal(err)
	}
	var raw string
	for _, m := range f.Messages("C0NETWORK") {
		if m.TS == ref.TS {
			raw = string(m.Blocks)
		}
	}
	if raw == "" {
		t.Fatal("report not posted")
	}
	body := allText(t, raw)
	for _, want := range []string{
		"<!subteam^S0NETONCALL>",
		"&lt;@U999&gt; 3 · 圏外 2",
		"&lt;!channel&gt; call &lt;@U123&gt;",
		"|#7 — waiting 1h00m>",
		"<https://x.com/kim/status/1|evil¦&lt;x&gt;>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("report lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<!channel>") || strings.Contains(body, "<@U123>") || strings.Contains(body, "<@U999>") {
		t.Errorf("unescaped mention in the report:\n%s", body)
	}
	// The header is plain text: Slack shows it literally.
	if !strings.Contains(raw, `"type":"header","text":{"type":"plain_text"`) || !strings.Contains(body, "Spike: Network <!here> team") {
		t.Errorf("no plain-text header:\n%s", raw)
	}
}

// allText collects every "text" string of the blocks, decoded.
func allText(t *testing.T, raw string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && k == "text" {
					out = append(out, s)
				} else {
					walk(e)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return strings.Join(out, "\n")
}
