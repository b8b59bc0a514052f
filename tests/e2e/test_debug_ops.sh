#!/usr/bin/env bash
# mallard debug: every row of the operations table of CONTRACTS.md §2, checked
# on the real DuckDB file, with a connector compiled by the runner
# (tests/e2e/connectors/ops, driven by its configuration).
source "$(dirname "$0")/sdk_lib.sh"

T='[{"table":"t","primary_key":["id"],"columns":{"id":"LONG","name":"STRING","n":"LONG"}}]'
new_ops p

# ---- upsert: insert, replace the whole row (absent columns NULL), revive
config p "upsert t id=1 name=a n=10; upsert t id=2 name=b n=20; checkpoint" "$T"
debug p
expect_rc 0 "first run"
expect_grep "Sync SUCCEEDED" "first run"
expect_q p "SELECT id, name, n, _fivetran_deleted FROM tester.t ORDER BY id" \
'{"id":1,"name":"a","n":10,"_fivetran_deleted":false}
{"id":2,"name":"b","n":20,"_fivetran_deleted":false}' "upsert inserts"
expect_q p "SELECT count(*) AS c FROM tester.t WHERE _fivetran_synced > now() - INTERVAL 1 HOUR AND _fivetran_synced <= now()" \
'{"c":2}' "_fivetran_synced is the UTC write time"

config p "upsert t id=1 name=a2; checkpoint" "$T"
debug p
expect_rc 0 "replace"
expect_q p "SELECT id, name, n FROM tester.t WHERE id = 1" '{"id":1,"name":"a2","n":null}' \
  "upsert replaces the whole row: n, absent, becomes NULL"

# ---- delete: soft delete; a missing key is ignored
config p "delete t id=2 name=ignored; delete t id=99; checkpoint" "$T"
debug p
expect_rc 0 "delete"
expect_q p "SELECT id, name, n, _fivetran_deleted FROM tester.t ORDER BY id" \
'{"id":1,"name":"a2","n":null,"_fivetran_deleted":false}
{"id":2,"name":"b","n":20,"_fivetran_deleted":true}' "delete sets _fivetran_deleted, keeps the values, ignores id 99"

# ---- upsert revives a deleted row
config p "upsert t id=2 name=back; checkpoint" "$T"
debug p
expect_q p "SELECT name, n, _fivetran_deleted FROM tester.t WHERE id = 2" \
  '{"name":"back","n":null,"_fivetran_deleted":false}' "upsert revives"

# ---- update: only the given columns; missing row ignored; explicit null
config p "update t id=2 n=7; update t id=1 name=null; update t id=50 name=ghost; checkpoint" "$T"
debug p
expect_rc 0 "update"
expect_q p "SELECT id, name, n, _fivetran_deleted FROM tester.t ORDER BY id" \
'{"id":1,"name":null,"n":null,"_fivetran_deleted":false}
{"id":2,"name":"back","n":7,"_fivetran_deleted":false}' "update changes only given columns, ignores id 50"
expect_grep "Updates         | 3" "summary counts updates"

# ---- per-key order inside one batch (no checkpoint between): the result
# must equal applying the operations one by one
config p "upsert t id=10 name=x n=1; update t id=10 n=2; delete t id=10;
          delete t id=11; upsert t id=11 name=y;
          update t id=12 name=never; upsert t id=12 name=z n=3;
          upsert t id=13 name=w n=4; update t id=13 n=5; update t id=13 name=w2;
          upsert t id=14 name=v n=6; delete t id=14; update t id=14 n=60;
          update t id=2 name=b3; delete t id=2; update t id=2 n=8;
          upsert t id=15 name=u n=9; upsert t id=15 name=u2" "$T"
debug p
expect_rc 0 "ordered batch"
expect_q p "SELECT id, name, n, _fivetran_deleted AS d FROM tester.t WHERE id >= 10 OR id = 2 ORDER BY id" \
'{"id":2,"name":"b3","n":8,"d":true}
{"id":10,"name":"x","n":2,"d":true}
{"id":11,"name":"y","n":null,"d":false}
{"id":12,"name":"z","n":3,"d":false}
{"id":13,"name":"w2","n":5,"d":false}
{"id":14,"name":"v","n":60,"d":true}
{"id":15,"name":"u2","n":null,"d":false}' "one batch applied set-wise equals one by one"

