#!/usr/bin/env bash
# examples/incremental: several tables from a paged source with a cursor in
# the state; the second run, after new source data, fetches only the new
# rows and applies upserts, updates, deletes and a truncate exactly.
source "$(dirname "$0")/sdk_lib.sh"

cp -r "$SRC/examples/incremental" "$work/inc"
rm -rf "$work/inc/files"
debug inc
expect_rc 0 "first run"
expect_grep "customers: 5 new records" "first run reads every customer"
expect_grep "Upserts         | 11" "first run upserts"
expect_grep "Updates         | 2" "first run updates"
expect_grep "Truncates       | 1" "first run truncates currencies"
expect_grep "Checkpoints     | 7" "a checkpoint per page (page_size 2) and one for the snapshot"
S="EXCLUDE (_fivetran_synced)"
expect_q inc "SELECT * $S FROM tester.customers ORDER BY id" \
'{"id":1,"name":"Ada","email":"ada@example.com","updated_at":"2024-01-01 10:00:00+00","_fivetran_deleted":false}
{"id":2,"name":"Brian","email":"brian@new.example.com","updated_at":"2024-01-03 08:00:00+00","_fivetran_deleted":false}
{"id":3,"name":"Chen","email":"chen@example.com","updated_at":"2024-01-02 09:30:00+00","_fivetran_deleted":false}
{"id":4,"name":"Dana","email":null,"updated_at":"2024-01-02 12:00:00+00","_fivetran_deleted":false}' "customers after run 1"
expect_q inc "SELECT id, amount::VARCHAR AS amount, status FROM tester.orders ORDER BY id" \
'{"id":100,"amount":"19.99","status":"shipped"}
{"id":101,"amount":"5.00","status":"cancelled"}
{"id":102,"amount":"120.50","status":"placed"}' "orders after run 1"
[ "$(cat "$work/inc/files/state.json")" = \
  '{"customers":"2024-01-03T08:00:00Z","orders":"2024-01-02T09:45:00Z","order_events":"2024-01-02T10:00:00Z"}' ] ||
  fail "state after run 1: $(cat "$work/inc/files/state.json")"

# new source data
cat >>"$work/inc/source/customers.jsonl" <<'JSON'
{"id": 5, "name": "Eve", "email": "eve@example.com", "updated_at": "2024-01-04T09:00:00Z"}
{"id": 3, "deleted": true, "updated_at": "2024-01-04T10:00:00Z"}
{"id": 1, "name": "Ada L.", "email": "ada@example.com", "updated_at": "2024-01-04T11:00:00Z"}
JSON
cat >>"$work/inc/source/orders.jsonl" <<'JSON'
{"id": 103, "customer_id": 5, "amount": "7.25", "status": "placed", "updated_at": "2024-01-04T09:05:00Z"}
JSON
cat >>"$work/inc/source/order_events.jsonl" <<'JSON'
{"order_id": 102, "status": "shipped", "updated_at": "2024-01-04T12:00:00Z"}
{"order_id": 999, "status": "lost", "updated_at": "2024-01-04T12:30:00Z"}
JSON
cat >"$work/inc/source/currencies.jsonl" <<'JSON'
{"code": "EUR", "name": "Euro", "rate": 1.1}
{"code": "CHF", "name": "Swiss franc", "rate": 1.16}
{"code": "GBP", "name": "Pound sterling", "rate": 1.27}
JSON

debug inc
expect_rc 0 "second run"
expect_grep "customers: fetching records updated after 2024-01-03T08:00:00Z" "starts from the cursor"
expect_grep "customers: 3 new records" "only new customers fetched"
expect_grep "orders: 1 new records" "only new orders fetched"
expect_grep "order_events: 2 new records" "only new events fetched"
expect_grep "Deletes         | 1" "second run deletes"
expect_q inc "SELECT id, name, _fivetran_deleted AS d FROM tester.customers ORDER BY id" \
'{"id":1,"name":"Ada L.","d":false}
{"id":2,"name":"Brian","d":false}
{"id":3,"name":"Chen","d":true}
{"id":4,"name":"Dana","d":false}
{"id":5,"name":"Eve","d":false}' "customers after run 2: updated, deleted, added"
expect_q inc "SELECT id, customer_id, amount::VARCHAR AS amount, status, updated_at::VARCHAR AS at FROM tester.orders ORDER BY id" \
'{"id":100,"customer_id":1,"amount":"19.99","status":"shipped","at":"2024-01-02 08:00:00+00"}
{"id":101,"customer_id":2,"amount":"5.00","status":"cancelled","at":"2024-01-02 10:00:00+00"}
{"id":102,"customer_id":3,"amount":"120.50","status":"shipped","at":"2024-01-04 12:00:00+00"}
{"id":103,"customer_id":5,"amount":"7.25","status":"placed","at":"2024-01-04 09:05:00+00"}' \
  "orders after run 2: the event updated 102 only; order 999 does not exist and is ignored"
expect_q inc "SELECT code, name, rate, _fivetran_deleted AS d FROM tester.currencies ORDER BY code" \
'{"code":"CHF","name":"Swiss franc","rate":1.16,"d":false}
{"code":"EUR","name":"Euro","rate":1.1,"d":false}
{"code":"GBP","name":"Pound sterling","rate":1.27,"d":false}
{"code":"JPY","name":"Yen","rate":0.0068,"d":true}' "currencies: truncate + snapshot soft-deletes JPY"
[ "$(cat "$work/inc/files/state.json")" = \
  '{"customers":"2024-01-04T11:00:00Z","orders":"2024-01-04T09:05:00Z","order_events":"2024-01-04T12:30:00Z"}' ] ||
  fail "state after run 2: $(cat "$work/inc/files/state.json")"

# a third run without new data changes nothing but the snapshot
debug inc
expect_grep "customers: 0 new records" "nothing new"
expect_q inc "SELECT count(*) AS c FROM tester.customers" '{"c":5}' "no duplicates"
echo "PASS test_debug_incremental"
