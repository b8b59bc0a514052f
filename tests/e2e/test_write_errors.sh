#!/usr/bin/env bash
# Bad input and faults: each gets a clear message, a documented exit code, and
# nothing committed is lost or doubled.
source "$(dirname "$0")/lib.sh"
CAT="$FIXTURES/airbyte/exchange_rate/configured_catalog.json"
rec() { printf '{"type":"RECORD","record":{"stream":"exchange_rate","emitted_at":1602637589000,"data":{"currency":"%s"}}}\n' "$1"; }
state() { printf '{"type":"STATE","state":{"data":{"n":%s}}}\n' "$1"; }
cfg=$(config errs ',"commit_interval_ms":0')

# --- a malformed line: the sync fails, what was committed stays -------------
set +e
out=$({ rec a; state 1; rec b; echo '{"type":"RECORD","record":{"stream":"exchange_rate" "data":{}}}'; rec c; state 2; } \
  | "$MALLARD" write --config "$cfg" --catalog "$CAT" 2>"$WORK/err"); rc=$?
set -e
assert_eq "malformed: exit code 1" "1" "$rc"
assert_eq "malformed: the state before it was echoed, none after" '{"type":"STATE","state":{"data":{"n":1},"destinationStats":{"recordCount":1}}}' \
  "$(grep '"STATE"' <<<"$out")"
assert_contains "malformed: TRACE error names line and column" '"failure_type":"system_error"' "$(grep '"TRACE"' <<<"$out")"
assert_contains "malformed: message names the line and column" "input line 4, column 53 is not valid JSON: expected ',' or '}' after object member" "$(grep '"TRACE"' <<<"$out")"
assert_contains "malformed: stderr says it too" "input line 4" "$(cat "$WORK/err")"
assert_eq "malformed: only the committed record is in the table" '{"currency":"a"}' "$(q "$(db errs)" 'SELECT currency FROM exchange_rate')"
assert_eq "malformed: the committed state is in the database" '{"data":{"n":1}}' "$(q1 "$(db errs)" 'SELECT state FROM _mallard_airbyte_state')"

# --- invalid UTF-8 is malformed too ---------------------------------------------
set +e
out=$({ printf '{"type":"RECORD","record":{"stream":"exchange_rate","emitted_at":1,"data":{"currency":"\xc3\x28"}}}\n'; } \
  | "$MALLARD" write --config "$cfg" --catalog "$CAT" 2>/dev/null); rc=$?
set -e
assert_eq "invalid utf-8: exit 1" "1" "$rc"
assert_contains "invalid utf-8: named" "UTF-8" "$out"

# --- input that stops in the middle of a line -------------------------------------
set +e
out=$({ rec d; state 3; printf '{"type":"RECORD","record":{"stream":"exch'; } | "$MALLARD" write --config "$cfg" --catalog "$CAT" 2>/dev/null); rc=$?
set -e
assert_eq "truncated input: exit 1" "1" "$rc"
assert_contains "truncated input: said so" "input ended in the middle of a line" "$out"
assert_eq "truncated input: records before the last state kept" '2' "$(q1 "$(db errs)" 'SELECT count(*) FROM exchange_rate')"

# --- a hostile line: 60 MB of tiny values. Parsing it would take gigabytes;
# the parser's memory budget stops it with a clear error instead.
set +e
out=$({ printf '{"type":"RECORD","record":{"stream":"exchange_rate","emitted_at":1,"data":{"currency":['
        yes '0,' | head -n 30000000 | tr -d '\n'; printf '0]}}}\n'; } \
  | "$MALLARD" write --config "$cfg" --catalog "$CAT" 2>/dev/null); rc=$?
set -e
assert_eq "huge line: exit 1" "1" "$rc"
assert_contains "huge line: says the document is too big" "document needs more than 1024 MB of memory to parse" "$out"

# --- records of streams that are not in the catalog: warned and skipped -------
out=$({ rec e; printf '{"type":"RECORD","record":{"stream":"nope","emitted_at":1,"data":{"x":1}}}\n'; state 4; } \
  | "$MALLARD" write --config "$cfg" --catalog "$CAT")
assert_contains "unknown stream: warning" "ignoring records of stream 'nope': it is not in the configured catalog" "$out"
assert_contains "unknown stream: counted in the summary" "ignored 1 records of stream 'nope'" "$out"
assert_eq "unknown stream: no table made" "0" "$(q1 "$(db errs)" "SELECT count(*) FROM duckdb_tables() WHERE table_name='nope'")"

