"""mallard's implementation of the `fivetran_connector_sdk` Python module.

Connectors written for the Fivetran Connector SDK import this module
unchanged; `mallard debug` runs them in a child process and applies their
operations to files/warehouse.db with the same engine as C connectors.

Public API (the SDK's, 2.x): Connector, Operations, Logging.  Everything
whose name starts with an underscore is mallard's own and may change.

How operations travel (docs/sdk.md, "Python connectors"): each call appends
a tuple to a batch; a batch is sent to mallard as frames on the pipe whose
descriptor is in $MALLARD_OPS_FD, serialized with the standard library's
`marshal` (format version 4).  marshal is written in C inside the
interpreter: a batch of 1,000 upserts costs it about a third of what building
the rows costs the connector, where json.dumps costs three times more and a
per-value struct.pack more still.  Values marshal cannot carry exactly
(datetime, Decimal, dict, list, numpy scalars, subclasses ...) are turned into
tagged tuples by _converted at the call; mallard reads the frames
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
import threading as _threading

__all__ = ["Connector", "Operations", "Logging"]
__version__ = "2.0.0+mallard"

# ---- the wire ---------------------------------------------------------------------------

# Operation codes, first element of every operation tuple (ml_pyrun.c).
_UPSERT, _UPDATE, _DELETE, _TRUNCATE, _CHECKPOINT, _LOG, _FAIL = 1, 2, 3, 4, 5, 6, 7
# Tags of converted values: (tag, text) tuples (a tuple never reaches the
# wire as a user value: _PLAIN excludes it, _converted turns it into JSON).
_T_JSON, _T_NAIVE_DT, _T_UTC_DT, _T_DATE, _T_TIME, _T_DECIMAL = 1, 2, 3, 4, 5, 6
# Exact types marshal writes as mallard reads them.
_PLAIN = frozenset((str, int, float, bool, type(None), bytes))
# Log levels as mallard numbers them (mallard.h: FINE, INFO, WARNING, SEVERE).
_FINE, _INFO, _WARNING, _SEVERE = 0, 1, 2, 3

_MAX_BATCH_OPS = 1024
# The first batches are small and grow while their frames stay small, so
# that a connector of big rows never holds many of them.
_FIRST_BATCH_OPS = 64
# A frame above this is split (one operation per frame at least); mallard
# refuses frames over 1 GB.
_MAX_FRAME_BYTES = 16 << 20
_SMALL_FRAME_BYTES = 4 << 20


class _Wire:
    """The batch being filled and the pipe it goes to (one per process).
    A lock keeps operations of a connector's threads whole and in order."""

    def __init__(self):
        self.ops = []
        self.limit = _FIRST_BATCH_OPS
        self.lock = _threading.Lock()
        self.unsent = None  # the rest of a frame whose write was interrupted
        fd = _os.environ.get("MALLARD_OPS_FD")
        self.fd = int(fd) if fd else None

    def write(self, data):
        """Writes whole frames; an exception (a signal handler's) leaves the
        unwritten rest in self.unsent, for finish_frame."""
        if self.fd is None:
            raise RuntimeError(
                "fivetran_connector_sdk (mallard): operations only work while mallard runs the connector: "
                "run `mallard debug` in the connector's directory, or `python3 connector.py` with "
                "connector.debug() at its end")
        view = memoryview(data)
        self.unsent = view
        while view:
            n = _os.write(self.fd, view)
            view = view[n:]
            self.unsent = view
        self.unsent = None

    def finish_frame(self):
        """Completes a frame an exception interrupted, so that what follows
        (an error report) starts on a frame boundary."""
        if self.unsent is not None and self.fd is not None:
            view, self.unsent = self.unsent, None
            while view:
                n = _os.write(self.fd, view)
                view = view[n:]

    def send(self, kind, payload):
        self.write(_struct.pack("<IB", len(payload) + 1, kind) + payload)

    def flush(self):
        """Sends the batch (the caller holds the lock)."""
        ops = self.ops
        if not ops:
            return
        self.ops = []
        frames = []
        _encode(ops, frames)
        biggest = max(len(f) for f in frames)
        if biggest > _SMALL_FRAME_BYTES:
            self.limit = max(1, len(ops) * _SMALL_FRAME_BYTES // biggest // len(frames) or 1)
        elif self.limit < _MAX_BATCH_OPS:
            self.limit = min(_MAX_BATCH_OPS, self.limit * 2)
        self.write(b"".join(frames) if len(frames) > 1 else frames[0])


def _encode(ops, frames):
    data = _marshal.dumps(ops, 4)
    if len(data) > _MAX_FRAME_BYTES and len(ops) > 1:
        half = len(ops) // 2
        _encode(ops[:half], frames)
        _encode(ops[half:], frames)
    else:
        frames.append(_struct.pack("<IB", len(data) + 1, ord("O")) + data)


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


def _converted(data):
    """A row with a value marshal cannot carry exactly, or one the caller could
    still change (a list, a dict, a bytearray): converted now, at the call."""
    return {k if type(k) is str else str(k): _convert_value(v) for k, v in data.items()}


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
    name; a str subclass such as a StrEnum becomes its str) and the row (a
    mapping other than a dict is copied into one, keys that are not str
    become their str)."""
    _check_table(table, what)
    if type(table) is not str:
        table = str.__str__(table)
    _tables.add(table)
    if not isinstance(data, _abc.Mapping):
        raise TypeError(f"{what}: `{arg}` must be a dict of column name to value, not {type(data).__name__}")
    if type(data) is not dict or not all(type(k) is str for k in data):
        data = {k if type(k) is str else str(k): v for k, v in data.items()}
    return table, data


class Operations:
    """The operations of the SDK.  Each takes effect in order; calling them
    plainly and `yield`ing their result are the same (both styles occur).

    upsert, update and delete are the hot path (a connector calls them a
    million times a second): a row is checked with two tests and one scan of
    its value types at C speed, copied (the caller may reuse or change its
    dict: a row is what it was at the call) and appended with where it was
    sent from; serializing happens once per batch in _Wire.flush.  The three
    are written out rather than sharing a helper: a call more per row costs
    about a tenth of what the SDK adds to a row."""

    @staticmethod
    def upsert(table, data, *, file=None):
        if type(data) is not dict or table not in _tables:
            table, data = _checked(table, data, "upsert", "data")
        row = data.copy() if _PLAIN.issuperset(map(type, data.values())) else _converted(data)
        f = _getframe(1)
        w = _wire
        with w.lock:
            w.ops.append((_UPSERT, table, row, f.f_code.co_filename, f.f_lineno))
            if len(w.ops) >= w.limit:
                w.flush()

    @staticmethod
    def update(table, modified, *, file=None):
        if type(modified) is not dict or table not in _tables:
            table, modified = _checked(table, modified, "update", "modified")
        row = modified.copy() if _PLAIN.issuperset(map(type, modified.values())) else _converted(modified)
        f = _getframe(1)
        w = _wire
        with w.lock:
            w.ops.append((_UPDATE, table, row, f.f_code.co_filename, f.f_lineno))
            if len(w.ops) >= w.limit:
                w.flush()

    @staticmethod
    def delete(table, keys):
        if type(keys) is not dict or table not in _tables:
            table, keys = _checked(table, keys, "delete", "keys")
        row = keys.copy() if _PLAIN.issuperset(map(type, keys.values())) else _converted(keys)
        f = _getframe(1)
        w = _wire
        with w.lock:
            w.ops.append((_DELETE, table, row, f.f_code.co_filename, f.f_lineno))
            if len(w.ops) >= w.limit:
                w.flush()

    @staticmethod
    def truncate(table):
        _check_table(table, "truncate")
        file, line = _caller(1)
        with _wire.lock:
            _wire.ops.append((_TRUNCATE, str.__str__(table), None, file, line))
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
        with _wire.lock:
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
        with _wire.lock:
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
        with _wire.lock:
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
