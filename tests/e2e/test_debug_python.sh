#!/usr/bin/env bash
# Python connectors written for the Fivetran Connector SDK under mallard debug:
# the tutorial (examples/python_quickstart) as `mallard debug` and as
# `python3 connector.py`; generator, plain-call and mixed styles; a connector
# of several modules and a package; values of every kind, declared and not;
# every way a connector can fail (exception in schema() or update(),
# op.error, sys.exit, a segfault, SIGKILL, Ctrl-C on a hang, a missing
# module, a value that does not fit) ending `Sync FAILED` with the reason
# while the warehouse and state.json keep the last checkpoint; output of
# print() and logging shown, marked, without disturbing the operations.
source "$(dirname "$0")/sdk_lib.sh"

# An interpreter with Debian's python3-cryptography for the tutorial: python3
# on PATH when it has the package, else Debian's own.
PY=$(command -v python3 || true)
if [ -z "$PY" ] || ! "$PY" -c 'import cryptography' 2>/dev/null; then PY=/usr/bin/python3; fi
"$PY" -c 'import cryptography' 2>/dev/null ||
  fail "no python3 with the cryptography package: run scripts/deps.sh (apt-get install python3 python3-cryptography)"

# py NAME: a project whose connector.py is read from stdin
py() {
  mkdir -p "$work/$1"
  cat >"$work/$1/connector.py"
}
state_is() { [ "$(cat "$work/$1/files/state.json" 2>/dev/null)" = "$2" ] || fail "$3: state.json is '$(cat "$work/$1/files/state.json" 2>/dev/null)', expected '$2'"; }

# ---- the tutorial -----------------------------------------------------------------------
"$MALLARD" init "$work/qs" --template python-quickstart >/dev/null
debug qs --python "$PY"
expect_rc 0 "tutorial"
expect_grep "Sync SUCCEEDED" "tutorial"
expect_grep "WARNING Example: QuickStart Examples - Configuration" "log.warning reaches the log"
expect_grep "FINE decrypting with a key of 44 characters" "log.fine reaches the log of a local run"
expect_q qs "SELECT msg, _fivetran_deleted FROM tester.crypto" \
  '{"msg":"If you can read this, you have the correct key","_fivetran_deleted":false}' "the decrypted message"
state_is qs '{}' "the tutorial checkpoints its (empty) state"
echo '{"my_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}' >"$work/wrong.json"
"$MALLARD" reset "$work/qs" --yes >/dev/null
debug qs --python "$PY" --configuration "$work/wrong.json"
expect_rc 1 "wrong key"
expect_grep "Sync FAILED: update() failed: cryptography.fernet.InvalidToken at connector.py line" "wrong key: the decryption error and where"
expect_grep "SEVERE Traceback (most recent call last):" "wrong key: the traceback is shown"
grep -q "_child.py" "$work/out" && fail "the traceback starts in the connector's code, not in mallard's module"
[ ! -e "$work/qs/files/state.json" ] || fail "wrong key: no state saved"
echo '{"other": "x"}' >"$work/nokey.json"
debug qs --python "$PY" --configuration "$work/nokey.json"
expect_rc 1 "missing key"
expect_grep "Sync FAILED: schema() failed: ValueError: Could not find 'my_key' at connector.py line" "missing key"
# python3 connector.py: connector.debug() runs the same test through mallard
"$MALLARD" reset "$work/qs" --yes >/dev/null
sdk=$("$MALLARD" debug --sdk-path)
[ -f "$sdk/fivetran_connector_sdk/__init__.py" ] || fail "--sdk-path names the module's directory: $sdk"
(cd "$work/qs" && PYTHONPATH="$sdk" MALLARD_BIN="$MALLARD" "$PY" connector.py >"$work/out" 2>"$work/err") ||
  fail "python3 connector.py exits 0"
expect_grep "Sync SUCCEEDED" "python3 connector.py"
expect_q qs "SELECT count(*) AS c FROM tester.crypto" '{"c":1}' "python3 connector.py lands the row"

