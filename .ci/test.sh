#!/usr/bin/env bash
# The whole test suite, as README.md gives it: go vet, gofmt, every test
# against SQLite and a throwaway PostgreSQL cluster, the race detector and
# every fuzz target for a bounded time.
#
# PostgreSQL: if CAREBRIDGE_TEST_POSTGRES_URL is set, that server is used.
# Otherwise the script finds Debian's PostgreSQL binaries (installing the
# `postgresql` package with apt-get if they are missing and it may), starts
# a cluster in a temporary directory on a free local port as a non-root
# user, and removes it at the end.
#
# The tests need nothing outside the repository (generated posts, recorded
# payloads in testdata/), and a test that skips must say why it may: the
# test stages run `go test -json` into a file (kept in $CAREBRIDGE_TEST_OUT,
# default a temporary directory, printed), print the package lines, the
# failures, the slowest tests and every skipped test with its reason, and
# fail if a skip's reason is not on the stage's allow list below.
set -euo pipefail
cd "$(dirname "$0")/.."
# -trimpath keeps file paths out of the build cache's keys: a fresh clone
# reuses what an earlier clone on this machine compiled.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath"

began=$SECONDS
stage_began=$SECONDS
log() {
  if [ "$SECONDS" != "$began" ]; then printf '(%ds)\n' $((SECONDS - stage_began)); fi
  stage_began=$SECONDS
  printf '\n== %s\n' "$*"
}
log "go vet"
go vet ./...

log "static build (what the Dockerfile builds)"
CGO_ENABLED=0 go build -trimpath -o /dev/null ./cmd/carebridge

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

# The example alert rules (examples/prometheus/alerts.yaml) must load in
# Prometheus. promtool comes from Debian's `prometheus` package: when it is
# not installed, only promtool is unpacked from the package (apt-get
# download: no server is installed or started; about 19 MB, 2-3 s) into a
# cache directory. The Kubernetes and systemd examples are checked by Go
# tests (cmd/carebridge/e2e_ops_test.go, examples/deploy_test.go).
log "promtool check rules (examples/prometheus/alerts.yaml)"
PROMTOOL=$(command -v promtool || true)
if [ -z "$PROMTOOL" ]; then
  promdir=${XDG_CACHE_HOME:-$HOME/.cache}/carebridge-promtool
  PROMTOOL=$promdir/usr/bin/promtool
  if [ ! -x "$PROMTOOL" ]; then
    mkdir -p "$promdir"
    if ! (cd "$promdir" && apt-get download -qq prometheus 2>/dev/null); then
      if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
      elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
      fi
      (cd "$promdir" && apt-get download -qq prometheus)
    fi
    dpkg-deb --fsys-tarfile "$promdir"/prometheus_*.deb | tar -x -C "$promdir" ./usr/bin/promtool
    rm -f "$promdir"/prometheus_*.deb
  fi
fi
"$PROMTOOL" check rules examples/prometheus/alerts.yaml

# The systemd unit: a Go test in ./examples (always) and, where systemd is
# installed, `systemd-analyze verify`, which knows every directive (it
# reports unknown ones on stderr with exit status 0: any output fails).
# (The Kubernetes manifests are checked beside the tests, below.)
log "examples: systemd unit"
if command -v systemd-analyze >/dev/null; then
  unitdir=$(mktemp -d)
  CGO_ENABLED=0 go build -o "$unitdir/carebridge" ./cmd/carebridge
  sed "s#/usr/local/bin/carebridge#$unitdir/carebridge#" examples/systemd/carebridge.service >"$unitdir/carebridge.service"
  verify=$(systemd-analyze verify "$unitdir/carebridge.service" 2>&1) || { echo "$verify"; exit 1; }
  rm -rf "$unitdir"
  if [ -n "$verify" ]; then echo "$verify"; exit 1; fi
  echo "systemd-analyze verify examples/systemd/carebridge.service: OK"
else
  echo "systemd-analyze not installed: the unit is checked by the Go test in ./examples only"
fi

PGTMP=""
PGBIN=""
PGUSER_OS=""
stop_pg() {
  if [ -n "$PGTMP" ] && [ -f "$PGTMP/data/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  [ -n "$PGTMP" ] && rm -rf "$PGTMP"
}
trap stop_pg EXIT

as_pg() {
  if [ -n "$PGUSER_OS" ]; then
    runuser -u "$PGUSER_OS" -- "$@"
  else
    "$@"
  fi
}

find_pgbin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

start_pg() {
  if ! PGBIN=$(find_pgbin); then
    log "installing PostgreSQL from Debian's packages"
    if [ "$(id -u)" = 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
      sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
      echo "PostgreSQL is not installed and this user cannot install it." >&2
      echo "Install Debian's postgresql package, or set CAREBRIDGE_TEST_POSTGRES_URL." >&2
      exit 1
    fi
    PGBIN=$(find_pgbin)
  fi
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root: use an unprivileged system user.
    PGUSER_OS=carebridge-pg
    id -u "$PGUSER_OS" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PGUSER_OS"
  fi
  PGTMP=$(mktemp -d /tmp/carebridge-pg.XXXXXX)
  chmod 755 "$PGTMP"
  [ -n "$PGUSER_OS" ] && chown "$PGUSER_OS" "$PGTMP"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((40000 + RANDOM % 20000)))
  as_pg "$PGBIN/initdb" -D "$PGTMP/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$PGTMP/initdb.log" 2>&1 \
    || as_pg "$PGBIN/initdb" -D "$PGTMP/data" -A trust -U postgres -E UTF8 --locale=C >"$PGTMP/initdb.log" 2>&1 \
    || { cat "$PGTMP/initdb.log"; exit 1; }
  as_pg "$PGBIN/pg_ctl" -D "$PGTMP/data" -w -t 60 -l "$PGTMP/server.log" \
    -o "-p $port -k $PGTMP -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null \
    || { cat "$PGTMP/server.log"; exit 1; }
  export CAREBRIDGE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $PGTMP)"
}

