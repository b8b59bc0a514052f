"""The child process of `mallard debug` for a Python connector.

mallard starts `python -c "<boot>" SDK_DIR` in the connector's directory
with the environment variables MALLARD_OPS_FD (a pipe to mallard: frames of
_Wire.write) and MALLARD_INPUT_FD (a pipe from mallard: one line of JSON
with "configuration" and "state", later the byte "g").  This module loads
connector.py, sends schema() as one 'S' frame, waits for "g" (mallard has
accepted the schema), runs update() (its operations travel as 'O' frames),
then sends 'D'.  A failure is one 'E' frame (JSON:
phase, summary, traceback, hint) and exit status 1.
"""

import importlib.util
import json
import os
import sys
import traceback

from . import Connector, _SyncFailed, _wire

# Import names whose Debian package is not python3-<name>.
_DEBIAN = {"yaml": "python3-yaml", "dateutil": "python3-dateutil", "bs4": "python3-bs4",
           "psycopg2": "python3-psycopg2", "MySQLdb": "python3-mysqldb", "Crypto": "python3-pycryptodome",
           "jwt": "python3-jwt", "google": None, "boto3": "python3-boto3", "requests": "python3-requests",
           "cryptography": "python3-cryptography", "pandas": "python3-pandas", "numpy": "python3-numpy",
           "dotenv": "python3-dotenv", "pymongo": "python3-pymongo", "lxml": "python3-lxml"}


_SDK_DIR = os.path.dirname(os.path.abspath(__file__))


def _send_error(phase, exc, summary=None):
    # mallard's own frames (this module calling update()) are left out: the
    # traceback starts in the connector's code
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_SDK_DIR):
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    hint = ""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".")[0]
        hint = (f"the connector needs the Python module '{top}': install it with `pip install -r requirements.txt` "
                f"in a virtual environment (mallard uses $VIRTUAL_ENV/bin/python when one is active, or "
                f"--python PATH)")
        deb = _DEBIAN.get(top)
        if deb:
            hint += f", or Debian's package: apt-get install {deb}"
    # where: the last frame in the connector's directory (its own code), else
    # the last frame outside mallard's module
    project = os.getcwd() + os.sep
    where = ""
    frames = [fr for fr in traceback.extract_tb(tb) if not fr.filename.startswith(_SDK_DIR)]
    own = [fr for fr in frames if fr.filename.startswith(project)]
    pick = (own or frames)[-1:]
    for fr in pick:
        name = fr.filename[len(project):] if fr.filename.startswith(project) else fr.filename
        where = f"{name} line {fr.lineno}"
    if summary is None:
        name = type(exc).__qualname__
        if type(exc).__module__ not in ("builtins", "__main__"):
            name = f"{type(exc).__module__}.{name}"
        summary = f"{name}: {exc}" if str(exc) else name
    body = {"phase": phase, "summary": summary, "traceback": text, "where": where, "hint": hint}
    try:
        _wire.finish_frame()  # an exception may have cut a frame short
        _wire.ops.clear()
        _wire.send(ord("E"), json.dumps(body).encode())
    except OSError:
        pass


def _load(project):
    path = os.path.join(project, "connector.py")
    spec = importlib.util.spec_from_file_location("connector", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["connector"] = module
    spec.loader.exec_module(module)
    found = getattr(module, "connector", None)
    if isinstance(found, Connector):
        return found
    others = [n for n, v in vars(module).items() if isinstance(v, Connector)]
    if len(others) == 1:
        return getattr(module, others[0])
    if others:
        raise RuntimeError(f"connector.py defines several Connector objects ({', '.join(others)}): "
                           "name the one to run `connector`")
    raise RuntimeError("connector.py has no Connector object: add `connector = Connector(update=update, "
                       "schema=schema)` at module level")


def _read_input(f):
    """The first line mallard writes: {"configuration": ..., "state": ...}."""
    return json.loads(f.readline().decode("utf-8"))


def main():
    project = os.getcwd()
    # the connector's own modules and packages import as in the SDK: its
    # directory right after mallard's SDK, which wins over any other copy
    sdk_dir = sys.path[0] if sys.path and sys.path[0] != "" else None
    sys.path[:] = [p for p in sys.path if p not in ("", project)]
    sys.path.insert(0 if sdk_dir is None else 1, project)
    control = os.fdopen(int(os.environ["MALLARD_INPUT_FD"]), "rb", buffering=0)
    inp = _read_input(control)
    configuration, state = inp["configuration"], inp["state"]
    phase = "load"
    try:
        connector = _load(project)
        phase = "schema"
        tables = connector.schema_method(configuration) if connector.schema_method else []
        try:
            text = json.dumps(tables if tables is not None else [])
        except (TypeError, ValueError) as e:
            raise TypeError(f"schema() must return a list of tables as JSON-like values: {e}") from None
        with _wire.lock:
            _wire.flush()
            _wire.send(ord("S"), text.encode())
        # update() runs only once mallard has accepted the schema and opened
        # the warehouse: it says so with one byte (end of file: it did not)
        if control.read(1) != b"g":
            os._exit(0)
        control.close()
        phase = "update"
        result = connector.update_method(configuration, state)
        if result is not None and hasattr(result, "__next__"):
            for _ in result:
                pass
        with _wire.lock:
            _wire.flush()
            _wire.send(ord("D"), b"")
    except _SyncFailed:
        sys.exit(1)
    except SystemExit as e:
        _send_error(phase, e, f"sys.exit({e.code!r}) was called")
        sys.exit(1)
    except BaseException as e:  # noqa: B902 -- every failure must reach mallard
        _send_error(phase, e)
        sys.exit(1)