# --- non-message lines --------------------------------------------------------------
set +e
out=$(echo '[1,2]' | "$MALLARD" write --config "$cfg" --catalog "$CAT" 2>/dev/null); rc=$?
set -e
assert_eq "non-object message: exit 1" "1" "$rc"
assert_contains "non-object message: named" "a message must be a JSON object" "$out"
out=$({ echo '{"type":"LOG","log":{"level":"INFO","message":"from the source"}}'; echo; echo '{"type":"CONTROL","control":{}}'; } \
  | "$MALLARD" write --config "$cfg" --catalog "$CAT"); rc=$?
assert_eq "other message types and blank lines are skipped" "0" "$rc"

# --- config and catalog problems ----------------------------------------------------
set +e
out=$(echo | "$MALLARD" write --config "$WORK/missing.json" --catalog "$CAT" 2>/dev/null); rc=$?
set -e
assert_eq "missing config: exit 1" "1" "$rc"
assert_contains "missing config: config_error names the file" '"failure_type":"config_error"' "$out"
assert_contains "missing config: file named" "missing.json" "$out"
echo '{"schema":"main"}' > "$WORK/nopath.json"
set +e
out=$(echo | "$MALLARD" write --config "$WORK/nopath.json" --catalog "$CAT" 2>/dev/null); rc=$?
set -e
assert_contains "config without destination_path" 'missing required key \"destination_path\"' "$out"
echo '{"streams":[{"stream":{"name":"x"},"destination_sync_mode":"sideways"}]}' > "$WORK/badcat.json"
set +e
out=$(echo | "$MALLARD" write --config "$cfg" --catalog "$WORK/badcat.json" 2>/dev/null); rc=$?
set -e
assert_eq "bad catalog: exit 1" "1" "$rc"
assert_contains "bad catalog: config_error" '"failure_type":"config_error"' "$out"
set +e
"$MALLARD" write --config "$cfg" --bogus x </dev/null >/dev/null 2>&1; rc=$?
set -e
assert_eq "unknown argument: exit 2" "2" "$rc"

# --- check ----------------------------------------------------------------------------
out=$("$MALLARD" check --config "$cfg"); rc=$?
assert_eq "check: exit 0" "0" "$rc"
assert_contains "check: SUCCEEDED" '"status":"SUCCEEDED"' "$out"
assert_eq "check: left no table behind" "0" "$(q1 "$(db errs)" "SELECT count(*) FROM duckdb_tables() WHERE table_name='_mallard_check'")"
out=$("$MALLARD" check --config "$WORK/nopath.json"); rc=$?
assert_eq "check bad config: still exit 0" "0" "$rc"
assert_contains "check bad config: FAILED with the reason" '"status":"FAILED"' "$out"
assert_contains "check bad config: the reason" 'missing required key' "$out"

# --- check leaves no trace: a database file and directories it made are removed ----------------
printf '{"destination_path":"/local/new/deeper/x.duckdb"}\n' > "$WORK/newdirs.json"
out=$("$MALLARD" check --config "$WORK/newdirs.json")
assert_contains "check of a new path: SUCCEEDED" '"status":"SUCCEEDED"' "$out"
assert_contains "check of a new path: says it removed what it made" "check created it to find out, and removed it" "$out"
assert_eq "check of a new path: no directory left" "no" "$([ -e "$WORK/local/new" ] && echo yes || echo no)"
mkdir -p "$WORK/local/kept"
printf '{"destination_path":"/local/kept/x.duckdb"}\n' > "$WORK/kept.json"
out=$("$MALLARD" check --config "$WORK/kept.json")
assert_contains "check in an existing directory: SUCCEEDED" '"status":"SUCCEEDED"' "$out"
assert_eq "check in an existing directory: the directory stays, empty" "" "$(ls -A "$WORK/local/kept")"
before=$(q "$(db errs)" "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL")
out=$("$MALLARD" check --config "$cfg")
assert_contains "check of an existing database: SUCCEEDED" '"status":"SUCCEEDED"' "$out"
assert_eq "check of an existing database: its tables unchanged" "$before" \
  "$(q "$(db errs)" "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL")"
assert_eq "check of an existing database: no WAL left" "no" "$([ -e "$(db errs).wal" ] && echo yes || echo no)"

