#!/usr/bin/env bash
# mallard debug when things go wrong: bad schema, missing configuration key,
# a connector failing after a checkpoint (warehouse and state.json stay as at
# the checkpoint), a non-zero return, compile errors, a locked warehouse,
# an interrupted run; and the build cache.
source "$(dirname "$0")/sdk_lib.sh"

T='[{"table":"t","primary_key":["id"],"columns":{"id":"LONG","name":"STRING"}}]'
new_ops p

# ---- invalid schemas: clear messages, Sync FAILED, exit 1
bad_schema() {
  config p "upsert t id=1" "$1"
  debug p
  expect_rc 1 "schema $1"
  expect_grep "Sync FAILED: invalid schema: " "schema $1"
  expect_grep "$2" "schema $1"
}
bad_schema '[{"table":"t","primary_key":["id"],"columns":{"id":"LONGG"}}]' "table 't': column 'id': unknown type 'LONGG'"
bad_schema '[{"table":"t","columns":{"a":"DECIMAL"}}]' "table 't': column 'a': DECIMAL needs integer \"precision\" and \"scale\""
bad_schema '[{"table":"t","columns":{"a":{"type":"DECIMAL","precision":10}}}]' "DECIMAL needs integer"
bad_schema '[{"table":"t"},{"table":"t"}]' "table 't' is declared twice"
bad_schema '[{"table":"t","primary":["id"]}]' "entry 1: unknown key 'primary'"
bad_schema '[{"table":"t","columns":{"a":{"type":"DECIMAL","precision":40,"scale":2}}}]' "DECIMAL(40,2) is invalid"
[ ! -e "$work/p/files/warehouse.db" ] || [ "$(q p "SELECT count(*) AS c FROM information_schema.tables")" = '{"c":0}' ] ||
  fail "a bad schema creates no table"

# ---- configuration
config p "require api_key; upsert t id=1" "$T"
debug p
expect_rc 1 "missing key"
expect_grep "Sync FAILED: configuration key 'api_key' is missing" "missing key"
echo '{"script": "checkpoint", "n": 5}' >"$work/p/configuration.json"
debug p
expect_rc 1 "non-string configuration value"
expect_grep "the value of 'n' must be a string" "non-string configuration value"
config p "checkpoint" "$T"
debug p --configuration "$work/nope.json"
expect_rc 1 "missing --configuration file"
expect_grep "nope.json" "names the file"
# a commit interval that is not a number of milliseconds is a usage error, before anything runs
for bad in abc -5 "" 10x 99999999999999999999; do
  debug p --commit-interval-ms "$bad"
  expect_rc 2 "--commit-interval-ms '$bad'"
  grep -qF -- "--commit-interval-ms needs a number of milliseconds >= 0, not '$bad'" "$work/err" ||
    fail "--commit-interval-ms '$bad': stderr does not say why"
done

# ---- failure after a checkpoint: warehouse and state.json as at the checkpoint
config p "upsert t id=1 name=a; state c 1; checkpoint; upsert t id=2 name=b; update t id=1 name=changed; delete t id=1;
          upsert other k=1; truncate t; state c 2; fail the source said no" "$T"
debug p
expect_rc 1 "failing connector"
expect_grep "Sync FAILED: the source said no" "reason printed"
expect_grep "Checkpoints     | 1" "summary printed on failure"
[ "$(cat "$work/p/files/state.json")" = '{"c":"1"}' ] || fail "state.json stays at the checkpoint"
expect_q p "SELECT id, name, _fivetran_deleted AS d FROM tester.t" '{"id":1,"name":"a","d":false}' \
  "rows after the checkpoint are rolled back"
expect_q p "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables ORDER BY 1" '{"t":"tester.t"}' \
  "no table from after the checkpoint, no staging leftovers"

config p "upsert t id=5 name=x; return 3" "$T"
debug p
expect_rc 1 "non-zero return"
expect_grep "Sync FAILED: update() returned 3" "non-zero return"
expect_q p "SELECT count(*) AS c FROM tester.t" '{"c":1}' "nothing kept after a non-zero return"

config p "upsert t name=nokey; checkpoint" "$T"
debug p
expect_rc 1 "missing primary key value"
expect_grep "primary key column 'id' has no value" "missing primary key value"

config p "upsert t id=1 when:date=2024-13-01" "$T"
debug p
expect_rc 1 "invalid date"
expect_grep "\"2024-13-01\" is not a valid date" "a setter's error fails the operation that uses the record"

# ---- the build: cached, rebuilt when a source changes, compile errors shown
config p "checkpoint" "$T"
debug p
expect_rc 0 "cached build"
grep -q "built the connector" "$work/out" && fail "no rebuild when nothing changed"
sleep 0.05
touch "$work/p/connector.c"
debug p
expect_grep "built the connector" "rebuilt after connector.c changed"
echo 'int broken(void) { return }' >"$work/p/extra.c"
debug p
expect_rc 1 "compile error"
expect_grep "the connector did not compile" "compile error"
grep -q "extra.c" "$work/err" || fail "the compiler's message is shown on stderr"
rm "$work/p/extra.c"
echo 'no-such-package-xyz' >"$work/p/requirements.txt"
debug p
expect_rc 1 "unknown requirement"
expect_grep "requirements.txt: pkg-config cannot find a package" "unknown requirement"
rm "$work/p/requirements.txt"
mkdir -p "$work/noreg" && echo 'int x;' >"$work/noreg/connector.c"
debug noreg
expect_rc 1 "no MALLARD_CONNECTOR"
expect_grep "add the line MALLARD_CONNECTOR(schema, update)" "no MALLARD_CONNECTOR"
mkdir -p "$work/empty"
debug empty
expect_rc 1 "no sources"
expect_grep "no .c file in" "no sources"

