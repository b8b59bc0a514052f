#!/usr/bin/env bash
# Crash harness: mallard write is killed with SIGKILL at random moments and
# restarted the way the Airbyte platform retries a sync (same sync_id, the
# records after the last echoed STATE sent again; only the last STATE again
# when every STATE was echoed).  The final tables must
# hold every record exactly once, and with unnesting (unnest_depth) each
# record's child rows exactly once.  CRASH_KILLS sets the number of random kills
# per mode (CI: a few; the long form documented in docs/reliability.md is
# `CRASH_KILLS=200 CRASH_RECORDS=3000000 CRASH_MAX_SLEEP_MS=150`).  A sync
# that completes before its kills are used up ends the loop early; the
# total number of kills is printed at the end.
source "$(dirname "$0")/lib.sh"
KILLS=${CRASH_KILLS:-4}
N=${CRASH_RECORDS:-30000}
K=1000
RANDOM=${CRASH_SEED:-7}
MAX_SLEEP_MS=${CRASH_MAX_SLEEP_MS:-600}
TOTAL_KILLS=0

# run_until_done MODE NAME CONFIG: kills then a final run; prints nothing
last_ack() { { grep '"STATE"' "$1" || true; } | tail -n 1 | sed -E 's/.*"position":([0-9]+).*/\1/'; }
sync_mode() {
  local mode=$1 name=$2 cfg=$3 first_ack=$4 fault_at=${5:-3} pos=0 kills=0 rc ack
  "$GEN" --records "$N" --state-every "$K" --mode "$mode" --sync-id 42 ${GEN_EXTRA:-} --catalog "$WORK/$name.cat.json" >/dev/null
  # 1. a deterministic kill between a commit and the echo of its states
  set +e
  "$GEN" --records "$N" --state-every "$K" --mode "$mode" --sync-id 42 ${GEN_EXTRA:-} --start "$pos" \
    | MALLARD_FAULT=kill_after_commit:$fault_at "$MALLARD" write --config "$cfg" --catalog "$WORK/$name.cat.json" > "$WORK/out" 2>/dev/null
  rc=$?
  set -e
  assert_eq "$name: fault injection killed the run" "137" "$rc"
  ack=$(last_ack "$WORK/out"); pos=${ack:-$pos}
  # states of earlier commits may still be unechoed when the kill comes
  # (echoes follow commits from another thread); the killed commit's never are
  [ -n "$first_ack" ] && assert_eq "$name: the states of the killed commit were not echoed" "yes" \
    "$([ "$pos" -le "$first_ack" ] && echo yes || echo "no: $pos echoed")"
  [ "$pos" -lt "$N" ] && pass || fail "$name: the killed run acknowledged everything"
  # 2. random kills
  while [ "$kills" -lt "$KILLS" ]; do
    "$GEN" --records "$N" --state-every "$K" --mode "$mode" --sync-id 42 ${GEN_EXTRA:-} --start "$pos" \
      | "$MALLARD" write --config "$cfg" --catalog "$WORK/$name.cat.json" > "$WORK/out" 2>/dev/null &
    local pid=$!
    sleep "0.$(printf '%03d' $((RANDOM % MAX_SLEEP_MS)))"
    kill -9 "$(pgrep -P "$$" -x mallard | head -n 1)" 2>/dev/null || true
    set +e; wait "$pid"; rc=$?; set -e
    ack=$(last_ack "$WORK/out"); pos=${ack:-$pos}
    kills=$((kills + 1))
    TOTAL_KILLS=$((TOTAL_KILLS + 1))
    [ "$rc" -eq 0 ] && return 0 # it finished before the kill: the sync is done
  done
  # 3. the run that finishes.  When the killed run had echoed every STATE it
  # may still have died before the end of its sync (an overwrite's swap):
  # the retry then holds only the source's last STATE once more, as a
  # source resumed at its end sends it
  if [ "$pos" -ge "$N" ]; then
    "$GEN" --records "$N" --state-every "$K" --mode "$mode" --sync-id 42 ${GEN_EXTRA:-} --start $((N - K)) \
      | { grep '"STATE"' || true; } | tail -n 1 \
      | "$MALLARD" write --config "$cfg" --catalog "$WORK/$name.cat.json" > "$WORK/out"
  else
    "$GEN" --records "$N" --state-every "$K" --mode "$mode" --sync-id 42 ${GEN_EXTRA:-} --start "$pos" \
      | "$MALLARD" write --config "$cfg" --catalog "$WORK/$name.cat.json" > "$WORK/out"
  fi
  assert_eq "$name: the last state echoed" "$N" "$(last_ack "$WORK/out")"
}

