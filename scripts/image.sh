#!/usr/bin/env bash
# Builds the container image airbyte/destination-mallard:<version> that the
# Airbyte platform runs, without pulling anything from a container registry:
#
#   1. a minimal Debian root file system made by Debian's debootstrap
#      (--variant=minbase, this machine's release and architecture, the Debian
#      mirror that apt on this machine is configured with), cached in
#      build-image/base/, and pruned: no documentation, manual pages, locales,
#      apt lists or caches, logs, device nodes;
#   2. mallard built from this checkout's files and installed with
#      `cmake --install --component destination --strip` into /usr/local
#      (the mallard binary, libduckdb.so, docs/airbyte.md);
#   3. the two as the image's two layers, written as tarballs whose bytes depend
#      only on their content: names sorted, owners numeric, every time stamp
#      SOURCE_DATE_EPOCH (the commit's time), gzip without name or time; the
#      image config and manifest in a fixed key order.  Two builds of the same
#      commit give the same digest.
#
# Output, in build-image/ (MALLARD_IMAGE_DIR to put it elsewhere):
#   oci/                                      the image as an OCI layout (tag = version)
#   destination-mallard-<version>.tar         the image as a docker-archive (`docker load -i`)
#   image.env                                 NAME, TAG, DIGEST (manifest), ID (config), sizes, ...
# The last line printed is the docker-archive's path.  A second run on the same
# sources prints it again without building (--rebuild builds anyway).
#
# Needs root (debootstrap and chroot), debootstrap, skopeo, cmake, a C
# compiler and DuckDB (as for scripts/build.sh): it runs scripts/deps.sh, which
# installs what is missing, so that a fresh clone needs only this command.
#
# Usage: bash scripts/image.sh [--rebuild]
set -euo pipefail
umask 022
here=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "image: error: $*" >&2; exit 1; }
say() { echo "image: $*" >&2; }

rebuild=false
for a in "$@"; do
  case "$a" in
    --rebuild) rebuild=true ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$a' (usage: bash scripts/image.sh [--rebuild])" ;;
  esac
done

# ---- what is needed ------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "must run as root: debootstrap and chroot need it (sudo bash scripts/image.sh)"

out=${MALLARD_IMAGE_DIR:-$here/build-image}
# Built at a fixed path, so that the binary (which names its source directory)
# does not depend on where the checkout is; one build at a time uses it.
work=${MALLARD_IMAGE_WORK:-/tmp/mallard-image-build}
mkdir -p "$out" "$work"
exec 9>"$work.lock"
flock -n 9 || { say "waiting for another scripts/image.sh using $work"; flock 9; }

# (installs only what is missing: nothing, and silently, the second time)
bash "$here/scripts/deps.sh" || die "scripts/deps.sh failed: the image needs what it installs"
for t in debootstrap skopeo cmake cc strip tar gzip sha256sum git chroot unshare flock; do
  command -v "$t" >/dev/null || die "$t not found (bash scripts/deps.sh installs what the image needs)"
done
[ -d "$here/.git" ] || [ -f "$here/.git" ] || die "$here is not a git checkout: the image is built from a commit"
duckdb_dir=${MALLARD_DUCKDB_DIR:-$here/third_party/duckdb}
[ -f "$duckdb_dir/include/duckdb.h" ] && [ -f "$duckdb_dir/lib/libduckdb.so" ] \
  || die "no DuckDB in $duckdb_dir (need include/duckdb.h and lib/libduckdb.so): run scripts/deps.sh or set MALLARD_DUCKDB_DIR"

