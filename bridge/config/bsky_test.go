package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBlueskySection(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "bsky_pw")
	if err := os.WriteFile(pwFile, []byte("abcd-efgh-ijkl-mnop\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := minimal + `bluesky:
  accounts:
    - handle: sbcare.bsky.social
      app_password_file: ` + pwFile + `
`
	cfg, errs := parse(t, good, LevelRouting, nil)
	if errs != nil {
		t.Fatalf("problems: %v", errs)
	}
	b := cfg.Bluesky
	if b.PDSURL != DefaultBlueskyPDS || len(b.Jetstream.Instances) != 4 || b.Jetstream.Silence.D().Seconds() != 30 ||
		b.Jetstream.Rewind.D().Seconds() != 5 || !b.ListenKeywords() || b.Accounts[0].AppPassword.Reveal() != "abcd-efgh-ijkl-mnop" {
		t.Errorf("defaults or secret file not applied: %+v", b)
	}

	bad := minimal + `bluesky:
  jetstream:
    instances: [https://jetstream.example/subscribe]
    silence: 500ms
  accounts:
    - handle: "@not a handle"
    - handle: kim.bsky.social
`
	_, errs = parse(t, bad, LevelServe, nil)
	want := map[string]string{
		"bluesky.jetstream.instances[0]":   "not a websocket URL",
		"bluesky.jetstream.silence":        "between 1s and 10m",
		"bluesky.accounts[0].handle":       "not a Bluesky handle",
		"bluesky.accounts[1].app_password": "required",
	}
	for _, p := range errs {
		if w, ok := want[p.Path]; ok && strings.Contains(p.Msg, w) {
			if p.Line == 0 {
				t.Errorf("%s: no line", p.Path)
			}
			delete(want, p.Path)
		}
	}
	for path, msg := range want {
		t.Errorf("no problem %q at %s; got:\n%v", msg, path, errs)
	}
	// At the routing level (check, route) the section's credentials are
	// not needed.
	if _, errs := parse(t, minimal+"bluesky:\n  accounts:\n    - handle: kim.bsky.social\n", LevelRouting, nil); errs != nil {
		t.Errorf("routing level: %v", errs)
	}
}
