#!/usr/bin/env bash
# Starts MinIO, Redis and NATS (JetStream) on loopback for development, in the background, with their
# data and logs in a fresh temp dir. Records everything in a state file; `down.sh` stops them.
#   bash infra/dev/up.sh && source "$(bash infra/dev/up.sh --state-file)"
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/common.sh"

if [ "${1:-}" = --state-file ]; then echo "$STATE_FILE"; exit 0; fi

if [ -f "$STATE_FILE" ]; then
  . "$STATE_FILE"
  if pid_is "${REDIS_PID:-}" redis-server && pid_is "${NATS_PID:-}" nats-server && pid_is "${MINIO_PID:-}" minio; then
    log "already running (state: $STATE_FILE)"
    grep '^export ' "$STATE_FILE"
    exit 0
  fi
  log "stale state file $STATE_FILE: cleaning up first"
  bash "$here/down.sh"
fi

for p in "$S3_PORT" "$S3_CONSOLE_PORT" "$REDIS_PORT" "$NATS_PORT"; do
  if port_busy "$p"; then
    log "port 127.0.0.1:$p is in use; pick others with ARMILLARIA_DEV_S3_PORT / _S3_CONSOLE_PORT / _REDIS_PORT / _NATS_PORT"
    exit 1
  fi
done

REDIS_BIN=$(find_bin redis-server); NATS_BIN=$(find_bin nats-server); MINIO_BIN=$(find_bin minio)
if [ -z "$REDIS_BIN" ] || [ -z "$NATS_BIN" ] || [ -z "$MINIO_BIN" ]; then
  bash "$here/install.sh"
  REDIS_BIN=$(find_bin redis-server); NATS_BIN=$(find_bin nats-server); MINIO_BIN=$(find_bin minio)
fi

DEV_DIR=$(mktemp -d "${TMPDIR:-/tmp}/armillaria-dev-XXXXXX")
mkdir -p "$DEV_DIR/redis" "$DEV_DIR/nats" "$DEV_DIR/minio"

# setsid: the servers leave this shell's session, so closing the terminal or Ctrl-C does not stop them.
setsid "$REDIS_BIN" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DEV_DIR/redis" \
  >"$DEV_DIR/redis.log" 2>&1 </dev/null &
REDIS_PID=$!
setsid "$NATS_BIN" -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$DEV_DIR/nats" >"$DEV_DIR/nats.log" 2>&1 </dev/null &
NATS_PID=$!
MINIO_ROOT_USER=$S3_ACCESS_KEY MINIO_ROOT_PASSWORD=$S3_SECRET_KEY MINIO_UPDATE=off setsid "$MINIO_BIN" server \
  --address "127.0.0.1:$S3_PORT" --console-address "127.0.0.1:$S3_CONSOLE_PORT" "$DEV_DIR/minio" >"$DEV_DIR/minio.log" 2>&1 </dev/null &
MINIO_PID=$!
echo "$REDIS_PID" >"$DEV_DIR/redis.pid"; echo "$NATS_PID" >"$DEV_DIR/nats.pid"; echo "$MINIO_PID" >"$DEV_DIR/minio.pid"

cat >"$STATE_FILE" <<STATE
# written by infra/dev/up.sh; removed by infra/dev/down.sh
ARMILLARIA_DEV_DIR=$DEV_DIR
REDIS_PID=$REDIS_PID
NATS_PID=$NATS_PID
MINIO_PID=$MINIO_PID
export ARMILLARIA_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export ARMILLARIA_S3_ACCESS_KEY=$S3_ACCESS_KEY
export ARMILLARIA_S3_SECRET_KEY=$S3_SECRET_KEY
export ARMILLARIA_REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export ARMILLARIA_NATS_URL=nats://127.0.0.1:$NATS_PORT
STATE

redis_ready() { exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT" && printf 'PING\r\n' >&3 && IFS= read -r -t 2 line <&3 && [ "${line%$'\r'}" = +PONG ]; }
nats_ready() { exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT" && IFS= read -r -t 2 line <&3 && [[ $line == INFO* ]] && [[ $line == *'"jetstream":true'* ]]; }
minio_ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$S3_PORT/minio/health/live"; }

wait_ready() { # name pid check
  local name=$1 pid=$2 check=$3 i
  for i in $(seq 1 600); do
    if ( $check ) 2>/dev/null; then log "$name ready"; return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  log "$name did not start; last lines of $DEV_DIR/$name.log:"
  tail -n 30 "$DEV_DIR/$name.log" >&2 || true
  bash "$here/down.sh"
  exit 1
}
wait_ready redis "$REDIS_PID" redis_ready
wait_ready nats "$NATS_PID" nats_ready
wait_ready minio "$MINIO_PID" minio_ready

log "running; data and logs in $DEV_DIR; state in $STATE_FILE"
log "point tests and tools at them with:  source $STATE_FILE"
grep '^export ' "$STATE_FILE"
