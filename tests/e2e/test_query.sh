#!/usr/bin/env bash
# End-to-end test of `mallard query`: table listing, aligned tables, --json,
# value conversion for many DuckDB types, errors and exit codes, read-only
# opening, and the "database locked" case.  Run by ctest with MALLARD set to
# the binary; can also be run by hand: MALLARD=build/mallard bash tests/e2e/test_query.sh
source "$(dirname "$0")/cmd_lib.sh"

# expect_out NAME < expected: stdout must be exactly the expected text.
expect_out() {
  if ! diff -u - "$work/out" >"$work/diff"; then
    cat "$work/diff" >&2
    fail "$1: unexpected output"
  fi
}
expect_no_out() { [ ! -s "$work/out" ] || fail "$1: expected no output"; }
expect_err_has() { grep -qF -- "$1" "$work/err" || fail "$2: stderr lacks '$1'"; }

db="$work/test.db"

# ---- setup through --write (creates the file) ------------------------------
[ ! -e "$db" ] || fail "setup: $db exists already"
run query --write "$db" "
CREATE TABLE items(id INTEGER, \"spécial\" VARCHAR, price DECIMAL(10,2), added DATE, meta JSON, note VARCHAR);
INSERT INTO items VALUES
  (1, 'spécial', 1.50, '2024-01-02', '{\"tags\": [\"a\", \"b\"], \"n\": 1}', NULL),
  (2, 'plain', 20.00, NULL, NULL, E'two\\nlines\\tand a tab'),
  (3, 'naïve café', -0.05, '1999-12-31', '[1, 2]', 'ok');
CREATE SCHEMA \"données\";
CREATE TABLE \"données\".\"café ☕\"(\"clé\" VARCHAR);
INSERT INTO \"données\".\"café ☕\" VALUES ('日本語'), ('x');
CREATE TABLE _mallard_state(k VARCHAR);
INSERT INTO _mallard_state VALUES ('a'), ('b'), ('c'), ('d');
CREATE TABLE empty(x INTEGER);"
expect_rc 0 "setup"
expect_no_out "setup (DDL and INSERT print nothing)"
[ -f "$db" ] || fail "setup: --write did not create $db"

sum_before=$(cksum <"$db")

# ---- listing ---------------------------------------------------------------
run query "$db"
expect_rc 0 "listing"
expect_out "listing" <<'EOF'
schema  | table   | rows
--------+---------+-----
données | café ☕ |    2
main    | empty   |    0
main    | items   |    3
(3 tables)
EOF

run query --all "$db"
expect_rc 0 "listing --all"
expect_out "listing --all" <<'EOF'
schema  | table          | rows
--------+----------------+-----
données | café ☕        |    2
main    | _mallard_state |    4
main    | empty          |    0
main    | items          |    3
(4 tables)
EOF

run query "$db" --json
expect_rc 0 "listing --json"
expect_out "listing --json" <<'EOF'
{"schema":"données","table":"café ☕","rows":2}
{"schema":"main","table":"empty","rows":0}
{"schema":"main","table":"items","rows":3}
EOF

# ---- aligned table: UTF-8 widths, NULL, numbers right, escapes --------------
run query "$db" "SELECT * FROM items ORDER BY id"
expect_rc 0 "select"
expect_out "select" <<'EOF'
id | spécial    | price | added      | meta                         | note
---+------------+-------+------------+------------------------------+----------------------
 1 | spécial    |  1.50 | 2024-01-02 | {"tags": ["a", "b"], "n": 1} | NULL
 2 | plain      | 20.00 | NULL       | NULL                         | two\nlines\tand a tab
 3 | naïve café | -0.05 | 1999-12-31 | [1, 2]                       | ok
(3 rows)
EOF

# wide (East Asian) characters take two columns
run query "$db" 'SELECT "clé", length("clé") AS n FROM "données"."café ☕" ORDER BY n DESC'
expect_rc 0 "wide characters"
expect_out "wide characters" <<'EOF'
clé    | n
-------+--
日本語 | 3
x      | 1
(2 rows)
EOF

# ---- --json: one object per row, typed values, JSON column inserted as JSON --
run query --json "$db" "SELECT * FROM items ORDER BY id"
expect_rc 0 "select --json"
expect_out "select --json" <<'EOF'
{"id":1,"spécial":"spécial","price":1.50,"added":"2024-01-02","meta":{"tags":["a","b"],"n":1},"note":null}
{"id":2,"spécial":"plain","price":20.00,"added":null,"meta":null,"note":"two\nlines\tand a tab"}
{"id":3,"spécial":"naïve café","price":-0.05,"added":"1999-12-31","meta":[1,2],"note":"ok"}
EOF

# ---- many types, converted by DuckDB's VARCHAR cast --------------------------
types_sql="SELECT
  TIMESTAMP '2024-01-02 03:04:05.5' AS ts,
  TIMESTAMPTZ '2024-01-02 03:04:05+00' AS tstz,
  TIME '12:34:56' AS t,
  INTERVAL 3 DAY AS iv,
  170141183460469231731687303715884105727::HUGEINT AS huge,
  18446744073709551615::UBIGINT AS ubig,
  '123e4567-e89b-12d3-a456-426614174000'::UUID AS id,
  [1, NULL, 3] AS list,
  {'a': 1, 'b': 'x'} AS st,
  MAP {'k': 2} AS m,
  '\\xAA'::BLOB AS bl,
  true AS yes,
  0.1::FLOAT AS f,
  2.5::DOUBLE AS d,
  'nan'::DOUBLE AS nan,
  E'[1,\\n 2]'::JSON AS pretty"
run query "$db" "$types_sql"
expect_rc 0 "types"
expect_out "types" <<'EOF'
ts                    | tstz                   | t        | iv     |                                    huge |                 ubig | id                                   | list         | st               | m     | bl   | yes  |   f |   d | nan | pretty
----------------------+------------------------+----------+--------+-----------------------------------------+----------------------+--------------------------------------+--------------+------------------+-------+------+------+-----+-----+-----+---------
2024-01-02 03:04:05.5 | 2024-01-02 03:04:05+00 | 12:34:56 | 3 days | 170141183460469231731687303715884105727 | 18446744073709551615 | 123e4567-e89b-12d3-a456-426614174000 | [1, NULL, 3] | {'a': 1, 'b': x} | {k=2} | \xAA | true | 0.1 | 2.5 | nan | [1,\n 2]
(1 row)
EOF

run query "$db" "$types_sql" --json
expect_rc 0 "types --json"
expect_out "types --json" <<'EOF'
{"ts":"2024-01-02 03:04:05.5","tstz":"2024-01-02 03:04:05+00","t":"12:34:56","iv":"3 days","huge":170141183460469231731687303715884105727,"ubig":18446744073709551615,"id":"123e4567-e89b-12d3-a456-426614174000","list":"[1, NULL, 3]","st":"{'a': 1, 'b': x}","m":"{k=2}","bl":"\\xAA","yes":true,"f":0.1,"d":2.5,"nan":null,"pretty":[1,2]}
EOF

# long values are cut at 60 columns with an ellipsis
run query "$db" "SELECT repeat('ab', 40) AS long, 'é' AS short"
expect_rc 0 "long value"
expect_out "long value" <<'EOF'
long                                                         | short
-------------------------------------------------------------+------
abababababababababababababababababababababababababababababa… | é
(1 row)
EOF

# ---- several statements; only those returning rows print -------------------
run query "$db" "SET threads = 1; SELECT 1 AS a; SELECT 'x' AS b, 2 AS c; CREATE TEMP TABLE tmp(x INTEGER)"
expect_rc 0 "multiple statements"
expect_out "multiple statements" <<'EOF'
a
-
1
(1 row)

b | c
--+--
x | 2
(1 row)
EOF

run query "$db" "SELECT * FROM empty"
expect_rc 0 "empty result"
expect_out "empty result" <<'EOF'
x
-
(0 rows)
EOF

# ---- options anywhere, SQL from stdin, leading SQL comment ------------------
set +e
echo "SELECT count(*) AS n FROM items" | "$MALLARD" query --json "$db" - >"$work/out" 2>"$work/err"
rc=$?
set -e
expect_rc 0 "SQL from stdin"
expect_out "SQL from stdin" <<'EOF'
{"n":3}
EOF

run query "$db" "-- a comment
SELECT 7 AS seven"
expect_rc 0 "SQL starting with a comment"
expect_out "SQL starting with a comment" <<'EOF'
seven
-----
    7
(1 row)
EOF

run query --help
expect_rc 0 "--help"
grep -q "^usage: mallard query DB" "$work/out" || fail "--help: no usage text"

# ---- errors ----------------------------------------------------------------
run query "$db" "SELEC 1"
expect_rc 1 "syntax error"
expect_no_out "syntax error"
expect_err_has "mallard query: Parser Error: syntax error" "syntax error"

run query "$db" "SELECT 1 AS a; SELECT * FROM no_such_table; SELECT 3 AS c"
expect_rc 1 "error in the second statement"
expect_out "error in the second statement" <<'EOF'
a
-
1
(1 row)
EOF
expect_err_has "mallard query: Catalog Error: Table with name no_such_table does not exist" "missing table"

run query "$db" "INSERT INTO items VALUES (4, 'new', 0, NULL, NULL, NULL)"
expect_rc 1 "write without --write"
expect_err_has "read-only" "write without --write"
expect_err_has "add --write" "write without --write"

run query "$work/missing.db"
expect_rc 1 "missing file"
[ "$(cat "$work/err")" = "mallard query: no database file at $work/missing.db" ] || fail "missing file: message"
[ ! -e "$work/missing.db" ] || fail "missing file: the file was created"

run query "$db" --bogus
expect_rc 2 "unknown option"
expect_err_has "unknown option '--bogus'" "unknown option"

run query
expect_rc 2 "no database argument"

run query "$db" "SELECT 1" "SELECT 2"
expect_rc 2 "too many arguments"

# read-only runs left the file alone
[ "$(cksum <"$db")" = "$sum_before" ] || fail "read-only queries changed $db"
[ ! -e "$db.wal" ] || fail "read-only queries left $db.wal"

# ---- a database locked by another process -----------------------------------
# A writer runs a long query; its first statement creates $ready once the
# database is open (and locked), so no reader races it for the lock.
ready="$work/ready.csv"
timeout 300 "$MALLARD" query --write "$db" \
  "COPY (SELECT 1 AS ok) TO '$ready'; SELECT sum(hash(i)) FROM range(1000000000000) t(i)" \
  >"$work/bg.out" 2>"$work/bg.err" &
bg_pid=$!
for _ in $(seq 1 600); do
  [ -s "$ready" ] && break
  kill -0 "$bg_pid" 2>/dev/null || fail "lock: the background writer stopped: $(cat "$work/bg.err")"
  sleep 0.05
done
[ -s "$ready" ] || fail "lock: the background writer did not start"

run query "$db" "SELECT 1"
expect_rc 3 "locked database"
expect_no_out "locked database"
expect_err_has "mallard query: $db is locked: another process has it open for writing" "locked database"

run query "$db"
expect_rc 3 "locked database, listing"

kill "$bg_pid"
wait "$bg_pid" 2>/dev/null || true
bg_pid=""

run query "$db" "SELECT count(*) AS n FROM items"
expect_rc 0 "after the lock is released"
expect_out "after the lock is released" <<'EOF'
n
-
3
(1 row)
EOF

echo "test_query: all passed"
