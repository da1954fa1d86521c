# Shared by up.sh and down.sh (sourced, not run). Ports and credentials match docker-compose.yml.
# Non-default ports, so a system redis on 6379 (the Debian package starts one) does not get in the way.
S3_PORT=${ARMILLARIA_DEV_S3_PORT:-19000}
S3_CONSOLE_PORT=${ARMILLARIA_DEV_S3_CONSOLE_PORT:-19001}
REDIS_PORT=${ARMILLARIA_DEV_REDIS_PORT:-16379}
NATS_PORT=${ARMILLARIA_DEV_NATS_PORT:-14222}
S3_ACCESS_KEY=${ARMILLARIA_S3_ACCESS_KEY:-minioadmin}
S3_SECRET_KEY=${ARMILLARIA_S3_SECRET_KEY:-minioadmin}
# The state file records the temp dir, the pids and the env vars; `source` it to point tests at the servers.
STATE_FILE=${ARMILLARIA_DEV_STATE:-${XDG_RUNTIME_DIR:-${TMPDIR:-/tmp}}/armillaria-dev-services-$(id -u).env}
MINIO_CACHE=${ARMILLARIA_MINIO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/armillaria/minio}

log() { printf '[dev] %s\n' "$*"; }

find_bin() { # name -> path (PATH, sbin dirs, MinIO cache), or nothing
  local name=$1 dir
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  for dir in "$MINIO_CACHE/bin" /usr/local/sbin /usr/sbin /sbin; do
    if [ -x "$dir/$name" ]; then echo "$dir/$name"; return; fi
  done
}

# True if the process is alive and is the server we started (pids get reused).
pid_is() { # pid name
  [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$2"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
