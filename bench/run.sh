#!/usr/bin/env bash
# bench/run.sh: every comparison of issue 4 in one command (see bench/README.md).
#
#   bash bench/run.sh [--records N] [--runs R] [--quick] [--dedup-base N]
#                     [--rss-records N] [--insert-records N] [--no-sdk] [--keep]
#
# Expects a build (build/mallard, build/mallard-gen, build/bench/baseline_*;
# MALLARD_BUILD_DIR overrides build/).  Works in a temporary directory under
# $TMPDIR (or /tmp), removed at the end unless --keep.  Every number printed is
# measured in this run; the inputs are the same bytes every time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MALLARD_BUILD_DIR:-$ROOT/build}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
MALLARD=$BUILD/mallard
GEN=$BUILD/mallard-gen
B_CHUNKS=$BUILD/bench/baseline_chunks
B_FEED=$BUILD/bench/baseline_feed
B_INSERT=$BUILD/bench/baseline_insert

usage() {
  cat <<'EOF'
usage: bash bench/run.sh [OPTIONS]

  --records N         records of the main input (default 1000000), one stream, STATE every 10,000
  --runs R            runs of each comparison (default 5), alternating between contenders
  --quick             smoke test: 20,000 records, 2 runs, small dedup base and RSS run
  --dedup-base N      rows already in the table for the append_dedup comparison (default 10000000)
  --rss-records N     records of the piped peak-RSS run (default 10000000; 0 skips it)
  --insert-records N  prefix loaded by the one-INSERT-per-record baseline (default 20000)
  --no-sdk            skip the SDK path
  --keep              keep the temporary directory (its path is printed)

Environment: MALLARD_BUILD_DIR (default build/), TMPDIR (default /tmp).
EOF
}

RECORDS='' RUNS='' DEDUP_BASE='' RSS_RECORDS='' INSERT_RECORDS='' QUICK=0 SDK=1 KEEP=0
while (($#)); do
  case $1 in
    --records) RECORDS=${2:?--records needs a value}; shift ;;
    --runs) RUNS=${2:?--runs needs a value}; shift ;;
    --dedup-base) DEDUP_BASE=${2:?--dedup-base needs a value}; shift ;;
    --rss-records) RSS_RECORDS=${2:?--rss-records needs a value}; shift ;;
    --insert-records) INSERT_RECORDS=${2:?--insert-records needs a value}; shift ;;
    --quick) QUICK=1 ;;
    --no-sdk) SDK=0 ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if ((QUICK)); then
  : "${RECORDS:=20000}" "${RUNS:=2}" "${DEDUP_BASE:=100000}" "${RSS_RECORDS:=200000}" "${INSERT_RECORDS:=2000}"
else
  : "${RECORDS:=1000000}" "${RUNS:=5}" "${DEDUP_BASE:=10000000}" "${RSS_RECORDS:=10000000}" "${INSERT_RECORDS:=20000}"
fi
for v in RECORDS RUNS DEDUP_BASE RSS_RECORDS INSERT_RECORDS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "run.sh: ${v,,} must be a number" >&2; exit 2; }
done
((RECORDS > 0 && RUNS > 0)) || { echo "run.sh: --records and --runs must be positive" >&2; exit 2; }
((INSERT_RECORDS <= RECORDS)) || INSERT_RECORDS=$RECORDS
STATE_EVERY=10000

for f in "$MALLARD" "$GEN" "$B_CHUNKS" "$B_FEED" "$B_INSERT"; do
  [[ -x $f ]] || { echo "run.sh: $f not found: build first (cmake -S . -B build && cmake --build build -j2)" >&2; exit 2; }
done

# ---- measuring: wall time (date +%s%N) and peak RSS of one process ----------
if [[ -x /usr/bin/time ]] && /usr/bin/time -f '%M' -o /dev/null true 2>/dev/null; then
  RSS_METHOD="GNU time (%M, the kernel's maxrss at exit)"
  HAVE_TIME=1