# ---- version, commit, time -----------------------------------------------------
# The version's one home is project(mallard VERSION x.y.z) in CMakeLists.txt.
version=$(sed -nE 's/^project\(mallard VERSION ([0-9]+\.[0-9]+\.[0-9]+).*/\1/p' "$here/CMakeLists.txt")
[ -n "$version" ] || die "no 'project(mallard VERSION x.y.z' line in $here/CMakeLists.txt"
name=airbyte/destination-mallard
commit=$(git -C "$here" rev-parse --short=12 HEAD) || die "git rev-parse HEAD failed in $here"
dirty=$(git -C "$here" status --porcelain --untracked-files=normal)
if [ -n "$dirty" ]; then
  commit="$commit-dirty"
  say "warning: the checkout has uncommitted changes; the image holds them and is tagged $version all the same (commit $commit)"
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct)}
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

# ---- the sources: this checkout's files (tracked and new, not ignored) ---------
# Those the build reads (not the tests: MALLARD_TESTS=OFF), copied into
# $work/src only where they differ, so that an unchanged file keeps its time
# stamp and the build there stays incremental.
src="$work/src"
mkdir -p "$src"
list="$work/files"
(cd "$here" && git ls-files -z --cached --others --exclude-standard -- CMakeLists.txt cmake src include bench python \
   docs/airbyte.md | while IFS= read -r -d '' f; do
  [ -f "$f" ] && [ ! -L "$f" ] && printf '%s\0' "$f"
done) | sort -z > "$list"
(cd "$src" && find . -type f -printf '%P\0' | sort -z) | comm -z -23 - "$list" | (cd "$src" && xargs -0 -r rm -f)
(cd "$here" && while IFS= read -r -d '' f; do
  if ! cmp -s "$f" "$src/$f"; then mkdir -p "$src/$(dirname "$f")"; cp "$f" "$src/$f"; chmod "$(stat -c %a "$f")" "$src/$f"; fi
done) < "$list"
src_key=$( (cd "$src" && xargs -0 sha256sum < "$list"; sha256sum "$duckdb_dir/lib/libduckdb.so" | cut -d' ' -f1;
            echo "$SOURCE_DATE_EPOCH $commit") | sha256sum | cut -c1-16)

# ---- the Debian base -----------------------------------------------------------
. /etc/os-release
suite=${VERSION_CODENAME:-}
[ -n "$suite" ] || die "/etc/os-release has no VERSION_CODENAME: is this Debian?"
arch=$(dpkg --print-architecture)
# The mirror is apt's own: the repository that serves this release's main
# component (nothing is written into the repository).
mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT) $(ORIGIN)' 'Identifier: Packages' 2>/dev/null \
  | awk -v s="$suite" '$2 == s && $3 == "main" && ($4 == "Debian" || $4 == "") { print $1; exit }')
