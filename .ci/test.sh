#!/usr/bin/env bash
# The whole test suite, as README.md gives it: go vet, gofmt, every test
# against SQLite and a throwaway PostgreSQL cluster, and the race detector.
#
# PostgreSQL: if CAREBRIDGE_TEST_POSTGRES_URL is set, that server is used.
# Otherwise the script finds Debian's PostgreSQL binaries (installing the
# `postgresql` package with apt-get if they are missing and it may), starts
# a cluster in a temporary directory on a free local port as a non-root
# user, and removes it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

log "go vet"
go vet ./...

log "static build (what the Dockerfile builds)"
CGO_ENABLED=0 go build -trimpath -o /dev/null ./cmd/carebridge

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
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

log "go test ./... (SQLite and PostgreSQL)"
# This run includes the fault-injection tests of docs/RELIABILITY.md (the
# real binary killed 10 times during a 2,000-post replay, two replicas with
# a killed leader, two-minute Slack and X outages, PostgreSQL stopped and
# restarted in a cluster of the test's own): about 12 minutes of
# cmd/carebridge. They skip under -short, so the race run below leaves
# them out. CAREBRIDGE_E2E_OUTAGE_WINDOW stays unset here: CI runs the
# issue's two-minute outages.
go test -count=1 -timeout 45m ./...

log "go test -race (packages with concurrency)"
go test -race -short -count=1 -timeout 30m ./bridge/... ./store/... ./adapters/... ./cmd/...

# Every fuzz target runs for a bounded time (FUZZTIME each, default 10s;
# FUZZTIME=0 skips): ten targets, about two minutes on two cores. A
# failing input is written to the package's testdata/fuzz/<Target>/ — commit
# it with the fix, and it runs as a seed in every plain `go test` after.
# Minimization is bounded too: Go's default (60 s per new input) would
# swallow the whole budget on the large fixture seeds.
FUZZTIME=${FUZZTIME:-10s}
if [ "$FUZZTIME" != "0" ]; then
  log "fuzzing (${FUZZTIME} per target)"
  for target in \
    ./adapters/slack:FuzzEventsHandler \
    ./adapters/slack:FuzzPlainText \
    ./adapters/slack:FuzzVerifySignature \
    ./adapters/slack:FuzzSocketFrame \
    ./adapters/x:FuzzNormalizePage \
    ./adapters/x:FuzzStreamDecode \
    ./bridge/config:FuzzParse \
    ./bridge/route:FuzzRoute \
    ./bridge/guard:FuzzCheck \
    ./bridge/watch:FuzzCalendarAdd; do
    pkg=${target%%:*}; name=${target##*:}
    echo "-- $name ($pkg)"
    out=$(mktemp)
    if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 1s -parallel 2 "$pkg" >"$out" 2>&1; then
      # Go before 1.27 can end a run with a bare "context deadline exceeded"
      # when -fuzztime expires under load (go.dev/issue/75804): no input
      # failed, none was written. Anything else is a real failure.
      if grep -q '^    context deadline exceeded$' "$out" && ! grep -q 'Failing input written' "$out"; then
        echo "(ignored: the fuzzing coordinator's end-of-time race, go.dev/issue/75804; no failing input)"
      else
        cat "$out"; rm -f "$out"; exit 1
      fi
    fi
    tail -n 2 "$out"; rm -f "$out"
  done
fi

log "all tests passed"
