#!/usr/bin/env bash
# mallard write under faults of its surroundings: a full disk, a read-only
# destination, SIGINT mid-stream, input closed in the middle of a line while
# records are open.  Each gives a clear message and a documented exit code,
# and afterwards the last echoed STATE is the one in _mallard_airbyte_state
# and its records are in the table exactly once.  (The SDK side, mallard
# debug, is test_debug_faults.sh.)  Mounting needs root (CAP_SYS_ADMIN);
# where it is not allowed those parts print "SKIP: ..." and count neither as
# passed nor as failed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"

# last_ack FILE: the position of the last STATE echoed in FILE (empty if none)
last_ack() { { grep '"STATE"' "$1" || true; } | tail -n 1 | sed -E 's/.*"position":([0-9]+).*/\1/'; }
# db_pos DB: the position of the committed state (the GLOBAL state mallard-gen sends), and how many states
db_pos() { q "$1" "SELECT count(*) AS states, max(CAST(json_extract(state, '\$.global.shared_state.position') AS BIGINT)) AS pos FROM main._mallard_airbyte_state"; }
# users DB: count, distinct ids and range of the users table
users() { q "$1" 'SELECT count(*) AS n, count(DISTINCT id) AS ids, coalesce(min(id), 0) AS min, coalesce(max(id), 0) AS max FROM users'; }
exactly() { echo "{\"n\":$1,\"ids\":$1,\"min\":$(($1 > 0 ? 1 : 0)),\"max\":$1}"; }
trace_of() { { grep '"TRACE"' "$1" || true; } | head -n 1; }

# ---- 1. disk full: a 3 MB tmpfs under the destination ---------------------------------
N=60000
K=1000
mkdir -p "$WORK/full"
if ! try_mount "$WORK/full" -t tmpfs -o size=3m tmpfs; then
  skip "cannot mount tmpfs here (disk full, mallard write)"
else
  printf '{"destination_path":"/local/full.duckdb","local_root":"%s/full/root","commit_interval_ms":0}\n' "$WORK" >"$WORK/full.json"
  fdb="$WORK/full/root/full.duckdb"
  set +e
  gen_catalog --records "$N" --state-every "$K" --sync-id 9 --catalog "$WORK/full.cat.json"
  "$GEN" --records "$N" --state-every "$K" --sync-id 9 --catalog "$WORK/full.cat.json" \
    | "$MALLARD" write --config "$WORK/full.json" --catalog "$WORK/full.cat.json" >"$WORK/full.out" 2>"$WORK/full.err"
  rc=$?
  set -e
  trace=$(trace_of "$WORK/full.out")
  echo "disk full: $trace"
  assert_eq "disk full: exit 1" "1" "$rc"
  assert_contains "disk full: a TRACE error" '"failure_type":"system_error"' "$trace"
  assert_contains "disk full: says the device is full" "No space left on device" "$trace"
  assert_contains "disk full: names the file" "$fdb" "$trace"
  assert_contains "disk full: says nothing since the last commit was saved" "nothing since the last commit was saved" "$trace"
  assert_contains "disk full: stderr says it too" "No space left on device" "$(cat "$WORK/full.err")"
  pos=$(last_ack "$WORK/full.out")
  [ -n "$pos" ] && [ "$pos" -gt 0 ] && [ "$pos" -lt "$N" ] && pass || fail "disk full: some states echoed before the disk filled (last: '$pos')"
  pos=${pos:-0}
  assert_eq "disk full: the committed state is the last echoed one" "{\"states\":1,\"pos\":$pos}" "$(db_pos "$fdb")"
  assert_eq "disk full: its records exactly once, none after it" "$(exactly "$pos")" "$(users "$fdb")"
  # the platform retries while the disk is still full: fails the same way, changes nothing
  set +e
  "$GEN" --records "$N" --state-every "$K" --sync-id 9 --start "$pos" \
    | "$MALLARD" write --config "$WORK/full.json" --catalog "$WORK/full.cat.json" >"$WORK/full2.out" 2>/dev/null
  rc=$?
  set -e
  assert_eq "disk still full: exit 1" "1" "$rc"
  assert_contains "disk still full: says so" "No space left on device" "$(trace_of "$WORK/full2.out")"
  pos2=$(last_ack "$WORK/full2.out"); pos=${pos2:-$pos}
  assert_eq "disk still full: committed state is the last echoed one" "{\"states\":1,\"pos\":$pos}" "$(db_pos "$fdb")"
  assert_eq "disk still full: records exactly once" "$(exactly "$pos")" "$(users "$fdb")"
  # check commits a small table, so a full disk shows there too
  assert_contains "disk still full: check FAILED" '"status":"FAILED"' "$("$MALLARD" check --config "$WORK/full.json")"
  # space is freed; the retry from the last echoed STATE completes
  mount -o remount,size=64m "$WORK/full"
  "$GEN" --records "$N" --state-every "$K" --sync-id 9 --start "$pos" \
    | "$MALLARD" write --config "$WORK/full.json" --catalog "$WORK/full.cat.json" >"$WORK/full3.out"
  assert_eq "disk freed: the retry echoes the last state" "$N" "$(last_ack "$WORK/full3.out")"
  assert_eq "disk freed: every record exactly once" "$(exactly "$N")" "$(users "$fdb")"
  assert_eq "disk freed: the committed state is the last" "{\"states\":1,\"pos\":$N}" "$(db_pos "$fdb")"