else
  RSS_METHOD="/proc/PID/status VmHWM sampled every 20 ms (GNU time missing: apt-get install time gives exact values)"
  HAVE_TIME=0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mallard-bench.XXXXXX")
LOG=$WORK/run.log
cleanup() {
  if ((KEEP)); then echo "kept $WORK (log: $LOG)" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$WORK/db"

# timed SRC CMD...: runs CMD with stdin from SRC (a file, or "gen:ARGS" for
# `mallard-gen ARGS |`), stdout and stderr appended to $LOG.  Sets T_SECS
# (wall seconds, process start to exit) and T_KB (peak RSS of CMD only, KiB);
# returns CMD's exit status.
timed() {
  local src=$1 rc=0 t0 t1
  shift
  echo "+ $* < $src" >>"$LOG"
  t0=$(date +%s%N)
  if ((HAVE_TIME)); then
    if [[ $src == gen:* ]]; then
      # shellcheck disable=SC2086
      "$GEN" ${src#gen:} 2>>"$LOG" | /usr/bin/time -f '%M' -o "$WORK/time.out" "$@" >>"$LOG" 2>&1 || rc=$?
    else
      /usr/bin/time -f '%M' -o "$WORK/time.out" "$@" <"$src" >>"$LOG" 2>&1 || rc=$?
    fi
    t1=$(date +%s%N)
    T_KB=$(tail -n 1 "$WORK/time.out")
  else
    local pid hwm=0 cur
    if [[ $src == gen:* ]]; then
      # shellcheck disable=SC2086
      "$GEN" ${src#gen:} 2>>"$LOG" | "$@" >>"$LOG" 2>&1 &
    else
      "$@" <"$src" >>"$LOG" 2>&1 &
    fi
    pid=$!  # the last command of the pipeline: CMD
    while kill -0 "$pid" 2>/dev/null; do
      cur=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      [[ -n $cur ]] && ((cur > hwm)) && hwm=$cur
      sleep 0.02
    done
    wait "$pid" || rc=$?
    t1=$(date +%s%N)
    T_KB=$hwm
  fi
  T_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  echo "  = ${T_SECS} s, ${T_KB} KiB, exit $rc" >>"$LOG"
  return $rc
}

die() {
  echo "run.sh: $*" >&2
  echo "---- last lines of $LOG ----" >&2
  tail -n 20 "$LOG" >&2
  exit 1
}

# q DB SQL: one value from a DuckDB file (mallard query, read-only)
q() { "$MALLARD" query "$1" "$2" --json 2>>"$LOG" | tr -d '[]{}" \n' | sed 's/.*://'; }

cfg() {  # cfg NAME: a destination config writing $WORK/db/NAME.duckdb
  printf '{"destination_path":"/local/%s.duckdb","local_root":"%s"}\n' "$1" "$WORK/db" >"$WORK/cfg_$1.json"
  echo "$WORK/cfg_$1.json"
}
fresh() { rm -f "$WORK/db/$1.duckdb" "$WORK/db/$1.duckdb.wal"; }

need_kb() {  # need_kb KB WHAT: stop early when the temp file system is too small
  local avail
  avail=$(df -Pk "$WORK" | awk 'NR == 2 {print $4}')
  ((avail > $1)) || die "not enough space in $WORK for $2: need about $(($1 / 1024)) MiB, have $((avail / 1024)) MiB (set TMPDIR)"
}

# ---- machine facts ----------------------------------------------------------
DUCKDB_VERSION=$("$MALLARD" query :memory: "SELECT version()" --json 2>/dev/null | tr -d '[]{}" \n' | sed 's/.*://' || echo "?")
echo "mallard bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM, DuckDB ${DUCKDB_VERSION}, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "records $RECORDS (STATE every $STATE_EVERY), runs $RUNS, dedup base $DEDUP_BASE, RSS run $RSS_RECORDS, INSERT prefix $INSERT_RECORDS; RSS by $RSS_METHOD"
echo "mallard: $MALLARD ($(date -u -r "$MALLARD" '+built %Y-%m-%d %H:%M UTC'); source tree at commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "work dir $WORK"

# ---- inputs (deterministic: mallard-gen's default seed 42) -------------------
need_kb $((RECORDS * 330 / 1000 + 65536)) "the input file"
INPUT=$WORK/messages.jsonl
"$GEN" --records "$RECORDS" --streams 1 --state-every "$STATE_EVERY" --sync-id 1 --catalog "$WORK/cat_append.json" >"$INPUT" ||
  die "mallard-gen failed"
"$GEN" --records 0 --mode append_dedup --sync-id 1 --catalog "$WORK/cat_dedup.json" >/dev/null || die "mallard-gen failed"
# The dedup pair loads the input as a later sync (sync_id 2) than the one that
# built the base (sync_id 1): with the same sync_id, mallard would take the
# input for a retry of the base's sync and skip the records before the STATEs
# it already committed (their positions are the same).
sed 's/"sync_id":1}/"sync_id":2}/' "$WORK/cat_append.json" >"$WORK/cat_append_s2.json"
sed 's/"sync_id":1}/"sync_id":2}/' "$WORK/cat_dedup.json" >"$WORK/cat_dedup_s2.json"
grep -q '"sync_id":2}' "$WORK/cat_dedup_s2.json" || die "could not set sync_id 2 in the catalog"
BYTES=$(stat -c %s "$INPUT")
LINES=$(wc -l <"$INPUT")
BPR=$(awk -v b="$BYTES" -v n="$RECORDS" 'BEGIN { printf "%.1f", b / n }')  # bytes per record, STATE lines included
echo "input: $INPUT, $BYTES bytes ($(awk -v b="$BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB, $BPR bytes per record)"
echo

# results: one line per run, "contender seconds kib records" in $WORK/results
RES=$WORK/results
SPLIT=$WORK/storage_split
: >"$RES"
# storage_split NAME: the storage thread's CPU seconds and seconds waiting for
# rows, from the "time (...)" line the last run logged (mallard write's
# summary, baseline_feed's stderr), appended to $SPLIT as "NAME cpu wait".
storage_split() {
  local line cpu wait
  line=$(grep -o 'time ([^"]*' "$LOG" | tail -n 1 || true)
  cpu=$(sed -n 's/.*storage thread \([0-9.]*\) s CPU.*/\1/p' <<<"$line")
  wait=$(sed -n 's/.*waited \([0-9.]*\) s for rows.*/\1/p' <<<"$line")
  [[ -n $cpu && -n $wait ]] && echo "$1 $cpu $wait" >>"$SPLIT"
  return 0
}

record() {
  echo "$1 $T_SECS $T_KB $2" >>"$RES"
  printf '  %-12s %8.3f s  %7.1f MiB\n' "$1" "$T_SECS" "$(awk -v k="$T_KB" 'BEGIN { print k / 1024 }')"
}

CFG_W=$(cfg w)

# ---- the SDK path: available when `mallard debug` builds and runs our connector
SDK_REASON=
SDK_DIR=$WORK/sdk
if ((!SDK)); then
  SDK_REASON="--no-sdk"
elif [[ ! -f $ROOT/include/mallard.h || ! -f $ROOT/bench/sdk_connector/connector.c ]]; then
  SDK_REASON="include/mallard.h or bench/sdk_connector/connector.c missing"
elif ! "$MALLARD" debug --help >/dev/null 2>&1; then
  SDK_REASON="this mallard has no 'debug' command"
else
  mkdir -p "$SDK_DIR"
  cp "$ROOT/bench/sdk_connector/connector.c" "$SDK_DIR/"
  printf '{"records":"%s","seed":"42","checkpoint_every":"%s"}\n' "$RECORDS" "$STATE_EVERY" >"$SDK_DIR/configuration.json"
  printf '{"records":"100","seed":"42","checkpoint_every":"%s"}\n' "$STATE_EVERY" >"$WORK/sdk_warm.json"
  # warm-up: builds files/.build/connector.so once, so the timed runs do not compile
  if ! timed /dev/null "$MALLARD" debug "$SDK_DIR" --configuration "$WORK/sdk_warm.json"; then
    SDK_REASON="mallard debug failed on bench/sdk_connector: $(grep -v '^[+ ]' "$LOG" | tail -n 1)"
  fi
  rm -rf "$SDK_DIR/files/warehouse.db" "$SDK_DIR/files/warehouse.db.wal" "$SDK_DIR/files/state.json"
fi
[[ -z $SDK_REASON ]] || echo "SDK path: skipped ($SDK_REASON)"

# ---- 1-4 (and 7): the contenders on the same input, alternating ---------------
need_kb $((RECORDS * 480 / 1000 + 65536)) "the databases"
CONTENDERS="write read_json chunks feed insert"
[[ -n $SDK_REASON ]] || CONTENDERS="$CONTENDERS sdk"
for ((run = 1; run <= RUNS; run++)); do
  echo "round $run/$RUNS: $CONTENDERS"
  for c in $CONTENDERS; do
    case $c in
      write)
        fresh w
        timed "$INPUT" "$MALLARD" write --config "$CFG_W" --catalog "$WORK/cat_append.json" || die "mallard write failed"
        record write "$RECORDS"
        storage_split write
        if ((run == 1)); then
          n=$(q "$WORK/db/w.duckdb" "SELECT count(*) FROM users")
          [[ $n == "$RECORDS" ]] || die "mallard write loaded $n rows, expected $RECORDS"
        fi
        fresh w ;;
      read_json)
        fresh r
        timed /dev/null "$MALLARD" query --write "$WORK/db/r.duckdb" \
          "CREATE TABLE t AS SELECT * FROM read_json('$INPUT')" || die "read_json failed"
        record read_json "$RECORDS"
        if ((run == 1)); then  # one row per line: records and STATE messages
          n=$(q "$WORK/db/r.duckdb" "SELECT count(*) FROM t")
          [[ $n == "$LINES" ]] || die "read_json loaded $n rows, expected $LINES"
        fi
        fresh r ;;
      chunks | feed)  # the two no-parsing baselines: same arguments, same check
        bin=$B_CHUNKS
        [[ $c == feed ]] && bin=$B_FEED
        fresh "$c"
        timed /dev/null "$bin" --db "$WORK/db/$c.duckdb" --records "$RECORDS" || die "${bin##*/} failed"
        record "$c" "$RECORDS"
        [[ $c == feed ]] && storage_split feed
        if ((run == 1)); then
          n=$(q "$WORK/db/$c.duckdb" "SELECT count(*) FROM users")
          [[ $n == "$RECORDS" ]] || die "${bin##*/} loaded $n rows, expected $RECORDS"
        fi
        fresh "$c" ;;
      insert)
        fresh i
        timed /dev/null "$B_INSERT" --db "$WORK/db/i.duckdb" --input "$INPUT" --records "$INSERT_RECORDS" ||
          die "baseline_insert failed"
        record insert "$INSERT_RECORDS"
        if ((run == 1)); then
          n=$(q "$WORK/db/i.duckdb" "SELECT count(*) FROM users")
          [[ $n == "$INSERT_RECORDS" ]] || die "baseline_insert loaded $n rows, expected $INSERT_RECORDS"
        fi
        fresh i ;;
      sdk)
        rm -f "$SDK_DIR/files/warehouse.db" "$SDK_DIR/files/warehouse.db.wal" "$SDK_DIR/files/state.json"
        if timed /dev/null "$MALLARD" debug "$SDK_DIR"; then
          record sdk "$RECORDS"
          if ((run == 1)); then
            n=$(q "$SDK_DIR/files/warehouse.db" "SELECT count(*) FROM tester.users")
            [[ $n == "$RECORDS" ]] || die "the SDK connector loaded $n rows, expected $RECORDS"
          fi
        else
          SDK_REASON="mallard debug failed during the run (see the log)"
          echo "SDK path: dropped ($SDK_REASON)"
          CONTENDERS=${CONTENDERS% sdk}
        fi
        rm -f "$SDK_DIR/files/warehouse.db" "$SDK_DIR/files/warehouse.db.wal" "$SDK_DIR/files/state.json" ;;
    esac
  done