# ---- styles: generator, plain calls, a mix; helper modules and a package -------------
py styles <<'EOF'
from fivetran_connector_sdk import Connector, Logging as log, Operations as op
import helpers
from pkg.sub import label

def rows_by_yield():
    for i in range(3):
        yield op.upsert(table="t", data={"id": i, "src": "yield"})

def update(configuration, state):
    yield from rows_by_yield()
    op.upsert(table="t", data={"id": 10, "src": helpers.source()})
    yield op.upsert("t", {"id": 11, "src": label()})
    log.info("half way")
    op.checkpoint(state={"step": 1})
    yield op.update(table="t", modified={"id": 0, "src": "updated"})
    op.delete(table="t", keys={"id": 1})
    yield op.checkpoint({"step": 2})

def schema(configuration):
    return [{"table": "t", "primary_key": ["id"]}]

connector = Connector(update=update, schema=schema)
EOF
echo 'def source():
    return "plain"' >"$work/styles/helpers.py"
mkdir -p "$work/styles/pkg"
: >"$work/styles/pkg/__init__.py"
echo 'def label():
    return "package"' >"$work/styles/pkg/sub.py"
debug styles
expect_rc 0 "styles"
expect_q styles "SELECT id, src, _fivetran_deleted FROM tester.t ORDER BY id" \
'{"id":0,"src":"updated","_fivetran_deleted":false}
{"id":1,"src":"yield","_fivetran_deleted":true}
{"id":2,"src":"yield","_fivetran_deleted":false}
{"id":10,"src":"plain","_fivetran_deleted":false}
{"id":11,"src":"package","_fivetran_deleted":false}' "generator, plain and mixed calls, modules and a package"
expect_grep "Checkpoints     | 2" "both checkpoints counted"
state_is styles '{"step":2}' "the last checkpoint's state"
[ "$("$MALLARD" state "$work/styles")" = "connector state ($work/styles/files/state.json): {\"step\":2}" ] ||
  fail "mallard state DIR shows the connector's state: $("$MALLARD" state "$work/styles")"

# ---- values: every declared type of §2, and Python's own types undeclared ----------------
py values <<'EOF'
import datetime as dt, decimal
from fivetran_connector_sdk import Connector, Operations as op

COLS = {"b": "BOOLEAN", "sh": "SHORT", "i": "INT", "l": "LONG", "dec": {"type": "DECIMAL", "precision": 10, "scale": 3},
        "fl": "FLOAT", "dbl": "DOUBLE", "nd": "NAIVE_DATE", "nt": "NAIVE_TIME", "ndt": "NAIVE_DATETIME",
        "utc": "UTC_DATETIME", "bin": "BINARY", "x": "XML", "s": "STRING", "j": "JSON"}

def schema(configuration):
    return [{"table": "typed", "primary_key": ["k"], "columns": dict(COLS, k="LONG")}]

def update(configuration, state):
    tz = dt.timezone(dt.timedelta(hours=2))
    op.upsert("typed", {"k": 1, "b": True, "sh": 7, "i": 70000, "l": 2**62, "dec": decimal.Decimal("1234567.125"),
                        "fl": 1.5, "dbl": 0.1, "nd": dt.date(2024, 2, 29), "nt": dt.time(23, 59, 58, 123456),
                        "ndt": dt.datetime(2024, 1, 2, 3, 4, 5), "utc": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=tz),
                        "bin": b"\x00\xff", "x": "<a/>", "s": "ünïcödé", "j": {"a": [1, None, "x"]}})
    # strings into declared types are converted, as in the SDK
    op.upsert("typed", {"k": 2, "dec": "-0.5", "nd": "2024-03-01", "ndt": "2024-03-01T10:00:00",
                        "utc": "2024-03-01T10:00:00Z", "nt": "12:00:00", "i": "42", "j": [1, 2]})
    op.upsert("free", {"k": 1, "f": 0.1, "big": 2**100, "neg": -(2**70), "i64": -(2**63), "t": True, "n": None,
                       "raw": b"ab", "d": {"x": 1.5}, "l": [1, "a"], "tup": (1, 2), "dt": dt.datetime(2020, 5, 6, 7, 8, 9),
                       "aware": dt.datetime(2020, 5, 6, 7, 8, 9, tzinfo=tz), "day": dt.date(2020, 1, 1),
                       "dec": decimal.Decimal("3.14159265358979323846"), "other": complex(1, 2), "nan": float("nan")})
    op.checkpoint({})

