#!/usr/bin/env bash
# Part of the demo: runs the quickstart connector (examples/quickstart, the
# Fernet tutorial in C) with `mallard debug` and shows its table.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${MALLARD_BUILD_DIR:-$here/build}
echo
echo "== 4. the quickstart connector: mallard debug in examples/quickstart"
cd "$here/examples/quickstart"
"$bin/mallard" reset --yes >/dev/null 2>&1 || true
"$bin/mallard" debug
"$bin/mallard" query files/warehouse.db "SELECT * FROM tester.crypto"