done

# ---- 5: append_dedup of the same input into a table of DEDUP_BASE rows -------
if ((DEDUP_BASE > 0)); then
  need_kb $((DEDUP_BASE * 360 / 1000 + 65536)) "the dedup databases"
  echo "dedup: building the base table ($DEDUP_BASE distinct keys, mallard write append_dedup, not timed)"
  CFG_BASE=$(cfg base)
  fresh base
  timed "gen:--records $DEDUP_BASE --streams 1 --state-every $STATE_EVERY --mode append_dedup --key-space $DEDUP_BASE --seed 1" \
    "$MALLARD" write --config "$CFG_BASE" --catalog "$WORK/cat_dedup.json" || die "building the dedup base failed"
  BASE_SECS=$T_SECS
  n=$(q "$WORK/db/base.duckdb" "SELECT count(*) FROM users")
  [[ $n == "$DEDUP_BASE" ]] || die "the dedup base holds $n rows, expected $DEDUP_BASE"
  echo "dedup: base built in ${BASE_SECS} s"
  CFG_D=$(cfg d) CFG_A=$(cfg a)
  # the input's ids are 1..RECORDS: all of them already in the base when RECORDS <= DEDUP_BASE
  expect_d=$((RECORDS > DEDUP_BASE ? RECORDS : DEDUP_BASE))
  for ((run = 1; run <= RUNS; run++)); do
    echo "dedup round $run/$RUNS: append_dedup, append (each into a fresh copy of the base)"
    fresh d
    cp "$WORK/db/base.duckdb" "$WORK/db/d.duckdb" && sync
    timed "$INPUT" "$MALLARD" write --config "$CFG_D" --catalog "$WORK/cat_dedup_s2.json" || die "append_dedup failed"
    record dedup "$RECORDS"
    if ((run == 1)); then
      n=$(q "$WORK/db/d.duckdb" "SELECT count(*) FROM users")
      [[ $n == "$expect_d" ]] || die "append_dedup left $n rows, expected $expect_d"
      n=$(q "$WORK/db/d.duckdb" "SELECT count(*) FROM users WHERE _airbyte_meta->>'sync_id' = '2'")
      [[ $n == "$RECORDS" ]] || die "append_dedup: $n rows come from the new sync, expected $RECORDS"
    fi
    fresh d
    fresh a
    cp "$WORK/db/base.duckdb" "$WORK/db/a.duckdb" && sync
    timed "$INPUT" "$MALLARD" write --config "$CFG_A" --catalog "$WORK/cat_append_s2.json" || die "append into the base failed"
    record append_base "$RECORDS"
    if ((run == 1)); then
      n=$(q "$WORK/db/a.duckdb" "SELECT count(*) FROM users")
      [[ $n == "$((DEDUP_BASE + RECORDS))" ]] || die "append left $n rows, expected $((DEDUP_BASE + RECORDS))"
    fi
    fresh a
  done
  fresh base