if [ -z "${CAREBRIDGE_TEST_POSTGRES_URL:-}" ]; then
  log "starting a throwaway PostgreSQL cluster"
  start_pg
else
  log "using PostgreSQL from CAREBRIDGE_TEST_POSTGRES_URL"
fi

failed=""  # a failed test stage does not stop the fuzzing: both are reported
OUT=${CAREBRIDGE_TEST_OUT:-$(mktemp -d /tmp/carebridge-test.XXXXXX)}
mkdir -p "$OUT"
go build -o "$OUT/testreport" .ci/testreport.go
echo "go test -json output and reports in $OUT"

# run_tests NAME ALLOW... -- GO-TEST-ARGS...: go test -json into
# $OUT/NAME.json, then the report (closing lines last). Skips are allowed
# only for the reasons given (substrings of the skip message).
run_tests() {
  local name=$1; shift
  local allow=()
  while [ "$1" != "--" ]; do allow+=(-allow "$1"); shift; done
  shift
  local rc=0
  go test -json "$@" >"$OUT/$name.json" 2>"$OUT/$name.stderr" || rc=$?
  cat "$OUT/$name.stderr"
  "$OUT/testreport" "${allow[@]}" "$OUT/$name.json" || rc=1
  return $rc
}

log "go test -race ./... (SQLite and PostgreSQL)"
# One run of every test, under the race detector. It includes the
# fault-injection tests of docs/RELIABILITY.md (the real binary killed
# during a replay, two replicas with a killed leader, Slack and X
# outages, PostgreSQL stopped and restarted in a cluster of the test's
# own) against fakes at the platforms' limits; they run in parallel with
# each other (-parallel 12: their time is the platforms' pacing and the
# wall clock, not CPU), so the package takes about as long as the longest
# of them: about 4½ minutes on 2 cores (2026-12-03; README.md has the
# whole run's figures, docs/RELIABILITY.md each test's). The only skip allowed: the router's allocation test, which
# the race detector defeats on purpose (sync.Pool drops items under it).
# Nothing may skip for want of PostgreSQL (present here) or of
# ../shared (the tests need nothing outside the repository).
# The Kubernetes manifests, decoded strictly into k8s.io/api types. That
# module compiles for about 45-70 s from a cold build cache (2 cores), so
# it lives in a module of its own (examples/kubernetes/check) instead of
# slowing every `go test ./...`, and it runs beside the tests: their
# end-to-end half waits on the platforms' pacing, not the CPU.
(cd examples/kubernetes/check && go vet ./... && go test -count=1 ./...) >"$OUT/kubernetes.log" 2>&1 &
k8s_pid=$!
run_tests test \
  "sync.Pool drops items at random under the race detector" \
  -- -race -count=1 -parallel 12 -timeout 30m ./... || failed="go test"
if wait "$k8s_pid"; then
  echo "examples/kubernetes: manifests decode strictly into k8s.io/api types: $(tail -1 "$OUT/kubernetes.log")"
else
  cat "$OUT/kubernetes.log"
  failed="${failed:+$failed, }Kubernetes examples"
fi

# Every fuzz target (found in the *_test.go files) runs for a bounded time
# (FUZZTIME each, default 5s; FUZZTIME=0 skips). A failing input is
# written to the package's testdata/fuzz/<Target>/ — commit it with the
# fix, and it runs as a seed in every plain `go test` after.
# Minimization is bounded too: Go's default (60 s per new input) would
# swallow the whole budget on the large fixture seeds.
FUZZTIME=${FUZZTIME:-5s}
if [ "$FUZZTIME" != "0" ]; then
  log "fuzzing (${FUZZTIME} per target)"
  targets=$(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | grep -v '/testdata/' | sed 's#^\(.*\)/[^/]*_test.go:func #\1:#' | sort)
  for target in $targets; do
    pkg=${target%%:*}; name=${target##*:}
    out="$OUT/fuzz-$name.log"
    rc=0
    go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 1s -parallel 2 "$pkg" >"$out" 2>&1 || rc=$?
    execs=$(grep -o 'elapsed: [0-9]*s, execs: [0-9]*' "$out" | tail -n 1 || true)
    if [ "$rc" = 0 ]; then
      printf '%-22s %-20s ok (%s)\n' "$name" "$pkg" "${execs:-no progress line}"
    elif grep -q '^    context deadline exceeded$' "$out" && ! grep -q 'Failing input written' "$out"; then
      # Go before 1.27 can end a run with a bare "context deadline exceeded"
      # when -fuzztime expires under load (go.dev/issue/75804): no input
      # failed, none was written. The run counts as passed.
      printf '%-22s %-20s ok (%s; ended by the fuzzing coordinator'"'"'s end-of-time race, go.dev/issue/75804: no failing input)\n' "$name" "$pkg" "${execs:-no progress line}"
    else
      cat "$out"
      echo "FAIL: $name ($pkg)"
      exit 1
    fi
  done
fi

if [ -n "$failed" ]; then
  log "FAILED: $failed (after $((SECONDS - began))s); the report above lists the failures"
  exit 1
fi
log "all tests passed in $((SECONDS - began))s"
