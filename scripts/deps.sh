#!/usr/bin/env bash
# Installs what mallard needs to build and test, and nothing else:
#   - Debian packages (by name, through apt-get), only those missing;
#   - DuckDB 1.4.4's C header and shared library, from the npm registry through
#     `npm pack` (no install scripts run), checked against pinned SHA-256 sums and
#     unpacked into third_party/duckdb/ (kept out of git).
# Set MALLARD_DUCKDB_DIR=/prefix (holding include/duckdb.h and lib/libduckdb.so)
# to use a DuckDB you already have; then nothing is fetched from npm.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "deps: error: $*" >&2; exit 1; }
say() { echo "deps: $*" >&2; }

# Debian packages: the build tool chain, the unit-test framework, OpenSSL (the
# quickstart connector's Fernet decryption), Python 3 with `cryptography` (the
# Python connectors' tests and the Python quickstart; mallard itself needs no
# Python to build or to run C connectors) and node/npm (to fetch DuckDB).
# The container image (scripts/image.sh and its tests): debootstrap makes the
# Debian base, skopeo writes the docker-archive, umoci unpacks the OCI layout
# for the chroot test, docker.io's dockerd loads and runs the image.
pkgs=(build-essential cmake pkg-config libcmocka-dev libssl-dev ca-certificates python3 python3-cryptography
      debootstrap skopeo umoci docker.io)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from elsewhere than Debian (a newer Node.js): only ask
# Debian for them when the commands are not there at all.
if [ -z "${MALLARD_DUCKDB_DIR:-}" ] && ! command -v npm >/dev/null; then missing+=(npm); fi
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get: install them by hand"
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing packages (${missing[*]}): run this script as root, or install them"
    SUDO=sudo
  else
    SUDO=
  fi
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq || die "apt-get update failed (network or sources.list?)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi

if [ -n "${MALLARD_DUCKDB_DIR:-}" ]; then
  [ -f "$MALLARD_DUCKDB_DIR/include/duckdb.h" ] || die "MALLARD_DUCKDB_DIR=$MALLARD_DUCKDB_DIR has no include/duckdb.h"
  [ -f "$MALLARD_DUCKDB_DIR/lib/libduckdb.so" ] || die "MALLARD_DUCKDB_DIR=$MALLARD_DUCKDB_DIR has no lib/libduckdb.so"
  say "using DuckDB from $MALLARD_DUCKDB_DIR"
  exit 0
fi

dest="$here/third_party/duckdb"
stamp="$dest/.version"
want="duckdb@1.4.4 @duckdb/node-bindings-linux-x64@1.4.4-r.4"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$dest/include/duckdb.h" ] && [ -f "$dest/lib/libduckdb.so" ]; then
  exit 0
fi
command -v npm >/dev/null || die "npm not found (apt-get install npm)"
[ "$(uname -m)" = x86_64 ] || die "the npm DuckDB package is for linux-x64; on $(uname -m) set MALLARD_DUCKDB_DIR to a DuckDB 1.4.4 build"

cache="$here/third_party/.cache"
mkdir -p "$cache"
# name of the tarball, its pinned SHA-256, and the file we take from it
header_tgz=duckdb-1.4.4.tgz
header_sum=5bb967dcbcd517670ba5f169f238fb9d6787e53752c60ebe24386169d76941ed
lib_tgz=duckdb-node-bindings-linux-x64-1.4.4-r.4.tgz
lib_sum=732fac4dc6b8f198870b9c4bb6ddf13544466daca00ad28ba2f1d80de5d7aa4b

fetch() { # $1 package spec, $2 tarball name, $3 sha256
  if [ -f "$cache/$2" ] && echo "$3  $cache/$2" | sha256sum -c --status; then return 0; fi
  rm -f "$cache/$2"
  say "fetching $1 with npm pack"
  (cd "$cache" && npm pack --silent --ignore-scripts "$1" >/dev/null) || die "npm pack $1 failed (is the npm registry reachable?)"
  [ -f "$cache/$2" ] || die "npm pack $1 did not produce $2"
  echo "$3  $cache/$2" | sha256sum -c --status || { rm -f "$cache/$2"; die "checksum mismatch for $2: refusing to use it"; }
}
fetch duckdb@1.4.4 "$header_tgz" "$header_sum"
fetch @duckdb/node-bindings-linux-x64@1.4.4-r.4 "$lib_tgz" "$lib_sum"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar xzf "$cache/$header_tgz" -C "$tmp" package/src/duckdb/src/include/duckdb.h || die "duckdb.h missing from $header_tgz"
tar xzf "$cache/$lib_tgz" -C "$tmp" package/libduckdb.so || die "libduckdb.so missing from $lib_tgz"
mkdir -p "$dest/include" "$dest/lib"
install -m 0644 "$tmp/package/src/duckdb/src/include/duckdb.h" "$dest/include/duckdb.h"
install -m 0755 "$tmp/package/libduckdb.so" "$dest/lib/libduckdb.so"
echo "$want" > "$stamp"
say "DuckDB 1.4.4 ready in third_party/duckdb"
