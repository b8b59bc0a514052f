#!/usr/bin/env bash
# STATE messages of all three kinds, their order, grouping of commits, records
# without a following STATE, and names that collide after normalisation.
source "$(dirname "$0")/lib.sh"

cat > "$WORK/cat.json" <<'JSON'
{"streams":[
 {"stream":{"name":"a","namespace":"n1","json_schema":{"properties":{"Data":{"type":"string"},"data":{"type":"integer"},"DATA":{"type":"boolean"}}}},"destination_sync_mode":"append"},
 {"stream":{"name":"Table-1","json_schema":{"properties":{"x":{"type":"integer"}}}},"destination_sync_mode":"append"},
 {"stream":{"name":"table_1","json_schema":{"properties":{"x":{"type":"integer"}}}},"destination_sync_mode":"append"}
]}
JSON
r_a() { printf '{"type":"RECORD","record":{"namespace":"n1","stream":"a","emitted_at":1700000000000,"data":{"Data":"s%s","data":%s,"DATA":true}}}\n' "$1" "$1"; }
r_t() { printf '{"type":"RECORD","record":{"stream":"%s","emitted_at":1700000000000,"data":{"x":%s}}}\n' "$1" "$2"; }
s_stream() { printf '{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"a","namespace":"n1"},"stream_state":{"c":%s}},"sourceStats":{"recordCount":%s.0}},"id":%s}\n' "$1" "$2" "$1"; }
s_global() { printf '{"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":{"g":%s},"stream_states":[]}}}\n' "$1"; }
s_legacy() { printf '{"type":"STATE","state":{"data":{"l":%s}}}\n' "$1"; }
input() {
  r_a 1; r_a 2; s_stream 1 2
  r_t Table-1 1; s_global 1
  r_t table_1 2; r_a 3; s_legacy 1
  r_a 4; s_stream 2 1
  r_t Table-1 3   # no STATE after it: committed at end of input
}
expected='{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"a","namespace":"n1"},"stream_state":{"c":1}},"sourceStats":{"recordCount":2.0},"destinationStats":{"recordCount":2}},"id":1}
{"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":{"g":1},"stream_states":[]},"destinationStats":{"recordCount":3}}}
{"type":"STATE","state":{"data":{"l":1},"destinationStats":{"recordCount":2}}}
{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"a","namespace":"n1"},"stream_state":{"c":2}},"sourceStats":{"recordCount":1.0},"destinationStats":{"recordCount":1}},"id":2}'

for interval in 0 100000; do
  cfg=$(config "states_$interval" ",\"commit_interval_ms\":$interval")
  out=$(input | "$MALLARD" write --config "$cfg" --catalog "$WORK/cat.json")
  assert_eq "interval $interval: all states echoed in order, unknown fields kept" "$expected" "$(grep '"STATE"' <<<"$out")"
  other=$(q1 "$(db "states_$interval")" "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'table_1_%'" | tr -d '"')
  assert_eq "interval $interval: record after the last STATE committed at end of input" '{"x":1}
{"x":3}' "$(q "$(db "states_$interval")" "SELECT x FROM \"$other\" ORDER BY x")"
  commits=$(grep -o '[0-9]* commits' <<<"$out")
  if [ "$interval" = 0 ]; then assert_eq "interval 0: one commit per STATE plus the end" "5 commits" "$commits"
  else assert_eq "long interval: states grouped into one commit at the end" "1 commits" "$commits"; fi
done
D=$(db states_0)
cols=$(q1 "$D" "SELECT string_agg(column_name, ' ' ORDER BY column_name) FROM duckdb_columns() WHERE table_name = 'a' AND column_name LIKE 'data%'" | tr -d '"')
read -r c1 c2 c3 <<<"$cols"
assert_eq "colliding columns: the exact name keeps it, the others get a hash suffix" "data" "$c1"
assert_contains "colliding columns: suffixed" "data_" "$c2 $c3"
assert_eq "colliding columns stay distinct, each with its own value" '{"v":"1 s1 true"}' \
  "$(q "$D" "SELECT concat_ws(' ', \"$c1\", list_sort([\"$c2\"::VARCHAR, \"$c3\"::VARCHAR])[1], list_sort([\"$c2\"::VARCHAR, \"$c3\"::VARCHAR])[2]) AS v FROM n1.a WHERE \"$c1\" = 1")"
assert_eq "colliding columns: three columns, one per field" "3" \
  "$(q1 "$D" "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'a' AND column_name LIKE 'data%'")"
assert_eq "colliding stream names: two tables" '{"table_name":"table_1","n":2}' \
  "$(q "$D" "SELECT min(table_name) AS table_name, count(*) AS n FROM duckdb_tables() WHERE table_name LIKE 'table_1%'")"
assert_eq "states stored: one row per stream/kind, the latest" \
  '{"kind":"GLOBAL","state":{"type":"GLOBAL","global":{"shared_state":{"g":1},"stream_states":[]}}}
{"kind":"LEGACY","state":{"data":{"l":1}}}
{"kind":"STREAM","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"a","namespace":"n1"},"stream_state":{"c":2}},"sourceStats":{"recordCount":1.0}}}' \
  "$(q "$D" "SELECT kind, state FROM _mallard_airbyte_state ORDER BY kind")"
# The summary says where the time went: a source that sends slowly shows as
# time waited for input, and as what bounded the sync.
cfg=$(config trickle)
out=$({ r_a 1; sleep 1; r_a 2; s_stream 1 2; } | "$MALLARD" write --config "$cfg" --catalog "$WORK/cat.json")
split=$(grep -o '"time ([^"]*' <<<"$out" || true)
assert_contains "summary: the time split names the source as the bound" "bound by the source" "$split"
waited=$(sed -n 's/.*waited \([0-9.]*\) s for input.*/\1/p' <<<"$split")
assert_eq "summary: a 1 s pause of the source counted as input wait (got '$waited')" "yes" \
  "$(awk -v w="${waited:-0}" 'BEGIN { print (w >= 0.8 && w < 5) ? "yes" : "no" }')"
assert_contains "summary: both threads' CPU time" "parsing thread" "$split"
assert_contains "summary: both threads' CPU time" "storage thread" "$split"
finish