connector = Connector(update=update, schema=schema)
EOF
debug values
expect_rc 0 "values"
expect_q values "SELECT k, b, sh, i, l, dec::VARCHAR AS dec, fl, dbl, nd, nt, ndt, utc, hex(bin) AS bin, x, s, j FROM tester.typed ORDER BY k" \
'{"k":1,"b":true,"sh":7,"i":70000,"l":4611686018427387904,"dec":"1234567.125","fl":1.5,"dbl":0.1,"nd":"2024-02-29","nt":"23:59:58.123456","ndt":"2024-01-02 03:04:05","utc":"2024-01-02 01:04:05+00","bin":"00FF","x":"<a/>","s":"ünïcödé","j":{"a":[1,null,"x"]}}
{"k":2,"b":null,"sh":null,"i":42,"l":null,"dec":"-0.500","fl":null,"dbl":null,"nd":"2024-03-01","nt":"12:00:00","ndt":"2024-03-01 10:00:00","utc":"2024-03-01 10:00:00+00","bin":null,"x":null,"s":null,"j":[1,2]}' \
  "every declared type; an aware datetime lands in UTC; strings converted"
expect_q values "SELECT column_name AS c, data_type AS t FROM information_schema.columns WHERE table_name = 'typed' AND column_name IN ('sh','i','dec','fl','nt','utc','bin','x','j') ORDER BY 1" \
'{"c":"bin","t":"BLOB"}
{"c":"dec","t":"DECIMAL(10,3)"}
{"c":"fl","t":"FLOAT"}
{"c":"i","t":"INTEGER"}
{"c":"j","t":"JSON"}
{"c":"nt","t":"TIME"}
{"c":"sh","t":"SMALLINT"}
{"c":"utc","t":"TIMESTAMP WITH TIME ZONE"}
{"c":"x","t":"VARCHAR"}' "declared types"
expect_q values "SELECT f, big, neg, i64, t, hex(raw) AS raw, d, l, tup, dt, aware, day, dec, other, isnan(nan) AS nan FROM tester.free" \
'{"f":0.1,"big":"1267650600228229401496703205376","neg":"-1180591620717411303424","i64":-9223372036854775808,"t":true,"raw":"6162","d":{"x":1.5},"l":[1,"a"],"tup":[1,2],"dt":"2020-05-06 07:08:09","aware":"2020-05-06 05:08:09+00","day":"2020-01-01","dec":"3.14159265358979323846","other":"(1+2j)","nan":true}' \
  "undeclared: float DOUBLE exact, big ints keep every digit, datetimes, Decimal digits kept"
expect_q values "SELECT column_name AS c, data_type AS t FROM information_schema.columns WHERE table_name = 'free' AND column_name IN ('f','big','i64','d','dt','aware','day','dec') ORDER BY 1" \
'{"c":"aware","t":"TIMESTAMP WITH TIME ZONE"}
{"c":"big","t":"VARCHAR"}
{"c":"d","t":"JSON"}
{"c":"day","t":"DATE"}
{"c":"dec","t":"VARCHAR"}
{"c":"dt","t":"TIMESTAMP"}
{"c":"f","t":"DOUBLE"}
{"c":"i64","t":"BIGINT"}' "inferred types"

# ---- failures: the reason, and the last checkpoint kept ---------------------------------
py fails <<'EOF'
import ctypes, os, signal, sys, time, logging
from fivetran_connector_sdk import Connector, Logging as log, Operations as op

def schema(configuration):
    if configuration.get("mode") == "schema":
        raise RuntimeError("schema broke")
    return [{"table": "t", "primary_key": ["id"], "columns": {"id": "LONG", "small": "INT"}}]