fi

# ---- 6: peak RSS of a long input, piped from the generator (no file) ----------
if ((RSS_RECORDS > 0)); then
  need_kb $((RSS_RECORDS * 120 / 1000 + 65536)) "the RSS run's database"
  echo "rss: mallard-gen --records $RSS_RECORDS | mallard write (once; RSS of mallard only)"
  CFG_BIG=$(cfg big)
  fresh big
  timed "gen:--records $RSS_RECORDS --streams 1 --state-every $STATE_EVERY" \
    "$MALLARD" write --config "$CFG_BIG" --catalog "$WORK/cat_append.json" || die "the RSS run failed"
  record rss_big "$RSS_RECORDS"
  fresh big
fi

# ---- the table ----------------------------------------------------------------
cp "$RES" "$WORK/results.txt"
awk -v runs="$RUNS" -v bpr="$BPR" -v recs="$RECORDS" -v ins="$INSERT_RECORDS" -v base="$DEDUP_BASE" \
    -v rssn="$RSS_RECORDS" -v sdk_reason="$SDK_REASON" -v quick="$QUICK" '
function median(arr, n,    i, j, t, a) {
  for (i = 1; i <= n; i++) a[i] = arr[i]
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function maxof(arr, n,    i, m) { m = arr[1]; for (i = 2; i <= n; i++) if (arr[i] > m) m = arr[i]; return m }
{ k = $1; cnt[k]++; secs[k, cnt[k]] = $2; kib[k, cnt[k]] = $3; nrec[k] = $4 }
function stats(k,    i, s, m) {
  for (i = 1; i <= cnt[k]; i++) { s[i] = secs[k, i]; m[i] = kib[k, i] }
  MED[k] = median(s, cnt[k]); RSS[k] = maxof(m, cnt[k]) / 1024; RPS[k] = nrec[k] / MED[k]
}
function row(k, label, note) {
  if (!cnt[k]) return
  stats(k)
  printf "| %-44s | %5d | %9.3f | %12.0f | %8.1f | %9.1f | %s |\n", label, cnt[k], MED[k], RPS[k], RPS[k] * bpr / 1e6, RSS[k], note
}
function MEDX(k) { if (!cnt[k]) return 0; stats(k); return MED[k] }
function verdict(ok) { return ok ? "PASS" : "FAIL" }
function check(label, value, fmt, target, ok) {
  printf "| %-56s | " fmt " | %-12s | %s |\n", label, value, target, verdict(ok)
}
END {
  printf "\n| %-44s | %5s | %9s | %12s | %8s | %9s | %s |\n", "contender", "runs", "median s", "records/s", "MB/s", "peak MiB", "notes"
  printf "|%s|%s|%s|%s|%s|%s|%s|\n", "----------------------------------------------", "-------", "-----------", "--------------", "----------", "-----------", "---"
  row("write", sprintf("mallard write, append (%d)", recs), "process start to exit, file on stdin")
  row("read_json", sprintf("read_json into a table (%d)", recs), "mallard query --write: CREATE TABLE AS read_json")
  row("chunks", sprintf("data-chunk appender floor (%d)", recs), "no parsing; values computed in C")
  row("feed", sprintf("mallard storage path, no parsing (%d)", recs), "ml_batch + ml_feed, as mallard write; values computed in C")
  row("insert", sprintf("one INSERT per record (%d prefix)", ins), sprintf("first %d records of the same file; at this rate %d records take %.0f s", ins, recs, recs * MEDX("insert") / ins))
  row("sdk", sprintf("SDK connector, upserts (%d)", recs), "mallard debug, connector prebuilt")
  row("dedup", sprintf("append_dedup into %d rows (%d)", base, recs), "fresh copy of the base per run")
  row("append_base", sprintf("append into %d rows (%d)", base, recs), "fresh copy of the base per run")
  row("rss_big", sprintf("mallard write, piped (%d)", rssn), "one run; generator in the same pipe")
  if (!cnt["write"]) exit
  print ""
  printf "| %-56s | %10s | %-12s | %s |\n", "target", "measured", "wanted", "verdict"
  printf "|%s|%s|%s|%s|\n", "----------------------------------------------------------", "------------", "--------------", "---------"
  check("mallard write records/s", RPS["write"], "%10.0f", ">= 1000000", RPS["write"] >= 1000000)
  if (cnt["read_json"]) check("speed-up vs read_json (time read_json / write)", MED["read_json"] / MED["write"], "%9.2fx", ">= 2.0x", MED["read_json"] / MED["write"] >= 2.0)
  check(sprintf("peak RSS, %d records (MiB)", recs), RSS["write"], "%10.1f", "<= 256", RSS["write"] <= 256)
  if (cnt["rss_big"]) check(sprintf("peak RSS, %d records (MiB)", rssn), RSS["rss_big"], "%10.1f", "<= 256", RSS["rss_big"] <= 256)
  if (cnt["dedup"]) check(sprintf("append_dedup / append time, %d into %d rows", recs, base), MED["dedup"] / MED["append_base"], "%9.2fx", "<= 2.0x", MED["dedup"] / MED["append_base"] <= 2.0)
  if (cnt["sdk"]) check("SDK / mallard write time (same rows)", MED["sdk"] / MED["write"], "%9.2fx", "<= 1.5x", MED["sdk"] / MED["write"] <= 1.5)
  else printf "| %-56s | %10s | %-12s | %s |\n", "SDK / mallard write time (same rows)", "-", "<= 1.5x", "skipped (" sdk_reason ")"
  if (cnt["insert"]) check("speed-up vs one INSERT per record (records/s ratio)", RPS["write"] / RPS["insert"], "%9.1fx", ">= 50x", RPS["write"] / RPS["insert"] >= 50)
  if (cnt["chunks"]) printf "| %-56s | %9.2fx | %-12s | %s |\n", "mallard write / chunk-API floor time (information)", MED["write"] / MED["chunks"], "-", "-"
  if (cnt["feed"]) check("mallard write / its own storage path time", MED["write"] / MED["feed"], "%9.2fx", "<= 1.10x", MED["write"] / MED["feed"] <= 1.10)
  if (quick) print "\n(--quick: a smoke test; the targets are for 1,000,000 records and a 10,000,000-row dedup base)"
}' "$RES"
# Where the write / storage path ratio comes from: the storage thread's work
# (CPU) and its waits for rows, medians of the same runs.
if [[ -s $SPLIT ]]; then
  echo
  awk '
  function median(arr, n,    i, j, t, a) {
    for (i = 1; i <= n; i++) a[i] = arr[i]
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { n[$1]++; cpu[$1, n[$1]] = $2; wait[$1, n[$1]] = $3 }
  END {
    printf "| %-44s | %13s | %26s |\n", "storage thread (information)", "CPU s, median", "waiting for rows s, median"
    printf "|%s|%s|%s|\n", "----------------------------------------------", "---------------", "----------------------------"
    for (k in n) {
      for (i = 1; i <= n[k]; i++) { c[i] = cpu[k, i]; w[i] = wait[k, i] }
      C[k] = median(c, n[k]); W[k] = median(w, n[k])
    }
    if (n["write"]) printf "| %-44s | %13.3f | %26.3f |\n", "mallard write", C["write"], W["write"]
    if (n["feed"]) printf "| %-44s | %13.3f | %26.3f |\n", "mallard storage path, no parsing", C["feed"], W["feed"]
    if (n["write"] && n["feed"])
      printf "\nThe same rows cost the storage thread %.2fx the CPU while parsing runs on the other core.\n", C["write"] / C["feed"]
  }' "$SPLIT"
fi
echo
echo "MB = 10^6 bytes of the input file ($BPR bytes per record, STATE lines included); MiB of RSS = 2^20 bytes."
echo "Median of the runs per contender; peak RSS is the largest of its runs; each run is listed above as it finished."
