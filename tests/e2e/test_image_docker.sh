#!/usr/bin/env bash
# The image under a real Docker engine, as the Airbyte platform runs it: a
# dockerd of this test's own (Debian's docker.io, vfs storage driver, no
# network, its data under the test's temporary directory) loads the
# docker-archive that scripts/image.sh printed, and `docker run -i --network
# none -v HOST_DIR:/local IMAGE spec|check|write` answers as the host binary
# does; the rows are checked afterwards.  Where dockerd cannot be had or
# started, the test says which and why and exits 77 (Skipped in ctest).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/image_lib.sh"

[ "$(id -u)" -eq 0 ] || skip_test "dockerd needs root: run the tests as root"
command -v dockerd >/dev/null || skip_test "dockerd is not installed (apt-get install docker.io; scripts/deps.sh installs it)"
# the client that comes with that dockerd, else whichever is on PATH
docker_bin=/usr/bin/docker
[ -x "$docker_bin" ] || docker_bin=$(command -v docker || true)
[ -n "$docker_bin" ] || skip_test "no docker client (apt-get install docker.io)"

image_build

# --- a dockerd of our own -----------------------------------------------------------------
# (short paths: containerd's socket lives under --exec-root, and a unix socket
# path is limited to 107 bytes)
D=$(mktemp -d /tmp/mallard-dockerd.XXXXXX)
DOCKERD_PID=
stop_dockerd() {
  if [ -n "$DOCKERD_PID" ]; then
    kill "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$DOCKERD_PID" 2>/dev/null || true
    wait "$DOCKERD_PID" 2>/dev/null || true
  fi
  # what the engine may still have mounted under its directories
  { grep -o " $D/[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$D" "$WORK"
}
trap stop_dockerd EXIT
dockerd --storage-driver vfs --iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false \
  --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/pid" --host "unix://$D/sock" > "$D/log" 2>&1 &
DOCKERD_PID=$!
docker() { "$docker_bin" --host "unix://$D/sock" "$@"; }
up=no
for _ in $(seq 1 150); do
  if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then break; fi
  if docker version >/dev/null 2>&1; then up=yes; break; fi
  sleep 0.2
done
if [ "$up" != yes ]; then
  why=$(grep -iE 'level=(fatal|error)|failed' "$D/log" | tail -n 3)
  skip_test "dockerd did not start on this machine (vfs storage driver, no network): ${why:-$(tail -n 3 "$D/log")}"
fi
echo "dockerd $(docker version --format '{{.Server.Version}}') started, vfs storage driver, data under $D"

# --- docker load -----------------------------------------------------------------------------
out=$(docker load -i "$TARBALL")
assert_contains "docker load: the image by name and tag" "Loaded image: $NAME:$TAG" "$out"
IMAGE="$NAME:$TAG"
docker image inspect "$IMAGE" --format '{{json .}}' > "$WORK/inspect.json"
assert_eq "docker: image id is the config digest image.sh reported" "\"$ID\"" "$(json_get "$WORK/inspect.json" "j['Id']")"
check_image_config "$WORK/inspect.json" Config

# --- docker run, as the platform does ----------------------------------------------------------
mkdir -p "$WORK/host" "$WORK/config"
cp "$SEED/config.json" "$SEED/configured_catalog.json" "$WORK/config/"
printf '{"destination_path":"/tmp/elsewhere.duckdb"}\n' > "$WORK/config/elsewhere.json"
run() { docker run --rm -i --network none -v "$WORK/host:/local" -v "$WORK/config:/config:ro" "$IMAGE" "$@"; }

assert_eq "docker run spec: as the host binary's" "$("$MALLARD" spec)" "$(run spec </dev/null)"
v=$(run --version </dev/null)
assert_contains "docker run --version: version and commit" "mallard $TAG (DuckDB v" "$v"
assert_contains "docker run --version: commit" "commit $COMMIT)" "$v"

out=$(run check --config /config/config.json </dev/null)
assert_contains "docker run check: SUCCEEDED" '"status":"SUCCEEDED"' "$out"
assert_eq "docker run check: left nothing on the host" "(empty)" "$(listing "$WORK/host")"
out=$(run check --config /config/elsewhere.json </dev/null)
assert_contains "docker run check outside /local: FAILED, says why" 'is not under /local: in the container only /local is kept' "$out"

seed_reference
out=$(run write --config /config/config.json --catalog /config/configured_catalog.json < "$SEED/messages.jsonl")
assert_eq "docker run write: STATE messages as the host binary's" "$REF_STATES" "$(grep '"type":"STATE"' <<< "$out")"
assert_eq "docker run write: rows as the host binary's" "$REF_ROWS" "$(q "$WORK/host/destination.duckdb" "$ROWS_SQL")"
assert_eq "docker run write: two rows" "2" "$(q1 "$WORK/host/destination.duckdb" 'SELECT count(*) FROM airbyte_acceptance_table')"

# the platform's wrapper: its own shell command running "$AIRBYTE_ENTRYPOINT <args>"
out=$(docker run --rm -i --network none --entrypoint sh "$IMAGE" -c 'eval "$AIRBYTE_ENTRYPOINT spec"' </dev/null)
assert_eq "docker run sh -c \$AIRBYTE_ENTRYPOINT spec" "$("$MALLARD" spec)" "$out"

# without -v, /local is the image's volume (an anonymous one)
out=$(docker run --rm -i --network none "$IMAGE" check --config /dev/stdin < "$SEED/config.json")
assert_contains "docker run check without a mount: SUCCEEDED on the volume" '"status":"SUCCEEDED"' "$out"

finish
