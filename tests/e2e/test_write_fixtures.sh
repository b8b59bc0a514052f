#!/usr/bin/env bash
# The three Airbyte fixture folders load as their README says.
source "$(dirname "$0")/lib.sh"

# --- seed_example: the command a user of the Python destination types ------
mkdir -p "$WORK/seed" && cd "$WORK/seed"
cp "$FIXTURES/airbyte/seed_example/"* .
out=$(cat messages.jsonl | "$MALLARD" write --config config.json --catalog configured_catalog.json)
DB="$MALLARD_LOCAL_ROOT/destination.duckdb"
assert_eq "seed: state echoed once with destinationStats" \
  '{"type":"STATE","state":{"data":{"state":"1"},"destinationStats":{"recordCount":2}}}' \
  "$(grep '"STATE"' <<<"$out")"
assert_eq "seed: every stdout line is a JSON protocol message" "" "$(grep -v '^{"type":"\(STATE\|LOG\|TRACE\)"' <<<"$out" || true)"
assert_eq "seed: typed rows" \
  '{"column1":"test","column2":222.0,"column3":"2022-06-20 18:56:18","column4":33.33,"column5":[1,2,null]}
{"column1":"test2","column2":777.0,"column3":"2022-06-20 18:56:18","column4":33.33,"column5":[3,4,5]}' \
  "$(q "$DB" "SELECT column1, column2::VARCHAR::DOUBLE AS column2, column3::VARCHAR AS column3, column4, column5 FROM airbyte_acceptance_table ORDER BY column1" | sed 's/"column2":\([0-9]*\),/"column2":\1.0,/')"
