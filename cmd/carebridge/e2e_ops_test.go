package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// scrapeFamilies reads /metrics of a running service as metric families.
func scrapeFamilies(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// seriesValue finds the sample of name with exactly labels.
func seriesValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

var metricName = regexp.MustCompile(`\b(carebridge_[a-z0-9_]+|up)\b`)

// referenced returns the metric names an expression reads; a histogram's
// _bucket, _sum and _count series count as the histogram.
func referenced(expr string) []string {
	var out []string
	for _, n := range metricName.FindAllString(expr, -1) {
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(n, suf); ok && base != "" {
				n = base
			}
		}
		out = append(out, n)
	}
	return out
}

// A fresh service exports every labelled counter it can know of at 0, and
// the example dashboard and alert rules read only metrics it exports. The
// service runs on SQLite only: the metrics do not depend on the store.
func TestOpsMetricsAndExamples(t *testing.T) {
	h := newHarness(t, filepath.Join(t.TempDir(), "carebridge.db"), harnessOptions{searches: []string{"outage"}})
	h.start()
	fams := scrapeFamilies(t, h.addr)

	t.Run("counters at zero", func(t *testing.T) {
		type series struct {
			name   string
			labels map[string]string
		}
		zero := []series{
			{"carebridge_posts_ingested_total", map[string]string{"source": "search", "platform": "x"}},
			{"carebridge_posts_ingested_total", map[string]string{"source": "mention", "platform": "x"}},
			{"carebridge_api_errors_total", map[string]string{"platform": "slack", "code": "invalid_auth"}},
			{"carebridge_api_errors_total", map[string]string{"platform": "x", "code": "401"}},
			{"carebridge_api_errors_total", map[string]string{"platform": "x", "code": "429"}},
			{"carebridge_outbox_processed_total", map[string]string{"kind": "chat.report", "result": "dead"}},
			{"carebridge_outbox_processed_total", map[string]string{"kind": "platform.send", "result": "done"}},
			{"carebridge_inbox_processed_total", map[string]string{"result": "retry"}},
			{"carebridge_outbox_depth", map[string]string{"kind": "platform.post"}},
			{"carebridge_outbox_oldest_age_seconds", map[string]string{"kind": "chat.post"}},
			{"carebridge_outbox_dead", map[string]string{"kind": "chat.report"}},
			{"carebridge_digests_total", map[string]string{"kind": "executive"}},
			{"carebridge_report_charts_total", map[string]string{"result": "upload_failed"}},
			{"carebridge_greetings_total", map[string]string{"account": "AppleSupport", "purpose": "sign_off"}},
		}
		for _, d := range e2eDepartments {
			zero = append(zero,
				series{"carebridge_tickets_opened_total", map[string]string{"department": d.id}},
				series{"carebridge_sla_alerts_total", map[string]string{"department": d.id, "level": "breach"}},
				series{"carebridge_spike_alerts_total", map[string]string{"department": d.id}},
				series{"carebridge_tickets_auto_closed_total", map[string]string{"department": d.id}})
		}
		for _, z := range zero {
			if v, ok := seriesValue(fams, z.name, z.labels); !ok || v != 0 {
				t.Errorf("%s%v = %v (present %v), want 0 from the start", z.name, z.labels, v, ok)
			}
		}
		// The gauges that describe the process: one search and one
		// mentions poller (the harness's accounts have DMs off).
		if v, ok := seriesValue(fams, "carebridge_sources_configured", map[string]string{"platform": "x"}); !ok || v != 2 {
			t.Errorf("carebridge_sources_configured{platform=x} = %v (present %v), want 2", v, ok)
		}
		if f := fams["carebridge_build_info"]; f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetGauge().GetValue() != 1 {
			t.Errorf("carebridge_build_info = %v", f)
		}
	})

	checkExprs := func(t *testing.T, what string, exprs []string) {
		t.Helper()
		if len(exprs) == 0 {
			t.Fatalf("%s: no expressions found", what)
		}
		for _, e := range exprs {
			names := referenced(e)
			if len(names) == 0 {
				t.Errorf("%s: %q reads no metric", what, e)
			}
			for _, n := range names {
				if n != "up" && fams[n] == nil {
					t.Errorf("%s: %q reads %s, which /metrics does not export", what, e, n)
				}
			}
		}
	}

	t.Run("grafana dashboard", func(t *testing.T) {
		raw, err := os.ReadFile("../../examples/grafana/carebridge.json")
		if err != nil {
			t.Fatal(err)
		}
		var dash struct {
			Title  string `json:"title"`
			Panels []struct {
				Type    string `json:"type"`
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(&dash); err != nil {
			t.Fatalf("carebridge.json: %v", err)
		}
		var exprs []string
		covered := map[string]bool{}
		for _, p := range dash.Panels {
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
				for _, n := range referenced(tg.Expr) {
					covered[n] = true
				}
			}
		}
		checkExprs(t, "dashboard", exprs)
		// The list: ingest per source and platform, tickets per
		// department, outbox depth and age per kind, dead rows, API errors,
		// mirror latency, SLA alerts, spikes.
		for _, want := range []string{"carebridge_posts_ingested_total", "carebridge_tickets_opened_total", "carebridge_outbox_depth",
			"carebridge_outbox_oldest_age_seconds", "carebridge_outbox_dead", "carebridge_api_errors_total", "carebridge_post_to_chat_seconds",
			"carebridge_sla_alerts_total", "carebridge_spike_alerts_total"} {
			if !covered[want] {
				t.Errorf("the dashboard shows no %s", want)
			}
		}
	})

	t.Run("alert rules", func(t *testing.T) {
		raw, err := os.ReadFile("../../examples/prometheus/alerts.yaml")
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Groups []struct {
				Name  string `yaml:"name"`
				Rules []struct {
					Alert       string            `yaml:"alert"`
					Expr        string            `yaml:"expr"`
					For         string            `yaml:"for"`
					Labels      map[string]string `yaml:"labels"`
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&file); err != nil {
			t.Fatalf("alerts.yaml: %v", err)
		}
		var exprs, alerts []string
		for _, g := range file.Groups {
			for _, r := range g.Rules {
				alerts = append(alerts, r.Alert)
				exprs = append(exprs, r.Expr)
				if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
					t.Errorf("rule %s lacks a severity, summary or description", r.Alert)
				}
			}
		}
		checkExprs(t, "alerts", exprs)
		sort.Strings(alerts)
		want := []string{"CarebridgeAPIAuthErrors", "CarebridgeDown", "CarebridgeInboxDeadEvents", "CarebridgeNotReady",
			"CarebridgeNothingIngested", "CarebridgeOutboxDeadRows", "CarebridgeOutboxStuck"}
		if !slices.Equal(alerts, want) {
			t.Errorf("alerts %v, want %v", alerts, want)
		}
	})

	t.Run("probe", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := run(t.Context(), []string{"probe", "-addr", h.addr}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "/readyz: ready") {
			t.Errorf("probe of a ready service: exit %d, %q %q", code, out.String(), errOut.String())
		}
	})
}