# --- destination_path outside /local: the user's own path, an error in a container ----------
printf '{"destination_path":"%s/abs/dir/x.duckdb"}\n' "$WORK" > "$WORK/abs.json"
out=$(MALLARD_CONTAINER=0 "$MALLARD" check --config "$WORK/abs.json")
assert_contains "absolute path outside a container: check SUCCEEDED" '"status":"SUCCEEDED"' "$out"
assert_contains "absolute path outside a container: used as given" "database file $WORK/abs/dir/x.duckdb is writable" "$out"
assert_eq "absolute path outside a container: check left nothing" "no" "$([ -e "$WORK/abs" ] && echo yes || echo no)"
rec a1 | MALLARD_CONTAINER=0 "$MALLARD" write --config "$WORK/abs.json" --catalog "$CAT" >/dev/null 2>&1
assert_eq "absolute path outside a container: write loads there" "1" \
  "$(q1 "$WORK/abs/dir/x.duckdb" 'SELECT count(*) FROM exchange_rate')"
out=$(MALLARD_CONTAINER=1 "$MALLARD" check --config "$WORK/abs.json")
assert_contains "absolute path in a container: check FAILED" '"status":"FAILED"' "$out"
assert_contains "absolute path in a container: says why" \
  "destination_path \\\"$WORK/abs/dir/x.duckdb\\\" is not under /local: in the container only /local is kept" "$out"
set +e
out=$(rec a2 | MALLARD_CONTAINER=1 "$MALLARD" write --config "$WORK/abs.json" --catalog "$CAT" 2>/dev/null); rc=$?
set -e
assert_eq "absolute path in a container: write exits 1" "1" "$rc"
assert_contains "absolute path in a container: config_error" '"failure_type":"config_error"' "$out"
assert_eq "absolute path in a container: nothing written" "1" \
  "$(q1 "$WORK/abs/dir/x.duckdb" 'SELECT count(*) FROM exchange_rate')"
out=$(MALLARD_CONTAINER=1 "$MALLARD" check --config "$WORK/kept.json")
assert_contains "/local path in a container: check SUCCEEDED" '"status":"SUCCEEDED"' "$out"
out=$(MALLARD_CONTAINER=maybe "$MALLARD" check --config "$WORK/kept.json")
assert_contains "bad MALLARD_CONTAINER: check FAILED naming the variable" \
  'environment variable MALLARD_CONTAINER must be 1' "$out"

# --- unwritable destination: the directory cannot be created ------------------------------
touch "$WORK/afile"
printf '{"destination_path":"/local/x.duckdb","local_root":"%s/afile/sub"}\n' "$WORK" > "$WORK/unwritable.json"
out=$("$MALLARD" check --config "$WORK/unwritable.json")
assert_contains "unwritable: check FAILED naming the directory" "cannot create directory $WORK/afile/sub" "$out"
set +e
out=$(rec z | "$MALLARD" write --config "$WORK/unwritable.json" --catalog "$CAT" 2>/dev/null); rc=$?
set -e
assert_eq "unwritable: write exits 1" "1" "$rc"

# --- a database file locked by another process ---------------------------------------------
hold_lock "$(db errs)"
set +e
out=$(rec y | "$MALLARD" write --config "$cfg" --catalog "$CAT" 2>/dev/null); rc=$?
cout=$("$MALLARD" check --config "$cfg")
set -e
release_lock
assert_eq "locked: exit 3" "3" "$rc"
assert_contains "locked: says another process has it" "is locked: another process has it open for writing" "$out"
assert_contains "locked: check FAILED" '"status":"FAILED"' "$cout"
assert_eq "locked: nothing lost" "3" "$(q1 "$(db errs)" 'SELECT count(*) FROM exchange_rate')"

# --- SIGTERM: stop at a clean point, non-zero exit, say so --------------------------------
fifo="$WORK/fifo"; mkfifo "$fifo"
"$MALLARD" write --config "$cfg" --catalog "$CAT" < "$fifo" > "$WORK/term.out" 2>/dev/null &
pid=$!
exec 7>"$fifo"
rec t1 >&7; state 5 >&7; rec t2 >&7
for _ in $(seq 1 100); do grep -q '"n":5' "$WORK/term.out" && break; sleep 0.05; done
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
exec 7>&-
assert_eq "SIGTERM: exit 143" "143" "$rc"
assert_contains "SIGTERM: said so" "stopped by SIGTERM" "$(cat "$WORK/term.out")"
assert_eq "SIGTERM: the acknowledged record is kept, the unacknowledged one is not" '{"currency":"t1"}' \
  "$(q "$(db errs)" "SELECT currency FROM exchange_rate WHERE currency LIKE 't%'")"
finish
