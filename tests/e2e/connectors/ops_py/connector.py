# The script-driven test connector of tests/e2e/connectors/ops/connector.c,
# in Python for the Fivetran SDK's API (plain calls, no yield): the same
# configuration ("script", "schema") gives the same operations, so that the
# e2e tests check Python connectors against the same expectations.
# A value is typed by its spelling (12 int, 1.5 float, true/false bool, null
# None, else str) or by col:TYPE=val, TYPE one of s l d b dec date time ndt
# utc bin json, each given as the matching Python object (~ is a space).
import datetime
import decimal
import json
import time

from fivetran_connector_sdk import Connector, Logging as log, Operations as op


def schema(configuration):
    s = configuration.get("schema")
    return json.loads(s) if s else []


def _is_int(s):
    return s.lstrip("-").isdigit()


def _is_num(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def _value(val, kind):
    val = val.replace("~", " ")
    if kind is None:
        if val == "null":
            return None
        if val in ("true", "false"):
            return val == "true"
        if _is_int(val):
            return int(val)
        if _is_num(val):
            return float(val)
        return val
    return {
        "s": str,
        "l": int,
        "d": float,
        "b": lambda v: v == "true",
        "dec": decimal.Decimal,
        "date": datetime.date.fromisoformat,
        "time": datetime.time.fromisoformat,
        "ndt": datetime.datetime.fromisoformat,
        "utc": lambda v: datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).astimezone(datetime.timezone.utc),
        "bin": lambda v: v.encode(),
        "json": json.loads,
    }[kind](val)


def _row(words):
    row = {}
    for w in words:
        if "=" not in w:
            row[w] = None
            continue
        name, val = w.split("=", 1)
        kind = None
        if ":" in name:
            name, kind = name.split(":", 1)
        row[name] = _value(val, kind)
    return row


def update(configuration, state):
    for part in configuration.get("script", "").split(";"):
        w = part.split()
        if not w:
            continue
        verb = w[0]
        if verb == "upsert":
            op.upsert(w[1], _row(w[2:]))
        elif verb == "update":
            op.update(w[1], _row(w[2:]))
        elif verb == "delete":
            op.delete(w[1], _row(w[2:]))
        elif verb == "truncate":
            op.truncate(w[1])
        elif verb == "checkpoint":
            op.checkpoint(state)
        elif verb == "showstate":
            log.info("STATE " + json.dumps(state, separators=(",", ":")))
        elif verb == "state":
            state[w[1]] = w[2].replace("~", " ")
        elif verb == "require":
            if w[1] not in configuration:
                op.error(f"configuration key '{w[1]}' is missing")
        elif verb == "fail":
            op.error(" ".join(w[1:]))
        elif verb == "log":
            {"FINE": log.fine, "WARNING": log.warning, "SEVERE": log.severe}.get(w[1], log.info)(" ".join(w[2:]))
        elif verb == "bulk":
            for i in range(int(w[2])):
                op.upsert(w[1], {"id": i, "v": i * 2, "s": f"row {i}", "f": i / 4.0})
        elif verb == "sleep":
            time.sleep(int(w[1]) / 1000)
        else:
            op.error(f"script: cannot read '{verb}'")


connector = Connector(update=update, schema=schema)
