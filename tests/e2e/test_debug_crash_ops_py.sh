#!/usr/bin/env bash
# The SIGKILL crash harness of test_debug_crash_ops.sh with the same
# connector written in Python for the Fivetran SDK's API: mallard killed at
# random moments while its Python child sends every kind of operation; the
# child dies with it, and every restart resumes from state.json with the
# warehouse equal to the model.
CRASH_OPS_KIND=py exec bash "$(dirname "$0")/test_debug_crash_ops.sh"
