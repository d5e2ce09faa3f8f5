package config

import (
	"strings"
	"testing"
)

// serveEnv is a complete, well-formed set of the secrets `serve` needs
// for serveSrc.
var serveEnv = map[string]string{"BOT": "xoxb-1-abc", "APP": "xapp-1-A1-def", "BEARER": "AAAAbearer%3Dtoken", "ACCESS": "9000-user-token"}

const serveSrc = minimal + `slack:
  bot_token: ${BOT}
  app_token: ${APP}
x:
  bearer_token: ${BEARER}
  accounts:
    - handle: SBCare
      user_id: "9000"
      oauth2:
        access_token: ${ACCESS}
`

func TestTabIndentationNamed(t *testing.T) {
	src := strings.Replace(minimal, "    approvers: [U0MANAGER1]\n", "\t  approvers: [U0MANAGER1]\n", 1)
	_, errs := parse(t, src, LevelRouting, nil)
	if len(errs) != 1 || errs[0].String() != "not valid YAML: line 5: indentation uses a tab; YAML needs spaces" {
		t.Errorf("problems = %q", errs)
	}
	// A tab inside a value is no indentation and no problem.
	if _, errs := parse(t, strings.Replace(minimal, "name: Network team", "name: \"Network\tteam\"", 1), LevelRouting, nil); errs != nil {
		t.Errorf("a tab in a quoted value: %v", errs)
	}
}

// A missing environment variable is one problem, naming the variable and
// what the secret is for.
func TestMissingVariableReportedOnce(t *testing.T) {
	env := map[string]string{}
	for k, v := range serveEnv {
		env[k] = v
	}
	delete(env, "BOT")
	_, errs := parse(t, serveSrc, LevelServe, env)
	if len(errs) != 1 {
		t.Fatalf("got %d problems, want 1:\n%v", len(errs), errs)
	}
	if got, want := errs[0].String(), "slack.bot_token: environment variable BOT is not set; required: the bot token (xoxb-…), or bot_token_file (line 15)"; got != want {
		t.Errorf("problem = %q\nwant      %q", got, want)
	}
}

// 0 (like an absent key) means the default, as for every number in the
// file; other values out of range are refused and the message says both.
func TestSpikeFactorZeroMeansDefault(t *testing.T) {
	cfg, errs := parse(t, minimal+"spikes:\n  factor: 0\n  min_posts: 0\n", LevelRouting, nil)
	if errs != nil {
		t.Fatal(errs)
	}
	if cfg.Spikes.Factor != DefaultSpikeFactor || cfg.Spikes.MinPosts != DefaultSpikeMinPosts {
		t.Errorf("factor %v, min_posts %d: want the defaults", cfg.Spikes.Factor, cfg.Spikes.MinPosts)
	}
	_, errs = parse(t, minimal+"spikes:\n  factor: 0.5\n  min_posts: -1\n", LevelRouting, nil)
	want := []string{
		"spikes.factor: 0.5 is out of range: at least 1, or 0 (or no key) for the default, 3 (line 15)",
		"spikes.min_posts: -1 is out of range: at least 1, or 0 (or no key) for the default, 20 (line 16)",
	}
	if len(errs) != len(want) {
		t.Fatalf("problems:\n%v", errs)
	}
	for i := range want {
		if errs[i].String() != want[i] {
			t.Errorf("problem %d = %q, want %q", i, errs[i], want[i])
		}
	}
}

// Token shapes are checked offline at the serve level, naming the kind of
// token that was given and never printing it.
func TestTokenShapes(t *testing.T) {
	if _, errs := parse(t, serveSrc, LevelServe, serveEnv); errs != nil {
		t.Fatalf("well-formed tokens refused:\n%v", errs)
	}
	for _, c := range []struct {
		name, key, value, want string
	}{
		{"no prefix", "BOT", "1234-secretvalue", "slack.bot_token: does not look like a Slack token: it should start with xoxb- (the Bot User OAuth Token)"},
		{"user token as bot token", "BOT", "xoxp-1-secretvalue", "slack.bot_token: is a user token (xoxp-…); this key needs the Bot User OAuth Token (xoxb-…)"},
		{"bot token as app token", "APP", "xoxb-1-secretvalue", "slack.app_token: is a bot token (xoxb-…); this key needs an App-Level Token with connections:write (xapp-…)"},
		{"rotating bot token", "BOT", "xoxe.xoxb-1-secretvalue", ""},
		{"header pasted", "BEARER", "Bearer secretvalue", `x.bearer_token: starts with the header's scheme ("Bearer"): give the token alone`},
		{"white space", "ACCESS", "secret value", "x.accounts[0].oauth2.access_token: contains white space; X tokens and keys are one word"},
		{"slack token for X", "BEARER", "xoxb-secretvalue", "x.bearer_token: is a Slack token; this key needs an X credential"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range serveEnv {
				env[k] = v
			}
			env[c.key] = c.value
			_, errs := parse(t, serveSrc, LevelServe, env)
			if c.want == "" {
				if errs != nil {
					t.Fatalf("refused:\n%v", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.HasPrefix(errs[0].String(), c.want+" (line ") {
				t.Fatalf("problems:\n%v\nwant one: %s", errs, c.want)
			}
			if strings.Contains(errs.Error(), "secretvalue") {
				t.Errorf("the token is printed: %v", errs)
			}
		})
	}
	// check (routing level) does not judge tokens it does not need.
	env := map[string]string{"BOT": "nonsense"}
	if _, errs := parse(t, serveSrc, LevelRouting, env); errs != nil {
		t.Errorf("routing level: %v", errs)
	}
}
