#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint, built from the Go module proxy (no binary
# downloads), into the same cache as the e2e toolchain:
#
#   ${PG_RECOVERY_CACHE:-$HOME/.cache/pg-recovery}/toolchain/actionlint-<version>/bin/actionlint
#
# Usage:
#   tools/actionlint.sh                 build if needed, lint .github/workflows/*.yml
#   tools/actionlint.sh FILE...         lint these files
#   tools/actionlint.sh --print-path    print the binary's path (builds nothing)
#
# The version is pinned by the wrapper module e2e/toolchain/actionlint/go.mod (+ go.sum), built
# with -mod=readonly like the rest of the toolchain. If shellcheck is on PATH, actionlint also
# checks the workflows' `run:` scripts with it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WRAPPER="$ROOT/e2e/toolchain/actionlint"
MODULE=github.com/rhysd/actionlint
CACHE="${PG_RECOVERY_CACHE:-$HOME/.cache/pg-recovery}/toolchain"

log() { printf '[actionlint] %s\n' "$*" >&2; }
die() { printf '[actionlint] ERROR: %s\n' "$*" >&2; exit 2; }

version="$(sed -n "s|^[[:space:]]*$MODULE v\([^ ]*\).*|\1|p" "$WRAPPER/go.mod" | head -n 1)"
[ -n "$version" ] || die "$WRAPPER/go.mod does not pin $MODULE"
dir="$CACHE/actionlint-$version"
bin="$dir/bin/actionlint"

if [ "${1:-}" = "--print-path" ]; then
  echo "$bin"
  exit 0
fi

# Rebuilt only when the wrapper module changed (its hash is the stamp) or the binary is gone.
stamp="$(cat "$WRAPPER/go.mod" "$WRAPPER/go.sum" | sha256sum | cut -c1-16)"
if [ ! -x "$bin" ] || [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$stamp" ]; then
  command -v go >/dev/null || die "go not found on PATH: it builds actionlint from the module proxy"
  log "building actionlint $version from the Go module proxy ..."
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp/bin"
  (
    cd "$WRAPPER"
    GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
      go build -trimpath -ldflags "-s -w" \
      -o "$dir.tmp/bin/actionlint" "$MODULE/cmd/actionlint"
  ) || { rm -rf "$dir.tmp"; die "build failed"; }
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  echo "$stamp" >"$dir/.stamp"
  log "built $bin"
fi

cd "$ROOT"
if [ "$#" -eq 0 ]; then
  set -- .github/workflows/*.yml
fi
exec "$bin" -no-color "$@"
