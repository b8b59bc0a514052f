#!/usr/bin/env bash
# Unnesting (config unnest_depth): declared objects become typed columns,
# arrays child tables, and after every sync in every mode each child table
# equals the unnest of its parent's JSON column over the parent table as it
# is now: same rows, same _mallard_list_idx, same values, nothing stale.
source "$(dirname "$0")/lib.sh"

# catalog MODE [extra stream JSON]: customers with an object (billing) that
# holds an array of objects (cards) that hold an array (tags), an array of
# objects with a declared sub-object (addresses), an array of strings (tags),
# an array of arrays (matrix), a free-form object (attrs)
catalog() {
  local pk='' extra=${2:-}
  [ "$1" = append_dedup ] && pk=',"primary_key":[["id"]],"cursor_field":["updated_at"]'
  cat >"$WORK/cat.json" <<EOF
{"streams":[{"stream":{"name":"customers","json_schema":{"type":"object","properties":{
 "id":{"type":"integer"}, "name":{"type":"string"}, "updated_at":{"type":"integer"},
 "_ab_cdc_deleted_at":{"type":["null","string"]},
 "billing":{"type":["null","object"],"properties":{"city":{"type":"string"},"zip":{"type":"integer"},
   "cards":{"type":"array","items":{"type":"object","properties":{"last4":{"type":"string"},
     "exp_year":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}}}}}},
 "addresses":{"type":"array","items":{"type":["null","object"],"properties":{"street":{"type":"string"},
   "geo":{"type":"object","properties":{"lat":{"type":"number"},"lon":{"type":"number"}}}}}},
 "tags":{"type":"array","items":{"type":"string"}},
 "matrix":{"type":"array","items":{"type":"array","items":{"type":"integer"}}},
 "attrs":{"type":"object"}}}},
 "destination_sync_mode":"$1"$pk${GEN_IDS:-}}$extra]}
EOF
}
rec() { printf '{"type":"RECORD","record":{"stream":"%s","emitted_at":1700000000000,"data":%s}}\n' "${2:-customers}" "$1"; }
state() { printf '{"type":"STATE","state":{"type":"LEGACY","data":{"n":%s}}}\n' "$1"; }
# qv DB SQL: a one-value result as plain text (lists: array_to_string)
qv() { q1 "$1" "$2" | sed -E 's/^"(.*)"$/\1/'; }
write() { "$MALLARD" write --config "$cfg" --catalog "$WORK/cat.json" 2>"$WORK/err"; }

ann1='{"id":1,"name":"Ann","updated_at":1,"billing":{"city":"Oslo","zip":123,"cards":[{"last4":"1111","exp_year":2027,"tags":["a","b"]},{"last4":"2222","exp_year":"soon"}]},"addresses":[{"street":"Main 1","geo":{"lat":1.5,"lon":2.5}},null],"tags":["vip","x"],"matrix":[[1,2],[3]],"attrs":{"k":"v"}}'
bob1='{"id":2,"name":"Bob","updated_at":1,"billing":null,"addresses":[],"tags":null}'
cy1='{"id":3,"name":"Cy","updated_at":1,"billing":{"zip":"north","cards":[]},"tags":["n1","n2","n3"]}'

# expect_child NAME PARENT JSONCOL CHILD PARENT_ID_COL "col=expr(j)"...: the
# child table equals the unnest of PARENT.JSONCOL (j is the item) and every
# row links to its parent row (_mallard_parent_id) and its record
# (_airbyte_raw_id)
expect_child() {
  local name=$1 parent=$2 col=$3 child=$4 pid=$5
  shift 5
  local exp_cols='' got_cols=''
  for c in "$@"; do exp_cols+=", ${c#*=} AS \"${c%%=*}\""; got_cols+=", \"${c%%=*}\""; done
  local sql="WITH e AS (SELECT p._airbyte_raw_id AS rid, p.$pid AS pid, r.i AS idx, p.$col->(r.i::INTEGER) AS j
      FROM $parent p, range(CASE WHEN json_type(p.$col) = 'ARRAY' THEN json_array_length(p.$col)::BIGINT ELSE 0 END) r(i)),
    exp AS (SELECT rid, pid, idx$exp_cols FROM e),
    got AS (SELECT _airbyte_raw_id AS rid, _mallard_parent_id AS pid, _mallard_list_idx AS idx$got_cols FROM $child)
    SELECT (SELECT count(*) FROM (FROM exp EXCEPT ALL FROM got)) + (SELECT count(*) FROM (FROM got EXCEPT ALL FROM exp)) AS diff,
           (SELECT count(*) FROM got) AS n"
  local out
  out=$(q "$DB" "$sql")
  assert_eq "$name: $child equals the unnest of $parent.$col" "0" "$(sed -E 's/.*"diff":([0-9]+).*/\1/' <<<"$out")"
}