fi

# ---- 1b. disk full while DuckDB checkpoints its WAL into the database file -------------
# (a 20 MB tmpfs: the WAL reaches DuckDB's 16 MB checkpoint threshold first)
N=250000
mkdir -p "$WORK/full2"
if ! try_mount "$WORK/full2" -t tmpfs -o size=20m tmpfs; then
  skip "cannot mount tmpfs here (disk full during a checkpoint, mallard write)"
else
  printf '{"destination_path":"/local/full.duckdb","local_root":"%s/full2/root","commit_interval_ms":0}\n' "$WORK" >"$WORK/full2.json"
  fdb="$WORK/full2/root/full.duckdb"
  set +e
  gen_catalog --records "$N" --state-every "$K" --sync-id 10 --catalog "$WORK/full.cat.json"
  "$GEN" --records "$N" --state-every "$K" --sync-id 10 --catalog "$WORK/full.cat.json" \
    | "$MALLARD" write --config "$WORK/full2.json" --catalog "$WORK/full.cat.json" >"$WORK/full.out" 2>/dev/null
  rc=$?
  set -e
  trace=$(trace_of "$WORK/full.out")
  echo "disk full during a checkpoint: $trace"
  assert_eq "disk full in a checkpoint: exit 1" "1" "$rc"
  assert_contains "disk full in a checkpoint: DuckDB's checkpoint failed" "Failed to create checkpoint" "$trace"
  assert_contains "disk full in a checkpoint: says the device is full" "No space left on device" "$trace"
  pos=$(last_ack "$WORK/full.out")
  [ -n "$pos" ] && [ "$pos" -gt 0 ] && [ "$pos" -lt "$N" ] && pass || fail "disk full in a checkpoint: some states echoed first (last: '$pos')"
  pos=${pos:-0}
  assert_eq "disk full in a checkpoint: the committed state is the last echoed one" "{\"states\":1,\"pos\":$pos}" "$(db_pos "$fdb")"
  assert_eq "disk full in a checkpoint: its records exactly once" "$(exactly "$pos")" "$(users "$fdb")"
  mount -o remount,size=128m "$WORK/full2"
  "$GEN" --records "$N" --state-every "$K" --sync-id 10 --start "$pos" \
    | "$MALLARD" write --config "$WORK/full2.json" --catalog "$WORK/full.cat.json" >"$WORK/full3.out"
  assert_eq "disk full in a checkpoint: the retry echoes the last state" "$N" "$(last_ack "$WORK/full3.out")"
  assert_eq "disk full in a checkpoint: every record exactly once" "$(exactly "$N")" "$(users "$fdb")"
fi

# ---- 2. read-only destination directory (a read-only bind mount: root ignores modes) ---
CAT="$WORK/small.cat.json"
"$GEN" --records 1 --catalog "$CAT" >/dev/null
mkdir -p "$WORK/rosrc/root" "$WORK/ro"
printf '{"destination_path":"/local/ro.duckdb","local_root":"%s/rosrc/root"}\n' "$WORK" >"$WORK/rw.json"
"$GEN" --records 10 --state-every 5 --catalog "$CAT" | "$MALLARD" write --config "$WORK/rw.json" --catalog "$CAT" >/dev/null
if ! { try_mount "$WORK/ro" --bind "$WORK/rosrc" && mount -o remount,bind,ro "$WORK/ro" 2>/dev/null; }; then
  skip "cannot make a read-only bind mount here (read-only destination)"
