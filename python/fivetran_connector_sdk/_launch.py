"""connector.debug(): `python3 connector.py` runs the same local test as
`mallard debug` by running mallard on the connector's directory."""

import json
import os
import shutil
import subprocess
import sys
import tempfile


def _find_mallard():
    env = os.environ.get("MALLARD_BIN")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    # installed: PREFIX/share/mallard/python/fivetran_connector_sdk -> PREFIX/bin/mallard
    # source tree: python/fivetran_connector_sdk -> build/mallard
    for rel in ("../../../../bin/mallard", "../../build/mallard"):
        cand = os.path.normpath(os.path.join(here, rel))
        if os.access(cand, os.X_OK):
            return cand
    found = shutil.which("mallard")
    if found:
        return found
    raise SystemExit("connector.debug(): cannot find the mallard binary: put it on PATH or set MALLARD_BIN")


def _project(project_path):
    if project_path:
        return os.path.abspath(project_path)
    main = sys.modules.get("__main__")
    f = getattr(main, "__file__", None)
    if f and os.path.basename(f) == "connector.py":
        return os.path.dirname(os.path.abspath(f))
    return os.getcwd()


def debug(project_path=None, configuration=None, state=None):
    cmd = [_find_mallard(), "debug", _project(project_path), "--python", sys.executable]
    tmp = None
    try:
        if configuration is not None:
            tmp = tempfile.NamedTemporaryFile("w", suffix=".json", prefix="configuration-", delete=False)
            json.dump(configuration, tmp)
            tmp.close()
            cmd += ["--configuration", tmp.name]
        if state is not None:
            cmd += ["--state", json.dumps(state)]
        sys.stdout.flush()
        return subprocess.call(cmd)
    finally:
        if tmp is not None:
            os.unlink(tmp.name)
