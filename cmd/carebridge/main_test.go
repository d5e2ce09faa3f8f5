package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carebridge/carebridge/adapters/x/xfake/traffic"
)

const exampleConfig = "../../examples/carebridge.yaml"

func carebridge(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	old := os.Stdin
	if stdin != "" {
		f, err := os.CreateTemp(t.TempDir(), "stdin")
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(stdin)
		f.Seek(0, 0)
		os.Stdin = f
		defer func() { os.Stdin = old; f.Close() }()
	}
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckExample(t *testing.T) {
	code, out, errs := carebridge(t, "", "check", "-config", exampleConfig)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if !strings.HasPrefix(out, "OK\n") || !strings.Contains(out, "7 departments, 8 routing rules") || !strings.Contains(out, "triage: triage") {
		t.Errorf("output:\n%s", out)
	}
}

func TestCheckReportsEveryMistake(t *testing.T) {
	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	for old, new := range map[string]string{
		"  - department: billing\n": "  - department: billling\n",
		`digest_time: "09:00"`:      `digest_time: "9am"`,
		"  enterprise: false\n":     "  enterprise: false\n  enterprize: true\n",
	} {
		if !strings.Contains(src, old) {
			t.Fatalf("example no longer contains %q", old)
		}
		src = strings.Replace(src, old, new, 1)
	}
	path := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := carebridge(t, "", "check", "-config", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		"3 problems:",
		`x.enterprize: unknown key "enterprize"`,
		`routes[4].department: unknown department "billling" (line `,
		`watch.digest_time: "9am" is not a time as HH:MM (00:00–23:59) (line `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestUsage(t *testing.T) {
	if code, _, errs := carebridge(t, "", "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, %s", code, errs)
	}
	if code, out, _ := carebridge(t, "", "help"); code != 0 || !strings.Contains(out, "route") {
		t.Errorf("help: exit %d, %s", code, out)
	}
	if code, _, errs := carebridge(t, "", "check", "-nope"); code != 2 || !strings.Contains(errs, "Usage: carebridge check") {
		t.Errorf("bad flag: exit %d, %s", code, errs)
	}
	if code, _, errs := carebridge(t, "", "check", "-config", "/nonexistent.yaml"); code != 1 || !strings.Contains(errs, "no such file") {
		t.Errorf("missing file: exit %d, %s", code, errs)
	}
}

func TestRouteJSONL(t *testing.T) {
	in := `{"id":"1","text":"My BILL is wrong!!"}
{"id":"2","text":"ＷｉＦｉが遅い"}
{"id":"3","text":"hello there"}
broken
{"id":"4","text":"huge outage, no signal","mentions":["@SBCareWiFi"]}
`
	code, out, errs := carebridge(t, in, "route", "-config", exampleConfig)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "line 4: not JSON") {
		t.Errorf("bad line not reported: %s", errs)
	}
	var got []routeLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r routeLine
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		got = append(got, r)
	}
	want := []routeLine{
		{ID: "1", Department: "billing", FYI: []string{}, Matched: []string{"bill"}},
		{ID: "2", Department: "wifi", FYI: []string{}, Matched: []string{"wifi"}},
		{ID: "3", Department: "triage", FYI: []string{}, Matched: []string{}},
		{ID: "4", Department: "network", FYI: []string{"marketing"}, Matched: []string{"outage", "no signal"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines: %s", len(got), out)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Department != w.Department || strings.Join(g.FYI, ",") != strings.Join(w.FYI, ",") || strings.Join(g.Matched, ",") != strings.Join(w.Matched, ",") {
			t.Errorf("line %d = %+v, want %+v", i, g, w)
		}
	}
}

// TestRouteTWCSSummary routes 5,000 generated posts written as a TWCS
// CSV file (the layout of the Kaggle data set): the customers' posts, not
// the brand's replies.
func TestRouteTWCSSummary(t *testing.T) {
	csv := filepath.Join(t.TempDir(), "posts.csv")
	var buf bytes.Buffer
	posts := traffic.Generate(traffic.Options{Seed: 1, Posts: 5000})
	if err := traffic.WriteTWCSCSV(&buf, posts); err != nil {
		t.Fatal(err)
	}
	// The brand's replies (inbound = False) are not customer posts.
	customers := 0
	for _, p := range posts {
		if !p.Brand {
			customers++
		}
	}
	if customers == len(posts) || customers == 0 {
		t.Fatalf("%d of %d generated posts are customers'; the test needs both kinds", customers, len(posts))
	}
	if err := os.WriteFile(csv, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := carebridge(t, "", "route", "-config", exampleConfig, csv)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if n := strings.Count(out, "\n"); n != customers {
		t.Errorf("JSONL output has %d lines, want %d", n, customers)
	}
	jsonl := filepath.Join(t.TempDir(), "out.jsonl")
	code, out, errs = carebridge(t, "", "route", "-summary", "-out", jsonl, "-config", exampleConfig, csv)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"DEPARTMENT", "network", "billing", "wifi", "sales", "devices", "marketing", "triage (triage)", "TOTAL            " + thousands(customers) + "  100.0%", "unmatched (sent to triage):",
		"not counted: " + thousands(len(posts)-customers) + " company replies (TWCS inbound = False)"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	data, err := os.ReadFile(jsonl)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n")); n != customers {
		t.Errorf("-out file has %d lines, want %d", n, customers)
	}
}