def update(configuration, state):
    mode = configuration.get("mode")
    n = state.get("n", 0)
    for k in range(2):
        op.upsert("t", {"id": n + k})
        op.checkpoint({"n": n + k + 1})
    op.upsert("t", {"id": 1000})           # after the last checkpoint: never kept
    if mode == "raise":
        raise RuntimeError("update broke")
    if mode == "error":
        op.error("the source refused", trace="trace line")
    if mode == "exit":
        sys.exit(3)
    if mode == "segv":
        ctypes.string_at(0)
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "hang":
        time.sleep(600)
    if mode == "module":
        import no_such_module_mallard
    if mode == "fit":
        op.upsert("t", {"id": 5, "small": 2**40})
    if mode == "noise":
        print("printed line")
        print("to stderr", file=sys.stderr)
        logging.warning("from logging")
        os.write(1, b"\x00\x01 raw bytes on stdout\n")
        op.checkpoint({"n": n + 3})
    if mode == "unknown":
        op.update("nosuch", {"id": 1, "x": 2})

connector = Connector(update=update, schema=schema)
EOF
run_mode() { echo "{\"mode\": \"$2\"}" >"$work/fails/configuration.json"; debug fails; expect_rc "$1" "mode $2"; }
kept() { # kept MODE: state and rows are those of the last checkpoint (ids 0..n-1)
  local n
  n=$(sed -nE 's/^\{"n":([0-9]+)\}$/\1/p' "$work/fails/files/state.json")
  [ -n "$n" ] || fail "$1: state.json is a checkpoint's: $(cat "$work/fails/files/state.json")"
  expect_q fails "SELECT count(*) = $n AND max(id) = $n - 1 AS ok FROM tester.t" '{"ok":true}' "$1: the rows of the last checkpoint, nothing after it"
}
run_mode 1 schema
expect_grep "Sync FAILED: schema() failed: RuntimeError: schema broke at connector.py line 6" "exception in schema()"
run_mode 1 raise
expect_grep "Sync FAILED: update() failed: RuntimeError: update broke at connector.py line 17" "exception in update()"
expect_grep "SEVERE RuntimeError: update broke" "the traceback's last line"
kept raise
run_mode 1 error
expect_grep "Sync FAILED: the connector called op.error() at connector.py line 19: the source refused" "op.error"
expect_grep "SEVERE trace line" "op.error's trace is logged"
kept error
run_mode 1 exit
expect_grep "Sync FAILED: update() failed: sys.exit(3) was called at connector.py line 21" "sys.exit"
kept exit
run_mode 1 segv
expect_grep "Sync FAILED: the Python connector crashed (SIGSEGV) during update()" "segfault"
kept segv
run_mode 1 kill
expect_grep "Sync FAILED: the Python connector was killed by SIGKILL during update()" "SIGKILL"
kept kill
run_mode 1 module
expect_grep "No module named 'no_such_module_mallard'" "missing module named"
expect_grep "pip install -r requirements.txt" "missing module: what to run"
run_mode 1 fit
expect_grep "Sync FAILED: upsert on table 't': column 'small' (INTEGER): value \"1099511627776\" does not fit (sent by connector.py line 31)" \
  "a value that does not fit: table, column, value and line"
kept fit
mkdir -p "$work/noisy"
cp "$work/fails/connector.py" "$work/noisy/"
echo '{"mode": "noise"}' >"$work/noisy/configuration.json"
debug noisy
expect_rc 0 "output of the connector"
expect_grep "INFO [connector stdout] printed line" "print() is shown, marked"
expect_grep "INFO [connector stderr] to stderr" "stderr is shown, marked"
expect_grep "INFO [connector stderr] WARNING:root:from logging" "logging is shown, marked"
expect_grep "?? raw bytes on stdout" "bytes on stdout do not disturb the operations"
expect_q noisy "SELECT count(*) AS c FROM tester.t" '{"c":3}' "every operation of a noisy connector lands"
run_mode 1 unknown
expect_grep "update on table 'nosuch'" "an update of an unknown table names it"
expect_grep "(sent by connector.py line 39)" "and the line"
kept unknown
# Ctrl-C while the connector hangs: mallard stops it, exit 130, checkpoint kept
echo '{"mode": "hang"}' >"$work/fails/configuration.json"
"$MALLARD" debug "$work/fails" >"$work/out" 2>"$work/err" &
bg_pid=$!
child=""
for _ in $(seq 1 200); do
  child=$(pgrep -P "$bg_pid" || true)
  [ -n "$child" ] && [ "$(grep -c "checkpoint: state saved" "$work/out")" -ge 1 ] && break
  sleep 0.05
