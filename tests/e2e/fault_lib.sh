# Helpers for the end-to-end tests that kill mallard or fault its
# surroundings (sourced after lib.sh, not run by ctest).  At exit the
# background mallard in $BG is killed, fd 7 (a pipe feeding it) is closed
# and the mounts try_mount made are undone, newest first, before $WORK goes:
# a test stopped half way leaves no process or mount behind.
MOUNTS=()
BG=""
cleanup() {
  if [ -n "$BG" ]; then kill -9 "$BG" 2>/dev/null || true; wait "$BG" 2>/dev/null || true; fi
  exec 7>&- 2>/dev/null || true
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
# try_mount DIR ARGS...: mount, remember it for the cleanup; fails quietly
try_mount() {
  local dir=$1; shift
  mount "$@" "$dir" 2>/dev/null || return 1
  MOUNTS+=("$dir")
}
# ro_bind DIR: DIR becomes a read-only view of itself
ro_bind() {
  try_mount "$1" --bind "$1" || return 1
  mount -o remount,bind,ro "$1" 2>/dev/null
}
# Parts that cannot run here (mounting needs root) count neither as passed
# nor as failed; known bugs are reported without failing the test.
skip() { echo "SKIP: $*"; }
known_bug() { echo "KNOWN BUG: $*"; }