# every child table of the customers layout against its parent
invariant() {
  expect_child "$1" customers billing__cards customers__billing__cards _airbyte_raw_id \
    "last4=j->>'last4'" "exp_year=TRY_CAST(j->>'exp_year' AS BIGINT)" "tags=j->'tags'"
  expect_child "$1" customers__billing__cards tags customers__billing__cards__tags _mallard_id "value=j->>'\$'"
  expect_child "$1" customers addresses customers__addresses _airbyte_raw_id \
    "street=j->>'street'" "geo__lat=TRY_CAST(j->'geo'->>'lat' AS DOUBLE)" "geo__lon=TRY_CAST(j->'geo'->>'lon' AS DOUBLE)"
  expect_child "$1" customers tags customers__tags _airbyte_raw_id "value=j->>'\$'"
  # (a null item is a row whose value is NULL, not JSON null)
  expect_child "$1" customers matrix customers__matrix _airbyte_raw_id "value=CASE WHEN json_type(j) = 'NULL' THEN NULL ELSE j END"
  # level 2 rows belong to the same record as their parent row
  assert_eq "$1: level-2 rows carry their record's raw id" "0" "$(q1 "$DB" "SELECT count(*) FROM customers__billing__cards__tags t
    LEFT JOIN customers__billing__cards c ON c._mallard_id = t._mallard_parent_id WHERE c._airbyte_raw_id IS DISTINCT FROM t._airbyte_raw_id")"
}
counts() { qv "$DB" "SELECT array_to_string([(SELECT count(*) FROM customers), (SELECT count(*) FROM customers__billing__cards), (SELECT count(*) FROM customers__billing__cards__tags), (SELECT count(*) FROM customers__addresses), (SELECT count(*) FROM customers__tags), (SELECT count(*) FROM customers__matrix)], ',')"; }

# ---- layout, append -------------------------------------------------------------
cfg=$(config app ',"unnest_depth":2')
DB=$(db app)
catalog append
out=$({ rec "$ann1"; rec "$bob1"; rec "$cy1"; state 1; } | write)
assert_contains "child tables are announced" "array billing.cards of table customers unnested into table main.customers__billing__cards" "$out"
assert_contains "the summary counts the unnested rows" "3 records and 13 unnested rows, 2 values NULLed" "$out"
assert_eq "tables: one per array, two levels, none for an empty or absent array" \
  'customers,customers__addresses,customers__billing__cards,customers__billing__cards__tags,customers__matrix,customers__tags' \
  "$(qv "$DB" "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM duckdb_tables() WHERE table_name LIKE 'customers%'")"
assert_eq "flattened columns follow the record's, typed; JSON columns stay" \
  '_airbyte_raw_id UUID,_airbyte_extracted_at TIMESTAMP WITH TIME ZONE,_airbyte_meta JSON,_airbyte_generation_id BIGINT,id BIGINT,name VARCHAR,updated_at BIGINT,_ab_cdc_deleted_at VARCHAR,billing JSON,addresses JSON,tags JSON,matrix JSON,attrs JSON,billing__city VARCHAR,billing__zip BIGINT,billing__cards JSON' \
  "$(qv "$DB" "SELECT string_agg(column_name || ' ' || data_type, ',' ORDER BY column_index) FROM duckdb_columns() WHERE table_name = 'customers'")"
