#!/usr/bin/env bash
# The container image's content, without a container engine: scripts/image.sh
# builds it, umoci unpacks its OCI layout (checking every layer's digest), and
# the unpacked file system answers spec, check and write of the seed example
# under chroot, with the image's environment, /proc mounted and the host
# directory bind-mounted on /local in a mount namespace of their own: the
# answers are the host binary's.  Needs root (debootstrap, chroot, mounts).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/image_lib.sh"

command -v umoci >/dev/null || { fail "umoci not found (apt-get install umoci; scripts/deps.sh installs it)"; finish; }
image_build

# --- the OCI layout: the config the platform reads ----------------------------------------
skopeo --insecure-policy inspect --config "oci:$OCI:$TAG" > "$WORK/config.json"
check_image_config "$WORK/config.json" config
umoci unpack --image "$OCI:$TAG" "$WORK/bundle" > "$WORK/umoci.log" 2>&1 || { cat "$WORK/umoci.log" >&2; fail "umoci unpack"; finish; }
root="$WORK/bundle/rootfs"
assert_eq "rootfs: mallard installed" "yes" "$([ -x "$root/usr/local/bin/mallard" ] && echo yes || echo no)"
assert_eq "rootfs: /local exists" "yes" "$([ -d "$root/local" ] && echo yes || echo no)"
assert_eq "rootfs: a shell for the platform's wrapper" "yes" "$([ -x "$root/bin/sh" ] && echo yes || echo no)"
assert_eq "rootfs: no documentation" "" "$(ls -A "$root/usr/share/doc")"
assert_eq "rootfs: no apt lists" "" "$(ls -A "$root/var/lib/apt/lists")"
echo "image size: $SIZE bytes"

# The image's environment, as the runtime would set it.
mapfile -t image_env < <(python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["config"]["Env"]))' "$WORK/config.json")
mkdir -p "$root/config" "$WORK/host"
cp "$SEED/config.json" "$SEED/configured_catalog.json" "$root/config/"
printf '{"destination_path":"/tmp/elsewhere.duckdb"}\n' > "$root/config/elsewhere.json"

# in_image [VAR=VALUE...] -- CMD...: CMD in the image's file system, its own mount and
# pid namespaces, /proc mounted, $WORK/host on /local; stdin passes through.
in_image() {
  local extra=()
  while [ "$1" != "--" ]; do extra+=("$1"); shift; done
  shift
  unshare --mount --pid --fork --propagation private \
    sh -c 'mount --bind "$1" "$2/local" && mount -t proc proc "$2/proc" && root=$2 && shift 2 && exec chroot "$root" "$@"' \
    sh "$WORK/host" "$root" env -i "${image_env[@]}" "${extra[@]}" "$@"
}

# --- mallard --version: the CMake project version and the commit ---------------------------
v=$(in_image -- mallard --version)
assert_contains "version in the image" "mallard $TAG (DuckDB v" "$v"
assert_contains "commit in the image" "commit $COMMIT)" "$v"

# --- spec: the host binary's, byte for byte -------------------------------------------------
assert_eq "spec: as the host binary's" "$("$MALLARD" spec)" "$(in_image -- mallard spec)"

# --- check: SUCCEEDED, and nothing left on /local --------------------------------------------
out=$(in_image -- mallard check --config /config/config.json)
assert_contains "check: SUCCEEDED" '"status":"SUCCEEDED"' "$out"
assert_contains "check: names the path in the container" "database file /local/destination.duckdb is writable" "$out"
assert_eq "check: left nothing on the host" "(empty)" "$(listing "$WORK/host")"

# --- destination_path outside /local: an error in the container ------------------------------
out=$(in_image -- mallard check --config /config/elsewhere.json)
assert_contains "outside /local: check FAILED" '"status":"FAILED"' "$out"
assert_contains "outside /local: says why" 'is not under /local: in the container only /local is kept' "$out"
# the same decision without MALLARD_CONTAINER: /local is a mount point here
out=$(in_image MALLARD_CONTAINER= -- mallard check --config /config/elsewhere.json)
assert_contains "outside /local, /local mounted: check FAILED" 'is not under /local' "$out"

# --- write: the seed example, STATE and rows as the host binary's ----------------------------
seed_reference
out=$(in_image -- mallard write --config /config/config.json --catalog /config/configured_catalog.json \
  < "$SEED/messages.jsonl")
assert_eq "write: STATE messages as the host binary's" "$REF_STATES" "$(grep '"type":"STATE"' <<< "$out")"
assert_eq "write: the database is on the host, under /local's directory" "yes" \
  "$([ -f "$WORK/host/destination.duckdb" ] && echo yes || echo no)"
assert_eq "write: rows as the host binary's" "$REF_ROWS" "$(q "$WORK/host/destination.duckdb" "$ROWS_SQL")"
assert_eq "write: two rows" "2" "$(q1 "$WORK/host/destination.duckdb" 'SELECT count(*) FROM airbyte_acceptance_table')"

# --- the platform's way in: a shell running $AIRBYTE_ENTRYPOINT --------------------------------
out=$(in_image -- sh -c 'eval "$AIRBYTE_ENTRYPOINT spec"')
assert_eq "AIRBYTE_ENTRYPOINT under sh: spec" "$("$MALLARD" spec)" "$out"

finish