else
  for what in existing new; do
    if [ "$what" = existing ]; then f="$WORK/ro/root/ro.duckdb"; else f="$WORK/ro/root/new.duckdb"; fi
    printf '{"destination_path":"/local/%s","local_root":"%s/ro/root"}\n' "${f##*/}" "$WORK" >"$WORK/ro.json"
    out=$("$MALLARD" check --config "$WORK/ro.json"); rc=$?
    assert_eq "read-only, $what file: check exits 0" "0" "$rc"
    assert_contains "read-only, $what file: check FAILED" '"status":"FAILED"' "$out"
    assert_contains "read-only, $what file: check names the path" "$f" "$out"
    assert_contains "read-only, $what file: check says why" "Read-only file system" "$out"
    set +e
    "$GEN" --records 10 --state-every 5 --catalog "$CAT" \
      | "$MALLARD" write --config "$WORK/ro.json" --catalog "$CAT" >"$WORK/ro.out" 2>/dev/null
    rc=$?
    set -e
    trace=$(trace_of "$WORK/ro.out")
    [ "$what" = existing ] && echo "read-only destination: $trace"
    assert_eq "read-only, $what file: write exits 1" "1" "$rc"
    assert_contains "read-only, $what file: TRACE names the path" "$f" "$trace"
    assert_contains "read-only, $what file: TRACE says why" "Read-only file system" "$trace"
    assert_eq "read-only, $what file: no STATE echoed" "" "$(last_ack "$WORK/ro.out")"
  done
  # a directory to create under the read-only one
  printf '{"destination_path":"/local/x.duckdb","local_root":"%s/ro/sub/dir"}\n' "$WORK" >"$WORK/ro.json"
  assert_contains "read-only parent: check names the directory" "cannot create directory $WORK/ro/sub" \
    "$("$MALLARD" check --config "$WORK/ro.json")"
  set +e
  out=$("$GEN" --records 1 --catalog "$CAT" | "$MALLARD" write --config "$WORK/ro.json" --catalog "$CAT" 2>/dev/null); rc=$?
  set -e
  assert_eq "read-only parent: write exits 1" "1" "$rc"
  assert_contains "read-only parent: TRACE names the directory" "cannot create directory $WORK/ro/sub" "$(grep '"TRACE"' <<<"$out")"
  assert_eq "read-only: the existing database is intact" "{\"states\":1,\"pos\":10}" "$(db_pos "$WORK/rosrc/root/ro.duckdb")"
  assert_eq "read-only: its records exactly once" "$(exactly 10)" "$(users "$WORK/rosrc/root/ro.duckdb")"
fi

# ---- 3. SIGINT mid-stream: stop, roll back the open transaction, exit 130 ------------------
cfg=$(config sigint ',"commit_interval_ms":0')
"$GEN" --records 5000 --state-every 1000 --sync-id 5 --catalog "$WORK/sig.cat.json" >"$WORK/sig.msgs"
fifo="$WORK/fifo"; mkfifo "$fifo"
"$MALLARD" write --config "$cfg" --catalog "$WORK/sig.cat.json" <"$fifo" >"$WORK/int.out" 2>"$WORK/int.err" &
BG=$!
exec 7>"$fifo"
# three states and 999 records after the third: those are in the open transaction
head -n $((3 * 1001 + 999)) "$WORK/sig.msgs" >&7
for _ in $(seq 1 200); do [ "$(last_ack "$WORK/int.out")" = 3000 ] && break; sleep 0.05; done
# a record of a stream not in the catalog: its warning says every line before it was read
echo '{"type":"RECORD","record":{"stream":"marker","emitted_at":1,"data":{"x":1}}}' >&7
for _ in $(seq 1 200); do grep -q "stream 'marker'" "$WORK/int.out" && break; sleep 0.05; done
assert_contains "SIGINT: every line sent was read before the signal" "stream 'marker'" "$(cat "$WORK/int.out")"
kill -INT "$BG"
set +e; wait "$BG"; rc=$?; set -e
BG=""
exec 7>&-
assert_eq "SIGINT: exit 130" "130" "$rc"
assert_contains "SIGINT: TRACE says stopped by SIGINT" "stopped by SIGINT" "$(trace_of "$WORK/int.out")"
assert_contains "SIGINT: stderr says it too" "stopped by SIGINT" "$(cat "$WORK/int.err")"
assert_eq "SIGINT: the last echoed state" "3000" "$(last_ack "$WORK/int.out")"
assert_eq "SIGINT: it is the committed state" '{"states":1,"pos":3000}' "$(db_pos "$(db sigint)")"
assert_eq "SIGINT: the acknowledged records kept once, the unacknowledged ones not" "$(exactly 3000)" "$(users "$(db sigint)")"
# the retry from the last echoed state completes
"$GEN" --records 5000 --state-every 1000 --sync-id 5 --start 3000 \
  | "$MALLARD" write --config "$cfg" --catalog "$WORK/sig.cat.json" >"$WORK/int2.out"