done
[ -n "$child" ] || fail "the hanging connector's process was never seen"
kill -INT "$bg_pid"
set +e; wait "$bg_pid"; rc=$?; set -e
bg_pid=""
expect_rc 130 "Ctrl-C on a hanging connector"
expect_grep "Sync FAILED: interrupted by SIGINT (Ctrl-C)" "Ctrl-C"
kept hang
sleep 0.2
kill -0 "$child" 2>/dev/null && fail "the Python child is stopped with the run"

# ---- configuration, interpreter, project layout -----------------------------------------
echo '{"mode": 5}' >"$work/fails/configuration.json"
debug fails
expect_rc 1 "non-string configuration value"
expect_grep "the value of 'mode' must be a string" "non-string configuration value"
echo '{}' >"$work/fails/configuration.json"
debug fails --python "$work/no/python"
expect_rc 1 "--python that does not exist"
expect_grep "--python $work/no/python: no executable file there" "--python names the path"
set +e; PATH=/nonexistent "$MALLARD" debug "$work/fails" >"$work/out" 2>&1; rc=$?; set -e
expect_rc 1 "no python3"
expect_grep "needs a Python 3 interpreter" "no python3: says what is missing"
cp "$SRC/tests/e2e/connectors/ops/connector.c" "$work/fails/extra.c"
debug fails
expect_rc 1 "both kinds"
expect_grep "holds both a Python connector (connector.py) and a C connector (extra.c)" "both kinds named"
rm "$work/fails/extra.c"
# schema validation: the same messages as for C connectors
py badschema <<'EOF'
from fivetran_connector_sdk import Connector, Operations as op
def schema(configuration):
    return [{"table": "t", "primary_key": ["id"], "columns": {"amount": "DECIMAL"}}]
def update(configuration, state):
    pass
connector = Connector(update=update, schema=schema)
EOF
debug badschema
expect_rc 1 "DECIMAL without precision"
expect_grep "DECIMAL" "schema error names the type"

# ---- a 50 MB row -------------------------------------------------------------------------
py big <<'EOF'
from fivetran_connector_sdk import Connector, Operations as op
def update(configuration, state):
    op.upsert("big", {"id": 1, "payload": "x" * (50 << 20)})
    op.upsert("big", {"id": 2, "payload": "small"})
    op.checkpoint({"done": True})
connector = Connector(update=update)
EOF
debug big
expect_rc 0 "a 50 MB row"
expect_q big "SELECT id, length(payload) AS n FROM tester.big ORDER BY id" '{"id":1,"n":52428800}
{"id":2,"n":5}' "a 50 MB row lands whole"
# ---- a row is what it was at the call; big rows, threads, processes it starts
py robust <<'EOF'
import datetime, enum, os, sys, threading
from fivetran_connector_sdk import Connector, Operations as op

class Tables(str, enum.Enum):
    EVENTS = "events"

def update(configuration, state):
    mode = configuration.get("mode")
    if mode == "mutate":
        tags, row = [], {}
        for i in range(3):
            tags.append(i)
            row["id"] = i
            row["tags"] = tags
            op.upsert("mut", row)          # the same dict and list, changed after each call
    elif mode == "big":
        for i in range(120):
            op.upsert("big", {"id": i, "blob": "x" * (1 << 20)})
    elif mode == "threads":
        def work(t):
            for i in range(2000):
                op.upsert("thr", {"id": t * 10000 + i, "t": t})
        ts = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        [t.start() for t in ts]
        [t.join() for t in ts]
    elif mode == "enum":
        op.upsert(Tables.EVENTS, {"id": 1, 2: "int key"})
    elif mode == "badcol":
        op.upsert("bc", {"id": 1, "": datetime.date(2024, 1, 1)})
    elif mode == "surrogate":
        op.upsert("sur", {"id": 1, "s": "a\ud800b"})
    elif mode == "grandchild":
        os.system("sleep 30 &")
        os._exit(3)
    op.checkpoint({"mode": mode})

