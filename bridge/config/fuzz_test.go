package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// secretValues collects every non-empty Secret reachable from v.
func secretValues(v reflect.Value, out *[]string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			secretValues(v.Elem(), out)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			secretValues(v.Index(i), out)
		}
	case reflect.Struct:
		if v.Type() == secretType {
			if s := v.Interface().(Secret); s.IsSet() {
				*out = append(*out, s.Reveal())
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				secretValues(v.Field(i), out)
			}
		}
	}
}

// fileLevel are the problems about the document as a whole, which have no
// field path.
func fileLevel(p Problem) bool {
	return strings.HasPrefix(p.Msg, "not valid YAML: ") || p.Msg == "the file is empty" ||
		strings.HasPrefix(p.Msg, "must be a mapping of keys, not ")
}

// FuzzParse feeds arbitrary documents to Parse at every level: it never
// panics; it returns either a configuration without problems (whose routes
// compile) or an Errors in which every problem names a field path (or, for
// the document as a whole, says what is wrong with it), with lines inside
// the document, in file order; and no secret value of the document appears
// in an error message.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../../examples/carebridge.yaml"); err == nil {
		f.Add(b, uint8(LevelServe))
		f.Add(b, uint8(LevelRouting))
	}
	for _, s := range []string{
		minimal,
		"",
		"# only a comment\n",
		"- a\n- b\n",
		"just a string",
		"departments: 5\nroutes: {}\ntriage: [x]\n",
		"departments:\n  - id: a\n    channel: '#a'\n    approval: none\n  - id: a\n    channel: '#a'\nroutes:\n  - department: b\n    keywords: []\ntriage: c\n",
		"timezone: Mars/Olympus\n" + minimal,
		"slack:\n  bot_token: xoxb-super-secret-1234\n  app_token: [1]\n  signing_secret: {a: b}\n" + minimal,
		"x:\n  bearer_token: ${UNSET_TOKEN_VAR}\n  accounts:\n    - handle: a\n      oauth1:\n        consumer_secret: s3cr3t-consumer-value\n        consumer_secret_file: /nonexistent\n" + minimal,
		"store:\n  url: postgres://u:hunter2-password@db/x\n  url_file: /nonexistent\n" + minimal,
		"a: &a [x, *a]\n",
		"a: &a {b: *a}\n" + minimal,
		"a: &x 1\nb: *x\n",
		"departments: &d\n  - id: a\n    channel: '#a'\n    approval: none\nroutes:\n  - department: a\n    keywords: [k]\ntriage: a\nextra: *d\n",
		"l0: &l0 [a, a, a, a, a, a, a, a, a]\nl1: &l1 [*l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0]\nl2: &l2 [*l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1]\nl3: &l3 [*l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2]\n",
		"departments:\n\t- id: a\n",
		"outbox:\n  workers: 99999999999999999999\n  max_backoff: -5s\n  lease: 1e400\n" + minimal,
		"digests:\n  times: ['25:99', '']\n" + minimal,
		"\xff\xfe: \x00\n",
		"? [a]\n: b\n",
		"!!binary aGVsbG8=\n",
		"departments: !!map {}\n",
	} {
		f.Add([]byte(s), uint8(LevelRouting))
		f.Add([]byte(s), uint8(LevelServe))
	}
	env := map[string]string{"SLACK_BOT_TOKEN": "xoxb-env-secret-value", "SLACK_APP_TOKEN": "xapp-env-secret-value"}
	f.Fuzz(func(t *testing.T, data []byte, lvl uint8) {
		level := Level(lvl % 3)
		cfg, err := Parse(data, "fuzz.yaml", level, Options{
			Getenv:   func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			ReadFile: func(string) ([]byte, error) { return nil, errors.New("no files while fuzzing") },
		})
		if cfg == nil {
			t.Fatal("Parse returned no configuration")
		}
		if err == nil {
			if _, rerr := cfg.Router(); rerr != nil {
				t.Fatalf("a valid configuration's routes do not compile: %v", rerr)
			}
			return
		}
		var errs Errors
		if !errors.As(err, &errs) {
			t.Fatalf("Parse returned %T, want Errors: %v", err, err)
		}
		if len(errs) == 0 {
			t.Fatal("an error without problems")
		}
		// YAML breaks lines at "\n", "\r\n" and a lone "\r".
		lines := strings.Count(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n") + strings.Count(strings.ReplaceAll(string(data), "\r\n", ""), "\r") + 1
		prev := 0
		for _, p := range errs {
			if p.Msg == "" {
				t.Errorf("a problem without a message: %+v", p)
			}
			if p.Path == "" && !fileLevel(p) {
				t.Errorf("a problem names no field path: %q", p.String())
			}
			if p.Line < 0 || p.Line > lines {
				t.Errorf("problem %q: line %d outside a %d-line document", p.String(), p.Line, lines)
			}
			if p.Line > 0 && p.Line < prev {
				t.Errorf("problems out of file order: line %d after %d", p.Line, prev)
			}
			if p.Line > 0 {
				prev = p.Line
			} else {
				prev = lines + 1 // problems without a line come last
			}
		}
		var secrets []string
		secretValues(reflect.ValueOf(cfg), &secrets)
		msg := err.Error()
		for _, s := range secrets {
			if len(s) >= 6 && strings.Contains(msg, s) {
				t.Errorf("the errors reveal a secret value %q:\n%s", s, msg)
			}
		}
	})
}

// A Secret never prints its value: not with any fmt verb, not as JSON or
// text, not inside the structs that hold it.
func TestSecretNeverPrinted(t *testing.T) {
	const value = "xoxb-do-not-print-42"
	cfg := &Config{}
	cfg.Slack.BotToken = NewSecret(value)
	cfg.X.Accounts = []Account{{Handle: "a", OAuth1: &OAuth1{ConsumerSecret: NewSecret(value)}}}
	outs := []string{
		fmt.Sprint(cfg.Slack.BotToken), fmt.Sprintf("%v %+v %#v %s %q", cfg.Slack, cfg.Slack, cfg.Slack, cfg.Slack.BotToken, cfg.Slack.BotToken),
		fmt.Sprintf("%+v %#v", *cfg.X.Accounts[0].OAuth1, cfg.X.Accounts[0].OAuth1),
	}
	for _, v := range []any{cfg.Slack, cfg.X} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, string(b))
	}
	for _, out := range outs {
		if strings.Contains(out, value) {
			t.Errorf("secret printed: %s", out)
		}
	}
	if !strings.Contains(outs[0], "[redacted]") {
		t.Errorf("Secret prints as %q", outs[0])
	}
	if cfg.Slack.BotToken.Reveal() != value {
		t.Error("Reveal lost the value")
	}
}
