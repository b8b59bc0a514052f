#!/usr/bin/env bash
# examples/quickstart: the tutorial connector (Fernet with OpenSSL) gives one
# row in tester.crypto; a wrong key fails clearly and writes nothing.
source "$(dirname "$0")/sdk_lib.sh"

cp -r "$SRC/examples/quickstart" "$work/qs"
rm -rf "$work/qs/files"
debug qs
expect_rc 0 "quickstart"
expect_grep "Sync SUCCEEDED" "quickstart"
expect_grep "Upserts         | 1" "one upsert"
expect_grep "Checkpoints     | 1" "one checkpoint"
expect_q qs "SELECT msg, _fivetran_deleted FROM tester.crypto" \
  '{"msg":"If you can read this, you have the correct key","_fivetran_deleted":false}' "the decrypted message"
# a second run: same row, no new table
debug qs
expect_rc 0 "second run"
expect_grep "Schema changes  | 0" "no schema change the second time"
expect_q qs "SELECT count(*) AS c FROM tester.crypto" '{"c":1}' "still one row"

# wrong key (a valid Fernet key, but another one): HMAC mismatch
"$MALLARD" reset "$work/qs" --yes >/dev/null
echo '{"my_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}' >"$work/wrong.json"
debug qs --configuration "$work/wrong.json"
expect_rc 1 "wrong key"
expect_grep "Sync FAILED: cannot decrypt the message: wrong key: the token's HMAC does not match" "wrong key"
expect_q qs "SELECT count(*) AS c FROM information_schema.tables WHERE table_name = 'crypto'" '{"c":0}' \
  "nothing is written with a wrong key"
[ ! -e "$work/qs/files/state.json" ] || fail "no state saved with a wrong key"
echo '{"other": "x"}' >"$work/nokey.json"
debug qs --configuration "$work/nokey.json"
expect_rc 1 "no key"
expect_grep "Sync FAILED: configuration key 'my_key' is missing" "no key"
echo '{"my_key": "short"}' >"$work/bad.json"
debug qs --configuration "$work/bad.json"
expect_rc 1 "malformed key"
expect_grep "my_key is not a Fernet key" "malformed key"
echo "PASS test_debug_quickstart"