def schema(configuration):
    if configuration.get("mode") == "reject":
        return [{"table": "t", "columns": {"x": "NOT_A_TYPE"}}]
    return []

connector = Connector(update=update, schema=schema)
EOF
robust() { echo "{\"mode\": \"$1\"}" >"$work/robust/configuration.json"; debug robust "${@:2}"; }
robust mutate
expect_rc 0 "a dict and list changed after the call"
expect_q robust "SELECT id, tags FROM tester.mut ORDER BY id" '{"id":0,"tags":[0]}
{"id":1,"tags":[0,1]}
{"id":2,"tags":[0,1,2]}' "each row is what it was at its call"
robust big
expect_rc 0 "120 rows of 1 MB"
expect_q robust "SELECT count(*) AS c, sum(length(blob)) AS n FROM tester.big" '{"c":120,"n":125829120}' "big rows land whole"
robust threads
expect_rc 0 "operations from 8 threads"
expect_q robust "SELECT count(*) AS c, count(DISTINCT t) AS t FROM tester.thr" '{"c":16000,"t":8}' "every thread's rows, none lost"
robust enum
expect_rc 0 "a str enum as table name, an int key"
expect_q robust "SELECT id, \"2\" AS k FROM tester.events" '{"id":1,"k":"int key"}' "the enum's text is the table, the key its str"
robust badcol
expect_rc 1 "a tagged value under an empty column name"
grep -q "malformed" "$work/out" && fail "a value error is reported as such, not as a malformed batch"
robust surrogate
expect_rc 1 "a lone surrogate"
expect_grep "not valid UTF-8 (a lone surrogate" "a lone surrogate is named"
t0=$SECONDS
robust grandchild
expect_rc 1 "a connector that exits and leaves a process holding its pipe"
[ $((SECONDS - t0)) -lt 10 ] || fail "the run ends when the connector exits, not when what it started does"
expect_grep "exited with status 3" "the exit status is named"
rm -f "$work/robust/files/update_ran"
robust reject
expect_rc 1 "a schema mallard rejects"
[ ! -e "$work/robust/files/state.json" ] || [ "$(cat "$work/robust/files/state.json")" != '{"mode":"reject"}' ] ||
  fail "update() never runs when the schema is rejected"
(cd "$work" && mkdir -p relpy/bin && ln -sf "$PY" relpy/bin/python && "$MALLARD" debug robust --python relpy/bin/python >"$work/out" 2>&1) ||
  true
grep -q "could not be started" "$work/out" && fail "a relative --python path works"

# ---- the interpreter: $VIRTUAL_ENV/bin/python when a virtual environment is active
mkdir -p "$work/venv/bin"
ln -s "$PY" "$work/venv/bin/python"
VIRTUAL_ENV="$work/venv" debug styles
expect_rc 0 "a virtual environment's python"
expect_grep "running connector.py with $work/venv/bin/python" "\$VIRTUAL_ENV/bin/python is used"

# ---- installed: cmake --install carries the SDK module, and the installed
# mallard finds it beside itself
if [ -n "${BUILD:-}" ] && command -v cmake >/dev/null; then
  cmake --install "$BUILD" --prefix "$work/inst" >/dev/null
  [ "$("$work/inst/bin/mallard" debug --sdk-path)" = "$work/inst/bin/../share/mallard/python" ] ||
    fail "the installed mallard uses its own SDK module: $("$work/inst/bin/mallard" debug --sdk-path)"
  set +e; "$work/inst/bin/mallard" debug "$work/styles" >"$work/out" 2>&1; rc=$?; set -e
  expect_rc 0 "the installed mallard runs a Python connector"
  expect_grep "SDK module from $work/inst/bin/../share/mallard/python" "with the installed module"
else
  echo "SKIP: the installed tree (run through ctest, which sets BUILD)"
fi
echo "PASS test_debug_python"
