#!/usr/bin/env bash
# mallard write never changes data without a word: input without any
# message changes nothing (no file is even created) and fails; an overwrite
# stream that received no record is emptied as Airbyte defines, with a WARN
# naming the stream and the rows replaced; big_integer keeps 38 digits; a
# number with more digits than a DOUBLE holds is recorded in
# _airbyte_meta.changes.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/cat.json" <<'EOF'
{"streams":[
 {"stream":{"name":"a","json_schema":{"type":"object","properties":{"id":{"type":"integer"},"x":{"type":"number"},
   "big":{"type":"string","airbyte_type":"big_integer"},"bign":{"type":"number","airbyte_type":"big_integer"}}},
   "supported_sync_modes":["full_refresh"]},"sync_mode":"full_refresh","destination_sync_mode":"overwrite"},
 {"stream":{"name":"b","json_schema":{"type":"object","properties":{"id":{"type":"integer"}}},
   "supported_sync_modes":["full_refresh"]},"sync_mode":"full_refresh","destination_sync_mode":"overwrite"}]}
EOF
rec() { printf '{"type":"RECORD","record":{"stream":"%s","emitted_at":1,"data":%s}}\n' "$1" "$2"; }
state() { printf '{"type":"STATE","state":{"type":"LEGACY","data":{"n":%s}}}\n' "$1"; }
cfg=$(config safety)
write() { "$MALLARD" write --config "$cfg" --catalog "$WORK/cat.json" 2>"$WORK/err"; }

# --- no message at all: nothing changes, not even a new file -------------------
set +e
out=$(printf '\n  \n' | write); rc=$?
set -e
assert_eq "empty input: exit 1" "1" "$rc"
assert_contains "empty input: the error says so" "standard input held no message: nothing was changed" "$out"
assert_eq "empty input: no database file is created" "no" "$([ -e "$(db safety)" ] && echo yes || echo no)"

out=$({ rec a '{"id":1,"x":1.5}'; rec a '{"id":2,"x":2.5}'; rec b '{"id":1}'; state 1; } | write)
assert_contains "the first LOG line names the database file" \
  "\"message\":\"database file $(db safety) opened for writing (2 streams in the catalog)\"" "$(head -n 1 <<<"$out")"
assert_eq "first sync: both tables" '{"a":2,"b":1}' "$(q "$(db safety)" "SELECT (SELECT count(*) FROM a) AS a, (SELECT count(*) FROM b) AS b")"
set +e
: | write >/dev/null; rc=$?
set -e
assert_eq "empty input again: exit 1" "1" "$rc"
assert_eq "empty input: the tables keep their rows" '{"a":2,"b":1}' "$(q "$(db safety)" "SELECT (SELECT count(*) FROM a) AS a, (SELECT count(*) FROM b) AS b")"

# --- an overwrite stream without records is replaced by an empty table, loudly ----
out=$({ rec b '{"id":7}'; state 2; } | write)
assert_contains "overwrite without records: WARN names the stream and the rows" \
  "stream 'a' (overwrite) received no record in this sync while other streams did: as Airbyte defines overwrite, its table main.a is replaced by an empty one (2 rows replaced)" "$out"
assert_eq "overwrite without records: emptied; the other stream replaced" '{"a":0,"b":1}' \
  "$(q "$(db safety)" "SELECT (SELECT count(*) FROM a) AS a, (SELECT count(*) FROM b) AS b")"

# --- big_integer: 38 digits, as a string or a number ------------------------------
out=$({ rec a '{"id":1,"big":"12345678901234567890123456789012345678","bign":-99999999999999999999999999999999999999}';
        rec a '{"id":2,"big":"1.5"}'; state 3; } | write)
assert_eq "big_integer keeps 38 digits" \
  '{"id":1,"big":"12345678901234567890123456789012345678","bign":"-99999999999999999999999999999999999999"}
{"id":2,"big":null,"bign":null}' "$(q "$(db safety)" "SELECT id, big::VARCHAR AS big, bign::VARCHAR AS bign FROM a ORDER BY id")"
assert_contains "big_integer with a fraction: NULL, recorded" '{"field":"big","change":"NULLED","reason":"DESTINATION_TYPECAST_ERROR"}' \
  "$(q1 "$(db safety)" "SELECT _airbyte_meta FROM a WHERE id = 2")"

# --- numbers with more digits than a DOUBLE holds: the change is recorded ---------
out=$({ rec a '{"id":1,"x":12345678901234567890123}'; rec a '{"id":2,"x":1180591620717411303424}';
        rec a '{"id":3,"x":0.1}'; state 4; } | write)
assert_contains "digits a DOUBLE cannot hold: TRUNCATED recorded" \
  '{"field":"x","change":"TRUNCATED","reason":"DESTINATION_FIELD_SIZE_LIMITATION"}' "$(q1 "$(db safety)" "SELECT _airbyte_meta FROM a WHERE id = 1")"
assert_eq "a big number a double holds exactly, and 0.1: no change" '{"c":0}' \
  "$(q "$(db safety)" "SELECT count(*) AS c FROM a WHERE id IN (2, 3) AND json_array_length(_airbyte_meta->'changes') > 0")"

# --- mallard state: the last committed state, per stream, without table names -------
assert_eq "mallard state of a destination file" '{"kind":"LEGACY","namespace":null,"name":null,"state":{"type":"LEGACY","data":{"n":4}}}' \
  "$("$MALLARD" state "$(db safety)" --json | sed -E 's/,"committed_at":"[^"]*"//')"
assert_contains "mallard state, for people" 'LEGACY: {"type":"LEGACY","data":{"n":4}} (committed ' "$("$MALLARD" state "$(db safety)")"

# --- command lines as people type them ------------------------------------------------
out=$(printf '%s\n' "$(rec b '{"id":5}')" "$(state 9)" | "$MALLARD" write --config="$cfg" --catalog="$WORK/cat.json" 2>/dev/null)
assert_contains "--config=FILE and --catalog=FILE" '"data":{"n":9}' "$out"
set +e
"$MALLARD" write --config "$cfg" --catalog "$WORK/cat.json" extra </dev/null >"$WORK/out" 2>&1; rc=$?
set -e
assert_eq "an extra argument is a usage error" "2" "$rc"
assert_contains "an extra argument is named" "unexpected argument 'extra'" "$(cat "$WORK/out")"
assert_contains "mallard help write: config keys, path rule, exit codes" "Exit status: 0 done" "$("$MALLARD" help write)"
assert_contains "mallard --help lists every command" "state" "$("$MALLARD" --help)"

# --- a record under another namespace, or a near name: the warning says which ------
out=$({ printf '{"type":"RECORD","record":{"namespace":"prod","stream":"b","emitted_at":1,"data":{"id":9}}}\n'
        rec bb '{"id":9}'; rec b '{"id":3}'; state 5; } | write)
assert_contains "another namespace: named, with the catalog's" \
  "ignoring records of stream 'prod.b' (namespace 'prod'): the configured catalog has stream 'b' under namespace none only" "$out"
assert_contains "a near name: did you mean" "ignoring records of stream 'bb': it is not in the configured catalog (did you mean 'b'?)" "$out"
finish
