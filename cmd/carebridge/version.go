package main

import (
	"runtime/debug"
	"strings"
)

// currentVersion is the version the binary reports: main.version as the
// build stamped it (-ldflags "-X main.version=$(git describe --always
// --dirty)", as the Dockerfile does), else what the Go toolchain recorded
// of the module and its git checkout (go build in a git work tree records
// the commit and whether it had local changes), else "dev".
func currentVersion() string {
	if version != "dev" && version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return versionFrom(bi)
}

// versionFrom derives a version from build information: the module
// version when it is a release, else the VCS revision (12 hex digits,
// "-dirty" when the work tree had changes), else "dev".
func versionFrom(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" && !strings.Contains(v, "+dirty") {
		return v
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
