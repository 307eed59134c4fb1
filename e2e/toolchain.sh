#!/usr/bin/env bash
# Builds the real-engine e2e toolchain from Go modules only (Go module proxy), into a cache outside
# the repo, keyed by version:
#
#   ${PG_RECOVERY_CACHE:-$HOME/.cache/pg-recovery}/toolchain/<name>-<version>/bin/...
#   ${PG_RECOVERY_CACHE:-$HOME/.cache/pg-recovery}/toolchain/bin/   (symlinks to all of them)
#
# Usage:
#   e2e/toolchain.sh                build what is missing (progress on stderr), print the bin dir
#   e2e/toolchain.sh --print-path   print the bin dir only (builds nothing)
#   e2e/toolchain.sh --check        exit 0 only if every binary is built and runs
#   e2e/toolchain.sh --only NAME    build one of: pulumi pulumi-resource-kubernetes kubernetes etcd kwok
#   e2e/toolchain.sh --regen-kubernetes
#                                   rewrite toolchain/kubernetes/go.mod (+ go.sum) for K8S_VERSION:
#                                   k8s.io/kubernetes's ./staging replaces -> published v0.N.M releases
#
# Versions: e2e/versions.env. Wrapper modules: e2e/toolchain/<name>/go.mod (+ go.sum).
# A second run costs seconds: a binary is rebuilt only when its stamp (version, Go version,
# wrapper go.mod/go.sum hash, build flags) changed or it no longer runs.
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$E2E_DIR/versions.env"

CACHE="${PG_RECOVERY_CACHE:-$HOME/.cache/pg-recovery}"
TC="$CACHE/toolchain"
BIN="$TC/bin"
LOGS="$TC/logs"

# Builds: the machine's Go only, no cgo, reproducible paths, no VCS stamping (wrappers live in
# the project's git repo), go.mod/go.sum must already be complete (-mod=readonly).
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOFLAGS="-mod=readonly -buildvcs=false"
# 2 cores: one binary at a time, go's own package parallelism = cores.
GO_P="${PG_RECOVERY_GO_P:-$(nproc 2>/dev/null || echo 2)}"

log() { printf '[toolchain] %s\n' "$*" >&2; }
die() { printf '[toolchain] ERROR: %s\n' "$*" >&2; exit 1; }

mode=build
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --print-path) mode=print ;;
    --check) mode=check ;;
    --only) only="${2:?--only needs a name}"; shift ;;
    --regen-kubernetes) mode=regen-kubernetes ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

if [ "$mode" = print ]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || die "go not found on PATH (need Go $GO_VERSION)"
have_go="$(go env GOVERSION)"
if [ "$have_go" != "go$GO_VERSION" ]; then
  log "warning: versions.env names Go $GO_VERSION, this machine has $have_go"
fi

hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# require_in_gomod DIR MODULE VERSION: the wrapper's go.mod must pin what versions.env says.
require_in_gomod() {
  local dir="$1" mod="$2" ver="$3" got
  got="$(cd "$dir" && { go list -m -f '{{.Version}}' "$mod" 2>/dev/null || true; })"
  [ "$got" = "$ver" ] || die "$dir/go.mod pins $mod at '${got:-nothing}', versions.env says $ver; run: (cd $dir && go get -tool ... && go mod tidy)"
}

