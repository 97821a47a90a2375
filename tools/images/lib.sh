# shellcheck shell=bash
# Shared by make-busybox.sh and make-pause.sh: build a busybox rootfs from Debian's busybox-static and
# write it as a one-layer image in two forms, with no network and no container tooling:
#   <OUTDIR>/<name>-oci/   OCI image layout (oci-layout, index.json, blobs/sha256/*, gzip layer)
#   <OUTDIR>/<name>.tar    classic `docker save` tarball (manifest.json, repositories, <config>.json,
#                          <v1id>/{VERSION,json,layer.tar}), the format `isula load` / `docker load` read.
# Everything is reproducible: fixed timestamps, sorted tar members, numeric root ownership, `gzip -n`,
# compact JSON from fixed inputs. Building twice gives byte-identical blobs and tarballs.

# The one timestamp used everywhere (tar mtimes, config "created", history).
IMG_EPOCH='2024-01-01T00:00:00Z'
# shellcheck disable=SC2034  # used by the scripts that source this file
IMG_PATH_ENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
BUSYBOX_BIN=/bin/busybox

img_die() {
  echo "$(basename "$0"): error: $*" >&2
  exit 1
}

img_need() {
  local c
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || img_die "'$c' is required (run tools/install/setup.sh first)"; done
}

# Debian architecture -> OCI/Go architecture (and variant), as registries and runtimes spell them.
img_oci_arch() {
  case "$(dpkg --print-architecture)" in
    amd64) echo amd64 ;;
    arm64) echo arm64 ;;
    armhf) echo arm ;;
    armel) echo arm ;;
    i386) echo 386 ;;
    ppc64el) echo ppc64le ;;
    s390x) echo s390x ;;
    riscv64) echo riscv64 ;;
    mips64el) echo mips64le ;;
    *) img_die "unsupported Debian architecture $(dpkg --print-architecture)" ;;
  esac
}

img_oci_variant() {
  case "$(dpkg --print-architecture)" in
    armhf) echo v7 ;;
    armel) echo v6 ;;
    arm64) echo v8 ;;
    *) echo "" ;;
  esac
}

# Checks /bin/busybox really is the static binary from busybox-static (the dynamic `busybox` package
# installs the same path, and a dynamically linked busybox would not run in an empty rootfs).
img_check_busybox() {
  [ -x "$BUSYBOX_BIN" ] || img_die "$BUSYBOX_BIN not found: apt-get install busybox-static"
  local owner
  owner=$(dpkg-query -S "$BUSYBOX_BIN" 2>/dev/null | cut -d: -f1) || true
  [ "$owner" = busybox-static ] || img_die "$BUSYBOX_BIN belongs to '${owner:-no package}', not busybox-static"
}

img_busybox_version() {
  dpkg-query -W -f='${Version}' busybox-static
}

# img_build_rootfs DIR: a minimal busybox root filesystem.
img_build_rootfs() {
  local root=$1 applet
  img_check_busybox
  rm -rf "$root"
  # Directories first: busybox --install (and our links) fail for applets whose directory is missing.
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,root,home,var,tmp}
  chmod 0755 "$root" "$root"/{bin,sbin,usr,usr/bin,usr/sbin,etc,proc,sys,dev,home,var}
  chmod 0700 "$root/root"
  chmod 1777 "$root/tmp"
  install -m 0755 "$BUSYBOX_BIN" "$root/bin/busybox"
  # One symlink per applet; `busybox --list-full` prints paths like usr/bin/[ (read line by line: no globbing).
  while IFS= read -r applet; do
    [ -n "$applet" ] || continue
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -sfn /bin/busybox "$root/$applet"
  done < <("$BUSYBOX_BIN" --list-full)
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/home:/bin/false' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' >"$root/etc/group"
  chmod 0644 "$root/etc/passwd" "$root/etc/group"
}

# img_make_layer ROOTFS OUT.tar: the uncompressed, reproducible layer. Members are named without a
# leading "./" (bin/, bin/busybox, ...), as Docker's own layers are.
img_make_layer() {
  local root=$1 out=$2
  local -a top
  mapfile -t top < <(find "$root" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort)
  LC_ALL=C tar --format=gnu --sort=name --mtime="$IMG_EPOCH" --owner=0 --group=0 --numeric-owner \
    -C "$root" -cf "$out" -- "${top[@]}"
}

img_sha256() { sha256sum "$1" | cut -d' ' -f1; }

