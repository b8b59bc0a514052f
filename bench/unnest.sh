#!/usr/bin/env bash
# The unnesting benchmark (issue 12): N records with one array of 5 objects
# (3 fields each) and one object of 3 fields (mallard-gen --nested), loaded
# by `mallard write` with unnest_depth 0 (JSON columns only) and 2 (the
# object flattened into 3 columns, the array into a child table of 5N rows),
# R rounds, alternating, medians.  Prints time, records/s, rows written,
# peak RSS, and the target: depth 2 <= 2x depth 0.
#
#   bash bench/unnest.sh [--records N] [--runs R]
# defaults: 1,000,000 records, 3 runs.  MALLARD_BUILD_DIR picks the build.
# The input is generated to a file first, so the generator is not measured.
set -euo pipefail
source "$(dirname "$0")/bench_lib.sh"
N=1000000 RUNS=3
while [[ $# -gt 0 ]]; do
  case $1 in
    --records) N=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    *) echo "bench/unnest.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
bench_ready bench/unnest.sh mallard-unnest-bench
"$GEN" --records "$N" --state-every 100000 --nested --catalog "$WORK/cat.json" >"$WORK/in.jsonl"
echo "input: $N records, $(($(stat -c %s "$WORK/in.jsonl") / 1048576)) MiB"

declare -A TIMES RSS
run() { # DEPTH
  rm -f "$WORK/db.duckdb" "$WORK/db.duckdb.wal"
  printf '{"destination_path":"%s/db.duckdb","unnest_depth":%s}\n' "$WORK" "$1" >"$WORK/cfg.json"
  /usr/bin/time -f '%e %M' -o "$WORK/time" "$MALLARD" write --config "$WORK/cfg.json" --catalog "$WORK/cat.json" \
    <"$WORK/in.jsonl" >/dev/null
  read -r secs kb <"$WORK/time"
  TIMES[$1]+="$secs "
  RSS[$1]+="$((kb / 1024)) "
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
for ((i = 0; i < RUNS; i++)); do run 0; run 2; done
rows=$("$MALLARD" query "$WORK/db.duckdb" "SELECT count(*) AS n FROM users__lines" --json | sed -E 's/.*:([0-9]+).*/\1/')
t0=$(median "${TIMES[0]}") t2=$(median "${TIMES[2]}")
printf 'unnest_depth 0: %6.2f s  %8.0f records/s  peak %s MiB   (runs: %s)\n' "$t0" "$(awk "BEGIN {print $N / $t0}")" "$(median "${RSS[0]}")" "${TIMES[0]}"
printf 'unnest_depth 2: %6.2f s  %8.0f records/s  peak %s MiB   (runs: %s; %s child rows)\n' "$t2" "$(awk "BEGIN {print $N / $t2}")" "$(median "${RSS[2]}")" "${TIMES[2]}" "$rows"
printf 'depth 2 / depth 0: %.2fx (target <= 2x)\n' "$(awk "BEGIN {print $t2 / $t0}")"
