#!/usr/bin/env bash
# Sync modes, generations, schema evolution and typecast errors of mallard write.
source "$(dirname "$0")/lib.sh"

catalog() { # NAME MODE [extra stream fields] [properties]
  local props=${4:-'"id":{"type":"integer"},"name":{"type":"string"},"updated_at":{"type":"integer"}'}
  printf '{"streams":[{"stream":{"name":"items","namespace":"Shop","json_schema":{"type":"object","properties":{%s}}},"destination_sync_mode":"%s","primary_key":[["id"]],"cursor_field":["updated_at"]%s}]}\n' \
    "$props" "$2" "${3:-}" > "$WORK/$1.catalog.json"
  echo "$WORK/$1.catalog.json"
}
rec() { printf '{"type":"RECORD","record":{"namespace":"Shop","stream":"items","emitted_at":1700000000000,"data":%s}}\n' "$1"; }
state() { printf '{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"items","namespace":"Shop"},"stream_state":{"pos":%s}}}}\n' "$1"; }

# --- append_dedup: one row per key, greatest cursor, ties to the later record
cfg=$(config dedup); cat_=$(catalog dedup append_dedup)
{ rec '{"id":1,"name":"a1","updated_at":5}'; rec '{"id":1,"name":"a2","updated_at":3}'; rec '{"id":2,"name":"b1","updated_at":1}'
  state 1; rec '{"id":2,"name":"b2","updated_at":1}'; rec '{"id":3,"name":"c1","updated_at":null}'; state 2; } \
  | "$MALLARD" write --config "$cfg" --catalog "$cat_" > "$WORK/out1"
assert_eq "dedup: namespace becomes the schema, greatest cursor wins, tie goes to the later record" \
  '{"id":1,"name":"a1","updated_at":5}
{"id":2,"name":"b2","updated_at":1}
{"id":3,"name":"c1","updated_at":null}' "$(q "$(db dedup)" 'SELECT id, name, updated_at FROM shop.items ORDER BY id')"
assert_eq "dedup: per-stream states echoed with their record counts" \
  '{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"items","namespace":"Shop"},"stream_state":{"pos":1}},"destinationStats":{"recordCount":3}}}
{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"items","namespace":"Shop"},"stream_state":{"pos":2}},"destinationStats":{"recordCount":2}}}' \
  "$(grep '"STATE"' "$WORK/out1")"
{ rec '{"id":1,"name":"a3","updated_at":4}'; rec '{"id":3,"name":"c2","updated_at":0}'; rec '{"id":4,"name":"d1","updated_at":9}'; state 3; } \
  | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
assert_eq "dedup: rerun keeps one row per key, older cursor does not replace" \
  '{"id":1,"name":"a1"}
{"id":2,"name":"b2"}
{"id":3,"name":"c2"}
{"id":4,"name":"d1"}' "$(q "$(db dedup)" 'SELECT id, name FROM shop.items ORDER BY id')"
assert_eq "dedup: the final table is the only table the sync leaves" "items" \
  "$(q1 "$(db dedup)" "SELECT string_agg(table_name, ',') FROM duckdb_tables() WHERE schema_name = 'shop'" | tr -d '"')"

