#!/usr/bin/env bash
# Build the real control-plane binaries the tests run (kube-apiserver,
# kube-controller-manager, etcd) and helm, from Go modules, at pinned versions.
#
# Binaries are cached outside the repo, keyed by version, so only the first run
# on a machine pays for the build (10-25 minutes on 2 cores):
#   ${DIAG_CACHE:-~/.cache/diagnosis-operator}/bin/<name>-<version>
# Prints nothing but progress on stderr; exits non-zero on any failure.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE="${DIAG_CACHE:-$HOME/.cache/diagnosis-operator}"
BIN="$CACHE/bin"
WORK="$CACHE/build"
mkdir -p "$BIN" "$WORK"
export CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { echo "[controlplane] $*" >&2; }

need() {  # need NAME VERSION -> true when the cached binary is missing
    [ ! -x "$BIN/$1-$2" ]
}

kube_gomod() {  # kube_gomod DIR: a go.mod requiring k8s.io/kubernetes with its staging modules
    local dir="$1" staging_version="v0${KUBE_VERSION#v1}" gomod
    gomod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
    {
        echo "module diagnosis-operator.test/kubebins"
        echo
        grep -E '^go [0-9]' "$gomod"
        grep -E '^godebug ' "$gomod" || true
        echo
        echo "require k8s.io/kubernetes $KUBE_VERSION"
        echo
        echo "replace ("
        # every staging module of this release, at the matching v0 version
        grep -oE '^\s*k8s.io/[a-z0-9-]+ => ./staging/' "$gomod" | awk '{print $1}' |
            while read -r m; do echo "    $m => $m $staging_version"; done
        echo ")"
    } >"$dir/go.mod"
}

kube_ldflags() {
    echo "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2) -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
}

build_kube_cmds() {  # build_kube_cmds DIRNAME CMD...: k8s.io/kubernetes/cmd/CMD into $BIN/CMD-<version>
    local dir="$WORK/$1-$KUBE_VERSION" cmd packages=()
    shift
    mkdir -p "$dir"
    log "building $* $KUBE_VERSION (cold: 10-25 min)"
    kube_gomod "$dir"
    for cmd in "$@"; do packages+=("k8s.io/kubernetes/cmd/$cmd"); done
    {
        printf '//go:build tools\n\npackage kubebins\n\nimport (\n'
        for package in "${packages[@]}"; do printf '\t_ "%s"\n' "$package"; done
        printf ')\n'
    } >"$dir/tools.go"
    (cd "$dir" && go mod tidy >&2)
    (cd "$dir" && go build -trimpath -ldflags "$(kube_ldflags)" -o "$dir/out/" "${packages[@]}" >&2)
    for cmd in "$@"; do mv "$dir/out/$cmd" "$BIN/$cmd-$KUBE_VERSION"; done
}

build_kube() { build_kube_cmds kube kube-apiserver kube-controller-manager; }

# the real kubectl of the same release: the e2e tests run the docs' commands with it
build_kubectl() { build_kube_cmds kubectl kubectl; }

build_etcd() {
    local dir="$WORK/etcd-$ETCD_VERSION"
    mkdir -p "$dir"
    log "building etcd $ETCD_VERSION"
    cat >"$dir/go.mod" <<EOF
module diagnosis-operator.test/etcdbin

go 1.26.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
    cat >"$dir/main.go" <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
    (cd "$dir" && go mod tidy >&2 && go build -trimpath -ldflags "-s -w" -o "$dir/etcd" . >&2)
    mv "$dir/etcd" "$BIN/etcd-$ETCD_VERSION"
}

build_helm() {
    local dir="$WORK/helm-$HELM_VERSION"
    mkdir -p "$dir"
    log "building helm $HELM_VERSION"
    cat >"$dir/go.mod" <<EOF
module diagnosis-operator.test/helmbin

go 1.26.0

require helm.sh/helm/v3 $HELM_VERSION
EOF
    cat >"$dir/tools.go" <<'EOF'
//go:build tools

package helmbin

import _ "helm.sh/helm/v3/cmd/helm"
EOF
    (cd "$dir" && go mod tidy >&2 &&
        go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" -o "$dir/out/" helm.sh/helm/v3/cmd/helm >&2)
    mv "$dir/out/helm" "$BIN/helm-$HELM_VERSION"
}

what="${1:-all}"
if [[ "$what" == all || "$what" == etcd ]] && need etcd "$ETCD_VERSION"; then build_etcd; fi
if [[ "$what" == all || "$what" == helm ]] && need helm "$HELM_VERSION"; then build_helm; fi
if [[ "$what" == all || "$what" == kubectl ]] && need kubectl "$KUBE_VERSION"; then build_kubectl; fi
if [[ "$what" == all || "$what" == kube ]] && { need kube-apiserver "$KUBE_VERSION" || need kube-controller-manager "$KUBE_VERSION"; }; then build_kube; fi
log "binaries ready in $BIN"
ls -1 "$BIN" >&2