assert_eq "child columns: ids, position, record metadata, then the item's" \
  '_airbyte_raw_id UUID,_mallard_parent_id UUID,_mallard_id UUID,_mallard_list_idx BIGINT,_airbyte_extracted_at TIMESTAMP WITH TIME ZONE,_airbyte_generation_id BIGINT,street VARCHAR,geo JSON,geo__lat DOUBLE,geo__lon DOUBLE' \
  "$(qv "$DB" "SELECT string_agg(column_name || ' ' || data_type, ',' ORDER BY column_index) FROM duckdb_columns() WHERE table_name = 'customers__addresses'")"
assert_eq "scalar items: a typed value column; arrays of arrays: JSON value" 'value VARCHAR,value JSON' \
  "$(qv "$DB" "SELECT string_agg(column_name || ' ' || data_type, ',' ORDER BY table_name DESC) FROM duckdb_columns() WHERE table_name IN ('customers__tags', 'customers__matrix') AND column_name = 'value'")"
assert_eq "values that do not fit are NULL and named by their path in _airbyte_meta" \
  '{"c":[{"field":"billing.cards[1].exp_year","change":"NULLED","reason":"DESTINATION_TYPECAST_ERROR"}]}
{"c":[]}
{"c":[{"field":"billing.zip","change":"NULLED","reason":"DESTINATION_TYPECAST_ERROR"}]}' \
  "$(q "$DB" "SELECT _airbyte_meta->'changes' AS c FROM customers ORDER BY name")"
assert_eq "the item's flattened object and its JSON" '{"street":"Main 1","geo":{"lat":1.5,"lon":2.5},"geo__lat":1.5}' \
  "$(q "$DB" "SELECT street, geo, geo__lat FROM customers__addresses WHERE _mallard_list_idx = 0")"
assert_eq "a null item is a row of NULLs at its position" '{"_mallard_list_idx":1,"street":null}' \
  "$(q "$DB" "SELECT _mallard_list_idx, street FROM customers__addresses WHERE _mallard_list_idx = 1")"
assert_eq "[] and null stay distinct in the JSON column" '{"addresses":[],"tags":null}' "$(q "$DB" "SELECT addresses, tags FROM customers WHERE id = 2")"
assert_eq "a free-form object stays JSON only" "0" \
  "$(q1 "$DB" "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'customers' AND column_name LIKE 'attrs\_\_%' ESCAPE '\\'")"
assert_eq "a join from a record to its cards' tags" '{"name":"Ann","last4":"1111","tag":"b"}' \
  "$(q "$DB" "SELECT c.name, k.last4, t.value AS tag FROM customers c JOIN customers__billing__cards k ON k._mallard_parent_id = c._airbyte_raw_id JOIN customers__billing__cards__tags t ON t._mallard_parent_id = k._mallard_id WHERE t._mallard_list_idx = 1")"
assert_eq "append, first sync: row counts" "3,2,2,2,5,2" "$(counts)"
invariant "append, first sync" >/dev/null
{ rec "$ann1"; state 2; } | write >/dev/null
assert_eq "append, second sync: children appended with their records" "4,4,4,4,7,4" "$(counts)"
invariant "append, second sync" >/dev/null
assert_eq "item ids are distinct" "0" "$(q1 "$DB" "SELECT count(*) - count(DISTINCT _mallard_id) FROM customers__tags")"
# schema evolution: a property the catalog adds to the items is a new column
sed -i 's/"last4":{"type":"string"},/"last4":{"type":"string"},"cvv":{"type":"integer"},/' "$WORK/cat.json"
out=$({ rec '{"id":9,"billing":{"cards":[{"last4":"9999","cvv":123}]}}'; state 3; } | write)
assert_eq "a new item property becomes a column of the child table" '{"last4":"9999","cvv":123}' \
  "$(q "$DB" "SELECT last4, cvv FROM customers__billing__cards WHERE cvv IS NOT NULL")"