# ---- truncate: rows written before it are soft-deleted, rows upserted after it stay
config p "upsert t id=20 name=before; truncate t; upsert t id=21 name=after; upsert t id=1 name=again; checkpoint" "$T"
debug p
expect_rc 0 "truncate"
expect_q p "SELECT id, _fivetran_deleted AS d FROM tester.t ORDER BY id" \
'{"id":1,"d":false}
{"id":2,"d":true}
{"id":10,"d":true}
{"id":11,"d":true}
{"id":12,"d":true}
{"id":13,"d":true}
{"id":14,"d":true}
{"id":15,"d":true}
{"id":20,"d":true}
{"id":21,"d":false}' "truncate soft-deletes what came before only"
expect_grep "Truncates       | 1" "summary counts truncates"

# ---- checkpoint: state saved after the commit, read by the next run
config p "state cursor 2024-01-01; checkpoint; state cursor 2024-02-02" "$T"
debug p
expect_rc 0 "checkpoint"
[ "$(cat "$work/p/files/state.json")" = '{"cursor":"2024-01-01"}' ] || fail "state.json holds the checkpointed state"
config p "showstate" "$T"
debug p
expect_grep 'STATE {"cursor":"2024-01-01"}' "the next run starts from the saved state"
debug p --state '{"cursor":"override"}'
expect_grep 'STATE {"cursor":"override"}' "--state JSON overrides"
echo '{"cursor":"from-file"}' >"$work/state-file.json"
debug p --state "$work/state-file.json"
expect_grep 'STATE {"cursor":"from-file"}' "--state FILE overrides"

# ---- no primary key: _fivetran_id, a hash of the values
new_ops nopk
config nopk "upsert logs msg=hello lvl=1; upsert logs lvl=1 msg=hello; upsert logs msg=other lvl=1; checkpoint"
debug nopk
expect_rc 0 "no primary key"
expect_q nopk "SELECT msg, length(_fivetran_id) AS l FROM tester.logs ORDER BY msg" \
'{"msg":"hello","l":32}
{"msg":"other","l":32}' "identical rows share one _fivetran_id"
id=$(q nopk "SELECT _fivetran_id FROM tester.logs WHERE msg = 'hello'" | sed 's/.*":"\(.*\)"}/\1/')
config nopk "delete logs _fivetran_id=$id; update logs msg=zzz; checkpoint"
debug nopk
expect_rc 1 "update without _fivetran_id on a table without primary key"
expect_grep "must give _fivetran_id" "clear message"
config nopk "delete logs _fivetran_id=$id; checkpoint"
debug nopk
expect_q nopk "SELECT msg, _fivetran_deleted AS d FROM tester.logs ORDER BY msg" \
'{"msg":"hello","d":true}
{"msg":"other","d":false}' "delete by _fivetran_id"