# img_write BASE NAME TAG ROOTFS OUTDIR WORKDIR CONFIGJSON HISTORY
#   BASE: output file base name; NAME:TAG is the repository tag recorded in the archive.
#   CONFIGJSON: the image's runtime "config" object (Env, Cmd, Entrypoint, ...), compact JSON.
#   WORKDIR: an empty scratch directory on the same filesystem as OUTDIR (the caller removes it).
#   Writes OUTDIR/BASE-oci/ and OUTDIR/BASE.tar (RepoTags NAME:TAG), replacing earlier ones.
img_write() {
  local base=$1 name=$2 tag=$3 root=$4 outdir=$5 work=$6 runconfig=$7 history=$8
  local arch variant layout dsave
  arch=$(img_oci_arch)
  variant=$(img_oci_variant)
  layout="$work/$base-oci"
  dsave="$work/dsave"
  mkdir -p "$layout/blobs/sha256" "$dsave"

  # Layer: uncompressed tar (diff_id) and its gzip -n form (OCI blob).
  img_make_layer "$root" "$work/layer.tar"
  local diffid ldig lsize
  diffid=$(img_sha256 "$work/layer.tar")
  gzip -n -9 -c "$work/layer.tar" >"$work/layer.tar.gz"
  ldig=$(img_sha256 "$work/layer.tar.gz")
  lsize=$(stat -c %s "$work/layer.tar.gz")
  mv "$work/layer.tar.gz" "$layout/blobs/sha256/$ldig"

  # Image config.
  jq -cn --arg arch "$arch" --arg variant "$variant" --arg created "$IMG_EPOCH" \
    --argjson cfg "$runconfig" --arg diff "sha256:$diffid" --arg hist "$history" '
    {architecture:$arch} + (if $variant == "" then {} else {variant:$variant} end) + {
      created:$created, os:"linux", config:$cfg,
      rootfs:{type:"layers", diff_ids:[$diff]},
      history:[{created:$created, created_by:$hist}]}' >"$work/config.json"
  local cdig csize
  cdig=$(img_sha256 "$work/config.json")
  csize=$(stat -c %s "$work/config.json")
  cp "$work/config.json" "$layout/blobs/sha256/$cdig"

  # OCI manifest, index, layout marker.
  jq -cn --arg cd "sha256:$cdig" --argjson cs "$csize" --arg ld "sha256:$ldig" --argjson ls "$lsize" '{
    schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json",
    config:{mediaType:"application/vnd.oci.image.config.v1+json", digest:$cd, size:$cs},
    layers:[{mediaType:"application/vnd.oci.image.layer.v1.tar+gzip", digest:$ld, size:$ls}]}' >"$work/manifest.json"
  local mdig msize
  mdig=$(img_sha256 "$work/manifest.json")
  msize=$(stat -c %s "$work/manifest.json")
  mv "$work/manifest.json" "$layout/blobs/sha256/$mdig"
  printf '%s\n' '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  jq -cn --arg md "sha256:$mdig" --argjson ms "$msize" --arg tag "$tag" '{
    schemaVersion:2, mediaType:"application/vnd.oci.image.index.v1+json",
    manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json", digest:$md, size:$ms,
      annotations:{"org.opencontainers.image.ref.name":$tag}}]}' >"$layout/index.json"

  # docker-save tarball. The v1 layer id is a stable hash of (parent id, diff_id); loaders do not
  # recompute it, they only need it to be unique and consistent within the archive.
  local v1id
  v1id=$(printf '%s %s' "" "sha256:$diffid" | sha256sum | cut -d' ' -f1)
  mkdir -p "$dsave/$v1id"
  printf '1.0' >"$dsave/$v1id/VERSION"
  mv "$work/layer.tar" "$dsave/$v1id/layer.tar"
  jq -cn --arg id "$v1id" --arg created "$IMG_EPOCH" --arg arch "$arch" --argjson cfg "$runconfig" \
    '{id:$id, created:$created, container_config:{Cmd:null}, config:$cfg, architecture:$arch, os:"linux"}' \
    >"$dsave/$v1id/json"
  cp "$work/config.json" "$dsave/$cdig.json"
  jq -cn --arg c "$cdig.json" --arg rt "$name:$tag" --arg l "$v1id/layer.tar" \
    '[{Config:$c, RepoTags:[$rt], Layers:[$l]}]' >"$dsave/manifest.json"
  jq -cn --arg r "$name" --arg t "$tag" --arg id "$v1id" '{($r):{($t):$id}}' >"$dsave/repositories"
  # Member modes are normalised too, so the tarball does not depend on the caller's umask.
  LC_ALL=C tar --format=gnu --sort=name --mtime="$IMG_EPOCH" --owner=0 --group=0 --numeric-owner \
    --mode='a+rX,u+w,go-w' -C "$dsave" -cf "$work/$base.tar" -- "$cdig.json" "$v1id" manifest.json repositories

  # Replace the previous output only once everything above succeeded.
  rm -rf "${outdir:?}/$base-oci" "$outdir/$base.tar"
  mv "$layout" "$outdir/$base-oci"
  mv "$work/$base.tar" "$outdir/$base.tar"

  echo "image $name:$tag ($arch)"
  echo "  OCI layout   $outdir/$base-oci  (ref.name $tag)"
  echo "  docker-save  $outdir/$base.tar  (RepoTags $name:$tag)"
  echo "  manifest     sha256:$mdig"
  echo "  config       sha256:$cdig"
  echo "  layer        sha256:$ldig ($lsize bytes gzip)"
  echo "  diff_id      sha256:$diffid"
}