assert_eq "SIGINT: the retry completes, every record once" "$(exactly 5000)" "$(users "$(db sigint)")"

# ---- 4. input closed in the middle of a line, records open after an echoed STATE -------
# 4a. commits at every STATE, input from a pipe
cfg=$(config midline ',"commit_interval_ms":0')
"$GEN" --records 6000 --state-every 1000 --sync-id 6 --catalog "$WORK/mid.cat.json" >"$WORK/mid.msgs"
# the first 5 states with their records, 499 more records, and half of the next line
lines=$((5 * 1001 + 499))
{ head -n "$lines" "$WORK/mid.msgs"; sed -n "$((lines + 1))p" "$WORK/mid.msgs" | head -c 100; } >"$WORK/mid.cut"
set +e
"$MALLARD" write --config "$cfg" --catalog "$WORK/mid.cat.json" <"$WORK/mid.cut" >"$WORK/mid.out" 2>"$WORK/mid.err"
rc=$?
set -e
trace=$(trace_of "$WORK/mid.out")
echo "input ended mid-line: $trace"
assert_eq "mid-line: exit 1" "1" "$rc"
assert_contains "mid-line: says the input ended in the middle of a line" "input ended in the middle of a line" "$trace"
assert_contains "mid-line: names the input line" "input line $((lines + 1))" "$trace"
assert_eq "mid-line: the last echoed state" "5000" "$(last_ack "$WORK/mid.out")"
assert_eq "mid-line: it is the committed state" '{"states":1,"pos":5000}' "$(db_pos "$(db midline)")"
assert_eq "mid-line: its records once, the open ones rolled back" "$(exactly 5000)" "$(users "$(db midline)")"
# 4b. grouped commits (the default interval), the input a FIFO that goes idle after a
# STATE (so it is committed and echoed) and is then closed mid-line after more records
cfg=$(config midline_grouped)
rm -f "$fifo"; mkfifo "$fifo"
"$MALLARD" write --config "$cfg" --catalog "$WORK/mid.cat.json" <"$fifo" >"$WORK/midg.out" 2>/dev/null &
BG=$!
exec 7>"$fifo"
head -n $((2 * 1001)) "$WORK/mid.msgs" >&7
for _ in $(seq 1 200); do [ "$(last_ack "$WORK/midg.out")" = 2000 ] && break; sleep 0.05; done
{ sed -n "$((2 * 1001 + 1)),$((2 * 1001 + 700))p" "$WORK/mid.msgs"; sed -n "$((2 * 1001 + 701))p" "$WORK/mid.msgs" | head -c 57; } >&7
exec 7>&-
set +e; wait "$BG"; rc=$?; set -e
BG=""
assert_eq "mid-line, grouped commits: exit 1" "1" "$rc"
assert_contains "mid-line, grouped commits: says so" "input ended in the middle of a line" "$(trace_of "$WORK/midg.out")"
assert_eq "mid-line, grouped commits: the last echoed state" "2000" "$(last_ack "$WORK/midg.out")"
assert_eq "mid-line, grouped commits: it is the committed state" '{"states":1,"pos":2000}' "$(db_pos "$(db midline_grouped)")"
assert_eq "mid-line, grouped commits: its records once, the open ones rolled back" "$(exactly 2000)" "$(users "$(db midline_grouped)")"
finish