[ -n "$mirror" ] || die "apt has no source for '$suite main' (see /etc/apt/sources.list*; run apt-get update)"
base_key=$(printf '%s\n' "$suite" "$arch" "$mirror" minbase v1 | sha256sum | cut -c1-16)
base="$out/base/$suite-$arch-$base_key"
if [ ! -f "$base/.done" ]; then
  rm -rf "$base"
  mkdir -p "$base"
  say "debootstrap --variant=minbase $suite ($arch) from apt's mirror for $suite main (about 1-2 minutes)"
  debootstrap --variant=minbase --arch="$arch" "$suite" "$base/rootfs" "$mirror" > "$base/debootstrap.log" 2>&1 \
    || die "debootstrap failed (last lines of $base/debootstrap.log below)$(echo; tail -5 "$base/debootstrap.log")"
  r="$base/rootfs"
  # what a container does not need or gets from its runtime
  rm -rf "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* \
         "$r"/usr/share/lintian "$r"/usr/share/bash-completion \
         "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/* "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old \
         "$r"/var/cache/ldconfig/aux-cache "$r"/dev/* "$r"/proc/* "$r"/sys/* "$r"/run/* "$r"/tmp/* \
         "$r"/etc/hostname "$r"/etc/resolv.conf "$r"/etc/.pwd.lock "$r"/debootstrap
  find "$r/var/log" -type f -delete
  # and apt stays that way in images built on this one
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' > "$r/etc/dpkg/dpkg.cfg.d/01-mallard-slim"
  printf 'APT::Keep-Downloaded-Packages "false";\nAcquire::Languages "none";\n' > "$r/etc/apt/apt.conf.d/01-mallard-slim"
  touch "$base/.done"
fi

# ---- reuse ---------------------------------------------------------------------
tarball="$out/destination-mallard-$version.tar"
key="$src_key-$base_key"
if ! $rebuild && [ -f "$out/image.env" ] && [ -f "$tarball" ] && grep -qx "KEY=$key" "$out/image.env"; then
  say "$name:$version is up to date ($(grep '^DIGEST=' "$out/image.env" | cut -d= -f2)); --rebuild builds it anyway"
  echo "$tarball"
  exit 0
fi

# ---- mallard -------------------------------------------------------------------
say "building mallard $version (commit $commit)"
bld="$work/build"
cmake -S "$src" -B "$bld" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMALLARD_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr/local \
  -DDUCKDB_ROOT="$duckdb_dir" -DMALLARD_GIT_COMMIT="$commit" > "$work/cmake.log" 2>&1 \
  || die "cmake configure failed (see $work/cmake.log)"
cmake --build "$bld" --target mallard -j"$(nproc)" > "$work/build.log" 2>&1 || die "build failed (see $work/build.log)"
stage="$work/stage"
rm -rf "$stage"
DESTDIR="$stage" cmake --install "$bld" --component destination --strip > "$work/install.log" 2>&1 \
  || die "cmake --install failed (see $work/install.log)"
# libduckdb.so comes with its symbol table; its dynamic symbols are all mallard needs
strip --strip-unneeded "$stage/usr/local/lib/libduckdb.so"
mkdir -p "$stage/local"

# ---- layers, config, manifest: an OCI layout -------------------------------------
oci="$out/oci"
rm -rf "$oci"
mkdir -p "$oci/blobs/sha256"
# layer DIR PATHS...: a tarball of PATHS under DIR whose bytes depend only on
# the files; prints "<diff_id> <digest> <size> <uncompressed size>"
layer() {
  local dir=$1; shift
  local t="$work/layer.tar"
  (cd "$dir" && tar --create --file "$t" --sort=name --format=posix --numeric-owner \
     --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime --mtime="@$SOURCE_DATE_EPOCH" "$@")
  local diff_id usize
  diff_id=$(sha256sum "$t" | cut -d' ' -f1)
  usize=$(stat -c %s "$t")
  gzip -n -6 < "$t" > "$work/layer.tar.gz"
  local digest
  digest=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
  mv "$work/layer.tar.gz" "$oci/blobs/sha256/$digest"
  rm -f "$t"
  echo "$diff_id $digest $(stat -c %s "$oci/blobs/sha256/$digest") $usize"
}
# The image's file system: the Debian base (whose /etc/shadow's "last changed"
# days follow SOURCE_DATE_EPOCH too) and mallard over it.
root="$work/rootfs"
rm -rf "$root"
cp -a "$base/rootfs" "$root"
sed -i -E "s/^([^:]*:[^:]*:)[0-9]+:/\1$((SOURCE_DATE_EPOCH / 86400)):/" "$root/etc/shadow"
read -r base_diff base_digest base_size base_usize < <(layer "$root" .)
read -r app_diff app_digest app_size app_usize < <(layer "$stage" ./local ./usr/local)
cp -a "$stage/." "$root/"
# checked before it is published: every library there, the right mallard.
# (mallard finds libduckdb.so through $ORIGIN, which needs /proc: mounted in a
# mount namespace of its own, as in any container.)
in_root() { unshare --mount --pid --fork --mount-proc="$root/proc" chroot "$root" "$@"; }
missing=$(in_root /usr/bin/ldd /usr/local/bin/mallard /usr/local/lib/libduckdb.so 2>&1 | grep 'not found' || true)
[ -z "$missing" ] || die "libraries missing from the image: $missing"
got=$(in_root /usr/local/bin/mallard --version) || die "mallard --version fails in the image's file system"
case "$got" in
  "mallard $version "*"commit $commit)") ;;
  *) die "mallard --version in the image says '$got', expected version $version and commit $commit" ;;
esac

blob() { # writes stdin as a blob; prints "<digest> <size>"
  local f="$work/blob"
  cat > "$f"
  local d
  d=$(sha256sum "$f" | cut -d' ' -f1)
  mv "$f" "$oci/blobs/sha256/$d"
  echo "$d $(stat -c %s "$oci/blobs/sha256/$d")"
}
entry=mallard
read -r config_digest config_size < <(printf '%s' \
'{"created":"'"$created"'","architecture":"'"$arch"'","os":"linux",'\
'"config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",'\
'"AIRBYTE_ENTRYPOINT='"$entry"'","MALLARD_CONTAINER=1"],'\
'"Entrypoint":["'"$entry"'"],"WorkingDir":"/","Volumes":{"/local":{}},'\
'"Labels":{"io.airbyte.name":"'"$name"'","io.airbyte.version":"'"$version"'",'\
'"org.opencontainers.image.revision":"'"$commit"'","org.opencontainers.image.version":"'"$version"'"}},'\
'"rootfs":{"type":"layers","diff_ids":["sha256:'"$base_diff"'","sha256:'"$app_diff"'"]},'\
'"history":[{"created":"'"$created"'","created_by":"debootstrap --variant=minbase '"$suite"' (pruned)"},'\
'{"created":"'"$created"'","created_by":"cmake --install --component destination --strip (mallard '"$version"', commit '"$commit"')"}]}' | blob)
read -r manifest_digest manifest_size < <(printf '%s' \
'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'\
'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'"$config_digest"'","size":'"$config_size"'},'\
'"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:'"$base_digest"'","size":'"$base_size"'},'\
'{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:'"$app_digest"'","size":'"$app_size"'}],'\
'"annotations":{"org.opencontainers.image.created":"'"$created"'","org.opencontainers.image.version":"'"$version"'",'\
'"org.opencontainers.image.revision":"'"$commit"'"}}' | blob)
printf '%s' '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{'\
'"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:'"$manifest_digest"'","size":'"$manifest_size"','\
'"annotations":{"org.opencontainers.image.ref.name":"'"$version"'"}}]}' > "$oci/index.json"
printf '%s' '{"imageLayoutVersion":"1.0.0"}' > "$oci/oci-layout"

# ---- docker-archive ------------------------------------------------------------
rm -f "$tarball"
skopeo --insecure-policy copy --quiet "oci:$oci:$version" "docker-archive:$tarball:$name:$version" > "$work/skopeo.log" 2>&1 \
  || die "skopeo copy to docker-archive failed: $(cat "$work/skopeo.log")"
rm -rf "$root"

mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }
{
  echo "NAME=$name"
  echo "TAG=$version"
  echo "COMMIT=$commit"
  echo "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
  echo "DIGEST=sha256:$manifest_digest"
  echo "ID=sha256:$config_digest"
  echo "SIZE=$((base_usize + app_usize))"
  echo "COMPRESSED_SIZE=$((base_size + app_size))"
  echo "BASE_SIZE=$base_usize"
  echo "TARBALL=$tarball"
  echo "OCI=$oci"
  echo "KEY=$key"
} > "$out/image.env"
say "$name:$version (commit $commit)"
say "  digest sha256:$manifest_digest, image id sha256:$config_digest"
say "  size $(mb $((base_usize + app_usize))) ($(mb "$base_usize") Debian minbase, $(mb "$app_usize") mallard); $(mb $((base_size + app_size))) compressed"
say "  OCI layout $oci (tag $version); docker load -i $tarball"
echo "$tarball"