assert_contains "the schema change is counted" "1 schema changes" "$out"
invariant "append, schema evolution" >/dev/null

# hostile shapes: a string where the array is declared, a number where the
# object is, an array of objects given as an object: no child rows, the JSON
# column keeps the value, and the sync goes on
{ rec '{"id":77,"tags":"not-an-array","billing":42,"addresses":{"street":"x"},"matrix":[[1],"x",null]}'; state 4; } | write >/dev/null
assert_eq "values of another shape: kept as JSON, no child rows, no flattened values" \
  '{"tags":"not-an-array","billing":42,"billing__zip":null,"n":0}' \
  "$(q "$DB" "SELECT tags, billing, billing__zip, (SELECT count(*) FROM customers__tags t WHERE t._airbyte_raw_id = c._airbyte_raw_id) + (SELECT count(*) FROM customers__addresses a WHERE a._airbyte_raw_id = c._airbyte_raw_id) AS n FROM customers c WHERE id = 77")"
assert_eq "an array of arrays with other items: one value row each" '3' \
  "$(q1 "$DB" "SELECT count(*) FROM customers__matrix m JOIN customers c USING (_airbyte_raw_id) WHERE c.id = 77")"
invariant "append, hostile shapes" >/dev/null

# ---- depth 1: arrays inside items stay JSON ----------------------------------------
cfg=$(config depth1 ',"unnest_depth":1')
DB=$(db depth1)
{ rec "$ann1"; state 1; } | write >/dev/null
assert_eq "unnest_depth 1: no second level" "0" "$(q1 "$DB" "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'customers__billing__cards__tags'")"
assert_eq "unnest_depth 1: the item keeps the inner array as JSON" '{"tags":["a","b"]}' "$(q "$DB" "SELECT tags FROM customers__billing__cards WHERE _mallard_list_idx = 0")"

# ---- append_dedup: replaced and deleted records take their children along ---------
cfg=$(config dedup ',"unnest_depth":2')
DB=$(db dedup)
catalog append_dedup
{ rec "$ann1"; rec "$bob1"; rec "$cy1"; state 1; } | write >/dev/null
assert_eq "dedup, first sync" "3,2,2,2,5,2" "$(counts)"
invariant "dedup, first sync" >/dev/null
{ rec "$ann1"; rec "$bob1"; rec "$cy1"; state 2; } | write >/dev/null
assert_eq "dedup, the same records again: exactly one set of children" "3,2,2,2,5,2" "$(counts)"
invariant "dedup, re-sync" >/dev/null
ann2='{"id":1,"name":"Ann","updated_at":2,"billing":{"city":"Oslo","cards":[{"last4":"3333","tags":["z"]}]},"addresses":[],"tags":["vip"]}'
old='{"id":1,"name":"Old","updated_at":0,"tags":["stale","stale"]}'
bob2='{"id":2,"name":"Bob","updated_at":2,"tags":["g1","g2","g3","g4"],"addresses":[{"street":"S"}]}'
{ rec "$ann2"; rec "$old"; rec "$bob2"; state 3; } | write >/dev/null
assert_eq "dedup: a shrunk array leaves no stale rows, a grown one all, an older record none" "3,1,1,1,8,0" "$(counts)"
invariant "dedup, shrink and grow" >/dev/null
{ rec '{"id":3,"updated_at":5,"_ab_cdc_deleted_at":"2024-01-01T00:00:00Z"}'; state 4; } | write >/dev/null
assert_eq "dedup: a CDC delete removes the record's children" "2,1,1,1,5,0" "$(counts)"
invariant "dedup, CDC delete" >/dev/null
assert_eq "dedup: staging tables are empty after the merge" "0" \
  "$(q1 "$DB" "SELECT (SELECT count(*) FROM _mallard_stage_customers__tags) + (SELECT count(*) FROM _mallard_stage_customers__billing__cards__tags)")"
