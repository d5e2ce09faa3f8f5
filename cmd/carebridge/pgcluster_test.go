package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// pgCluster is a throwaway PostgreSQL cluster of the test's own, which the
// test may stop and start (the shared server must never be stopped). It
// is built like .ci/test.sh builds its cluster: Debian's initdb and pg_ctl,
// a temporary directory, a free local port; as root the server runs as
// the unprivileged user carebridge-pg (created if absent).
type pgCluster struct {
	t      *testing.T
	bin    string
	dir    string
	port   string
	osUser string // "" when the test does not run as root
	URL    string
}

const pgOSUser = "carebridge-pg"

// startPGCluster starts a cluster or skips the test saying why it cannot.
func startPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(bins)))
	c := &pgCluster{t: t}
	for _, b := range bins {
		if isExec(filepath.Join(b, "initdb")) && isExec(filepath.Join(b, "pg_ctl")) {
			c.bin = b
			break
		}
	}
	if c.bin == "" {
		t.Skip("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (install Debian's postgresql package); this test stops and restarts a cluster of its own")
	}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("runuser"); err != nil {
			t.Skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
		}
		if _, err := user.Lookup(pgOSUser); err != nil {
			out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", pgOSUser).CombinedOutput()
			if err != nil {
				t.Skipf("running as root, and the unprivileged user %s could not be created: %v\n%s", pgOSUser, err, out)
			}
		}
		c.osUser = pgOSUser
	}
	dir, err := os.MkdirTemp("", "carebridge-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if c.osUser != "" {
		if out, err := exec.Command("chown", c.osUser, dir).CombinedOutput(); err != nil {
			t.Fatalf("chown %s: %v\n%s", dir, err, out)
		}
	}
	t.Cleanup(func() {
		_ = c.run(filepath.Join(c.bin, "pg_ctl"), "-D", c.data(), "-m", "immediate", "stop")
		os.RemoveAll(dir)
	})
	c.port = strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	if err := c.run(filepath.Join(c.bin, "initdb"), "-D", c.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"); err != nil {
		t.Fatalf("initdb: %v", err)
	}
	c.start()
	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable", c.port)
	return c
}

func isExec(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode()&0o111 != 0
}

func (c *pgCluster) data() string { return filepath.Join(c.dir, "data") }

// run runs a PostgreSQL tool, as the unprivileged user when root.
func (c *pgCluster) run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	if c.osUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.osUser, "--", name}, args...)...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", filepath.Base(name), err, out)
	}
	return nil
}

// start starts the server (again) on the same port and data.
func (c *pgCluster) start() {
	c.t.Helper()
	opts := fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", c.port, c.dir)
	if err := c.run(filepath.Join(c.bin, "pg_ctl"), "-D", c.data(), "-w", "-t", "60", "-l", filepath.Join(c.dir, "server.log"), "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		c.t.Fatalf("pg_ctl start: %v\n%s", err, log)
	}
}

// stop stops the server the way an operator would (fast: clients are
// disconnected, transactions rolled back) and returns how long it took.
func (c *pgCluster) stop() time.Duration {
	c.t.Helper()
	began := time.Now()
	if err := c.run(filepath.Join(c.bin, "pg_ctl"), "-D", c.data(), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		c.t.Fatalf("pg_ctl stop: %v", err)
	}
	return time.Since(began)
}
