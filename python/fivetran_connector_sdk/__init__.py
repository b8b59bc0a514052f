"""mallard's implementation of the `fivetran_connector_sdk` Python module.

Connectors written for the Fivetran Connector SDK import this module
unchanged; `mallard debug` runs them in a child process and applies their
operations to files/warehouse.db with the same engine as C connectors.

Public API (the SDK's, 2.x): Connector, Operations, Logging.  Everything
whose name starts with an underscore is mallard's own and may change.

How operations travel (docs/sdk.md, "Python connectors"): each call appends
a tuple to a batch; a batch is sent to mallard as one frame on the pipe
whose descriptor is in $MALLARD_OPS_FD, serialized with the standard
library's `marshal` (format version 4).  marshal is written in C inside the
interpreter: a batch of 1,000 upserts costs it about a third of what building
the rows costs the connector, where json.dumps costs three times more and a
per-value struct.pack more still.  Values marshal cannot carry exactly
(datetime, Decimal, dict, list, numpy scalars, subclasses ...) are turned into
tagged tuples by _convert before the batch is sent; mallard reads the frames
with its own small marshal reader (src/sdk/ml_marshal.c).
"""

import datetime as _dt
import collections.abc as _abc
import decimal as _decimal
import enum as _enum
import json as _json
import marshal as _marshal
import os as _os
import struct as _struct
import sys as _sys
from itertools import chain as _chain

__all__ = ["Connector", "Operations", "Logging"]
__version__ = "2.0.0+mallard"

# ---- the wire ---------------------------------------------------------------------------

# Operation codes, first element of every operation tuple (ml_pyrun.c).
_UPSERT, _UPDATE, _DELETE, _TRUNCATE, _CHECKPOINT, _LOG, _FAIL = 1, 2, 3, 4, 5, 6, 7
# Tags of converted values: (tag, text) tuples (a tuple never reaches the
# wire as a user value: _PLAIN excludes it, _convert turns it into JSON).
_T_JSON, _T_NAIVE_DT, _T_UTC_DT, _T_DATE, _T_TIME, _T_DECIMAL = 1, 2, 3, 4, 5, 6
# Exact types marshal writes as mallard reads them.
_PLAIN = frozenset((str, int, float, bool, type(None), bytes))
# Log levels as mallard numbers them (mallard.h: FINE, INFO, WARNING, SEVERE).
_FINE, _INFO, _WARNING, _SEVERE = 0, 1, 2, 3

_MAX_BATCH_OPS = 1024
_MAX_BATCH_BYTES = 8 << 20


class _Wire:
    """The batch being filled and the pipe it goes to (one per process)."""

    def __init__(self):
        self.ops = []
        self.rows = []  # the dicts of the operations in ops, for the type check
        self.limit = _MAX_BATCH_OPS
        fd = _os.environ.get("MALLARD_OPS_FD")
        self.fd = int(fd) if fd else None

    def send(self, kind, payload):
        if self.fd is None:
            raise RuntimeError(
                "fivetran_connector_sdk (mallard): operations only work while mallard runs the connector: "
                "run `mallard debug` in the connector's directory, or `python3 connector.py` with "
                "connector.debug() at its end")
        head = _struct.pack("<IB", len(payload) + 1, kind)
        view = memoryview(head + payload) if len(payload) < 65536 else None
        if view is None:
            _write_all(self.fd, memoryview(head))
            _write_all(self.fd, memoryview(payload))
        else:
            _write_all(self.fd, view)

    def flush(self):
        ops = self.ops
        if not ops:
            return
        rows = self.rows
        self.ops = []
        self.rows = []
        # One pass at C speed over every value: anything but the exact plain
        # types sends the batch through _convert_op.
        if not _PLAIN.issuperset(map(type, _chain.from_iterable(map(dict.values, rows)))):
            ops = [_convert_op(o) for o in ops]
        data = _marshal.dumps(ops, 4)
        # Batches of big rows get fewer operations, so that neither process
        # holds more than about _MAX_BATCH_BYTES of serialized rows at once.
        if len(data) > _MAX_BATCH_BYTES:
            self.limit = max(1, self.limit * _MAX_BATCH_BYTES // len(data))
        elif self.limit < _MAX_BATCH_OPS:
            self.limit = min(_MAX_BATCH_OPS, self.limit * 2)
        self.send(ord("O"), data)


def _write_all(fd, view):
    while view:
        n = _os.write(fd, view)
        view = view[n:]


_wire = _Wire()
_getframe = _sys._getframe


def _caller(depth):
    """(file, line) of the connector code that called the SDK."""
    f = _getframe(depth + 1)
    return f.f_code.co_filename, f.f_lineno


# ---- value conversion ---------------------------------------------------------------------

def _json_default(v):
    if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, _decimal.Decimal):
        return str(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        import base64
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, (set, frozenset, tuple)):
        return list(v)
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        return v.item()
    return str(v)


