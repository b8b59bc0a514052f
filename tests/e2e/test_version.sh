#!/usr/bin/env bash
# mallard --version: the CMake project version (the one place it lives, which
# the container image's tag uses too), DuckDB's version and the git commit.
source "$(dirname "$0")/lib.sh"

want=$(sed -nE 's/^project\(mallard VERSION ([0-9.]+).*/\1/p' "$SRC/CMakeLists.txt")
out=$("$MALLARD" --version)
assert_contains "--version: the CMake project version" "mallard $want (" "$out"
assert_contains "--version: DuckDB's version" "DuckDB v1.4.4" "$out"
if command -v git >/dev/null && head=$(git -C "$SRC" rev-parse --short=12 HEAD 2>/dev/null); then
  assert_contains "--version: the commit built" "commit $head" "$out"
else
  assert_contains "--version: no git, commit unknown" "commit unknown)" "$out"
fi
assert_eq "version: the same as --version" "$out" "$("$MALLARD" version)"
assert_contains "--help lists --version" "--version" "$("$MALLARD" --help)"
finish
