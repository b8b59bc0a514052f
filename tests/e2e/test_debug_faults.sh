#!/usr/bin/env bash
# mallard debug under faults (the SDK side of test_faults.sh): a full disk
# under files/, a read-only files/, a connector failing after several large
# checkpoints, and SIGKILL at random moments with restarts from state.json.
# Each fault must give a clear message and a documented exit code, and leave
# files/state.json and files/warehouse.db as at the last checkpoint.
# Mounting needs root (CAP_SYS_ADMIN); where it is not allowed those parts
# print "SKIP: ..." and count neither as passed nor as failed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
case "$MALLARD" in /*) ;; *) MALLARD="$PWD/$MALLARD" ;; esac
export TZ=UTC LC_ALL=C
unset MALLARD_INCLUDE_DIR
RANDOM=${FAULT_SEED:-11}

# The connector: `rows` upserts into tester.seq (id, v = 3*id, s = a text of
# `pad` characters that depends on id), a checkpoint with state {"pos": next
# id} every `every` rows, resuming from the state's pos.  With fail_after=F it
# fails half way between checkpoint F and F+1, after also deleting id 0,
# updating id 1 and upserting a row of another table.
new_seq() {
  mkdir -p "$WORK/$1"
  cat >"$WORK/$1/connector.c" <<'EOF'
#include <mallard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long long num(mallard_ctx *ctx, const char *key, long long dflt) {
  const char *v = mallard_config(ctx, key);
  return v ? atoll(v) : dflt;
}

static int schema(mallard_ctx *ctx) {
  int rc = mallard_table(ctx, "seq", "id");
  if (rc == MALLARD_OK) rc = mallard_column(ctx, "seq", "id", MALLARD_LONG);
  if (rc == MALLARD_OK) rc = mallard_column(ctx, "seq", "v", MALLARD_LONG);
  if (rc == MALLARD_OK) rc = mallard_column(ctx, "seq", "s", MALLARD_STRING);
  return rc;
}

static void text(char *s, long long id, int pad) {
  unsigned long long x = (unsigned long long)id * 0x9E3779B97F4A7C15ULL + 1;
  int n = snprintf(s, 32, "row %lld ", id);
  for (int i = 0; i < pad; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    s[n++] = "0123456789abcdef"[x & 15];
  }
  s[n] = '\0';
}

static int update(mallard_ctx *ctx) {
  long long rows = num(ctx, "rows", 0), every = num(ctx, "every", 1000), fail_after = num(ctx, "fail_after", 0);
  int pad = (int)num(ctx, "pad", 0);
  const char *p = mallard_state_get(ctx, "pos");
  long long pos = p ? atoll(p) : 0, done = 0, fail_at = -1;
  char *s = malloc((size_t)pad + 40);
  mallard_record *r = mallard_record_new();
  int rc = s && r ? MALLARD_OK : mallard_fail(ctx, "out of memory");
  for (long long i = pos; i < rows && rc == MALLARD_OK; i++) {
    mallard_record_clear(r);
    mallard_set_long(r, "id", i);
    mallard_set_long(r, "v", 3 * i);
    text(s, i, pad);
    mallard_set_string(r, "s", s);
    rc = mallard_upsert(ctx, "seq", r);
    if (rc == MALLARD_OK && (i + 1) % every == 0) {
      rc = mallard_state_set_long(ctx, "pos", i + 1);
      if (rc == MALLARD_OK) rc = mallard_checkpoint(ctx);
      if (rc == MALLARD_OK && ++done == fail_after) {
        fail_at = i + 1 + every / 2;
        mallard_record_clear(r);
        mallard_set_long(r, "id", 0);
        rc = mallard_delete(ctx, "seq", r);
        mallard_record_clear(r);
        mallard_set_long(r, "id", 1);
        mallard_set_long(r, "v", -1);
        if (rc == MALLARD_OK) rc = mallard_update(ctx, "seq", r);
        mallard_record_clear(r);
        mallard_set_long(r, "k", 1);
        if (rc == MALLARD_OK) rc = mallard_upsert(ctx, "other", r);
      }
    }
    if (rc == MALLARD_OK && i + 1 == fail_at)
      rc = mallard_fail(ctx, "injected failure after %lld checkpoints", done);
  }
  mallard_record_free(r);
  free(s);
  return rc;
}

MALLARD_CONNECTOR(schema, update)
EOF
}
# conf NAME KEY=VALUE...: NAME/configuration.json
conf() {
  local dir=$1 sep="" kv; shift
  { printf '{'; for kv in "$@"; do printf '%s"%s": "%s"' "$sep" "${kv%%=*}" "${kv#*=}"; sep=", "; done; printf '}\n'; } \
    >"$WORK/$dir/configuration.json"
}
# debug NAME: stdout+stderr in $WORK/out, exit code in $rc
debug() {
  local d=$1
  shift
  set +e
  "$MALLARD" debug "$WORK/$d" "$@" >"$WORK/out" 2>&1
  rc=$?
  set -e
}
wq() { "$MALLARD" query "$WORK/$1/files/warehouse.db" "$2" --json; }
state_of() { cat "$WORK/$1/files/state.json" 2>/dev/null || echo none; }
# the pos of the last state saved, from the FINE log lines of $WORK/out
last_saved() { { grep -o 'checkpoint: state saved to .*"pos":[0-9]*' "$WORK/out" || true; } | tail -n 1 | sed -E 's/.*"pos"://'; }
# every row of seq right: ids 0..N-1 once each, v and s as the connector makes them, none deleted
seq_check() { # NAME N PAD
  wq "$1" "SELECT count(*) AS n, count(DISTINCT id) AS ids, coalesce(min(id), -1) AS min, coalesce(max(id), -1) AS max,
    count(*) FILTER (WHERE v <> 3 * id OR NOT starts_with(s, 'row ' || id || ' ') OR length(s) <> length('row ' || id || ' ') + $3) AS bad,
    count(*) FILTER (WHERE _fivetran_deleted) AS deleted FROM tester.seq"
}
seq_ok() { echo "{\"n\":$1,\"ids\":$1,\"min\":$(($1 > 0 ? 0 : -1)),\"max\":$(($1 - 1)),\"bad\":0,\"deleted\":0}"; }

# ---- 1. a connector failing half way after three checkpoints of 10,000 rows -----------
new_seq big
conf big rows=100000 every=10000 fail_after=3
debug big
assert_eq "fail after 3 checkpoints: exit 1" "1" "$rc"
assert_contains "fail after 3 checkpoints: the reason" "Sync FAILED: injected failure after 3 checkpoints" "$(cat "$WORK/out")"
assert_contains "fail after 3 checkpoints: the summary counts them" "Checkpoints     | 3" "$(cat "$WORK/out")"
assert_eq "fail after 3 checkpoints: state.json is the 3rd checkpoint" '{"pos":30000}' "$(state_of big)"
assert_eq "fail after 3 checkpoints: the rows before it, unchanged (the delete and update after it rolled back)" \
  "$(seq_ok 30000)" "$(seq_check big 30000 0)"
assert_eq "fail after 3 checkpoints: no table from after the checkpoint, no staging leftovers" '{"t":"tester.seq"}' \
  "$(wq big "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables ORDER BY 1")"
conf big rows=100000 every=10000
debug big
assert_eq "fail after 3 checkpoints: the rerun resumes and succeeds" "0" "$rc"
assert_contains "fail after 3 checkpoints: the rerun starts at the state" "Upserts         | 70000" "$(cat "$WORK/out")"
assert_eq "fail after 3 checkpoints: every row exactly once after the rerun" "$(seq_ok 100000)" "$(seq_check big 100000 0)"
assert_eq "fail after 3 checkpoints: final state" '{"pos":100000}' "$(state_of big)"

# ---- 2. SIGKILL at random moments, restarted from state.json ---------------------------
# (long form: DEBUG_CRASH_KILLS=100 DEBUG_CRASH_ROWS=50000000 DEBUG_CRASH_MAX_SLEEP_MS=1500
# FAULT_SEED=N).  Kills fall 50 ms to DEBUG_CRASH_MAX_SLEEP_MS after the
# start, and checkpoints are grouped for 200 ms only (--commit-interval-ms),
# so that kills land in commits behind the connector, between such a commit
# and its state file, and in upserts applied ahead of their commit.
N=${DEBUG_CRASH_ROWS:-1000000}
K=5000
KILLS=${DEBUG_CRASH_KILLS:-5}
MAX_SLEEP_MS=${DEBUG_CRASH_MAX_SLEEP_MS:-1000}
new_seq crash
conf crash rows=0
debug crash # builds the connector, so that no kill lands in the compiler
assert_eq "crash: the build run succeeds" "0" "$rc"
conf crash rows=$N every=$K
kills=0 finished=0 ahead=0
while [ "$kills" -lt "$KILLS" ]; do
  "$MALLARD" debug "$WORK/crash" --commit-interval-ms 200 >"$WORK/out" 2>&1 &
  BG=$!
  ms=$((50 + RANDOM % (MAX_SLEEP_MS - 49)))
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  kill -9 "$BG" 2>/dev/null || true
  set +e; wait "$BG" 2>/dev/null; rc=$?; set -e
  BG=""
  kills=$((kills + 1))
  if [ "$rc" -eq 0 ]; then finished=1; break; fi
  assert_eq "crash: kill $kills ended the run with SIGKILL" "137" "$rc"
  # the warehouse is as at the checkpoint state.json names, or at a later
  # checkpoint when the kill fell between a commit and the state file (a
  # commit behind the connector covers every checkpoint held since the last
  # one, and its state is written at the next checkpoint): never between two
  pos=$(state_of crash | sed -nE 's/^\{"pos":([0-9]+)\}$/\1/p'); pos=${pos:-0}
  got=$({ wq crash "SELECT count(*) AS n FROM tester.seq" 2>/dev/null || true; } | sed -E 's/.*:([0-9]+)\}/\1/'); got=${got:-0}
  [ "$got" -gt "$pos" ] && ahead=$((ahead + 1))
  if [ "$got" -eq "$pos" ] || { [ "$got" -gt "$pos" ] && [ $((got % K)) -eq 0 ]; }; then pass; else
    fail "crash: after kill $kills state.json says $pos rows, the warehouse has $got"; fi
done
echo "crash: $kills kills ($ahead between a commit and its state.json), last state $(state_of crash)"
if [ "$finished" -eq 0 ]; then
  debug crash
  assert_eq "crash: the final run succeeds" "0" "$rc"
fi
assert_eq "crash: every row exactly once, with its values" "$(seq_ok "$N")" "$(seq_check crash "$N" 0)"
assert_eq "crash: the final state" "{\"pos\":$N}" "$(state_of crash)"
leftover=$(cd "$WORK/crash/files" && ls -A | grep -c '^state\.json\.tmp-' || true)
[ "$leftover" -gt 0 ] && echo "crash: note: $leftover state.json.tmp-PID file(s) left by kills during the state write (harmless)"
assert_eq "crash: no leftover tables" '{"t":"tester.seq"}' \
  "$(wq crash "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables ORDER BY 1")"

# ---- 3. disk full under files/ ---------------------------------------------------------
new_seq full
mkdir -p "$WORK/full/files"
if ! try_mount "$WORK/full/files" -t tmpfs -o size=3m tmpfs; then
  skip "cannot mount tmpfs here (disk full, mallard debug)"
else
  conf full rows=60000 every=2000 pad=100
  # every checkpoint committed on its own, so that some are saved before the disk fills
  debug full --commit-interval-ms 0
  echo "disk full: $(grep 'Sync FAILED' "$WORK/out" || tail -n 3 "$WORK/out")"
  assert_eq "disk full: exit 1" "1" "$rc"
  assert_contains "disk full: Sync FAILED" "Sync FAILED: " "$(cat "$WORK/out")"
  assert_contains "disk full: says the device is full" "No space left on device" "$(grep 'Sync FAILED' "$WORK/out")"
  assert_contains "disk full: names the path" "$WORK/full/files/" "$(grep 'Sync FAILED' "$WORK/out")"
  saved=$(last_saved)
  [ -n "$saved" ] && [ "$saved" -gt 0 ] && [ "$saved" -lt 60000 ] && pass || fail "disk full: some checkpoints before the disk filled (saved: '$saved')"
  assert_eq "disk full: state.json is the last checkpoint saved" "{\"pos\":${saved:-0}}" "$(state_of full)"
  assert_eq "disk full: the warehouse is as at that checkpoint" "$(seq_ok "${saved:-0}")" "$(seq_check full "${saved:-0}" 100)"
  ls "$WORK/full/files" > "$WORK/ls"
  assert_eq "disk full: no temporary state file left" "" "$(grep 'state.json.tmp' "$WORK/ls" || true)"
  mount -o remount,size=64m "$WORK/full/files"
  debug full
  assert_eq "disk full: after freeing space the rerun succeeds" "0" "$rc"
  assert_eq "disk full: every row exactly once" "$(seq_ok 60000)" "$(seq_check full 60000 100)"
  assert_eq "disk full: final state" '{"pos":60000}' "$(state_of full)"
fi

# ---- 4. read-only files/ ----------------------------------------------------------------
new_seq ro
conf ro rows=3000 every=1000
debug ro
assert_eq "read-only: the first run succeeds" "0" "$rc"
if ! ro_bind "$WORK/ro/files"; then
  skip "cannot make a read-only bind mount here (read-only files/, mallard debug)"
else
  conf ro rows=6000 every=1000
  debug ro
  echo "read-only files/: $(grep 'Sync FAILED' "$WORK/out" || tail -n 3 "$WORK/out")"
  assert_eq "read-only files/: exit 1" "1" "$rc"
  assert_contains "read-only files/: Sync FAILED naming the path" "Sync FAILED: " "$(cat "$WORK/out")"
  assert_contains "read-only files/: names the path" "$WORK/ro/files/" "$(grep 'Sync FAILED' "$WORK/out")"
  assert_contains "read-only files/: says why" "Read-only file system" "$(grep 'Sync FAILED' "$WORK/out")"
  assert_eq "read-only files/: state.json unchanged" '{"pos":3000}' "$(state_of ro)"
  assert_eq "read-only files/: warehouse unchanged" "$(seq_ok 3000)" "$(seq_check ro 3000 0)"
fi
# a first run into a read-only files/: the build has nowhere to go
new_seq ro2
conf ro2 rows=10 every=5
mkdir -p "$WORK/ro2/files"
if ! ro_bind "$WORK/ro2/files"; then
  skip "cannot make a read-only bind mount here (first run into a read-only files/)"
else
  debug ro2
  echo "read-only empty files/: $(grep 'Sync FAILED' "$WORK/out" || tail -n 3 "$WORK/out")"
  assert_eq "read-only empty files/: exit 1" "1" "$rc"
  assert_contains "read-only empty files/: Sync FAILED naming the path" "$WORK/ro2/files/" "$(grep 'Sync FAILED' "$WORK/out")"
  assert_contains "read-only empty files/: says why" "Read-only file system" "$(grep 'Sync FAILED' "$WORK/out")"
fi
finish
