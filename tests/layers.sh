#!/usr/bin/env bash
# The layers of src/ hold: a module includes only modules of its own layer
# or of lower ones, and only src/warehouse talks to DuckDB's C API.
#
#   util < json, convert < warehouse < engine < airbyte, sdk < cli
#
# (json and convert need only util; the warehouse needs neither; airbyte
# and sdk are two front ends of the engine and do not include each other.)
# Run by ctest as `layers` with SRC set to the source tree.
set -euo pipefail
src=${SRC:-$(cd "$(dirname "$0")/.." && pwd)}/src
declare -A rank=([util]=0 [json]=1 [convert]=1 [warehouse]=2 [engine]=3 [airbyte]=4 [sdk]=4 [cli]=5)
# Calls into DuckDB still made outside src/warehouse, each to be moved there:
# ml_astream.c's drop_from (being rewritten; ml_wh_delete_counted replaces it).
bad=0
for dir in "$src"/*/; do
  layer=$(basename "$dir")
  [ -n "${rank[$layer]+x}" ] || continue
  while IFS= read -r -d '' f; do
    rel=${f#"$src"/}
    while IFS= read -r inc; do
      [ -n "$inc" ] || continue
      other=${inc#../}
      other=${other%%/*}
      if [ -z "${rank[$other]+x}" ]; then
        echo "layers: $rel includes $inc, outside the known layers"; bad=1
      elif [ "$other" != "$layer" ] && [ "${rank[$other]}" -ge "${rank[$layer]}" ]; then
        echo "layers: $rel ($layer) includes $inc ($other): not a lower layer"; bad=1
      fi
    done < <(grep -oE '^#include "\.\./[a-z_]+/' "$f" | sed -E 's/^#include "//' || true)
    if [ "$layer" != warehouse ]; then
      if grep -qE '^#include <duckdb\.h>' "$f"; then
        echo "layers: $rel includes duckdb.h: only src/warehouse talks to DuckDB"; bad=1
      fi
      # nor through a warehouse header that includes it (ml_wh_conn.h, ml_feed.h)
      while IFS= read -r wh; do
        if grep -qE '^#include <duckdb\.h>' "$src/warehouse/$wh"; then
          echo "layers: $rel includes warehouse/$wh, which includes duckdb.h: only src/warehouse talks to DuckDB"; bad=1
        fi
      done < <(grep -oE '^#include "\.\./warehouse/[a-z_]+\.h"' "$f" | sed -E 's|.*/||; s|"$||' || true)
      # string literals are left out: SQL may call duckdb_tables() and such
      if sed -E 's/"([^"\\]|\\.)*"//g' "$f" | grep -qE '\bduckdb_[a-z_]+\('; then
        echo "layers: $rel calls DuckDB's C API: only src/warehouse talks to DuckDB"; bad=1
      fi
    fi
  done < <(find "$dir" -name '*.[ch]' -print0)
done
[ "$bad" = 0 ] && echo "layers: ok"
exit "$bad"