# several versions of one key inside one commit: only the winner's children
{ rec "$ann1"; rec "$ann2"; rec '{"id":1,"name":"Ann","updated_at":9,"tags":["final"]}'; state 5; } | write >/dev/null
assert_eq "dedup: of one key's versions in a commit only the winner's children stay" 'final' \
  "$(qv "$DB" "SELECT string_agg(t.value, ',') AS v FROM customers__tags t JOIN customers c USING (_airbyte_raw_id) WHERE c.id = 1")"
invariant "dedup, versions in one commit" >/dev/null
# the check notices what it guards against: a stale child row
"$MALLARD" query --write "$DB" "INSERT INTO customers__tags SELECT * FROM customers__tags LIMIT 1" >/dev/null
FAILS_BEFORE=$FAILS
expect_child "the invariant check" customers tags customers__tags _airbyte_raw_id "value=j->>'\$'" >/dev/null 2>&1
assert_eq "the invariant check fails on a stale child row" "$((FAILS_BEFORE + 1))" "$FAILS"
FAILS=$FAILS_BEFORE

# ---- overwrite: children replaced with their table --------------------------------
cfg=$(config over ',"unnest_depth":2')
DB=$(db over)
catalog overwrite
{ rec "$ann1"; rec "$cy1"; state 1; } | write >/dev/null
assert_eq "overwrite, first sync" "2,2,2,2,5,2" "$(counts)"
{ rec "$bob2"; state 2; } | write >/dev/null
assert_eq "overwrite: children replaced; tables without rows this sync are emptied" "1,0,0,1,4,0" "$(counts)"
invariant "overwrite" >/dev/null
assert_eq "overwrite: no temporary tables are left" "0" "$(q1 "$DB" "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_mallard_tmp_%'")"

# ---- generations: a refresh drops older generations' children ----------------------
cfg=$(config gen ',"unnest_depth":2')
DB=$(db gen)
GEN_IDS=',"generation_id":1,"minimum_generation_id":0,"sync_id":1' catalog append
{ rec "$ann1"; state 1; } | write >/dev/null
GEN_IDS=',"generation_id":2,"minimum_generation_id":2,"sync_id":2' catalog append
{ rec "$cy1"; state 2; } | write >/dev/null
assert_eq "generations: only generation 2 and its children are left" "1,0,0,0,3,0" "$(counts)"
invariant "generations" >/dev/null

# ---- names: stable, and never another table's ------------------------------------
cfg=$(config names ',"unnest_depth":1')
DB=$(db names)
catalog append ',{"stream":{"name":"customers__tags","json_schema":{"type":"object","properties":{"x":{"type":"integer"}}}},"destination_sync_mode":"append"}'
out=$({ rec "$ann1"; rec '{"x":1}' customers__tags; state 1; } | write)
child=$(sed -nE 's/.*array tags of table customers unnested into table main\.(customers__tags_[0-9a-f]{8}).*/\1/p' <<<"$out")
assert_eq "a name a stream's table has gets a hash suffix" "1" "$([ -n "$child" ] && echo 1 || echo 0)"
assert_eq "the stream keeps its table" '{"x":1}' "$(q "$DB" "SELECT x FROM customers__tags")"
catalog append
{ rec "$ann1"; state 2; } | write >/dev/null
assert_eq "the assigned name stays when the other stream is gone" "4" "$(q1 "$DB" "SELECT count(*) FROM $child")"
assert_eq "names are recorded in the database" "\"$child\"" "$(q1 "$DB" "SELECT child_table FROM _mallard_unnest_tables WHERE path = '[\"tags\"]'")"

# ---- config ----------------------------------------------------------------------
cfg=$(config bad ',"unnest_depth":-1')
set +e
out=$({ rec "$ann1"; state 1; } | write); rc=$?
set -e
assert_eq "unnest_depth -1: config error" "1" "$rc"
assert_contains "unnest_depth -1: says what is allowed" 'config key \"unnest_depth\" must be an integer from 0 (off) to 8' "$out"
assert_contains "mallard help write documents unnest_depth" "unnest_depth        0 (default)" "$("$MALLARD" help write)"
assert_contains "SPEC documents unnest_depth" '"unnest_depth":{"type":"integer"' "$("$MALLARD" spec)"

finish