# ---- declared types: every SDK type
TYPES='[{"table":"ty","primary_key":["k"],"columns":{"k":"INT","b":"BOOLEAN","sh":"SHORT","i":"INT","l":"LONG",
"dec":{"type":"DECIMAL","precision":12,"scale":3},"f":"FLOAT","d":"DOUBLE","nd":"NAIVE_DATE","nt":"NAIVE_TIME",
"ndt":"NAIVE_DATETIME","utc":"UTC_DATETIME","bin":"BINARY","x":"XML","s":"STRING","j":"JSON"}}]'
new_ops ty
config ty "upsert ty k=1 b=true sh=-7 i=70000 l=9000000000 dec:dec=12345.678 f=1.5 d=2.25 nd:date=2024-02-29 \
nt:time=13:14:15.5 ndt:ndt=2024-03-01T10:00:00 utc:utc=2024-03-01T10:00:00+02:00 bin:bin=AB x=<a/> s=text \
j:json={\"a\":[1,2]}; upsert ty k=2 i=42 nd=2024-01-02 utc=2024-05-05T05:05:05Z dec=7 b=false; checkpoint" "$TYPES"
debug ty
expect_rc 0 "types"
expect_q ty "SELECT column_name AS c, data_type AS t FROM information_schema.columns WHERE table_schema='tester' AND table_name='ty' ORDER BY ordinal_position" \
'{"c":"k","t":"INTEGER"}
{"c":"b","t":"BOOLEAN"}
{"c":"sh","t":"SMALLINT"}
{"c":"i","t":"INTEGER"}
{"c":"l","t":"BIGINT"}
{"c":"dec","t":"DECIMAL(12,3)"}
{"c":"f","t":"FLOAT"}
{"c":"d","t":"DOUBLE"}
{"c":"nd","t":"DATE"}
{"c":"nt","t":"TIME"}
{"c":"ndt","t":"TIMESTAMP"}
{"c":"utc","t":"TIMESTAMP WITH TIME ZONE"}
{"c":"bin","t":"BLOB"}
{"c":"x","t":"VARCHAR"}
{"c":"s","t":"VARCHAR"}
{"c":"j","t":"JSON"}
{"c":"_fivetran_synced","t":"TIMESTAMP WITH TIME ZONE"}
{"c":"_fivetran_deleted","t":"BOOLEAN"}' "declared types map to DuckDB types"
expect_q ty "SELECT k, b, sh, i, l, dec::VARCHAR AS dec, f, d, nd::VARCHAR AS nd, nt::VARCHAR AS nt, ndt::VARCHAR AS ndt, utc::VARCHAR AS utc, hex(bin) AS bin, x, s, j::VARCHAR AS j FROM tester.ty ORDER BY k" \
'{"k":1,"b":true,"sh":-7,"i":70000,"l":9000000000,"dec":"12345.678","f":1.5,"d":2.25,"nd":"2024-02-29","nt":"13:14:15.5","ndt":"2024-03-01 10:00:00","utc":"2024-03-01 08:00:00+00","bin":"4142","x":"<a/>","s":"text","j":"{\"a\":[1,2]}"}
{"k":2,"b":false,"sh":null,"i":42,"l":null,"dec":"7.000","f":null,"d":null,"nd":"2024-01-02","nt":null,"ndt":null,"utc":"2024-05-05 05:05:05+00","bin":null,"x":null,"s":null,"j":null}' "typed values land exactly (strings converted into declared types)"

# a value that does not fit a declared column fails the sync clearly
config ty "upsert ty k=3 i=notanumber; checkpoint" "$TYPES"
debug ty
expect_rc 1 "value does not fit"
expect_grep "column 'i' (INTEGER): value \"notanumber\" does not fit" "names table, column, type and value"
expect_q ty "SELECT count(*) AS c FROM tester.ty" '{"c":2}' "nothing of the failed run is kept"
# a decimal with more digits than the column's scale is not rounded: it fails
config ty "upsert ty k=3 dec:dec=1.2345; checkpoint" "$TYPES"
debug ty
expect_rc 1 "decimal beyond the scale"
expect_grep "column 'dec' (DECIMAL(12,3)): value \"1.2345\" does not fit" "a decimal is never rounded"
expect_q ty "SELECT count(*) AS c FROM tester.ty" '{"c":2}' "nothing of the failed run is kept"

# ---- undeclared columns: inferred, widened LONG -> DOUBLE -> STRING; NULL-only never created
new_ops inf
config inf "upsert u id=1 v=1 flag=true doc:json={\"k\":1} raw:bin=xy nothing=null; checkpoint"
debug inf
expect_rc 0 "inference"
expect_q inf "SELECT column_name AS c, data_type AS t FROM information_schema.columns WHERE table_schema='tester' AND table_name='u' ORDER BY column_name" \
'{"c":"_fivetran_deleted","t":"BOOLEAN"}
{"c":"_fivetran_id","t":"VARCHAR"}
{"c":"_fivetran_synced","t":"TIMESTAMP WITH TIME ZONE"}
{"c":"doc","t":"JSON"}
{"c":"flag","t":"BOOLEAN"}
{"c":"id","t":"BIGINT"}
{"c":"raw","t":"BLOB"}
{"c":"v","t":"BIGINT"}' "bool, integer, JSON, binary inferred; a NULL-only column is not created"
config inf "upsert u id=2 v=2.5; checkpoint"
debug inf
expect_grep "column v widened to DOUBLE" "widening is logged"
expect_grep "Schema changes  | 1" "widening is counted"
config inf "upsert u id=3 v=three; checkpoint"
debug inf
expect_q inf "SELECT id, v FROM tester.u ORDER BY id" \
'{"id":1,"v":"1.0"}
{"id":2,"v":"2.5"}
{"id":3,"v":"three"}' "DOUBLE widened to STRING keeps the values"