# ---- output in a pipe: plain lines, no progress line
if grep -q $'\r' "$work/out"; then fail "no carriage returns in a pipe"; fi

# ---- locked warehouse: exit 3, nothing changed
config p "upsert t id=77 name=x; checkpoint" "$T"
# another process holds the file (a query running for minutes); a probe
# would itself take a lock, so wait for the holder to be running instead
for _ in 1 2 3 4 5; do
  timeout 60 "$MALLARD" query --write "$work/p/files/warehouse.db" "SELECT count(*) FROM range(1000000000000)" \
    >"$work/bg.out" 2>&1 &
  bg_pid=$!
  sleep 0.5
  kill -0 "$bg_pid" 2>/dev/null && break
done
debug p
[ "$rc" -eq 3 ] || cat "$work/bg.out" >&2
expect_rc 3 "locked warehouse"
expect_grep "locked" "locked warehouse"
kill "$bg_pid" 2>/dev/null || true
wait "$bg_pid" 2>/dev/null || true
bg_pid=""
expect_q p "SELECT count(*) AS c FROM tester.t WHERE id = 77" '{"c":0}' "nothing written while locked"

# ---- interrupted: exit 130, warehouse at the last checkpoint
config p "upsert t id=100 name=kept; checkpoint; bulk t 200000000" "$T"
"$MALLARD" debug "$work/p" >"$work/out" 2>"$work/err" &
bg_pid=$!
for _ in $(seq 100); do
  grep -q "checkpoint: state saved" "$work/out" && break
  sleep 0.1
done
sleep 0.3
kill -INT "$bg_pid"
set +e
wait "$bg_pid"
rc=$?
set -e
bg_pid=""
expect_rc 130 "SIGINT"
expect_grep "Sync FAILED: interrupted by SIGINT (Ctrl-C)" "SIGINT"
expect_q p "SELECT count(*) AS c FROM tester.t WHERE id >= 100" '{"c":1}' "only the checkpointed row"

# ---- a C connector that crashes: says so, what state.json holds, how to debug
new_ops crash
config crash "upsert t id=1 name=a; state pos 1; checkpoint; upsert t id=2 name=b; crash" "$T"
debug crash --commit-interval-ms 0
expect_rc 139 "a segfault ends the run with SIGSEGV's status"
expect_grep "Sync FAILED: the connector crashed (SIGSEGV). files/state.json holds the last checkpoint saved, {\"pos\":\"1\"}" \
  "the crash is named, with the checkpoint state.json holds"
expect_grep "gdb -batch -ex run -ex bt --args mallard debug $work/crash" "how to debug it"
expect_q crash "SELECT id FROM tester.t ORDER BY id" '{"id":1}' "the warehouse holds the checkpoint"
[ "$(cat "$work/crash/files/state.json")" = '{"pos":"1"}' ] || fail "state.json holds the checkpoint"
config crash "crash" "$T"
debug crash
expect_grep "files/state.json holds the last checkpoint saved, {\"pos\":\"1\"}" "a crash before any checkpoint of this run names the saved one"

# ---- --commit-interval-ms 0: a checkpoint returns after its commit and state file
new_ops line
config line "upsert t id=1 name=a; state pos 1; checkpoint; statefile; upsert t id=2 name=b; state pos 2; checkpoint; statefile" "$T"
debug line --commit-interval-ms 0
expect_rc 0 "commit interval 0"
expect_grep 'STATEFILE {"pos":"1"}' "the first checkpoint's state is in the file when it returns"
expect_grep 'STATEFILE {"pos":"2"}' "the second's too"

# ---- a connector that does not load: the hint; no summary of a run that never ran
mkdir -p "$work/undef"
cat >"$work/undef/connector.c" <<'EOF'
#include <mallard.h>
extern int mallard_test_no_such_function(void);
static int update(mallard_ctx *ctx) { (void)ctx; return mallard_test_no_such_function(); }
MALLARD_CONNECTOR(NULL, update)
EOF
debug undef
expect_rc 1 "undefined symbol"
expect_grep "undefined symbol: mallard_test_no_such_function" "the symbol is named"
expect_grep "add the library's pkg-config name to requirements.txt" "what to do about it"
grep -q "Operation       | Calls" "$work/out" && fail "no summary table when nothing ran"
new_ops st
echo '{"cursor": ' >"$work/bad_state.json"
debug st --state "$work/bad_state.json"
expect_rc 1 "--state with invalid JSON"
expect_grep "Sync FAILED: state $work/bad_state.json" "the state file is named"
grep -q "Operation       | Calls" "$work/out" && fail "--state bad.json fails before any summary"
echo "PASS test_debug_failures"
