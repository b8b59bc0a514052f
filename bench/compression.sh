#!/usr/bin/env bash
# The compression experiment (issue 16): what DuckDB's compression methods
# cost a load, per column type, and whether a lighter set cuts the storage
# floor.  A table of N generated records (mallard-gen: the 13 columns of
# `mallard write`'s users table) is loaded once; then, R times each,
# alternating, a fresh file is written from it (CREATE TABLE AS, one DuckDB
# thread, as mallard's appends run) with DuckDB's disabled_compression_methods
# set to each candidate set.  Prints, per set: the median wall and CPU time
# (user+sys: the part that does not depend on what else runs on the machine),
# the file size, and both relative to DuckDB's default.  With --columns also,
# per column: the method DuckDB picks by default and the time of that column
# alone with each method turned off.
#
#   bash bench/compression.sh [--records N] [--runs R] [--columns] [--sets 'A;B;...']
# defaults: 1,000,000 records, 3 runs, the sets listed below (--sets: others,
# separated by ';'; DuckDB's default is always measured first).  MALLARD_BUILD_DIR picks the build.
set -euo pipefail
source "$(dirname "$0")/bench_lib.sh"
N=1000000 RUNS=3 COLUMNS=0 SETS_ARG=
while [[ $# -gt 0 ]]; do
  case $1 in
    --records) N=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --columns) COLUMNS=1; shift ;;
    --sets) SETS_ARG=$2; shift 2 ;;
    *) echo "bench/compression.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
bench_ready bench/compression.sh mallard-compression
printf '{"destination_path":"%s/src.duckdb"}\n' "$WORK" >"$WORK/cfg.json"
"$GEN" --records "$N" --state-every 100000 --catalog "$WORK/cat.json" | "$MALLARD" write --config "$WORK/cfg.json" --catalog "$WORK/cat.json" >/dev/null

# write SET SELECT: a fresh file holding SELECT's rows with the methods in SET turned off
write() {
  rm -f "$WORK/out.duckdb" "$WORK/out.duckdb.wal"
  /usr/bin/time -f '%e %U %S' -o "$WORK/time" "$MALLARD" query --write "$WORK/src.duckdb" \
    "SET threads = 1; SET disabled_compression_methods = '$1'; ATTACH '$WORK/out.duckdb' AS o;
     CREATE TABLE o.t AS $2; DETACH o" >/dev/null
  read -r wall user sys <"$WORK/time"
  echo "$wall $(awk "BEGIN {print $user + $sys}") $(stat -c %s "$WORK/out.duckdb")"
}
median() { grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

SETS=("" "fsst" "dict_fsst" "fsst,dict_fsst" "dictionary,fsst,dict_fsst" "alp,alprd" "bitpacking" "rle"
      "fsst,dict_fsst,alp,alprd" "dictionary,fsst,dict_fsst,alp,alprd,chimp,patas,zstd,roaring,bitpacking,rle")
if [[ -n $SETS_ARG ]]; then IFS=';' read -r -a more <<<"$SETS_ARG"; SETS=("" "${more[@]}"); fi
declare -A WALL CPU SIZE
for ((r = 0; r < RUNS; r++)); do
  for s in "${SETS[@]}"; do
    read -r w c b < <(write "$s" "FROM users")
    WALL[k$s]+="$w"$'\n' CPU[k$s]+="$c"$'\n' SIZE[k$s]=$b
  done
done
# (keys carry a "k" prefix: the first set is the empty string)
w0=$(median <<<"${WALL[k]}") c0=$(median <<<"${CPU[k]}") b0=${SIZE[k]}
echo "$N records, $RUNS runs each; times of CREATE TABLE AS into a new file (one thread), medians"
printf '%-60s %8s %8s %8s %7s %7s\n' "disabled_compression_methods" "wall s" "cpu s" "MiB" "cpu/def" "size/def"
for s in "${SETS[@]}"; do
  w=$(median <<<"${WALL[k$s]}") c=$(median <<<"${CPU[k$s]}") b=${SIZE[k$s]}
  printf '%-60s %8.2f %8.2f %8.1f %6.2fx %6.2fx\n' "${s:-(none: the default)}" "$w" "$c" "$(awk "BEGIN {print $b / 1048576}")" \
    "$(awk "BEGIN {print $c / $c0}")" "$(awk "BEGIN {print $b / $b0}")"
done

if ((COLUMNS)); then
  echo
  echo "per column: the method DuckDB picks, and the CPU time of that column alone with it turned off"
  cols=$("$MALLARD" query "$WORK/src.duckdb" "SELECT string_agg(column_name || ':' || replace(data_type, ' ', '_'), ' ' ORDER BY column_index) AS c FROM duckdb_columns() WHERE table_name = 'users'" --json | sed -E 's/.*"c":"(.*)"}/\1/')
  for cd in $cols; do
    col=${cd%%:*} type=${cd#*:}
    read -r _ c _ < <(write "" "SELECT \"$col\" FROM users")
    picked=$("$MALLARD" query "$WORK/src.duckdb" "ATTACH '$WORK/out.duckdb' AS o (READ_ONLY); SELECT string_agg(DISTINCT lower(compression), ',') AS m FROM pragma_storage_info('o.t')" --json | sed -E 's/.*"m":"(.*)"}/\1/')
    line=$(printf '%-24s %-26s default %s s (%s)' "$col" "$type" "$c" "$picked")
    for m in ${picked//,/ }; do
      [[ $m = uncompressed || $m = constant ]] && continue
      read -r _ cm bm < <(write "$m" "SELECT \"$col\" FROM users")
      line+=$(printf '; without %s %s s' "$m" "$cm")
    done
    echo "$line"
  done
fi