// probe exits 0 only for 200, says why otherwise, and refuses bad flags.
func TestProbeCommand(t *testing.T) {
	status := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		w.Write([]byte("not ready: database unreachable\n"))
	}))
	addr := strings.TrimPrefix(srv.URL, "http://")
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"probe", "-addr", addr}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "503 Service Unavailable: not ready: database unreachable") {
		t.Errorf("503: exit %d, stderr %q", code, errOut.String())
	}
	status = http.StatusOK
	out.Reset()
	if code := run(t.Context(), []string{"probe", "-q", "-addr", addr}, &out, &errOut); code != 0 || out.Len() != 0 {
		t.Errorf("200 with -q: exit %d, stdout %q", code, out.String())
	}
	srv.Close()
	errOut.Reset()
	if code := run(t.Context(), []string{"probe", "-addr", addr, "-timeout", "2s"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "not reachable") {
		t.Errorf("closed port: exit %d, stderr %q", code, errOut.String())
	}
	for _, args := range [][]string{{"probe", "-addr", "localhost"}, {"probe", "extra"}} {
		errOut.Reset()
		if code := run(t.Context(), args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2; stderr %q", args, code, errOut.String())
		}
	}
	errOut.Reset()
	if code := run(t.Context(), []string{"probe", "-h"}, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "HEALTHCHECK") {
		t.Errorf("probe -h: exit %d, %q", code, errOut.String())
	}
}

// The version comes from the build's stamp, else from the toolchain's VCS
// record; -version prints it.
func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}
	if got := versionFrom(bi); got != "0123456789ab-dirty" {
		t.Errorf("versionFrom = %q", got)
	}
	bi.Main.Version = "v1.2.3"
	if got := versionFrom(bi); got != "v1.2.3" {
		t.Errorf("versionFrom(release) = %q", got)
	}
	if got := versionFrom(&debug.BuildInfo{}); got != "dev" {
		t.Errorf("versionFrom(nothing) = %q", got)
	}
	old := version
	version = "v9.9.9-3-gabcdef0-dirty"
	defer func() { version = old }()
	var out bytes.Buffer
	if code := run(t.Context(), []string{"-version"}, &out, &out); code != 0 || out.String() != "carebridge v9.9.9-3-gabcdef0-dirty\n" {
		t.Errorf("-version: exit %d, %q", code, out.String())
	}
}