def _convert_value(v):
    t = type(v)
    if t in _PLAIN:
        return v
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, _dt.datetime):
        if v.tzinfo is not None and v.utcoffset() is not None:
            u = v.astimezone(_dt.timezone.utc).replace(tzinfo=None)
            return (_T_UTC_DT, u.isoformat() + "Z")
        return (_T_NAIVE_DT, v.replace(tzinfo=None).isoformat())
    if isinstance(v, _dt.date):
        return (_T_DATE, v.isoformat())
    if isinstance(v, _dt.time):
        return (_T_TIME, v.replace(tzinfo=None).isoformat())
    if isinstance(v, _decimal.Decimal):
        return (_T_DECIMAL, str(v)) if v.is_finite() else str(v)
    if isinstance(v, (dict, list, tuple, set, frozenset)):
        return (_T_JSON, _to_json(v))
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    item = getattr(v, "item", None)  # numpy and pandas scalars: their Python value
    if callable(item) and type(v).__module__.split(".")[0] in ("numpy", "pandas"):
        try:
            return _convert_value(item())
        except (TypeError, ValueError):
            pass
    return str(v)


def _to_json(v):
    try:
        return _json.dumps(v, default=_json_default, ensure_ascii=False, allow_nan=False)
    except ValueError:  # NaN and infinities have no JSON form: null, as JSON writers do
        return _json.dumps(_finite(v), default=_json_default, ensure_ascii=False, allow_nan=False)


def _finite(v):
    if isinstance(v, float):
        return v if v - v == 0 else None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_finite(x) for x in v]
    return v


def _convert_op(o):
    d = o[2]
    if type(d) is not dict:
        return o
    return (o[0], o[1], {str(k): _convert_value(v) for k, v in d.items()}, o[3], o[4])


class _SyncFailed(SystemExit):
    """Raised by Operations.error after mallard was told: ends the process."""


# ---- Operations ---------------------------------------------------------------------------

def _check_table(table, what):
    if not isinstance(table, str):
        raise TypeError(f"{what}: the table name must be a string, got {type(table).__name__}")
    if not table.strip():
        raise ValueError(f"{what}: the table name must be a non-empty string")


# Table names already checked: the hot path tests membership only.
_tables = set()


def _checked(table, data, what, arg):
    """The slow path of upsert/update/delete: checks the table name (once per
    name) and the row; a mapping other than a dict is copied into one."""
    _check_table(table, what)
    _tables.add(table)
    if type(data) is dict:
        return data
    if isinstance(data, _abc.Mapping):
        return {k: v for k, v in data.items()}
    raise TypeError(f"{what}: `{arg}` must be a dict of column name to value, not {type(data).__name__}")


