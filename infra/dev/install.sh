#!/usr/bin/env bash
# Installs what the dev services and the tests need and is missing: redis-server, nats-server and b3sum
# from apt, MinIO built from source with `go install` into a per-machine cache outside the repo.
# Idempotent: a second run finds everything and changes nothing. Prints what it did.
#
#   ARMILLARIA_MINIO_CACHE   where MinIO is built (default ${XDG_CACHE_HOME:-$HOME/.cache}/armillaria/minio)
#   ARMILLARIA_MINIO_VERSION module version to build (default pinned below)
set -euo pipefail

MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=${ARMILLARIA_MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}
CACHE=${ARMILLARIA_MINIO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/armillaria/minio}
MINIO_BIN=$CACHE/bin/minio

log() { printf '[install] %s\n' "$*"; }

# Some distros keep nats-server in /usr/sbin, which is not on every user's PATH.
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/local/sbin/$1" ]; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else log "need root for: $*"; return 1
  fi
}

# --- apt packages (binary name -> package name) ---
missing_pkgs=()
have redis-server || missing_pkgs+=(redis-server)
have nats-server || missing_pkgs+=(nats-server)
have b3sum || missing_pkgs+=(b3sum)

if [ ${#missing_pkgs[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    log "missing ${missing_pkgs[*]} and apt-get is not available: install them with your package manager, or use infra/dev/docker-compose.yml"
    exit 1
  fi
  log "installing ${missing_pkgs[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq "${missing_pkgs[@]}" </dev/null
  # The Debian package starts a system redis on 6379; the tests use their own ports, so leave it.
else
  log "redis-server, nats-server, b3sum: already installed"
fi

# --- MinIO, built once per machine ---
if [ -x "$MINIO_BIN" ]; then
  log "minio: already built at $MINIO_BIN"
else
  GO=$(command -v go || true)
  [ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
  if [ -z "$GO" ]; then
    log "minio: not built and Go is not installed; install Go (https://go.dev/dl/, the version MinIO's go.mod needs) and rerun, or set ARMILLARIA_MINIO_BIN to a minio binary"
    exit 1
  fi
  log "minio: building $MINIO_MODULE@$MINIO_VERSION into $CACHE/bin with $("$GO" version) (takes a few minutes, once)"
  mkdir -p "$CACHE/bin"
  start=$(date +%s)
  GOBIN="$CACHE/bin" GOFLAGS="${GOFLAGS:--p=2}" "$GO" install "$MINIO_MODULE@$MINIO_VERSION"
  log "minio: built in $(( $(date +%s) - start ))s"
fi

log "done: redis-server=$(command -v redis-server || echo /usr/sbin/redis-server) nats-server=$(command -v nats-server || echo /usr/sbin/nats-server) minio=$MINIO_BIN"