# unnest_ok NAME DB TABLE: with unnest_depth 1 every record of TABLE has its
# two tags in TABLE__tags, at positions 0 and 1, equal to its JSON, and no
# child row lacks its record
unnest_ok() {
  assert_eq "$1: child rows exactly once" '{"missing":0,"extra":0,"children":0}' "$(q "$2" "SELECT
    (SELECT count(*) FROM $3 u, range(2) r(i) WHERE NOT EXISTS (SELECT 1 FROM $3__tags t WHERE t._airbyte_raw_id = u._airbyte_raw_id
       AND t._mallard_list_idx = r.i AND t.value = (u.tags->>(r.i::INTEGER)))) AS missing,
    (SELECT count(*) FROM $3__tags) - 2 * (SELECT count(*) FROM $3) AS extra,
    (SELECT count(*) FROM $3__tags t ANTI JOIN $3 u USING (_airbyte_raw_id)) AS children")"
}
for mode in append overwrite append_dedup; do
  # overwrite runs with unnesting: its child tables are swapped in with the table
  unnest=''
  [ "$mode" = overwrite ] && unnest=',"unnest_depth":1'
  cfg=$(config "crash_$mode" ',"commit_interval_ms":0'"$unnest")
  if [ "$mode" = overwrite ]; then
    # an older complete sync whose table must stay readable until the new one is done
    gen_catalog --records 10 --state-every 5 --mode overwrite --sync-id 41 --catalog "$WORK/old.cat.json"
    "$GEN" --records 10 --state-every 5 --mode overwrite --sync-id 41 --catalog "$WORK/old.cat.json" \
      | "$MALLARD" write --config "$cfg" --catalog "$WORK/old.cat.json" >/dev/null
  fi
  sync_mode "$mode" "$mode" "$cfg" 2000
  assert_eq "$mode: every record exactly once" "{\"n\":$N,\"ids\":$N,\"min\":1,\"max\":$N}" \
    "$(q "$(db "crash_$mode")" 'SELECT count(*) AS n, count(DISTINCT id) AS ids, min(id) AS min, max(id) AS max FROM users')"
  [ -n "$unnest" ] && unnest_ok "$mode with unnesting" "$(db "crash_$mode")" users
done
# append_dedup with unnesting and repeated keys: replaced records' children go
cfg=$(config crash_dedup_unnest ',"commit_interval_ms":0,"unnest_depth":1')
GEN_EXTRA="--key-space $((N / 3))" sync_mode append_dedup dedup_unnest "$cfg" 2000
assert_eq "append_dedup with unnesting: one row per key" "{\"n\":$((N / 3)),\"ids\":$((N / 3))}" \
  "$(q "$(db crash_dedup_unnest)" 'SELECT count(*) AS n, count(DISTINCT id) AS ids FROM users')"
unnest_ok "append_dedup with unnesting" "$(db crash_dedup_unnest)" users

# append_dedup with repeated keys and no child tables (rows go straight into
# the final table; the merge deletes what loses): the same rows as a load of
# the same records without kills
cfg=$(config crash_dedup_keys ',"commit_interval_ms":0')
GEN_EXTRA="--key-space $((N / 3))" sync_mode append_dedup dedup_keys "$cfg" 2000
"$GEN" --records "$N" --state-every "$K" --mode append_dedup --sync-id 42 --key-space $((N / 3)) \
  | "$MALLARD" write --config "$(config ref_dedup_keys)" --catalog "$WORK/dedup_keys.cat.json" >/dev/null
rows_of() { q "$1" 'SELECT id, name, email, age, score, active, updated_at, tags, address FROM users ORDER BY id' | md5sum; }
assert_eq "append_dedup with repeated keys: one row per key" "{\"n\":$((N / 3)),\"ids\":$((N / 3))}" \
  "$(q "$(db crash_dedup_keys)" 'SELECT count(*) AS n, count(DISTINCT id) AS ids FROM users')"
