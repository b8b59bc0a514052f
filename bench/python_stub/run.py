"""bench/python.sh: runs DIR/connector.py under the stub SDK (beside this
file): schema(), then update() with the configuration DIR/configuration.json,
consuming a generator like a runner does.  Usage: python3 run.py DIR"""
import importlib.util
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
project = os.path.abspath(sys.argv[1])
sys.path[:0] = [here, project]
with open(os.path.join(project, "configuration.json")) as f:
    configuration = json.load(f)
spec = importlib.util.spec_from_file_location("connector", os.path.join(project, "connector.py"))
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
c = module.connector
if c.schema_method:
    c.schema_method(configuration)
result = c.update_method(configuration, {})
if result is not None and hasattr(result, "__next__"):
    for _ in result:
        pass
