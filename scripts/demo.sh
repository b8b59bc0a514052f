#!/usr/bin/env bash
# Loads the seed example and a generated three-stream sample into
# demo/out/demo.duckdb with `mallard write`, then lists the tables it made.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${MALLARD_BUILD_DIR:-$here/build}
out="$here/demo/out"
rm -rf "$out"
mkdir -p "$out"
export MALLARD_LOCAL_ROOT="$out"
seed="$here/tests/fixtures/airbyte/seed_example"
cat > "$out/config.json" <<'JSON'
{"destination_path": "/local/demo.duckdb"}
JSON

echo "== 1. the seed example (overwrite), as a user of Airbyte's DuckDB destination runs it"
cat "$seed/messages.jsonl" | "$bin/mallard" write --config "$out/config.json" --catalog "$seed/configured_catalog.json" \
  | grep -E '"STATE"|sync complete'

echo
echo "== 2. a generated sample: 300,000 records over 3 streams in namespace 'sample' (append_dedup, 1,000 keys each)"
"$bin/mallard-gen" --records 300000 --streams 3 --key-space 1000 --state-every 10000 --mode append_dedup \
  --namespace sample --catalog "$out/sample_catalog.json" \
  | "$bin/mallard" write --config "$out/config.json" --catalog "$out/sample_catalog.json" | grep -E 'sync complete'

echo
echo "== 3. the tables in $out/demo.duckdb"
"$bin/mallard" query "$out/demo.duckdb"
echo
"$bin/mallard" query "$out/demo.duckdb" \
  "SELECT id, name, email, age, score, active, updated_at, tags, address FROM sample.users ORDER BY id LIMIT 3"
if [ -x "$here/scripts/demo_sdk.sh" ]; then bash "$here/scripts/demo_sdk.sh"; fi
