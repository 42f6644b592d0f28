#!/usr/bin/env bash
# Makes the tests' database servers available on a brand-new machine of our kind (Debian 12, root, Go at
# /usr/local/go, no Docker): installs redis-server and PostgreSQL from Debian if they are missing, and builds
# FerretDB (the MongoDB-compatible server) from tools/ferretdb into tools/ferretdb/bin/ferretdb.
# Idempotent: a second run installs and builds nothing. Exports nothing: test/servers finds the binaries by
# PATH and well-known paths (/usr/lib/postgresql/*/bin, tools/ferretdb/bin/ferretdb or FERRETDB_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."

now() { echo "${EPOCHREALTIME/./}"; }
step() { # step NAME CMD...: runs CMD and prints how long it took
  local name=$1 t0
  shift
  t0=$(now)
  "$@"
  local us=$(($(now) - t0))
  printf '[provision] %-22s %d.%01ds\n' "$name" $((us / 1000000)) $((us % 1000000 / 100000))
}

install_packages() {
  local need=()
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || need+=(redis-server)
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
  if [ ${#need[@]} -eq 0 ]; then
    echo "[provision] Debian packages already installed"
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "[provision] missing ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "[provision] installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

build_ferretdb() {
  local dir=tools/ferretdb bin=tools/ferretdb/bin/ferretdb stamp
  # The stamp ties the cached binary to the exact sources and pinned versions it was built from.
  stamp=$(cat "$dir/go.mod" "$dir/go.sum" "$dir/main.go" | sha256sum | cut -c1-16)
  if [ -x "$bin" ] && [ "$(cat "$bin.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "[provision] FerretDB already built ($bin)"
    return
  fi
  local go
  go=$(command -v go || echo /usr/local/go/bin/go)
  if [ ! -x "$go" ]; then
    echo "[provision] Go is needed to build FerretDB (expected at /usr/local/go/bin/go)" >&2
    exit 1
  fi
  echo "[provision] building FerretDB with $("$go" version)"
  mkdir -p "$dir/bin"
  # -mod=readonly: go.mod and go.sum are committed and must already be complete (reproducible build).
  # A temporary name per process: the test setup may build at the same time (tests started during provisioning);
  # each build is renamed into place whole, so the last one wins and the binary is never half written.
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly" "$go" build -trimpath -o "bin/ferretdb.tmp.$$" .)
  mv "$dir/bin/ferretdb.tmp.$$" "$bin"
  echo "$stamp" >"$bin.stamp"
}

# `provision.sh ferretdb`: only the FerretDB build (what the test setup runs when the binary is missing).
if [ "${1:-}" = ferretdb ]; then
  step "FerretDB build" build_ferretdb
  exit 0
fi

step "Debian packages" install_packages
step "FerretDB build" build_ferretdb

pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
echo "[provision] versions:"
echo "  $(redis-server --version | cut -d' ' -f1-3)"
echo "  $("$pg_bin/postgres" --version)"
echo "  FerretDB $(tools/ferretdb/bin/ferretdb --version | sed 's/^version: //')"
echo "  $(/usr/sbin/mariadbd --version 2>/dev/null || mariadbd --version)"
echo "  node $(node --version)"