# Rows an older mallard left in the staging table (_mallard_stage_<table>)
# are merged by the next sync with the same rule, and the staging table is
# emptied: a staged row with a greater cursor replaces, one with a smaller
# cursor does not, a staged key of its own is added
"$MALLARD" query --write "$(db dedup)" "CREATE TABLE shop._mallard_stage_items AS SELECT * FROM shop.items LIMIT 0;
  INSERT INTO shop._mallard_stage_items (_airbyte_raw_id, id, name, updated_at) VALUES
  (uuid(), 2, 'b-staged', 7), (uuid(), 4, 'd-staged', 1), (uuid(), 8, 'h-staged', 1)" >/dev/null
{ rec '{"id":3,"name":"c3","updated_at":1}'; state 4; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
assert_eq "dedup: rows left staged by an earlier run are merged with the next sync's" \
  '{"id":1,"name":"a1"}
{"id":2,"name":"b-staged"}
{"id":3,"name":"c3"}
{"id":4,"name":"d1"}
{"id":8,"name":"h-staged"}' "$(q "$(db dedup)" 'SELECT id, name FROM shop.items ORDER BY id')"
assert_eq "dedup: the staging table is empty after that merge" "0" "$(q1 "$(db dedup)" 'SELECT count(*) FROM shop._mallard_stage_items')"
{ rec '{"id":9,"name":"i1","updated_at":1}'; state 5; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
assert_eq "dedup: the next sync drops the empty staging table and merges as before" '{"tables":"items","rows":6}' \
  "$(q "$(db dedup)" "SELECT string_agg(table_name, ',') AS tables, (SELECT count(*) FROM shop.items) AS rows FROM duckdb_tables() WHERE schema_name = 'shop'")"

# Fields go to the columns of their names whatever their order in each
# record, also when new fields make mallard's field table grow in the middle
# of a record whose other fields sit where the last record had them
cfg=$(config order); cat_=$(catalog order append)
fields() { for i in $(seq "$1" "$2"); do printf ',"f%d":%d' "$i" "$((i + $3))"; done; }
{ rec '{"id":1,"name":"a","updated_at":1}'; rec '{"updated_at":2,"name":"b","id":2}'
  rec "{\"id\":3,\"name\":\"c\",\"updated_at\":3$(fields 1 28 0)}"
  rec "{\"g1\":1,\"g2\":2,\"updated_at\":4$(fields 1 28 100)}"
  rec "{\"id\":5,\"name\":\"e\",\"updated_at\":5$(fields 1 28 200),\"f40\":\"x\"}"
  rec '{"f1":6,"updated_at":6,"id":6,"name":"f","g2":"y"}'; state 1; } \
  | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
assert_eq "fields in any order, and after the field table grew, land in their own columns" \
  '{"id":1,"name":"a","updated_at":1,"f1":null,"f28":null,"f40":null,"g2":null}
{"id":2,"name":"b","updated_at":2,"f1":null,"f28":null,"f40":null,"g2":null}
{"id":3,"name":"c","updated_at":3,"f1":1,"f28":28,"f40":null,"g2":null}
{"id":null,"name":null,"updated_at":4,"f1":101,"f28":128,"f40":null,"g2":"2"}
{"id":5,"name":"e","updated_at":5,"f1":201,"f28":228,"f40":"x","g2":null}
{"id":6,"name":"f","updated_at":6,"f1":6,"f28":null,"f40":null,"g2":"y"}' \
  "$(q "$(db order)" 'SELECT id, name, updated_at, f1, f28, f40, g2 FROM shop.items ORDER BY updated_at')"

# Columns added and widened in the middle of a merge's transaction (after
# earlier syncs deleted replaced rows) change nothing about which row wins
cfg=$(config dedupev); cat_=$(catalog dedupev append_dedup)
{ rec '{"id":1,"name":"a1","updated_at":1}'; rec '{"id":2,"name":"b1","updated_at":1}'; rec '{"id":3,"name":"c1","updated_at":1}'
  state 1; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
{ rec '{"id":1,"name":"a2","updated_at":2}'; state 2; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
{ rec '{"id":2,"name":"b2","updated_at":2,"extra":5}'; rec '{"id":3,"name":"c2","updated_at":2,"extra":"five"}'
  rec '{"id":1,"name":"a-old","updated_at":0}'; rec '{"id":2,"name":"b-old","updated_at":1}'; rec '{"id":4,"name":"d1","updated_at":1}'
  state 3; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
assert_eq "dedup: new and widened columns within one merge" \
  '{"id":1,"name":"a2","extra":null}
{"id":2,"name":"b2","extra":"5"}
{"id":3,"name":"c2","extra":"five"}
{"id":4,"name":"d1","extra":null}' "$(q "$(db dedupev)" 'SELECT id, name, extra FROM shop.items ORDER BY id')"

# A source column named rowid (declared, as a ROWID of Oracle or SQLite, or
# new in the middle of a sync) would hide DuckDB's own rowid: it changes
# nothing about which row wins, and keeps its values
cfg=$(config deduprowid); cat_=$(catalog deduprowid append_dedup '' \
  '"id":{"type":"integer"},"ROWID":{"type":"integer"},"name":{"type":"string"},"updated_at":{"type":"integer"}')
{ rec '{"id":1,"ROWID":50,"name":"a1","updated_at":1}'; rec '{"id":2,"ROWID":60,"name":"b1","updated_at":1}'; state 1; } \
  | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
{ rec '{"id":1,"ROWID":10,"name":"a2","updated_at":2}'; rec '{"id":3,"ROWID":99,"name":"c1","updated_at":1}'
  rec '{"id":3,"ROWID":98,"name":"c2","updated_at":2}'; state 2; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
assert_eq "dedup: a declared ROWID column" '{"id":1,"rowid":10,"name":"a2"}
{"id":2,"rowid":60,"name":"b1"}
{"id":3,"rowid":98,"name":"c2"}' "$(q "$(db deduprowid)" 'SELECT id, rowid, name FROM shop.items ORDER BY id')"
cfg=$(config deduprowid2); cat_=$(catalog deduprowid2 append_dedup)
{ rec '{"id":1,"name":"a1","updated_at":1}'; rec '{"id":2,"name":"b1","updated_at":1}'; state 1; } \
  | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
{ rec '{"id":1,"name":"a2","updated_at":2,"rowid":0}'; rec '{"id":2,"name":"b0","updated_at":0,"rowid":9}'
  rec '{"id":1,"name":"a0","updated_at":0,"rowid":5}'; state 2; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" > "$WORK/out_rowid"
assert_eq "dedup: an undeclared rowid field new in the middle of a sync" '{"id":1,"name":"a2"}
{"id":2,"name":"b1"}' "$(q "$(db deduprowid2)" 'SELECT id, name FROM shop.items ORDER BY id')"
assert_contains "dedup: the undeclared rowid field gets a column of its own name" "new field 'rowid' stored in column rowid_" \
  "$(cat "$WORK/out_rowid")"

# With child tables (rows merged through the staging table), a CDC column
# that the catalog does not declare removes rows from its first sync on
cfg=$(config dedupcdc ',"unnest_depth":1'); cat_=$(catalog dedupcdc append_dedup '' \
  '"id":{"type":"integer"},"name":{"type":["null","string"]},"updated_at":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}')
{ rec '{"id":1,"name":"a","updated_at":1,"tags":["x"]}'; rec '{"id":2,"name":"b","updated_at":1,"tags":["y"]}'; state 1; } \
  | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
{ rec '{"id":1,"updated_at":2,"_ab_cdc_deleted_at":"2024-01-01T00:00:00Z"}'
  rec '{"id":3,"updated_at":2,"_ab_cdc_deleted_at":"2024-01-01T00:00:00Z"}'; state 2; } \
  | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
assert_eq "dedup with child tables: an undeclared CDC column deletes" '{"id":2,"name":"b"}' \
  "$(q "$(db dedupcdc)" 'SELECT id, name FROM shop.items ORDER BY id')"
assert_eq "dedup with child tables: the deleted record's child rows go with it" '{"id":2,"tags":"y"}' \
  "$(q "$(db dedupcdc)" 'SELECT i.id, t.value AS tags FROM shop.items__tags t LEFT JOIN shop.items i USING (_airbyte_raw_id) ORDER BY t.value')"

# CDC deletions (_ab_cdc_deleted_at) and NULL keys: a newer deletion removes
# the row, an older one does not; a deletion of a key never loaded adds
# nothing; the later of two records with the same cursor wins, deletion or
# not; a NULL key is one key, replaced like any other, and stays one row when
# later syncs stage no NULL key
cfg=$(config cdc); cat_=$(catalog cdc append_dedup '' \
  '"id":{"type":["null","integer"]},"name":{"type":"string"},"updated_at":{"type":"integer"},"_ab_cdc_deleted_at":{"type":["null","string"]}')
{ rec '{"id":1,"name":"a","updated_at":1}'; rec '{"id":2,"name":"b","updated_at":1}'; rec '{"id":null,"name":"n1","updated_at":1}'
  rec '{"id":3,"name":"c","updated_at":5}'; state 1; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
{ rec '{"id":1,"updated_at":2,"_ab_cdc_deleted_at":"2024-01-01T00:00:00Z"}'
  rec '{"id":3,"updated_at":4,"_ab_cdc_deleted_at":"2024-01-01T00:00:00Z"}'
  rec '{"id":null,"name":"n2","updated_at":2}'; rec '{"id":5,"updated_at":1,"_ab_cdc_deleted_at":"2024-01-01T00:00:00Z"}'
  rec '{"id":2,"name":"b2","updated_at":1}'; rec '{"id":2,"updated_at":1,"_ab_cdc_deleted_at":"2024-01-01T00:00:00Z"}'
  state 2; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
assert_eq "dedup: CDC deletions and a NULL key" \
  '{"id":null,"name":"n2","deleted":false}
{"id":3,"name":"c","deleted":false}' \
  "$(q "$(db cdc)" 'SELECT id, name, _ab_cdc_deleted_at IS NOT NULL AS deleted FROM shop.items ORDER BY id NULLS FIRST')"
{ rec '{"id":3,"name":"c3","updated_at":6}'; rec '{"id":6,"name":"f","updated_at":1}'; state 3; } \
  | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
assert_eq "dedup: rows of NULL keys stay as they are when no NULL key is staged" \
  '{"id":null,"name":"n2"}
{"id":3,"name":"c3"}
{"id":6,"name":"f"}' "$(q "$(db cdc)" 'SELECT id, name FROM shop.items ORDER BY id NULLS FIRST')"

# a table loaded in append mode first can hold a key more than once: the
# first append_dedup merge leaves one row per key it stages (the staged row,
# or the rows with a greater cursor than it, which stay)
cfg=$(config dupes); cat_=$(catalog dupes append)
{ rec '{"id":1,"name":"old1","updated_at":1}'; rec '{"id":1,"name":"old5","updated_at":5}'
  rec '{"id":2,"name":"old1","updated_at":1}'; rec '{"id":2,"name":"old2","updated_at":2}'; state 1; } \
  | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
cat_=$(catalog dupes append_dedup)
{ rec '{"id":1,"name":"new3","updated_at":3}'; rec '{"id":2,"name":"new3","updated_at":3}'; state 2; } \
  | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
assert_eq "dedup: keys held twice by an earlier append" '{"id":1,"name":"old5"}
{"id":2,"name":"new3"}' "$(q "$(db dupes)" 'SELECT id, name FROM shop.items ORDER BY id, name')"

# the generator's larger stream: 3000 records over 100 keys
cfg=$(config dedup_gen)
gen_catalog --records 3000 --key-space 100 --state-every 250 --mode append_dedup --catalog "$WORK/gen.catalog.json"
"$GEN" --records 3000 --key-space 100 --state-every 250 --mode append_dedup --catalog "$WORK/gen.catalog.json" \
  | "$MALLARD" write --config "$cfg" --catalog "$WORK/gen.catalog.json" >/dev/null
assert_eq "dedup: 100 keys, each holding its last record" '{"n":100,"keys":100,"min_ts":"2023-11-14 22:13:20+00","max_ts":"2023-11-14 23:03:19+00"}' \
  "$(q "$(db dedup_gen)" "SET TimeZone='UTC'; SELECT count(*) n, count(DISTINCT id) keys, (min(updated_at) - INTERVAL 2900 SECOND)::VARCHAR min_ts, max(updated_at)::VARCHAR max_ts FROM users")"

# --- overwrite: the new table replaces the old one at the end -----------------
cfg=$(config over); cat_=$(catalog over overwrite)
{ rec '{"id":1,"name":"old"}'; rec '{"id":2,"name":"old"}'; state 1; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
{ rec '{"id":7,"name":"new"}'; state 1; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
assert_eq "overwrite: only the new rows" '{"id":7,"name":"new"}' "$(q "$(db over)" 'SELECT id, name FROM shop.items')"
# a sync whose stream did not report COMPLETE (while statuses are in use) keeps the old table
{ rec '{"id":8,"name":"partial"}'; state 2
  echo '{"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1,"stream_status":{"stream_descriptor":{"name":"items","namespace":"Shop"},"status":"INCOMPLETE"}}}'; } \
  | "$MALLARD" write --config "$cfg" --catalog "$cat_" > "$WORK/out2"
assert_eq "overwrite: incomplete stream keeps the old table" '{"id":7,"name":"new"}' "$(q "$(db over)" 'SELECT id, name FROM shop.items')"
assert_contains "overwrite: incomplete stream is reported" "did not report COMPLETE" "$(cat "$WORK/out2")"
{ rec '{"id":9,"name":"complete"}'; state 3
  echo '{"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1,"stream_status":{"stream_descriptor":{"name":"items","namespace":"Shop"},"status":"COMPLETE"}}}'; } \
  | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
assert_eq "overwrite: COMPLETE stream replaces" '{"id":9,"name":"complete"}' "$(q "$(db over)" 'SELECT id, name FROM shop.items')"

# --- generations: minimum_generation_id removes older generations at the end -
cfg=$(config gens)
cat_=$(catalog gens1 append ',"generation_id":1,"minimum_generation_id":0,"sync_id":10')
{ rec '{"id":1,"name":"gen1"}'; state 1; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
cat_=$(catalog gens2 append ',"generation_id":2,"minimum_generation_id":2,"sync_id":11')
{ rec '{"id":2,"name":"gen2"}'; state 1; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
assert_eq "generations: rows of older generations removed" '{"id":2,"name":"gen2","_airbyte_generation_id":2,"sync":11}' \
  "$(q "$(db gens)" "SELECT id, name, _airbyte_generation_id, (_airbyte_meta->>'sync_id')::INT AS sync FROM shop.items")"

# a refresh of an append_dedup stream (a new generation, older ones removed):
# every key the new generation sends stays, even with a smaller cursor than
# the older generation's row of that key, with and without child tables
for extra in '' ',"unnest_depth":1'; do
  name=dedupgens${extra:+_unnest}
  cfg=$(config "$name" "$extra")
  props='"id":{"type":"integer"},"name":{"type":"string"},"updated_at":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}'
  cat_=$(catalog "${name}1" append_dedup ',"generation_id":1,"minimum_generation_id":0,"sync_id":20' "$props")
  { rec '{"id":1,"name":"old1","updated_at":9,"tags":["a"]}'; rec '{"id":2,"name":"old2","updated_at":9,"tags":["b"]}'; state 1; } \
    | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
  cat_=$(catalog "${name}2" append_dedup ',"generation_id":2,"minimum_generation_id":2,"sync_id":21' "$props")
  { rec '{"id":1,"name":"new1","updated_at":3,"tags":["c"]}'; state 1; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
  assert_eq "generations, append_dedup${extra:+ with child tables}: the refresh's row stays, older generations go" \
    '{"id":1,"name":"new1","_airbyte_generation_id":2}' \
    "$(q "$(db "$name")" "SELECT id, name, _airbyte_generation_id FROM shop.items")"
done

# --- schema evolution and typecast errors -------------------------------------
cfg=$(config evolve); cat_=$(catalog evolve append)
{ rec '{"id":1,"name":"x","extra":5,"Extra Info":{"a":[1,2]}}'; rec '{"id":"2","name":"y","extra":"five"}'
  rec '{"id":"three","name":7,"updated_at":1.5}'; state 1; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" > "$WORK/out3"
assert_eq "evolve: undeclared fields become columns, widened BIGINT -> VARCHAR" \
  '{"id":1,"name":"x","extra":"5","extra_info":{"a":[1,2]}}
{"id":2,"name":"y","extra":"five","extra_info":null}
{"id":null,"name":"7","extra":null,"extra_info":null}' \
  "$(q "$(db evolve)" 'SELECT id, name, extra, extra_info FROM shop.items ORDER BY _airbyte_raw_id')"
assert_eq "evolve: column types" "BIGINT VARCHAR BIGINT VARCHAR JSON" \
  "$(q1 "$(db evolve)" "SELECT string_agg(data_type, ' ' ORDER BY column_index) FROM duckdb_columns() WHERE table_name='items' AND column_name NOT LIKE '_airbyte%'" | tr -d '"')"
assert_eq "typecast: values that do not fit are NULLed and recorded" \
  '{"sync_id":0,"changes":[{"field":"id","change":"NULLED","reason":"DESTINATION_TYPECAST_ERROR"},{"field":"updated_at","change":"NULLED","reason":"DESTINATION_TYPECAST_ERROR"}]}' \
  "$(q1 "$(db evolve)" "SELECT _airbyte_meta FROM shop.items WHERE name = '7'")"
assert_contains "evolve: new columns are logged" "new field 'Extra Info' stored in column extra_info" "$(cat "$WORK/out3")"
# source-side changes in record.meta are kept, ours appended
{ printf '{"type":"RECORD","record":{"namespace":"Shop","stream":"items","emitted_at":1700000000,"data":{"id":"bad"},"meta":{"changes":[{"field":"name","change":"TRUNCATED","reason":"SOURCE_FIELD_SIZE_LIMITATION"}]}}}\n'; } \
  | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
assert_eq "meta: source changes kept, emitted_at in seconds scaled" \
  '{"m":{"sync_id":0,"changes":[{"field":"name","change":"TRUNCATED","reason":"SOURCE_FIELD_SIZE_LIMITATION"},{"field":"id","change":"NULLED","reason":"DESTINATION_TYPECAST_ERROR"}]},"t":"2023-11-14 22:13:20+00"}' \
  "$(q "$(db evolve)" "SET TimeZone='UTC'; SELECT _airbyte_meta AS m, _airbyte_extracted_at::VARCHAR AS t FROM shop.items WHERE _airbyte_meta->'changes'->0->>'change' = 'TRUNCATED'")"

# --- memory_limit is handed to DuckDB: a load within it works, a bad value is a config error
cfg=$(config memlimit ',"memory_limit":"64MB"')
gen_catalog --records 50000 --state-every 5000 --catalog "$WORK/mem.catalog.json"
"$GEN" --records 50000 --state-every 5000 --catalog "$WORK/mem.catalog.json" \
  | "$MALLARD" write --config "$cfg" --catalog "$WORK/mem.catalog.json" >/dev/null
assert_eq "memory_limit: the load completes" "50000" "$(q1 "$(db memlimit)" 'SELECT count(*) FROM users')"
cfg=$(config memlimit_tiny ',"memory_limit":"1MB"')
set +e
out=$("$GEN" --records 50000 --state-every 5000 | "$MALLARD" write --config "$cfg" --catalog "$WORK/mem.catalog.json" 2>/dev/null)
rc=$?
set -e
assert_eq "memory_limit: DuckDB enforces it (1MB is too small: the sync fails)" "1" "$rc"
assert_contains "memory_limit: DuckDB says why" "Increasing the memory limit" "$out"
# without a memory_limit, appends run under a 64MB bound that a large value lifts:
# a 70 MB string loads, and so does a merge into append_dedup after it
cfg=$(config biglines); cat_=$(catalog biglines append_dedup)
big=$(head -c 73400320 /dev/zero | tr '\0' x)
{ rec "{\"id\":1,\"name\":\"$big\",\"updated_at\":1}"; rec '{"id":2,"name":"small","updated_at":1}'; state 1; } \
  | "$MALLARD" write --config "$cfg" --catalog "$cat_" >"$WORK/big.out"
unset big
assert_eq "default bound: a 70 MB value is loaded" '{"n":2,"len":73400325}' \
  "$(q "$(db biglines)" 'SELECT count(*) n, sum(length(name)) len FROM shop.items')"
assert_contains "default bound: its STATE is echoed" '"pos":1' "$(grep '"STATE"' "$WORK/big.out")"
cfg=$(config memlimit_bad ',"memory_limit":"a lot"')
set +e
out=$(echo | "$MALLARD" write --config "$cfg" --catalog "$WORK/mem.catalog.json" 2>/dev/null)
set -e
assert_contains "memory_limit: a bad value is a config error" 'config key \"memory_limit\" must be a size' "$out"

# --- legacy raw tables ---------------------------------------------------------
cfg=$(config raw ',"raw_tables":true'); cat_=$(catalog raw append)
{ rec '{"id":1,"name":"r"}'; state 1; } | "$MALLARD" write --config "$cfg" --catalog "$cat_" >/dev/null
assert_eq "raw: legacy _airbyte_raw_ table with the record JSON" '{"n":1,"d":{"id":1,"name":"r"},"idlen":36}' \
  "$(q "$(db raw)" "SELECT count(*) n, min(_airbyte_data) d, min(length(_airbyte_ab_id)) idlen FROM shop._airbyte_raw_items")"
assert_eq "raw: same id as the typed row" "1" \
  "$(q1 "$(db raw)" "SELECT count(*) FROM shop._airbyte_raw_items r JOIN shop.items t ON r._airbyte_ab_id = t._airbyte_raw_id::VARCHAR")"
finish