# ---- schema changes between runs: new table, new column, widened declared type
new_ops evo
config evo "upsert a id=1; checkpoint" '[{"table":"a","primary_key":["id"],"columns":{"id":"INT"}}]'
debug evo
expect_grep "Schema changes  | 1" "first run creates one table"
config evo "upsert a id=1 note=hi; upsert b k=1; checkpoint" \
  '[{"table":"a","primary_key":["id"],"columns":{"id":"LONG","extra":"STRING"}},{"table":"b","primary_key":["k"]}]'
debug evo
expect_rc 0 "evolution"
expect_grep "column id widened to BIGINT" "declared type widened"
expect_grep "new column extra VARCHAR" "declared column added"
expect_grep "new column note VARCHAR" "inferred column added"
expect_grep "created table tester.b" "new table"
expect_grep "Schema changes  | 5" "all counted (widen, extra, table b, note, b.k)"
expect_q evo "SELECT id, extra, note FROM tester.a" '{"id":1,"extra":null,"note":"hi"}' "rows after evolution"

# ---- commits behind the connector: a checkpoint of upserts only commits on
# the runner's second thread while the connector goes on; a later checkpoint
# that commits in line (an update is staged) must leave its own, newer state
# in state.json, not the older one of the commit that ran behind
new_ops behind
config behind "bulk t 300000; state cp 1; checkpoint; update t id=5 v=-5; state cp 2; checkpoint; bulk t 10; state cp 3; checkpoint" \
  '[{"table":"t","primary_key":["id"]}]'
debug behind --commit-interval-ms 0
expect_rc 0 "commits behind"
[ "$(cat "$work/behind/files/state.json")" = '{"cp":"3"}' ] || fail "commits behind: state.json is the last checkpoint's: $(cat "$work/behind/files/state.json")"
expect_q behind "SELECT count(*) AS n, sum(v) AS v FROM tester.t" '{"n":300000,"v":89999700000}' "commits behind: every row once (ids 0..299999, v = 2 id)"
config behind "bulk t 300000; state cp 1; checkpoint; update t id=5 v=-5; state cp 2; checkpoint" \
  '[{"table":"t","primary_key":["id"]}]'
debug behind --commit-interval-ms 0
expect_rc 0 "commits behind, then one in line last"
[ "$(cat "$work/behind/files/state.json")" = '{"cp":"2"}' ] || fail "commits behind: state.json after an in-line commit: $(cat "$work/behind/files/state.json")"

# ---- no staging leftovers in the file
expect_q evo "SELECT count(*) AS c FROM information_schema.tables WHERE table_schema <> 'tester'" '{"c":0}' \
  "staging tables are dropped at the end"
# ---- column and table names compare without letter case, as DuckDB's do: one rule
# for the engine and the SDK
new_ops case
config case "upsert t id=1 name=a; upsert t Id=2 NAME=b; upsert T id=3 name=c; update t ID=1 Name=a2; checkpoint" \
  '[{"table":"t","primary_key":["id"],"columns":{"id":"LONG","name":"STRING"}}]'
debug case
expect_rc 0 "names in another letter case"
expect_q case "SELECT id, name FROM tester.t ORDER BY id" '{"id":1,"name":"a2"}
{"id":2,"name":"b"}
{"id":3,"name":"c"}' "Id, NAME and T are the declared id, name and t"
expect_q case "SELECT count(*) AS c FROM information_schema.columns WHERE table_name = 't'" '{"c":4}' "no second column for another case"
# ---- the summary says where the time went: a connector that is slow to
# produce shows as storage waiting for operations, and as the bound
new_ops slow
config slow "upsert t id=1; sleep 600; upsert t id=2; checkpoint" \
  '[{"table":"t","primary_key":["id"],"columns":{"id":"LONG"}}]'
debug slow
expect_rc 0 "slow connector"
expect_grep "bound by the connector" "slow connector: the time line names the connector as the bound"
waited=$(sed -n 's/.*waited \([0-9.]*\) s for operations.*/\1/p' "$work/out")
[ "$(awk -v w="${waited:-0}" 'BEGIN { print (w >= 0.5 && w < 5) }')" = 1 ] ||
  fail "slow connector: its 0.6 s pause counted as storage waiting for operations (got '$waited')"
echo "PASS test_debug_ops"