assert_eq "append_dedup with repeated keys: the rows of a load without kills" "$(rows_of "$(db ref_dedup_keys)")" \
  "$(rows_of "$(db crash_dedup_keys)")"

# commits grouped by time: the states of one commit are acknowledged together
cfg=$(config crash_grouped ',"commit_interval_ms":50,"unnest_depth":1')
# (with grouped commits a fast run may commit only once or twice: kill after the first)
sync_mode append grouped "$cfg" "" 1
assert_eq "grouped commits: every record exactly once" "{\"n\":$N,\"ids\":$N}" \
  "$(q "$(db crash_grouped)" 'SELECT count(*) AS n, count(DISTINCT id) AS ids FROM users')"
unnest_ok "grouped commits with unnesting" "$(db crash_grouped)" users
# per-stream STATE messages with two interleaved streams: a commit at one
# stream's STATE must not commit the other stream's rows that no STATE covers
acked() { # OUT STREAM: the last echoed position of that stream (0 if none)
  local v
  v=$({ grep "\"name\":\"$2\"" "$1" || true; } | { grep '"STATE"' || true; } | tail -n 1 | sed -E 's/.*"position":([0-9]+).*/\1/')
  echo "${v:-0}"
}
cfg=$(config crash_streams ',"commit_interval_ms":0,"unnest_depth":1')
SN=$((N / 2 * 2)); SK=500
gen2() { "$GEN" --records "$SN" --streams 2 --state-every "$SK" --state-kind stream --sync-id 43 "$@"; }
gen2 --catalog "$WORK/streams.cat.json" >/dev/null
pu=0; po=0; kills=0
set +e
gen2 --starts "$pu,$po" | MALLARD_FAULT=kill_after_commit:5 "$MALLARD" write --config "$cfg" --catalog "$WORK/streams.cat.json" > "$WORK/out" 2>/dev/null
set -e
pu=$(acked "$WORK/out" users); po=$(acked "$WORK/out" orders)
while [ "$kills" -lt "$KILLS" ]; do
  { gen2 --starts "$pu,$po" || true; } | "$MALLARD" write --config "$cfg" --catalog "$WORK/streams.cat.json" > "$WORK/out" 2>/dev/null &
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % MAX_SLEEP_MS)))"
  kill -9 "$(pgrep -P "$$" -x mallard | head -n 1)" 2>/dev/null || true
  set +e; wait "$pid"; rc=$?; set -e
  u=$(acked "$WORK/out" users); o=$(acked "$WORK/out" orders)
  [ "$u" -gt "$pu" ] && pu=$u
  [ "$o" -gt "$po" ] && po=$o
  kills=$((kills + 1)); TOTAL_KILLS=$((TOTAL_KILLS + 1))
  [ "$rc" -eq 0 ] && break
done
half=$((SN / 2))
# the run that finishes, unless the last killed one had echoed every STATE
# of both streams already (then there is nothing left to send)
if [ "$rc" -ne 0 ] && { [ "$pu" -lt "$half" ] || [ "$po" -lt "$half" ]; }; then
  gen2 --starts "$pu,$po" | "$MALLARD" write --config "$cfg" --catalog "$WORK/streams.cat.json" > /dev/null
fi
assert_eq "per-stream states: users exactly once" "{\"n\":$half,\"ids\":$half}" \
  "$(q "$(db crash_streams)" 'SELECT count(*) AS n, count(DISTINCT id) AS ids FROM users')"
assert_eq "per-stream states: orders exactly once" "{\"n\":$half,\"ids\":$half}" \
  "$(q "$(db crash_streams)" 'SELECT count(*) AS n, count(DISTINCT id) AS ids FROM orders')"
unnest_ok "per-stream states with unnesting: users" "$(db crash_streams)" users
unnest_ok "per-stream states with unnesting: orders" "$(db crash_streams)" orders
assert_eq "per-stream states: no parked rows left" "0" \
  "$(q1 "$(db crash_streams)" "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_mallard_pending_%'")"

echo "random kills: $TOTAL_KILLS (plus one fault-injected kill per sync)"
finish