# stamp_ok DIR KEY BIN_CHECK...: the stamp matches and the check command runs.
stamp_ok() {
  local dir="$1" key="$2"; shift 2
  [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$key" ] || return 1
  "$@" >/dev/null 2>&1
}

# build NAME VERSION KEY CHECK_CMD -- BUILD_FN: runs BUILD_FN with a log, times it, stamps it.
build() {
  local name="$1" ver="$2" key="$3" check="$4" fn="$5"
  local dir="$TC/$name-$ver" start elapsed logf="$LOGS/$name-$ver.log"
  if stamp_ok "$dir" "$key" bash -c "$check"; then
    log "$name $ver: cached ($dir)"
    link_bins "$dir"
    return 0
  fi
  log "$name $ver: building (log: $logf) ..."
  start=$SECONDS
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp/bin" "$LOGS"
  if ! ( "$fn" "$dir.tmp" ) >"$logf" 2>&1; then
    elapsed=$((SECONDS - start))
    tail -n 30 "$logf" >&2 || true
    rm -rf "$dir.tmp"
    die "building $name $ver FAILED after ${elapsed}s (full log: $logf)"
  fi
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  if ! bash -c "$check" >>"$logf" 2>&1; then
    die "$name $ver was built but does not run: '$check' failed (log: $logf)"
  fi
  echo "$key" >"$dir/.stamp"
  elapsed=$((SECONDS - start))
  log "$name $ver: built in ${elapsed}s ($(du -sh "$dir" | cut -f1))"
  link_bins "$dir"
}

link_bins() {
  local f
  mkdir -p "$BIN"
  for f in "$1"/bin/*; do
    ln -sfn "$f" "$BIN/$(basename "$f")"
  done
}

gobuild() { # gobuild WRAPPER_DIR [go build args...] PKGS...  (go build fetches what it needs)
  local wdir="$1"; shift
  (cd "$wdir" && go build -p "$GO_P" -trimpath "$@")
}

# ---------------------------------------------------------------- pulumi CLI
W_PULUMI="$E2E_DIR/toolchain/pulumi"
PULUMI_LDFLAGS="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
build_pulumi() {
  # Release flags from pulumi's .goreleaser.yml: -trimpath, tags osusergo,grpcnotrace, -s -w.
  gobuild "$W_PULUMI" -tags osusergo,grpcnotrace -ldflags "$PULUMI_LDFLAGS" \
    -o "$1/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

# ---------------------------------------------------------------- kubernetes provider plugin
W_PROV="$E2E_DIR/toolchain/pulumi-resource-kubernetes"
PROV_MOD=github.com/pulumi/pulumi-kubernetes/provider/v4
PROV_LDFLAGS="-s -w -X $PROV_MOD/pkg/version.Version=$K8S_PROVIDER_VERSION"
build_provider() {
  local out="$1" moddir work
  (cd "$W_PROV" && go mod download "$PROV_MOD")
  moddir="$(cd "$W_PROV" && go list -m -f '{{.Dir}}' "$PROV_MOD")"
  # Trap: main.go embeds schema-embed.json + terraform-mapping-embed.json, which upstream
  # generates (go:generate, gitignored), so they are not in the module. The module cache is
  # read-only and `go build -overlay` refuses to replace files under GOMODCACHE, so: copy the
  # module out, generate the two files into the copy, drop its `sdk/v4 => ../sdk` replace, and
  # build it through a go.work next to the wrapper module (whose go.mod/go.sum pin every
  # dependency version).
  work="$out/src"
  rm -rf "$work"
  mkdir -p "$work"
  cp -r "$moddir" "$work/provider"
  chmod -R u+w "$work/provider"
  (cd "$W_PROV" && go run ./embedgen -version "$K8S_PROVIDER_VERSION" \
    -src "$work/provider/cmd/pulumi-resource-kubernetes" -out "$work/provider/cmd/pulumi-resource-kubernetes")
  (cd "$work/provider" && go mod edit -dropreplace github.com/pulumi/pulumi-kubernetes/sdk/v4)
  printf 'go 1.26\n\nuse (\n\t%s\n\t./provider\n)\n' "$W_PROV" >"$work/go.work"
  (cd "$work" && GOWORK="$work/go.work" go build -p "$GO_P" -trimpath -ldflags "$PROV_LDFLAGS" \
    -o "$out/bin/pulumi-resource-kubernetes" "$PROV_MOD/cmd/pulumi-resource-kubernetes")
  rm -rf "$work"
}

# ---------------------------------------------------------------- kubernetes control plane
W_K8S="$E2E_DIR/toolchain/kubernetes"
K8S_MINOR="${K8S_VERSION#*.}"; K8S_MINOR="${K8S_MINOR%%.*}"
# Trap: without these the binaries report v0.0.0 and the Kubernetes provider refuses the cluster.
K8S_LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$K8S_MINOR -X k8s.io/component-base/version.gitTreeState=clean"
build_kubernetes() {
  gobuild "$W_K8S" -ldflags "$K8S_LDFLAGS" -o "$1/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl
}

# ---------------------------------------------------------------- etcd
W_ETCD="$E2E_DIR/toolchain/etcd"
build_etcd() {
  gobuild "$W_ETCD" -ldflags "-s -w" -o "$1/bin/etcd" go.etcd.io/etcd/server/v3
}

# ---------------------------------------------------------------- kwok
W_KWOK="$E2E_DIR/toolchain/kwok"
build_kwok() {
  local out="$1" moddir s
  gobuild "$W_KWOK" -ldflags "-s -w" -o "$out/bin/kwok" sigs.k8s.io/kwok/cmd/kwok
  # kwok itself needs Stage objects; take the upstream default ("fast") stages shipped in the
  # same module version (the ones kwokctl embeds) instead of keeping copies in the repo.
  moddir="$(cd "$W_KWOK" && go mod download sigs.k8s.io/kwok && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  mkdir -p "$out/stages"
  for s in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
           pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    cp "$moddir/kustomize/stage/$s.yaml" "$out/stages/$(basename "$s").yaml"
  done
  chmod u+w "$out"/stages/*.yaml
}

# ---------------------------------------------------------------- run
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
case "$only" in ""|pulumi|pulumi-resource-kubernetes|kubernetes|etcd|kwok) ;; *) die "unknown --only $only";; esac

if [ "$mode" = regen-kubernetes ]; then
  # Used when bumping K8S_VERSION: the wrapper needs the kubernetes module's own staging list.
  gomod="$(cd "$W_K8S" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" \
    | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@v$K8S_VERSION's go.mod"
  {
    echo "// Wrapper module: builds kube-apiserver, kube-controller-manager, kube-scheduler and kubectl"
    echo "// from k8s.io/kubernetes v$K8S_VERSION via the Go module proxy. Version pinned in ../../versions.env."
    echo "// The replace block maps k8s.io/kubernetes's ./staging/... replaces to the published v$K8S_STAGING_VERSION"
    echo "// releases (regenerate with: ../../toolchain.sh --regen-kubernetes)."
    echo "module pg-recovery.local/e2e/toolchain/kubernetes"
    echo
    echo "go $(sed -n 's/^go //p' "$gomod")"
    echo
    grep '^godebug' "$gomod" || true
    echo
    echo "replace ("
    grep '=> ./staging' "$gomod" | awk -v s="v$K8S_STAGING_VERSION" '{print "\t" $1 " => " $1 " " s}'
    echo ")"
  } >"$W_K8S/go.mod"
  rm -f "$W_K8S/go.sum"
  (cd "$W_K8S" && GOFLAGS=-mod=mod go get -tool \
    "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-controller-manager@v$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-scheduler@v$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kubectl@v$K8S_VERSION" && GOFLAGS=-mod=mod go mod tidy) \
    || die "regenerating $W_K8S/go.mod failed"
  log "rewrote $W_K8S/go.mod and go.sum for Kubernetes v$K8S_VERSION"
  exit 0
fi

GOV="$(go env GOVERSION)"
total_start=$SECONDS
mkdir -p "$TC"

if [ "$mode" = check ]; then
  ok=0
  for n in "pulumi-$PULUMI_VERSION/bin/pulumi" "pulumi-resource-kubernetes-$K8S_PROVIDER_VERSION/bin/pulumi-resource-kubernetes" \
           "kubernetes-$K8S_VERSION/bin/kube-apiserver" "kubernetes-$K8S_VERSION/bin/kube-controller-manager" \
           "kubernetes-$K8S_VERSION/bin/kube-scheduler" "kubernetes-$K8S_VERSION/bin/kubectl" \
           "etcd-$ETCD_VERSION/bin/etcd" "kwok-$KWOK_VERSION/bin/kwok"; do
    [ -x "$TC/$n" ] || { log "missing: $TC/$n"; ok=1; }
  done
  exit $ok
fi

if want pulumi; then
  require_in_gomod "$W_PULUMI" github.com/pulumi/pulumi/pkg/v3 "v$PULUMI_VERSION"
  require_in_gomod "$W_PULUMI" github.com/pulumi/pulumi/sdk/v3 "v$PULUMI_VERSION"
  build pulumi "$PULUMI_VERSION" \
    "$PULUMI_VERSION $GOV $(hash_of "$W_PULUMI/go.mod" "$W_PULUMI/go.sum") $PULUMI_LDFLAGS" \
    "'$TC/pulumi-$PULUMI_VERSION/bin/pulumi' version | grep -qx 'v$PULUMI_VERSION'" build_pulumi
fi
if want pulumi-resource-kubernetes; then
  require_in_gomod "$W_PROV" "$PROV_MOD" "$K8S_PROVIDER_MODULE_VERSION"
  build pulumi-resource-kubernetes "$K8S_PROVIDER_VERSION" \
    "$K8S_PROVIDER_MODULE_VERSION $GOV $(hash_of "$W_PROV/go.mod" "$W_PROV/go.sum" "$W_PROV/embedgen/main.go") $PROV_LDFLAGS" \
    "go version -m '$TC/pulumi-resource-kubernetes-$K8S_PROVIDER_VERSION/bin/pulumi-resource-kubernetes' | grep -q '$PROV_MOD'" build_provider
fi
if want kubernetes; then
  require_in_gomod "$W_K8S" k8s.io/kubernetes "v$K8S_VERSION"
  build kubernetes "$K8S_VERSION" \
    "$K8S_VERSION $GOV $(hash_of "$W_K8S/go.mod" "$W_K8S/go.sum") $K8S_LDFLAGS" \
    "'$TC/kubernetes-$K8S_VERSION/bin/kube-apiserver' --version | grep -qx 'Kubernetes v$K8S_VERSION' && '$TC/kubernetes-$K8S_VERSION/bin/kubectl' version --client | grep -q 'v$K8S_VERSION'" build_kubernetes
fi
if want etcd; then
  require_in_gomod "$W_ETCD" go.etcd.io/etcd/server/v3 "v$ETCD_VERSION"
  build etcd "$ETCD_VERSION" \
    "$ETCD_VERSION $GOV $(hash_of "$W_ETCD/go.mod" "$W_ETCD/go.sum")" \
    "'$TC/etcd-$ETCD_VERSION/bin/etcd' --version | grep -q 'etcd Version: $ETCD_VERSION'" build_etcd
fi
if want kwok; then
  require_in_gomod "$W_KWOK" sigs.k8s.io/kwok "v$KWOK_VERSION"
  build kwok "$KWOK_VERSION" \
    "$KWOK_VERSION $GOV $(hash_of "$W_KWOK/go.mod" "$W_KWOK/go.sum")" \
    "'$TC/kwok-$KWOK_VERSION/bin/kwok' --version | grep -q '$KWOK_VERSION' && ls '$TC/kwok-$KWOK_VERSION/stages/pod-ready.yaml'" build_kwok
fi

log "toolchain ready in $((SECONDS - total_start))s: $BIN"
echo "$BIN"
