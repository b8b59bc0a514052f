# Helpers for end-to-end tests; sourced by tests/e2e/test_*.sh.
# ctest sets MALLARD (the binary), FIXTURES, SRC and BUILD.
set -Eeuo pipefail
# a command that fails outside an assertion stops the test: say which one
trap '[[ $- == *e* ]] && echo "ERROR: test stopped at ${BASH_SOURCE[0]##*/} line $LINENO: $BASH_COMMAND (exit $?)" >&2' ERR
[ -n "${E2E_TRACE:-}" ] && set -x
: "${MALLARD:?run through ctest, or set MALLARD to the mallard binary}"
: "${FIXTURES:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures" && pwd)}"
GEN="${GEN:-$(dirname "$MALLARD")/mallard-gen}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mallard-e2e.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export MALLARD_LOCAL_ROOT="$WORK/local"
FAILS=0
PASSES=0

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
pass() { PASSES=$((PASSES + 1)); }

# assert_eq NAME EXPECTED ACTUAL
assert_eq() {
  if [ "$2" == "$3" ]; then pass; else fail "$1"$'\n'"  expected: $2"$'\n'"  actual:   $3"; fi
}
# assert_contains NAME NEEDLE HAYSTACK
assert_contains() {
  if [[ "$3" == *"$2"* ]]; then pass; else fail "$1: '$2' not found in:"$'\n'"$3"; fi
}
# q DB SQL: the result as JSON lines
q() { "$MALLARD" query "$1" "$2" --json; }
# q1 DB SQL: the single value of a one-row one-column result, as JSON text
q1() { "$MALLARD" query "$1" "$2" --json | sed -E 's/^\{"[^"]*":(.*)\}$/\1/'; }

# hold_lock DB: starts a process that keeps DB open for writing (a long
# query) and returns once the file lock is taken; HOLDER is its pid.  Polls
# /proc/locks rather than opening the file, which would race with the holder.
hold_lock() {
  local inode
  inode=$(stat -c %i "$1")
  timeout 120 "$MALLARD" query --write "$1" "SELECT count(*) FROM range(20000000000)" >/dev/null 2>&1 &
  HOLDER=$!
  for _ in $(seq 1 200); do
    grep -q ":$inode " /proc/locks && return 0
    sleep 0.05
  done
  echo "hold_lock: the lock on $1 was never taken" >&2
  return 1
}
release_lock() { kill "$HOLDER" 2>/dev/null || true; wait "$HOLDER" 2>/dev/null || true; }

# gen_catalog GEN-ARGS...: writes the catalog mallard-gen's --catalog names,
# before a pipeline "$GEN ... | mallard write --catalog": in the pipeline
# mallard may open the file before the generator has written it
gen_catalog() { "$GEN" "$@" --records 0 >/dev/null; }

# config NAME -> path of a config whose database is $WORK/local/NAME.duckdb
config() {
  local f="$WORK/$1.config.json"
  printf '{"destination_path":"/local/%s.duckdb"%s}\n' "$1" "${2:-}" > "$f"
  echo "$f"
}
db() { echo "$WORK/local/$1.duckdb"; }

finish() {
  echo "$PASSES passed, $FAILS failed"
  [ "$FAILS" -eq 0 ]
}
