# Helpers for the container image's tests (test_image.sh, test_image_docker.sh);
# sourced after lib.sh.
#
# image_build: runs scripts/image.sh (which reuses an image built from the same
# sources) and sets TARBALL and, from its image.env, NAME TAG COMMIT DIGEST ID
# OCI SIZE.  skip_test REASON: prints SKIP and exits 77, which ctest shows as
# Skipped (never as Passed).
# seed_reference: loads the seed example with the binary under test ($MALLARD)
# outside any container; REF_STATES holds its STATE lines, REF_ROWS the rows.

SEED="$FIXTURES/airbyte/seed_example"
ROWS_SQL="SELECT column1, column2, column3, column4, column5, _airbyte_generation_id FROM airbyte_acceptance_table ORDER BY column1"

skip_test() {
  echo "SKIP: $*"
  exit 77
}

image_build() {
  [ "$(id -u)" -eq 0 ] || skip_test "building the image needs root (debootstrap and chroot): run the tests as root"
  # the DuckDB this build uses goes into the image
  local duckdb_root
  duckdb_root=$(sed -n 's/^DUCKDB_ROOT:PATH=//p' "$BUILD/CMakeCache.txt")
  echo "building the image (scripts/image.sh; reused when the sources have not changed)"
  if ! MALLARD_DUCKDB_DIR="$duckdb_root" bash "$SRC/scripts/image.sh" > "$WORK/image.out" 2> "$WORK/image.log"; then
    cat "$WORK/image.log" >&2
    fail "scripts/image.sh failed"
    finish || exit 1
  fi
  cat "$WORK/image.log"
  TARBALL=$(tail -n 1 "$WORK/image.out")
  assert_eq "image.sh: its last line is the docker-archive" "yes" "$([ -f "$TARBALL" ] && echo yes || echo no)"
  local env_file
  env_file="$(dirname "$TARBALL")/image.env"
  NAME=$(sed -n 's/^NAME=//p' "$env_file")
  TAG=$(sed -n 's/^TAG=//p' "$env_file")
  COMMIT=$(sed -n 's/^COMMIT=//p' "$env_file")
  DIGEST=$(sed -n 's/^DIGEST=//p' "$env_file")
  ID=$(sed -n 's/^ID=//p' "$env_file")
  OCI=$(sed -n 's/^OCI=//p' "$env_file")
  SIZE=$(sed -n 's/^SIZE=//p' "$env_file")
  local want_version
  want_version=$(sed -nE 's/^project\(mallard VERSION ([0-9.]+).*/\1/p' "$SRC/CMakeLists.txt")
  assert_eq "image: named airbyte/destination-mallard" "airbyte/destination-mallard" "$NAME"
  assert_eq "image: tagged with the CMake project version" "$want_version" "$TAG"
}

# json_get FILE PYTHON-EXPR: a value of a JSON document (j), printed as JSON
json_get() {
  python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(json.dumps(eval(sys.argv[2]), sort_keys=True))' "$1" "$2"
}

# check_image_config FILE KEY: the image config carries what the platform
# reads; KEY is "config" in the OCI config, "Config" in `docker image inspect`.
check_image_config() {
  local f=$1 c=$2
  assert_eq "config: entrypoint mallard" '["mallard"]' "$(json_get "$f" "j['$c']['Entrypoint']")"
  assert_eq "config: AIRBYTE_ENTRYPOINT" 'true' "$(json_get "$f" "'AIRBYTE_ENTRYPOINT=mallard' in j['$c']['Env']")"
  assert_eq "config: MALLARD_CONTAINER=1" 'true' "$(json_get "$f" "'MALLARD_CONTAINER=1' in j['$c']['Env']")"
  assert_eq "config: label io.airbyte.name" '"airbyte/destination-mallard"' "$(json_get "$f" "j['$c']['Labels']['io.airbyte.name']")"
  assert_eq "config: label io.airbyte.version" "\"$TAG\"" "$(json_get "$f" "j['$c']['Labels']['io.airbyte.version']")"
  assert_eq "config: /local is a volume" '["/local"]' "$(json_get "$f" "list(j['$c']['Volumes'])")"
}

seed_reference() {
  mkdir -p "$WORK/ref"
  MALLARD_LOCAL_ROOT="$WORK/ref" MALLARD_CONTAINER=0 "$MALLARD" write --config "$SEED/config.json" \
    --catalog "$SEED/configured_catalog.json" < "$SEED/messages.jsonl" > "$WORK/ref.out" 2>/dev/null
  REF_STATES=$(grep '"type":"STATE"' "$WORK/ref.out")
  REF_ROWS=$(q "$WORK/ref/destination.duckdb" "$ROWS_SQL")
  [ -n "$REF_STATES" ] && [ -n "$REF_ROWS" ] || { fail "the seed example's reference load gave nothing"; finish || exit 1; }
}

# the files of a directory, or "(empty)"
listing() { local l; l=$(cd "$1" && find . -mindepth 1 | sort); echo "${l:-(empty)}"; }
