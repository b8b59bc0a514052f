# Helpers shared by the SDK end-to-end tests (sourced, not run by ctest),
# on top of cmd_lib.sh.  Needs MALLARD (the binary) and SRC (the source tree).
source "$(dirname "${BASH_SOURCE[0]}")/cmd_lib.sh"
: "${SRC:?set SRC to the source tree}"
SRC=$(cd "$SRC" && pwd)
case "$MALLARD" in /*) ;; *) MALLARD="$PWD/$MALLARD" ;; esac
unset MALLARD_INCLUDE_DIR

# new_ops NAME: a project with the script-driven test connector: the C one,
# or its Python twin (same script, same operations) when OPS_KIND=py.
new_ops() {
  mkdir -p "$work/$1"
  if [ "${OPS_KIND:-c}" = py ]; then
    cp "$SRC/tests/e2e/connectors/ops_py/connector.py" "$work/$1/"
  else
    cp "$SRC/tests/e2e/connectors/ops/connector.c" "$work/$1/"
  fi
}

json_str() { local s=$1; s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/ }; printf '"%s"' "$s"; }

# config NAME SCRIPT [SCHEMA_JSON]: writes NAME/configuration.json.
config() {
  {
    printf '{"script": %s' "$(json_str "$2")"
    if [ $# -ge 3 ]; then printf ', "schema": %s' "$(json_str "$3")"; fi
    printf '}\n'
  } >"$work/$1/configuration.json"
}

# debug NAME [ARGS...]: mallard debug; stdout in $work/out, stderr in $work/err, exit code in $rc.
debug() {
  local dir=$1
  shift
  run debug "$work/$dir" "$@"
}
expect_grep() { grep -qF -- "$1" "$work/out" || fail "$2: output lacks '$1'"; }

# q NAME SQL: the query's rows as JSON lines, from NAME/files/warehouse.db.
q() { "$MALLARD" query "$work/$1/files/warehouse.db" "$2" --json; }
# expect_q NAME SQL EXPECTED MSG
expect_q() {
  local got
  got=$(q "$1" "$2") || fail "$4: query failed: $2"
  [ "$got" = "$3" ] || fail "$4: $2
--- got:
$got
--- expected:
$3"
}
