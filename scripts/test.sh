#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, runs every test.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/deps.sh"
bash "$here/scripts/build.sh"
cd "${MALLARD_BUILD_DIR:-$here/build}"
ctest --output-on-failure -j2 "$@"
