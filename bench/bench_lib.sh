# Sourced by bench/compression.sh and bench/unnest.sh: the build they
# measure (MALLARD_BUILD_DIR, else build/) and a scratch directory.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MALLARD_BUILD_DIR:-$ROOT/build}
MALLARD=$BUILD/mallard GEN=$BUILD/mallard-gen

# bench_ready SCRIPT TMPNAME: stops, saying what to do, unless mallard,
# mallard-gen and /usr/bin/time are there; then WORK is a new directory
# ($TMPDIR/TMPNAME.XXXXXX) removed at exit.
bench_ready() {
  [[ -x $MALLARD && -x $GEN ]] || { echo "$1: no $MALLARD or $GEN: build first (bash scripts/build.sh)" >&2; exit 1; }
  [[ -x /usr/bin/time ]] || { echo "$1: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
}
