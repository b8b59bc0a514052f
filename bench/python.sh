#!/usr/bin/env bash
# The Python connector benchmark (issue 11): a Python connector upserting N
# rows of 4 columns (bench/python_connector/connector.py), run
#   stub    under a stub SDK whose operations do nothing (bench/python_stub):
#           what the connector itself costs, the floor of any runner;
#   python  under mallard debug (mallard's SDK module, the child process, the
#           pipe, the engine);
#   c       the same rows from a C connector under mallard debug;
# R rounds, alternating, medians.  Prints time, operations/s and peak RSS
# (for mallard: the larger of mallard and its Python child) and the target
# python / stub <= 1.5x.
#
#   bash bench/python.sh [--rows N] [--runs R] [--python PATH]
# defaults: 1,000,000 rows, 3 runs, python3 on PATH.  MALLARD_BUILD_DIR picks
# the build.  A checkpoint every 100,000 rows.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${MALLARD_BUILD_DIR:-$ROOT/build}
MALLARD=$BUILD/mallard
ROWS=1000000 RUNS=3 PY=python3
while [[ $# -gt 0 ]]; do
  case $1 in
    --rows) ROWS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --python) PY=$2; shift 2 ;;
    *) echo "bench/python.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x $MALLARD ]] || { echo "bench/python.sh: no $MALLARD: build first (bash scripts/build.sh)" >&2; exit 1; }
command -v "$PY" >/dev/null || { echo "bench/python.sh: no $PY (apt-get install python3)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "bench/python.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mallard-pybench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cfg=$(printf '{"rows": "%s", "checkpoint_every": "100000"}' "$ROWS")
mkdir -p "$WORK/py" "$WORK/c"
cp "$ROOT/bench/python_connector/connector.py" "$WORK/py/"
cp "$ROOT/bench/python_connector/connector.c" "$WORK/c/"
echo "$cfg" >"$WORK/py/configuration.json"
echo "$cfg" >"$WORK/c/configuration.json"
# build the C connector once, outside the measurement
echo '{"rows": "10", "checkpoint_every": "100000"}' >"$WORK/warm.json"
"$MALLARD" debug "$WORK/c" --configuration "$WORK/warm.json" >/dev/null
pyexe=$(command -v "$PY")

# run NAME: one timed run; appends "NAME seconds kb" to $WORK/results
run() {
  local t0 t1
  rm -rf "$WORK/py/files" "$WORK/c/files/warehouse.db" "$WORK/c/files/warehouse.db.wal" "$WORK/c/files/state.json"
  t0=$(date +%s%N)
  case $1 in
    stub) /usr/bin/time -f %M -o "$WORK/kb" "$pyexe" "$ROOT/bench/python_stub/run.py" "$WORK/py" >/dev/null ;;
    python) /usr/bin/time -f %M -o "$WORK/kb" "$MALLARD" debug "$WORK/py" --python "$pyexe" >"$WORK/out" 2>&1 ||
              { tail -5 "$WORK/out" >&2; exit 1; } ;;
    c) /usr/bin/time -f %M -o "$WORK/kb" "$MALLARD" debug "$WORK/c" >"$WORK/out" 2>&1 || { tail -5 "$WORK/out" >&2; exit 1; } ;;
  esac
  t1=$(date +%s%N)
  if [[ $1 != stub ]]; then
    local dir=$WORK/py n
    [[ $1 == c ]] && dir=$WORK/c
    n=$("$MALLARD" query "$dir/files/warehouse.db" "SELECT count(*) AS n FROM tester.items" --json)
    [[ $n == "{\"n\":$ROWS}" ]] || { echo "bench/python.sh: $1 loaded $n rows, expected $ROWS" >&2; exit 1; }
  fi
  echo "$1 $(( (t1 - t0) / 1000000 )) $(tail -n 1 "$WORK/kb")" >>"$WORK/results"
}

echo "bench/python.sh: $ROWS upserts of 4 columns, $RUNS runs alternating, $("$pyexe" --version 2>&1), $(nproc) cores"
for ((r = 1; r <= RUNS; r++)); do
  for c in stub python c; do run "$c"; done
done
awk -v rows="$ROWS" '
  { t[$1] = t[$1] " " $2; k[$1] = k[$1] " " $3; n[$1]++ }
  function med(s,   a, m, i, j, x) { m = split(s, a, " "); for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
                                     return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
  END {
    printf "| %-44s | %9s | %12s | %9s |\n", "run", "median s", "operations/s", "peak MiB"
    printf "|%s|%s|%s|%s|\n", "----------------------------------------------", "-----------", "--------------", "-----------"
    split("stub python c", order, " ")
    name["stub"] = "Python connector, stub SDK (no-op operations)"; name["python"] = "Python connector, mallard debug"
    name["c"] = "C connector, mallard debug (same rows)"
    for (i = 1; i <= 3; i++) { c = order[i]; s = med(t[c]) / 1000; m[c] = s
      printf "| %-44s | %9.2f | %12.0f | %9.0f |\n", name[c], s, rows / s, med(k[c]) / 1024 }
    ratio = m["python"] / m["stub"]
    printf "\npython / stub: %.2fx (target <= 1.5x: %s); python / c: %.2fx; runs: %s\n", ratio, ratio <= 1.5 ? "PASS" : "FAIL", m["python"] / m["c"], n["stub"]
  }' "$WORK/results"
