package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carebridge/carebridge/bridge/route"
)

// The meta section: pages checked at the serve level, every problem
// naming its field and line; secrets may come from *_file.
func TestMetaSection(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("page-token-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A route may name a page (its comments and messages go to that
	// department).
	good := strings.Replace(minimal, "triage: triage", "  - department: network\n    accounts: [acme-care]\ntriage: triage", 1) + `
meta:
  graph_api_version: v26.0
  human_agent: true
  pages:
    - name: acme-care
      page_id: "104857600"
      page_token_file: ` + file + `
      app_secret: ${META_APP_SECRET}
      verify_token: verify-me
      instagram_id: "17841400000"
`
	cfg, errs := parse(t, good, LevelServe, map[string]string{"META_APP_SECRET": "s3cret"})
	for _, p := range errs {
		if strings.HasPrefix(p.Path, "meta") || strings.HasPrefix(p.Path, "routes") {
			t.Errorf("unexpected problem: %v", p)
		}
	}
	if cfg == nil {
		return
	}
	router, err := cfg.Router()
	if err != nil {
		t.Fatal(err)
	}
	if got := router.Route(route.Input{Text: "hello", Mentions: []string{"acme-care"}}).Department; got != "network" {
		t.Errorf("a post to the page went to %q, want network (the route naming the page)", got)
	}
	m := cfg.Meta
	if m.GraphAPIBaseURL != DefaultGraphAPIBaseURL || m.GraphAPIVersion != "v26.0" || !m.HumanAgent || m.Pages[0].PageToken.Reveal() != "page-token-from-file" || m.Pages[0].AppSecret.Reveal() != "s3cret" {
		t.Errorf("meta = %+v", m)
	}

	bad := minimal + `
meta:
  graph_api_version: "24"
  pages:
    - name: Acme Care
      page_id: acme
      instagram_id: ig
    - name: b
      page_id: "1"
      page_token: t
      app_secret: s
      verify_token: v
    - name: b
      page_id: "1"
      page_token: t
      app_secret: s
      verify_token: v
`
	_, errs = parse(t, bad, LevelServe, nil)
	msg := errs.Error()
	for _, want := range []string{
		`meta.graph_api_version: "24" is not a Graph API version such as v25.0 (line 16)`,
		`meta.pages[0].name: required: a short name`,
		`meta.pages[0].page_id: required: the Page's numeric id (line 19)`,
		`meta.pages[0].instagram_id: "ig" is not a numeric Instagram account id (line 20)`,
		`meta.pages[0].page_token: required: a Page access token (or page_token_file)`,
		`meta.pages[0].app_secret: required`,
		`meta.pages[0].verify_token: required`,
		`meta.pages[2].name: duplicate page name "b"`,
		`meta.pages[2].page_id: duplicate page 1`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("problems lack %q:\n%s", want, msg)
		}
	}
	// `carebridge check` (the routing level) reports the section's
	// shape but does not need the pages' secrets.
	_, errs = parse(t, bad, LevelRouting, nil)
	if msg := errs.Error(); !strings.Contains(msg, "meta.pages[0].page_id") || strings.Contains(msg, "page_token") {
		t.Errorf("routing-level problems:\n%v", errs)
	}
}