assert_eq "seed: column types" "VARCHAR DOUBLE TIMESTAMP DOUBLE JSON" \
  "$(q "$DB" "SELECT string_agg(data_type, ' ' ORDER BY column_index) AS t FROM duckdb_columns() WHERE table_name='airbyte_acceptance_table' AND column_name LIKE 'column%'" | sed -E 's/.*"t":"([^"]*)".*/\1/')"
assert_eq "seed: metadata columns" \
  '{"n":2,"ids":2,"at":"2022-10-02 10:06:38.575+00","meta":"{\"sync_id\":0,\"changes\":[]}","gen":0}' \
  "$(q "$DB" "SELECT count(*) AS n, count(DISTINCT _airbyte_raw_id) AS ids, min(_airbyte_extracted_at)::VARCHAR AS at, min(_airbyte_meta)::VARCHAR AS meta, min(_airbyte_generation_id) AS gen FROM airbyte_acceptance_table")"
# overwrite: running it again leaves one copy
cat messages.jsonl | "$MALLARD" write --config config.json --catalog configured_catalog.json >/dev/null
assert_eq "seed: overwrite rerun keeps one copy" "2" "$(q1 "$DB" "SELECT count(*) FROM airbyte_acceptance_table")"
assert_eq "seed: no temporary table left" "0" \
  "$(q1 "$DB" "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_mallard_tmp%'")"
assert_eq "seed: committed state stored in the database" '{"data":{"state":"1"}}' \
  "$(q1 "$DB" "SELECT state FROM _mallard_airbyte_state WHERE kind='LEGACY'")"

# --- exchange_rate ----------------------------------------------------------
cfg=$(config exchange)
out=$("$MALLARD" write --config "$cfg" --catalog "$FIXTURES/airbyte/exchange_rate/configured_catalog.json" \
  < "$FIXTURES/airbyte/exchange_rate/messages.jsonl")
assert_eq "exchange_rate: three states in order" \
  '{"type":"STATE","state":{"data":{"start_date":"2020-08-31"},"destinationStats":{"recordCount":1}}}
{"type":"STATE","state":{"data":{"start_date":"2020-09-01"},"destinationStats":{"recordCount":1}}}
{"type":"STATE","state":{"data":{"start_date":"2020-09-02"},"destinationStats":{"recordCount":3}}}' \
  "$(grep '"STATE"' <<<"$out")"
assert_eq "exchange_rate: rows" \
  '{"date":"2020-08-29T00:00:00Z","HKD":2.13,"NZD":0.12,"USD":null}
{"date":"2020-08-30T00:00:00Z","HKD":7.15,"NZD":1.14,"USD":null}
{"date":"2020-08-31T00:00:00Z","HKD":7.15,"NZD":1.14,"USD":10.16}
{"date":"2020-08-31T00:00:00Z","HKD":7.99,"NZD":1.99,"USD":10.99}
{"date":"2020-09-01T00:00:00Z","HKD":7.15,"NZD":1.14,"USD":10.16}' \
  "$(q "$(db exchange)" "SELECT date, hkd AS HKD, nzd AS NZD, usd AS USD FROM exchange_rate ORDER BY date, hkd")"
# append: a second run adds
"$MALLARD" write --config "$cfg" --catalog "$FIXTURES/airbyte/exchange_rate/configured_catalog.json" \
  < "$FIXTURES/airbyte/exchange_rate/messages.jsonl" >/dev/null
assert_eq "exchange_rate: append rerun adds" "10" "$(q1 "$(db exchange)" "SELECT count(*) FROM exchange_rate")"

# --- edge_case --------------------------------------------------------------
cfg=$(config edge)
out=$("$MALLARD" write --config "$cfg" --catalog "$FIXTURES/airbyte/edge_case/configured_catalog.json" \
  < "$FIXTURES/airbyte/edge_case/messages.jsonl")
E=$(db edge)
assert_eq "edge: state echoed" '{"type":"STATE","state":{"data":{"start_date":"2020-09-02"},"destinationStats":{"recordCount":28}}}' \
  "$(grep '"STATE"' <<<"$out")"
assert_eq "edge: every name became a queryable table/column" \
  '{"a":"one","b":"one","c":"one","d":true,"e":"ascending","f":"into","g":true}' \
  "$(q "$E" 'SELECT (SELECT data FROM streamwithcamelcase) a, (SELECT data FROM stream_with_underscores) b, (SELECT field_with_sp_cial_character FROM stream_with_sp_cial_character_names) c, (SELECT deleted FROM capitalcase) d, (SELECT "order" FROM reserved_keywords) e, (SELECT "authorization" FROM groups) f, (SELECT propercase FROM propercase) g')"
assert_eq "edge: camelCase and CAPS fields" '{"a":"one","b":"one"}' \
  "$(q "$E" 'SELECT max(fieldwithcamelcase) a, max(field_with_underscore) b FROM stream_with_edge_case_field_names')"
assert_eq "edge: missing fields are NULL" '{"some_id":101,"some_field":"some_field_1","some_next_field":"some_next_field_1"}
{"some_id":102,"some_field":"some_field_2","some_next_field":null}
{"some_id":103,"some_field":null,"some_next_field":"some_next_field_3"}
{"some_id":104,"some_field":null,"some_next_field":null}' \
  "$(q "$E" 'SELECT some_id, some_field, some_next_field FROM stream_name ORDER BY some_id')"
assert_eq "edge: base64 decoded into BLOB" '{"b":"test"}' "$(q "$E" 'SELECT decode(binary_field_name) b FROM stream_with_binary_data')"
# each odd spelling parses to the right instant (or would be NULLed with a change: none are here)
assert_eq "edge: dates" '{"date":"2021-01-01","n":2}' \
  "$(q "$E" "SELECT date::VARCHAR AS date, count(*) n FROM stream_with_dates WHERE date IS NOT NULL GROUP BY 1")"
assert_eq "edge: date-times as UTC instants" \
  '2021-01-01 00:01:01+00,2021-01-01 01:01:01+00,2021-01-01 01:01:01+00,2021-01-01 01:01:01.22654+00,2021-01-02 00:01:01+00,2021-01-03 00:01:01.544+00,2021-01-05 01:01:01+00,2021-01-06 02:01:01+00,2021-01-08 01:01:01+00' \
  "$(q1 "$E" "SET TimeZone='UTC'; SELECT string_agg(datetime::VARCHAR, ',' ORDER BY datetime) FROM stream_with_dates WHERE datetime IS NOT NULL" | tr -d '"')"
assert_eq "edge: no value was NULLed" "0" \
  "$(q1 "$E" "SELECT count(*) FROM stream_with_dates WHERE json_array_length(_airbyte_meta->'changes') > 0")"
finish
