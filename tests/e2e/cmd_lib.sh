# Helpers for end-to-end tests that stop at the first failure (sourced, not
# run by ctest): a scratch directory $work, removed at exit together with a
# background process left in $bg_pid; fail, which shows what the last
# command printed; and run, which captures one mallard command.
# Needs MALLARD (the binary).  sdk_lib.sh builds on it.
set -euo pipefail
: "${MALLARD:?set MALLARD to the mallard binary}"
export TZ=UTC LC_ALL=C

work=$(mktemp -d)
bg_pid=""
cleanup() {
  if [ -n "$bg_pid" ]; then
    kill "$bg_pid" 2>/dev/null || true
    wait "$bg_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [ -f "$work/out" ]; then echo "--- stdout:" >&2; cat "$work/out" >&2; fi
  if [ -f "$work/err" ]; then echo "--- stderr:" >&2; tail -50 "$work/err" >&2; fi
  exit 1
}

# run ARGS...: runs mallard, stdout in $work/out, stderr in $work/err, exit code in $rc.
rc=0
run() {
  set +e
  "$MALLARD" "$@" >"$work/out" 2>"$work/err"
  rc=$?
  set -e
}
expect_rc() { [ "$rc" -eq "$1" ] || fail "$2: exit code $rc, expected $1"; }
