#!/usr/bin/env bash
# Part of the demo: runs the quickstart connector (examples/quickstart, the
# Fernet tutorial in C), then the same tutorial in Python
# (examples/python_quickstart), with `mallard debug` and shows their tables.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${MALLARD_BUILD_DIR:-$here/build}
echo
echo "== 4. the quickstart connector: mallard debug in examples/quickstart"
cd "$here/examples/quickstart"
"$bin/mallard" reset --yes >/dev/null 2>&1 || true
"$bin/mallard" debug
"$bin/mallard" query files/warehouse.db "SELECT * FROM tester.crypto"

echo
echo "== 5. the same tutorial in Python, unchanged from the Fivetran SDK's: mallard debug in examples/python_quickstart"
cd "$here/examples/python_quickstart"
# Debian's python3 carries python3-cryptography (scripts/deps.sh); another
# python3 first on PATH may not
py=python3
python3 -c 'import cryptography' 2>/dev/null || py=/usr/bin/python3
"$bin/mallard" reset --yes >/dev/null 2>&1 || true
"$bin/mallard" debug --python "$py"
"$bin/mallard" query files/warehouse.db "SELECT * FROM tester.crypto"
