package examples_test

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
	"gopkg.in/yaml.v3"

	"github.com/carebridge/carebridge/bridge/config"
)

// knownKeys are the systemd directives the unit may use, per section
// (systemd.unit(5), systemd.service(5), systemd.exec(5), systemd.kill(5)).
// A directive outside the list is a typo or needs adding here after a
// look at the manual; .ci/test.sh also runs `systemd-analyze verify`
// where systemd is installed, which knows every directive.
var knownKeys = map[string][]string{
	"Unit":    {"Description", "Documentation", "Wants", "Requires", "After", "Before", "StartLimitIntervalSec", "StartLimitBurst"},
	"Service": {"Type", "ExecStart", "ExecStartPre", "ExecReload", "EnvironmentFile", "Environment", "DynamicUser", "User", "Group", "StateDirectory", "WorkingDirectory", "Restart", "RestartSec", "KillSignal", "KillMode", "TimeoutStopSec", "TimeoutStartSec", "NoNewPrivileges", "CapabilityBoundingSet", "AmbientCapabilities", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups", "RestrictAddressFamilies", "RestrictNamespaces", "LockPersonality", "MemoryDenyWriteExecute", "SystemCallArchitectures", "ReadWritePaths", "LimitNOFILE"},
	"Install": {"WantedBy", "RequiredBy", "Alias"},
}

// The systemd unit parses, uses only known sections and directives, starts
// `carebridge serve` with a configuration, and gives the graceful stop its
// time.
func TestSystemdUnit(t *testing.T) {
	raw, err := os.ReadFile("systemd/carebridge.service")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := unit.DeserializeOptions(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("carebridge.service: %v", err)
	}
	got := map[string]string{}
	for _, o := range opts {
		keys, ok := knownKeys[o.Section]
		switch {
		case !ok:
			t.Errorf("unknown section [%s]", o.Section)
		case !slices.Contains(keys, o.Name):
			t.Errorf("unknown directive %s= in [%s]", o.Name, o.Section)
		}
		if _, dup := got[o.Section+"."+o.Name]; dup {
			t.Errorf("%s= given twice in [%s]", o.Name, o.Section)
		}
		got[o.Section+"."+o.Name] = o.Value
	}
	exec := strings.Fields(got["Service.ExecStart"])
	if len(exec) < 4 || !strings.HasSuffix(exec[0], "/carebridge") || exec[1] != "serve" || !slices.Contains(exec, "-config") {
		t.Errorf("ExecStart = %q, want `/…/carebridge serve -config FILE`", got["Service.ExecStart"])
	}
	// carebridge finishes in-flight sends for 30 s at most after SIGTERM.
	stop, err := time.ParseDuration(got["Service.TimeoutStopSec"])
	if err != nil || stop < 35*time.Second || got["Service.KillSignal"] != "SIGTERM" {
		t.Errorf("TimeoutStopSec=%q KillSignal=%q: the graceful stop needs SIGTERM and over 30 s", got["Service.TimeoutStopSec"], got["Service.KillSignal"])
	}
	if got["Install.WantedBy"] != "multi-user.target" || got["Service.Restart"] == "" {
		t.Errorf("WantedBy=%q Restart=%q", got["Install.WantedBy"], got["Service.Restart"])
	}
}

// The Kubernetes example's configuration is valid for `serve`, with every
// ${VAR} it reads given by the example Secret (which the Deployment
// passes to the container whole; examples/kubernetes/check decodes the
// manifests into Kubernetes' own types).
func TestKubernetesConfig(t *testing.T) {
	var cm struct {
		Kind string            `yaml:"kind"`
		Data map[string]string `yaml:"data"`
	}
	var secret struct {
		Kind       string            `yaml:"kind"`
		StringData map[string]string `yaml:"stringData"`
	}
	for file, into := range map[string]any{"kubernetes/configmap.yaml": &cm, "kubernetes/secret.yaml": &secret} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(raw, into); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	src, ok := cm.Data["carebridge.yaml"]
	if cm.Kind != "ConfigMap" || secret.Kind != "Secret" || !ok {
		t.Fatalf("kinds %q %q, carebridge.yaml present %v", cm.Kind, secret.Kind, ok)
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`).FindAllStringSubmatch(src, -1) {
		if _, ok := secret.StringData[m[1]]; !ok {
			t.Errorf("the configuration reads ${%s}, which the Secret does not give", m[1])
		}
	}
	cfg, err := config.Parse([]byte(src), "configmap.yaml", config.LevelServe, config.Options{
		Getenv: func(k string) (string, bool) { v, ok := secret.StringData[k]; return v, ok },
	})
	if err != nil {
		t.Fatalf("the configuration is not valid for serve:\n%v", err)
	}
	if !strings.HasPrefix(cfg.Store.URL.Reveal(), "postgres://") {
		t.Errorf("store.url %q: two replicas need PostgreSQL", cfg.Store.URL.Reveal())
	}
	if cfg.HTTP.Addr != ":8080" {
		t.Errorf("http.addr %q: the Deployment's probes and port use 8080", cfg.HTTP.Addr)
	}
}
