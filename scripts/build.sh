#!/usr/bin/env bash
# Configures and builds mallard into build/ (or $MALLARD_BUILD_DIR).
# Extra arguments go to cmake's configure step (e.g. -DMALLARD_SANITIZE=ON).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${MALLARD_BUILD_DIR:-$here/build}
command -v cmake >/dev/null || { echo "build: error: cmake not found (run scripts/deps.sh)" >&2; exit 1; }
cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=${MALLARD_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^-- |Built target|Scanning dependencies|Consolidate compiler' || true
test -x "$dir/mallard" || { echo "build: error: build failed (see messages above)" >&2; exit 1; }
