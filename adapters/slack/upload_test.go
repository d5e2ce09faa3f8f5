package slack

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/bridge"
)

// pngStub stands in for adapters/chart (drawn pictures are that package's
// tests): it returns fixed bytes, or fails.
type pngStub struct{ fail bool }

var stubPNG = []byte("\x89PNG\r\n\x1a\n a week of figures")

func (s pngStub) DrawPNG(*bridge.ReportChart) ([]byte, error) {
	if s.fail {
		return nil, errors.New("no font")
	}
	return stubPNG, nil
}

func chartReport() *bridge.Report {
	day := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	return &bridge.Report{Title: "Customer care — daily watch Thu 3 Dec", Sections: []bridge.ReportSection{{Text: "12 new conversations, 1 spike alert."}},
		Chart: &bridge.ReportChart{Title: "The week by department", Days: []time.Time{day}, To: day.Add(8 * time.Hour),
			Series: []bridge.ChartSeries{{Department: "network", Name: "Network", Days: []bridge.ChartDay{{New: 12, Spikes: 1}}}}}}
}

type results struct {
	mu  sync.Mutex
	got []string
}

func (r *results) observe(s string) { r.mu.Lock(); r.got = append(r.got, s); r.mu.Unlock() }
func (r *results) String() string   { r.mu.Lock(); defer r.mu.Unlock(); return strings.Join(r.got, ",") }

// A report with a chart is followed in its channel by the picture,
// through the three steps of Slack's upload flow.
func TestReportChartIsUploaded(t *testing.T) {
	f, p := newFake(t)
	var res results
	p.SetCharts(ChartOptions{Drawer: pngStub{}, Observe: res.observe})
	ref, err := p.Publish(t.Context(), bridge.ChatMessage{Kind: bridge.MessageReport, Channel: "#care-network", Report: chartReport()})
	if err != nil {
		t.Fatal(err)
	}
	files := f.Files("C0NETWORK")
	if len(files) != 1 {
		t.Fatalf("files shared in the channel: %+v", files)
	}
	got := files[0]
	if !bytes.Equal(got.Content, stubPNG) || got.Name != chartFile || got.Title != "The week by department" || got.ThreadTS != "" {
		t.Errorf("shared file %+v", got)
	}
	if !strings.Contains(got.AltText, "Four line charts over 1 days") {
		t.Errorf("alt text %q", got.AltText)
	}
	if ref.Channel != "C0NETWORK" || res.String() != "uploaded" {
		t.Errorf("ref %+v, results %q", ref, res.String())
	}
	for _, m := range []string{"files.getUploadURLExternal", "files.completeUploadExternal"} {
		if n := f.Calls(m); n != 1 {
			t.Errorf("%s called %d times", m, n)
		}
	}
	// A report without a chart uploads nothing.
	if _, err := p.Publish(t.Context(), bridge.ChatMessage{Kind: bridge.MessageReport, Channel: "C0NETWORK", Report: &bridge.Report{Title: "digest"}}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Files("")); n != 1 {
		t.Errorf("%d files after a report without chart", n)
	}
}

// Whatever step of the upload fails, the report's text is posted, Publish
// succeeds (a retry would post the text twice) and the failure is counted.
func TestReportChartFailureKeepsTheText(t *testing.T) {
	cases := []struct {
		name   string
		fault  func(f *slackfake.Server)
		drawer ChartDrawer
		want   string
	}{
		{"get URL refused", func(f *slackfake.Server) { f.FailNext("files.getUploadURLExternal", 0, "file_uploads_disabled", 1) }, pngStub{}, "upload_failed"},
		{"upload POST 500", func(f *slackfake.Server) { f.FailNext(slackfake.UploadMethod, 500, "", 1) }, pngStub{}, "upload_failed"},
		{"complete rate limited", func(f *slackfake.Server) { f.RateLimitStorm("files.completeUploadExternal", 1, time.Second) }, pngStub{}, "upload_failed"},
		{"channel gone at completion", func(f *slackfake.Server) { f.FailNext("files.completeUploadExternal", 0, "channel_not_found", 1) }, pngStub{}, "upload_failed"},
		{"drawing fails", func(*slackfake.Server) {}, pngStub{fail: true}, "draw_failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, p := newFake(t)
			var res results
			var logs bytes.Buffer
			p.SetCharts(ChartOptions{Drawer: c.drawer, Observe: res.observe, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			c.fault(f)
			ref, err := p.Publish(t.Context(), bridge.ChatMessage{Kind: bridge.MessageReport, Channel: "C0NETWORK", Report: chartReport()})
			if err != nil {
				t.Fatalf("Publish failed with the text posted: %v", err)
			}
			var posted bool
			for _, m := range f.Messages("C0NETWORK") {
				posted = posted || (m.TS == ref.TS && strings.Contains(blockText(t, m.Blocks), "12 new conversations"))
			}
			if !posted {
				t.Error("the digest's text was not posted")
			}
			if n := len(f.Files("")); n != 0 {
				t.Errorf("%d files shared", n)
			}
			if res.String() != c.want || !strings.Contains(logs.String(), "went out without it") {
				t.Errorf("results %q, logs %s", res.String(), logs.String())
			}
		})
	}
}
