package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const minimal = `departments:
  - id: network
    name: Network team
    channel: "#care-network"
    approvers: [U0MANAGER1]
  - id: triage
    channel: "#care-triage"
    approval: none
routes:
  - department: network
    keywords: [signal, 電波, 신호]
    exclude: [signal processing]
triage: triage
`

func noEnv(string) (string, bool) { return "", false }

func parse(t *testing.T, src string, level Level, env map[string]string) (*Config, Errors) {
	t.Helper()
	cfg, err := Parse([]byte(src), "test.yaml", level, Options{Getenv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	if err == nil {
		return cfg, nil
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse returned %T, want Errors: %v", err, err)
	}
	return cfg, errs
}

func TestMinimalIsValidForRouting(t *testing.T) {
	cfg, errs := parse(t, minimal, LevelRouting, nil)
	if errs != nil {
		t.Fatalf("unexpected problems:\n%v", errs)
	}
	if got := cfg.Summarize(); got.Departments != 2 || got.Rules != 1 || got.Keywords != 3 {
		t.Errorf("summary = %+v", got)
	}
	if cfg.Department("network").Name != "Network team" || cfg.Department("triage").Name != "triage" {
		t.Errorf("names: %q %q", cfg.Department("network").Name, cfg.Department("triage").Name)
	}
	if cfg.Location.String() != "UTC" || cfg.Digests.Times[0] != "12:00" || cfg.Approvals.ApproveEmoji != "white_check_mark" {
		t.Errorf("defaults not applied: %v %v %v", cfg.Location, cfg.Digests.Times, cfg.Approvals.ApproveEmoji)
	}
	r, err := cfg.Router()
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Route(routeInput("電波が悪い")).Department; got != "network" {
		t.Errorf("routed to %q", got)
	}
}

func TestExampleFileIsValid(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "carebridge.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := parse(t, string(data), LevelRouting, nil); errs != nil {
		t.Fatalf("example config has problems at routing level:\n%v", errs)
	}
	env := map[string]string{}
	for _, k := range []string{"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "X_BEARER_TOKEN", "X_CONSUMER_KEY", "X_CONSUMER_SECRET",
		"X_SBCARE_ACCESS_TOKEN", "X_SBCARE_ACCESS_SECRET", "X_CLIENT_SECRET", "X_SBCAREWIFI_ACCESS_TOKEN", "X_SBCAREWIFI_REFRESH_TOKEN"} {
		env[k] = "secret-" + strings.ToLower(k)
	}
	env["SLACK_BOT_TOKEN"], env["SLACK_APP_TOKEN"] = "xoxb-secret-slack_bot_token", "xapp-secret-slack_app_token"
	cfg, errs := parse(t, string(data), LevelServe, env)
	if errs != nil {
		t.Fatalf("example config has problems at serve level:\n%v", errs)
	}
	if cfg.Slack.BotToken.Reveal() != "xoxb-secret-slack_bot_token" {
		t.Errorf("bot token not expanded: %q", cfg.Slack.BotToken.Reveal())
	}
	if cfg.X.Accounts[1].OAuth2.RefreshToken.Reveal() != "secret-x_sbcarewifi_refresh_token" {
		t.Errorf("nested secret not expanded")
	}
	// Without the environment the serve level names every missing variable.
	_, errs = parse(t, string(data), LevelServe, nil)
	if !strings.Contains(errs.Error(), "slack.bot_token: environment variable SLACK_BOT_TOKEN is not set; required: the bot token") {
		t.Errorf("missing variable not reported:\n%v", errs)
	}
}

func TestEveryMistakeReportedWithLine(t *testing.T) {
	src := strings.Replace(minimal, "  - department: network\n", "  - department: wifii\n", 1)
	src = strings.Replace(src, "    approvers: [U0MANAGER1]\n", "    approvers: [U0MANAGER1]\n    colour: blue\n", 1)
	src = strings.Replace(src, "triage: triage", "triage: triage\ntimezone: Mars/Olympus", 1)
	_, errs := parse(t, src, LevelRouting, nil)
	want := []string{
		`departments[0].colour: unknown key "colour" (known keys here: `,
		`routes[0].department: unknown department "wifii" (line 11)`,
		`timezone: unknown time zone "Mars/Olympus" (use an IANA name such as Asia/Tokyo) (line 15)`,
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if !strings.Contains(errs[i].String(), w) {
			t.Errorf("problem %d = %q, want it to contain %q", i, errs[i].String(), w)
		}
	}
	if errs[0].Line != 6 {
		t.Errorf("unknown key line = %d, want 6", errs[0].Line)
	}
}

func TestCrossChecks(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"no triage", strings.Replace(minimal, "triage: triage\n", "", 1), "triage: required"},
		{"unknown triage", strings.Replace(minimal, "triage: triage\n", "triage: nobody\n", 1), `triage: unknown department "nobody" (line 13)`},
		{"approvers missing", strings.Replace(minimal, "    approvers: [U0MANAGER1]\n", "", 1), `departments[0].approvers: required when approval is "required"`},
		{"bad approver", strings.Replace(minimal, "[U0MANAGER1]", "[bob]", 1), `departments[0].approvers[0]: "bob" is neither a Slack user ID`},
		{"duplicate id", strings.Replace(minimal, "id: triage", "id: network", 1), `departments[1].id: duplicate department id "network" (line 6)`},
		{"bad id", strings.Replace(minimal, "id: network", "id: Network Team", 1), `departments[0].id: "Network Team" must use only a-z`},
		{"bad channel", strings.Replace(minimal, `"#care-network"`, `"care network"`, 1), `departments[0].channel: "care network" is neither`},
		{"bad digest time", minimal + "digests:\n  times: [\"25:00\"]\n", `digests.times[0]: "25:00" is not a time as HH:MM (00:00–23:59) (line 15)`},
		{"bad duration", minimal + "sla:\n  first_response: soon\n", `sla.first_response: invalid duration "soon" (want e.g. 90s, 15m, 4h, 7d) (line 15)`},
		{"wrong kind", minimal + "spikes:\n  min_posts: many\n", `spikes.min_posts: must be a whole number, not "many" (line 15)`},
		{"empty keyword", strings.Replace(minimal, "[signal, 電波, 신호]", "[signal, \"\u200b\"]", 1), `routes[0].keywords[1]: empty keyword`},
		{"rule without keywords", strings.Replace(minimal, "    keywords: [signal, 電波, 신호]\n", "", 1), `routes[0]: needs keywords or accounts`},
		{"office hours reversed", minimal + "office_hours:\n  open: \"18:00\"\n  close: \"09:00\"\n", `office_hours.close: 09:00 is not after open (18:00)`},
		{"pool size", minimal + "store:\n  max_connections: -1\n", `store.max_connections: -1 is out of range: 1 to 1000, or 0 for the default (10) (line 15)`},
		{"duplicate key", minimal + "triage: network\n", `triage: key given twice (line 14)`},
		{"not yaml", "departments: [\n", "not valid YAML"},
		{"list expected", strings.Replace(minimal, "[signal, 電波, 신호]", "signal", 1), `routes[0].keywords: must be a list, not "signal" (line 11)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := parse(t, c.src, LevelRouting, nil)
			if !strings.Contains(errs.Error(), c.want) {
				t.Errorf("problems:\n%v\nwant one containing %q", errs, c.want)
			}
		})
	}
}

func TestServeLevelNeedsCredentials(t *testing.T) {
	_, errs := parse(t, minimal, LevelServe, nil)
	for _, w := range []string{"slack.bot_token: required", "slack.app_token: required in socket mode", "x.bearer_token: required", "x.accounts: required"} {
		if !strings.Contains(errs.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, errs)
		}
	}
	// The same file is fine for routing: serve-only sections are optional.
	if _, errs := parse(t, minimal, LevelRouting, nil); errs != nil {
		t.Errorf("routing level: %v", errs)
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bot")
	if err := os.WriteFile(file, []byte("xoxb-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := minimal + fmt.Sprintf("slack:\n  bot_token_file: %s\n", file)
	cfg, errs := parse(t, src, LevelRouting, nil)
	if errs != nil {
		t.Fatal(errs)
	}
	if got := cfg.Slack.BotToken.Reveal(); got != "xoxb-from-file" {
		t.Errorf("bot token = %q", got)
	}
	// Printing the config never shows the secret.
	for _, s := range []string{fmt.Sprint(cfg.Slack), fmt.Sprintf("%+v", cfg.Slack), fmt.Sprintf("%#v", cfg.Slack)} {
		if strings.Contains(s, "xoxb-from-file") {
			t.Errorf("secret printed: %s", s)
		}
	}
	_, errs = parse(t, minimal+fmt.Sprintf("slack:\n  bot_token: x\n  bot_token_file: %s\n", file), LevelRouting, nil)
	if errs != nil {
		t.Errorf("secret problems outside departments/routes must not fail check: %v", errs)
	}
	_, errs = parse(t, minimal+fmt.Sprintf("slack:\n  bot_token: x\n  bot_token_file: %s\n", file), LevelServe, nil)
	if !strings.Contains(errs.Error(), "slack.bot_token: give either bot_token or bot_token_file, not both") {
		t.Errorf("both given not reported: %v", errs)
	}
	_, errs = parse(t, minimal+"slack:\n  bot_token_file: /nonexistent/secret\n", LevelServe, nil)
	if !strings.Contains(errs.Error(), "slack.bot_token_file: cannot read secret file") {
		t.Errorf("unreadable file not reported: %v", errs)
	}
}

func TestEnvExpansion(t *testing.T) {
	src := minimal + "store:\n  url: postgres://care:${DB_PASS}@db/care?x=$$1\n"
	cfg, errs := parse(t, src, LevelServe, map[string]string{"DB_PASS": "p@ss"})
	if got := cfg.Store.URL.Reveal(); got != "postgres://care:p@ss@db/care?x=$1" {
		t.Errorf("url = %q", got)
	}
	if strings.Contains(errs.Error(), "store.url") {
		t.Errorf("store url flagged: %v", errs)
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]string{"7d": "7d", "90s": "1m30s", "4h": "4h0m0s", "0s": "0s"} {
		d, err := ParseDuration(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"-1h", "1x", "d", "-2d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}
