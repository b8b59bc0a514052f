#!/usr/bin/env bash
# mallard init / reset: the five-minute path (init, debug, query), every
# template runs, templates match the examples, reset asks or needs --yes.
source "$(dirname "$0")/sdk_lib.sh"
cd "$work"

# ---- the README's path: init && cd && debug
set +e
"$MALLARD" init my_connector >"$work/out" 2>"$work/err"
rc=$?
set -e
expect_rc 0 "init"
expect_grep "cd my_connector && mallard debug" "init says what to do next"
for f in connector.c configuration.json requirements.txt README.md; do
  [ -f "my_connector/$f" ] || fail "init writes $f"
done
(cd my_connector && "$MALLARD" debug >"$work/out" 2>"$work/err") || fail "debug in a fresh project"
expect_grep "Sync SUCCEEDED" "fresh project"
expect_q my_connector "SELECT id, message FROM tester.greetings ORDER BY id" \
'{"id":0,"message":"hello, world (#0)"}
{"id":1,"message":"hello, world (#1)"}
{"id":2,"message":"hello, world (#2)"}' "the default template's rows"
(cd my_connector && "$MALLARD" debug >"$work/out" 2>"$work/err") || fail "second run"
expect_q my_connector "SELECT count(*) AS c FROM tester.greetings" '{"c":6}' "the state carries over"

# init refuses a non-empty directory and an unknown template
set +e
"$MALLARD" init my_connector >"$work/out" 2>"$work/err"
rc=$?
set -e
expect_rc 1 "init into a non-empty directory"
grep -q "not empty" "$work/err" || fail "init says why"
set +e
"$MALLARD" init other --template nope >"$work/out" 2>"$work/err"
rc=$?
set -e
expect_rc 2 "unknown template"
grep -q "quickstart" "$work/err" || fail "unknown template lists the templates"

# ---- quickstart and incremental templates are the examples, and run
for t in quickstart incremental; do
  "$MALLARD" init "t_$t" --template "$t" >/dev/null
  for f in $(cd "t_$t" && find . -type f | sort); do
    cmp -s "t_$t/$f" "$SRC/examples/$t/$f" || fail "template $t: $f differs from examples/$t (run src/sdk/gen_templates.py)"
  done
done
debug t_quickstart
expect_rc 0 "quickstart template"
expect_q t_quickstart "SELECT msg FROM tester.crypto" '{"msg":"If you can read this, you have the correct key"}' \
  "quickstart template"
debug t_incremental
expect_rc 0 "incremental template"
expect_grep "Sync SUCCEEDED" "incremental template"

# ---- reset
set +e
"$MALLARD" reset my_connector </dev/null >"$work/out" 2>"$work/err"
rc=$?
set -e
expect_rc 2 "reset without a terminal and without --yes"
grep -q -- "--yes" "$work/err" || fail "reset explains --yes"
[ -f my_connector/files/warehouse.db ] || fail "nothing deleted without confirmation"
if command -v script >/dev/null; then
  # a terminal that answers n, then y
  echo n | script -qec "$MALLARD reset my_connector" /dev/null >"$work/out" 2>&1 || true
  [ -f my_connector/files/warehouse.db ] || fail "answering n keeps the files"
  echo y | script -qec "$MALLARD reset my_connector" /dev/null >"$work/out" 2>&1 || true
  grep -q "\[y/N\]" "$work/out" || fail "reset asks y/N on a terminal"
  grep -q "Delete from my_connector/files:.*warehouse.db" "$work/out" || fail "the question lists what it deletes"
  [ ! -e my_connector/files ] || fail "answering y deletes files/"
fi
(cd my_connector && "$MALLARD" debug >/dev/null) || fail "debug after reset"
"$MALLARD" reset my_connector --yes >"$work/out"
[ ! -e my_connector/files ] || fail "reset --yes deletes files/"
expect_grep "Deleted" "reset --yes"
"$MALLARD" reset my_connector --yes >"$work/out"
expect_grep "Nothing to reset" "reset twice"

# reset deletes only what mallard made, and only in a connector's directory
(cd my_connector && "$MALLARD" debug >/dev/null) || fail "debug before the selective reset"
echo "keep me" >my_connector/files/export.csv
mkdir -p my_connector/files/notes
echo "mine" >my_connector/files/notes/n.txt
"$MALLARD" reset my_connector --yes >"$work/out"
[ -f my_connector/files/export.csv ] && [ -f my_connector/files/notes/n.txt ] ||
  fail "reset keeps files it did not make"
[ ! -e my_connector/files/warehouse.db ] && [ ! -e my_connector/files/state.json ] &&
  [ ! -e my_connector/files/.build ] || fail "reset deletes the warehouse, the state and the build"
expect_grep "the rest of it is kept" "reset says it kept the rest"
mkdir -p "$work/notaconnector/files"
echo "precious" >"$work/notaconnector/files/data.txt"
set +e
"$MALLARD" reset "$work/notaconnector" --yes >"$work/out" 2>"$work/err"
rc=$?
set -e
expect_rc 2 "reset of a directory without a connector"
grep -q "holds no connector (connector.py or a .c file): refusing" "$work/err" || fail "reset says why it refuses"
[ -f "$work/notaconnector/files/data.txt" ] || fail "reset deletes nothing in a directory without a connector"
echo "PASS test_sdk_init"
