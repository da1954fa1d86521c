#!/usr/bin/env bash
# Stops what up.sh started (SIGTERM, SIGKILL after 10 s), removes its temp dir and the state file.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/common.sh"

if [ ! -f "$STATE_FILE" ]; then log "nothing to stop (no $STATE_FILE)"; exit 0; fi
. "$STATE_FILE"

stop() { # name pid binary
  local name=$1 pid=$2 bin=$3 i
  if ! pid_is "$pid" "$bin"; then log "$name: not running"; return; fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do pid_is "$pid" "$bin" || { log "$name: stopped"; return; }; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  log "$name: killed after 10 s"
}
stop redis "${REDIS_PID:-}" redis-server
stop nats "${NATS_PID:-}" nats-server
stop minio "${MINIO_PID:-}" minio

case "${ARMILLARIA_DEV_DIR:-}" in
  */armillaria-dev-*) rm -rf "$ARMILLARIA_DEV_DIR"; log "removed $ARMILLARIA_DEV_DIR" ;;
esac
rm -f "$STATE_FILE"
