#!/usr/bin/env bash
# Every row of the operations table of CONTRACTS.md §2 (test_debug_ops.sh),
# with the Python twin of the script-driven connector
# (tests/e2e/connectors/ops_py/connector.py, plain calls): the same
# expectations hold for a Python connector as for a C one.
OPS_KIND=py exec bash "$(dirname "$0")/test_debug_ops.sh"
