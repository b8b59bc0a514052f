#!/usr/bin/env bash
# mallard debug killed with SIGKILL at random moments while the connector
# emits every kind of operation (upsert, update, delete, truncate,
# checkpoint), restarted each time from files/state.json until a run
# succeeds.  The final warehouse must equal, row for row (id, v,
# _fivetran_deleted), both an uninterrupted reference run of the same
# connector and an independent model of CONTRACTS.md §2 written in awk.
# After every kill: exit status 137, files/state.json (if any) valid JSON of
# the shape the connector saves, positions never going back, and the
# warehouse equal to the model at that position, or at a later checkpoint
# whose commit finished before its state file was written.
# Kill points are seeded (RANDOM) and tied to the run's progress, not only to
# wall-clock time, so that every kill lands inside a run on a slow or fast
# machine.  Knobs: CRASH_OPS_SEED (RANDOM seed), CRASH_OPS_STEPS, CRASH_OPS_KILLS,
# CRASH_OPS_KIND=py (the same connector in Python: test_debug_crash_ops_py.sh).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"
case "$MALLARD" in /*) ;; *) MALLARD="$PWD/$MALLARD" ;; esac
export TZ=UTC LC_ALL=C
unset MALLARD_INCLUDE_DIR
RANDOM=${CRASH_OPS_SEED:-7}

STEPS=${CRASH_OPS_STEPS:-200000}
K=1000
KILLS=${CRASH_OPS_KILLS:-8}
IDS=5000

# The connector.  Step i (from the state's pos to `steps`-1), in this order:
#   i > 0 and i % 10000 == 9321: truncate t
#   always:                      upsert  t {id: i % 5000, v: i}
#   i % 7 == 6:                  update  t {id: (17 i) % min(i+1, 5000), v: -i}
#   i % 13 == 12:                delete  t {id: (31 i) % min(i+1, 5000)}
#   (i+1) % every == 0:          state {"pos": i+1}, checkpoint
# Updates and deletes only target ids upserted at or before step i, so that
# replaying a segment already committed (a kill between the commit and the
# state file) gives the same table.
new_conn() {
  mkdir -p "$WORK/$1"
  if [ "${CRASH_OPS_KIND:-c}" = py ]; then new_conn_py "$1"; return; fi
  cat >"$WORK/$1/connector.c" <<'EOF'
#include <mallard.h>
#include <stdlib.h>

static long long num(mallard_ctx *ctx, const char *key, long long dflt) {
  const char *v = mallard_config(ctx, key);
  return v ? atoll(v) : dflt;
}

static int schema(mallard_ctx *ctx) {
  int rc = mallard_table(ctx, "t", "id");
  if (rc == MALLARD_OK) rc = mallard_column(ctx, "t", "id", MALLARD_LONG);
  if (rc == MALLARD_OK) rc = mallard_column(ctx, "t", "v", MALLARD_LONG);
  return rc;
}

static int update(mallard_ctx *ctx) {
  long long steps = num(ctx, "steps", 0), every = num(ctx, "every", 1000), ids = num(ctx, "ids", 5000);
  const char *p = mallard_state_get(ctx, "pos");
  long long pos = p ? atoll(p) : 0;
  mallard_record *r = mallard_record_new();
  int rc = r ? MALLARD_OK : mallard_fail(ctx, "out of memory");
  for (long long i = pos; i < steps && rc == MALLARD_OK; i++) {
    long long span = i + 1 < ids ? i + 1 : ids;
    if (i > 0 && i % 10000 == 9321) rc = mallard_truncate(ctx, "t");
    if (rc == MALLARD_OK) {
      mallard_record_clear(r);
      mallard_set_long(r, "id", i % ids);
      mallard_set_long(r, "v", i);
      rc = mallard_upsert(ctx, "t", r);
    }
    if (rc == MALLARD_OK && i % 7 == 6) {
      mallard_record_clear(r);
      mallard_set_long(r, "id", (17 * i) % span);
      mallard_set_long(r, "v", -i);
      rc = mallard_update(ctx, "t", r);
    }
    if (rc == MALLARD_OK && i % 13 == 12) {
      mallard_record_clear(r);
      mallard_set_long(r, "id", (31 * i) % span);
      rc = mallard_delete(ctx, "t", r);
    }
    if (rc == MALLARD_OK && (i + 1) % every == 0) {
      rc = mallard_state_set_long(ctx, "pos", i + 1);
      if (rc == MALLARD_OK) rc = mallard_checkpoint(ctx);
    }
  }
  mallard_record_free(r);
  return rc;
}

MALLARD_CONNECTOR(schema, update)
EOF
}
# The same connector in Python, for the Fivetran SDK's API (CRASH_OPS_KIND=py).
new_conn_py() {
  cat >"$WORK/$1/connector.py" <<'EOF'
from fivetran_connector_sdk import Connector, Operations as op

def schema(configuration):
    return [{"table": "t", "primary_key": ["id"], "columns": {"id": "LONG", "v": "LONG"}}]

def update(configuration, state):
    steps, every, ids = (int(configuration[k]) for k in ("steps", "every", "ids"))
    for i in range(int(state.get("pos", 0)), steps):
        span = min(i + 1, ids)
        if i > 0 and i % 10000 == 9321:
            op.truncate("t")
        op.upsert("t", {"id": i % ids, "v": i})
        if i % 7 == 6:
            op.update("t", {"id": (17 * i) % span, "v": -i})
        if i % 13 == 12:
            op.delete("t", {"id": (31 * i) % span})
        if (i + 1) % every == 0:
            op.checkpoint({"pos": i + 1})

connector = Connector(update=update, schema=schema)
EOF
}
conf() { # NAME STEPS
  printf '{"steps": "%s", "every": "%s", "ids": "%s"}\n' "$2" "$K" "$IDS" >"$WORK/$1/configuration.json"
}
# debug NAME: stdout+stderr in $WORK/out, exit code in $rc
debug() {
  set +e
  "$MALLARD" debug "$WORK/$1" >"$WORK/out" 2>&1
  rc=$?
  set -e
}
# rows NAME: the whole table, one JSON line per row (empty if no table yet)
rows() {
  "$MALLARD" query "$WORK/$1/files/warehouse.db" \
    "SELECT id, v, _fivetran_deleted FROM tester.t ORDER BY id" --json 2>/dev/null || true
}
state_of() { cat "$WORK/$1/files/state.json" 2>/dev/null || echo none; }
# state_pos: the pos in crash/files/state.json, 0 if none (no fork: polled)
state_pos() {
  local st=""
  { read -r st <"$WORK/crash/files/state.json"; } 2>/dev/null || true
  [[ "$st" =~ ^\{\"pos\":([0-9]+)\}$ ]] && echo "${BASH_REMATCH[1]}" || echo 0
}
# model N: the table after steps 0..N-1, applied one by one as CONTRACTS.md §2
# says, in the format of rows()
model() {
  awk -v n="$1" -v ids="$IDS" 'BEGIN {
    for (i = 0; i < n; i++) {
      span = i + 1 < ids ? i + 1 : ids
      if (i > 0 && i % 10000 == 9321) for (k in v) del[k] = 1
      k = i % ids; v[k] = i; del[k] = 0
      if (i % 7 == 6) { k = (17 * i) % span; if (k in v) v[k] = -i }
      if (i % 13 == 12) { k = (31 * i) % span; if (k in v) del[k] = 1 }
    }
    m = n < ids ? n : ids
    for (k = 0; k < m; k++)
      printf "{\"id\":%d,\"v\":%d,\"_fivetran_deleted\":%s}\n", k, v[k], del[k] ? "true" : "false"
  }'
}

# ---- the oracle: an uninterrupted reference run, checked against the model ----------
new_conn ref
conf ref "$STEPS"
t0=$SECONDS
debug ref
assert_eq "reference: the run succeeds" "0" "$rc"
assert_contains "reference: Sync SUCCEEDED" "Sync SUCCEEDED" "$(cat "$WORK/out")"
assert_contains "reference: every checkpoint" "Checkpoints     | $((STEPS / K))" "$(cat "$WORK/out")"
assert_eq "reference: final state" "{\"pos\":$STEPS}" "$(state_of ref)"
rows ref >"$WORK/ref.rows"
model "$STEPS" >"$WORK/model.rows"
assert_eq "reference: $IDS rows" "$IDS" "$(wc -l <"$WORK/ref.rows")"
if cmp -s "$WORK/model.rows" "$WORK/ref.rows"; then pass; else
  fail "reference: the table differs from the model of CONTRACTS.md §2:"$'\n'"$(diff "$WORK/model.rows" "$WORK/ref.rows" | head -20)"
fi
reftime=$((SECONDS - t0))
echo "reference: $STEPS steps in ${reftime}s, $(grep -c true "$WORK/ref.rows") of $IDS rows deleted at the end"

# ---- SIGKILL at random moments, restarted from state.json ---------------------------
new_conn crash
conf crash 0
debug crash # builds the connector, so that no kill lands in the compiler
assert_eq "crash: the build run succeeds" "0" "$rc"
conf crash "$STEPS"
kills=0 runs=0 finished=0 ahead=0 last=0
while [ "$runs" -lt $((KILLS + 20)) ]; do
  runs=$((runs + 1))
  start=$(state_pos)
  "$MALLARD" debug "$WORK/crash" >"$WORK/out" 2>&1 &
  BG=$!
  if [ "$kills" -lt "$KILLS" ]; then
    # the kill point, from the seed: in 1 of 4 runs 10-69 ms after the start
    # (loading, schema, first batch); otherwise once the run has saved a
    # random number of checkpoints, then 0-19 ms later (anywhere in a batch,
    # the MERGE, the commit or the state write).  The targets leave at least
    # 20 checkpoints after the last kill, so that every kill lands in a run.
    left=$(( (STEPS - start) / K - 20 )); maxc=$(( left / (KILLS - kills) )); [ "$maxc" -ge 1 ] || maxc=1
    if [ $((RANDOM % 4)) -eq 0 ]; then
      sleep "0.0$((10 + RANDOM % 60))"
    else
      target=$((start + K * (1 + RANDOM % maxc))) t1=$((SECONDS + 60))
      while kill -0 "$BG" 2>/dev/null && [ "$(state_pos)" -lt "$target" ] && [ "$SECONDS" -lt "$t1" ]; do sleep 0.002; done
      sleep "0.0$(printf '%02d' $((RANDOM % 20)))"
    fi
    kill -9 "$BG" 2>/dev/null || true
  fi
  set +e; wait "$BG" 2>/dev/null; rc=$?; set -e
  BG=""
  if [ "$rc" -eq 0 ]; then finished=1; break; fi
  kills=$((kills + 1))
  assert_eq "crash: kill $kills ended the run with SIGKILL" "137" "$rc"
  [ "$rc" -eq 137 ] || { tail -n 5 "$WORK/out" >&2; break; }
  st=$(state_of crash)
  if [ "$st" = none ]; then
    pos=0
  else
    # valid JSON, checked by DuckDB's json_valid (no jq on a fresh machine)
    if [ "$("$MALLARD" query :memory: "SELECT json_valid('${st//\'/\'\'}')::INT AS v" --json 2>/dev/null)" = '{"v":1}' ]; then
      pass
    else
      fail "crash: after kill $kills state.json is not valid JSON: $st"
    fi
    pos=$(sed -nE 's/^\{"pos":([0-9]+)\}$/\1/p' <<<"$st")
    if [ -n "$pos" ] && [ $((pos % K)) -eq 0 ]; then pass; else
      fail "crash: after kill $kills state.json is not a state the connector saved: $st"; pos=0; fi
  fi
  [ "$pos" -ge "$last" ] && pass || fail "crash: after kill $kills the state went back from $last to $pos"
  last=$pos
  # the warehouse is the model at the state's position, or at a later
  # checkpoint whose commit finished before its state was written: the kill
  # fell between a commit (in line, or behind the connector, which can run
  # ahead of state.json by the checkpoints of one commit interval) and the
  # state file's rename; the restart then sends those operations again
  rows crash >"$WORK/crash.rows"
  matched=""
  if [ "$pos" -eq 0 ] && [ ! -s "$WORK/crash.rows" ]; then matched=0
  else
    for j in $(seq 0 20); do
      [ $((pos + j * K)) -le "$STEPS" ] || break
      if model $((pos + j * K)) | cmp -s - "$WORK/crash.rows"; then matched=$j; break; fi
    done
  fi
  if [ -n "$matched" ]; then
    pass
    [ "$matched" -gt 0 ] && ahead=$((ahead + 1))
  else
    fail "crash: after kill $kills (state pos $pos) the warehouse is not the model at any checkpoint from $pos on:"$'\n'"$(model "$pos" | diff - "$WORK/crash.rows" | head -10)"
  fi
  echo "crash: kill $kills, state $st"
done
echo "crash: $kills kills ($ahead between a commit and its state.json), $runs runs"
assert_eq "crash: a run completes" "1" "$finished"
assert_eq "crash: all $KILLS kills landed inside a run" "$KILLS" "$kills"
assert_contains "crash: the last run says Sync SUCCEEDED" "Sync SUCCEEDED" "$(cat "$WORK/out")"
assert_eq "crash: the final state" "{\"pos\":$STEPS}" "$(state_of crash)"
rows crash >"$WORK/crash.rows"
if cmp -s "$WORK/ref.rows" "$WORK/crash.rows"; then pass; else
  fail "crash: the final warehouse differs from the reference run:"$'\n'"$(diff "$WORK/ref.rows" "$WORK/crash.rows" | head -20)"
fi
assert_eq "crash: no leftover tables" '{"t":"tester.t"}' \
  "$("$MALLARD" query "$WORK/crash/files/warehouse.db" "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables ORDER BY 1" --json)"
finish