class Operations:
    """The operations of the SDK.  Each takes effect in order; calling them
    plainly and `yield`ing their result are the same (both styles occur).

    upsert, update and delete are the hot path (a connector calls them a
    million times a second): a row is checked with two tests, copied (the
    caller may reuse its dict) and appended with where it was sent from;
    what costs more happens once per batch in _Wire.flush."""

    @staticmethod
    def upsert(table, data, *, file=None):
        if type(data) is not dict or table not in _tables:
            data = _checked(table, data, "upsert", "data")
        f = _getframe(1)
        w = _wire
        row = data.copy()
        w.rows.append(row)
        w.ops.append((_UPSERT, table, row, f.f_code.co_filename, f.f_lineno))
        if len(w.ops) >= w.limit:
            w.flush()

    @staticmethod
    def update(table, modified, *, file=None):
        if type(modified) is not dict or table not in _tables:
            modified = _checked(table, modified, "update", "modified")
        f = _getframe(1)
        w = _wire
        row = modified.copy()
        w.rows.append(row)
        w.ops.append((_UPDATE, table, row, f.f_code.co_filename, f.f_lineno))
        if len(w.ops) >= w.limit:
            w.flush()

    @staticmethod
    def delete(table, keys):
        if type(keys) is not dict or table not in _tables:
            keys = _checked(table, keys, "delete", "keys")
        f = _getframe(1)
        w = _wire
        row = keys.copy()
        w.rows.append(row)
        w.ops.append((_DELETE, table, row, f.f_code.co_filename, f.f_lineno))
        if len(w.ops) >= w.limit:
            w.flush()

    @staticmethod
    def truncate(table):
        _check_table(table, "truncate")
        file, line = _caller(1)
        _wire.ops.append((_TRUNCATE, table, None, file, line))
        _wire.flush()

    @staticmethod
    def checkpoint(state):
        if not isinstance(state, dict):
            raise TypeError(f"checkpoint: `state` must be a dict, not {type(state).__name__}")
        try:
            text = _json.dumps(state, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise TypeError(f"checkpoint: the state must be JSON-serializable: {e}") from None
        file, line = _caller(1)
        _wire.ops.append((_CHECKPOINT, None, text, file, line))
        _wire.flush()

    @staticmethod
    def warning(message):
        Logging._log(_WARNING, message)

    @staticmethod
    def error(message, trace=None):
        """Ends the sync as failed with this message."""
        file, line = _caller(1)
        text = str(message)
        if trace:
            text += "\n" + str(trace)
        _wire.ops.append((_FAIL, None, text, file, line))
        _wire.flush()
        raise _SyncFailed(1)


# ---- Logging ---------------------------------------------------------------------------------

class Logging:
    """Log lines go to mallard's log, in order with the operations."""

    class Level(_enum.IntEnum):
        DEBUG = 1
        FINE = 2
        INFO = 3
        WARNING = 4
        ERROR = 5
        SEVERE = 6
        CRITICAL = 7

    # A local run shows every level, as `fivetran debug` does.
    LOG_LEVEL = Level.DEBUG

    @staticmethod
    def _log(level, message, exception=None):
        text = str(message)
        if exception is not None:
            import traceback
            if isinstance(exception, BaseException):
                tb = "".join(traceback.format_exception(type(exception), exception, exception.__traceback__))
            else:
                tb = str(exception)
            text = text + "\n" + tb.rstrip("\n")
        if _wire.fd is None:
            names = {_FINE: "FINE", _INFO: "INFO", _WARNING: "WARNING", _SEVERE: "SEVERE"}
            print(f"{names[level]} {text}", file=_sys.stderr)
            return
        file, line = _caller(2)
        _wire.ops.append((_LOG, level, text, file, line))
        _wire.flush()

    @staticmethod
    def debug(message):
        Logging._log(_FINE, message)

    @staticmethod
    def fine(message):
        Logging._log(_FINE, message)

    @staticmethod
    def info(message):
        Logging._log(_INFO, message)

    @staticmethod
    def warning(message):
        Logging._log(_WARNING, message)

    @staticmethod
    def error(message, exception=None):
        Logging._log(_SEVERE, message, exception)

    @staticmethod
    def severe(message, exception=None):
        Logging._log(_SEVERE, message, exception)

    @staticmethod
    def critical(message, exception=None):
        Logging._log(_SEVERE, message, exception)


# ---- Connector --------------------------------------------------------------------------------

class Connector:
    """A connector: update(configuration, state), optionally schema(configuration)."""

    def __init__(self, update, schema=None, configuration_form=None):
        if not callable(update):
            raise TypeError("Connector: `update` must be a function update(configuration, state)")
        if schema is not None and not callable(schema):
            raise TypeError("Connector: `schema` must be a function schema(configuration)")
        self.update_method = update
        self.schema_method = schema
        self.configuration_form = configuration_form

    def debug(self, project_path=None, configuration=None, state=None, naming=None, log_level=None):
        """Runs the local test through mallard: `mallard debug` on the
        directory of the connector's file, as `fivetran debug` would."""
        if _wire.fd is not None:
            return  # already running under mallard
        from . import _launch
        raise SystemExit(_launch.debug(project_path, configuration, state))
