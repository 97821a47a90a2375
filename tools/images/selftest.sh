#!/bin/bash
# selftest.sh: checks make-busybox.sh and make-pause.sh for real, then cleans up after itself.
#   1. builds both images twice into two scratch directories and compares every output byte (reproducible);
#   2. skopeo inspect of the OCI layout and of the docker-save tarball (both images), with cross-checks
#      (architecture, os, diff_id = sha256 of the docker-save layer, gzip blob = compressed diff_id);
#   3. runs the busybox layer with runc (`busybox echo hello`) and the pause layer (stops on TERM and on INT
#      with exit status 0).
# Needs root, runc, skopeo, jq (all installed by tools/install/setup.sh).
set -euo pipefail
umask 022
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
[ "$(id -u)" = 0 ] || { echo "selftest.sh: run as root" >&2; exit 1; }
for c in runc skopeo jq sha256sum; do command -v "$c" >/dev/null || { echo "selftest.sh: $c missing" >&2; exit 1; }; done

T=$(mktemp -d /tmp/isula-imgtest.XXXXXX)
CIDS=()
cleanup() {
  local id
  for id in "${CIDS[@]}"; do runc delete -f "$id" >/dev/null 2>&1 || true; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "selftest.sh: FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }

echo "== 1. reproducibility (two independent builds)"
for d in a b; do
  bash "$HERE/make-busybox.sh" "$T/$d" >"$T/$d.busybox.log"
  bash "$HERE/make-pause.sh" "$T/$d" >"$T/$d.pause.log"
  (cd "$T/$d" && find . -type f | LC_ALL=C sort | xargs sha256sum) >"$T/$d.sums"
done
diff -u "$T/a.sums" "$T/b.sums" || fail "two builds differ"
ok "$(wc -l <"$T/a.sums") files byte-identical across builds"
sed -n 's/^  \(manifest\|config\|layer\|diff_id\) */  \1 /p' "$T/a.busybox.log"
O=$T/a

echo "== 2. skopeo"
ARCH=$(skopeo inspect --config "oci:$O/busybox-oci:latest" | jq -r .architecture)
check_image() { # BASE TAG REF
  local base=$1 tag=$2 ref=$3 oci arc cfg_oci cfg_arc diffid layer_sha
  oci=$(skopeo inspect "oci:$O/$base-oci:$tag") || fail "skopeo inspect oci:$O/$base-oci:$tag"
  arc=$(skopeo inspect "docker-archive:$O/$base.tar") || fail "skopeo inspect docker-archive:$O/$base.tar"
  cfg_oci=$(skopeo inspect --config "oci:$O/$base-oci:$tag")
  cfg_arc=$(skopeo inspect --config "docker-archive:$O/$base.tar")
  [ "$(jq -r .Architecture <<<"$oci")/$(jq -r .Os <<<"$oci")" = "$ARCH/linux" ] || fail "$base: oci arch/os"
  [ "$(jq -r .Architecture <<<"$arc")/$(jq -r .Os <<<"$arc")" = "$ARCH/linux" ] || fail "$base: archive arch/os"
  [ "$(jq -cS . <<<"$cfg_oci")" = "$(jq -cS . <<<"$cfg_arc")" ] || fail "$base: configs differ between OCI layout and docker-save"
  diffid=$(jq -r '.rootfs.diff_ids[0]' <<<"$cfg_oci")
  [ "$(jq -r '.Layers[0]' <<<"$arc")" = "$diffid" ] || fail "$base: archive layer is not the diff_id"
  layer_sha=sha256:$(gzip -dc "$O/$base-oci/blobs/sha256/$(jq -r '.Layers[0]' <<<"$oci" | cut -d: -f2)" | sha256sum | cut -d' ' -f1)
  [ "$layer_sha" = "$diffid" ] || fail "$base: gunzipped OCI layer $layer_sha != diff_id $diffid"
  [ "$(tar -xOf "$O/$base.tar" manifest.json | jq -r '.[0].RepoTags[0]')" = "$ref" ] || fail "$base: RepoTags"
  ok "$ref: oci:$base-oci:$tag and docker-archive:$base.tar inspect fine, same config, diff_id $diffid"
}
check_image busybox latest busybox:latest
check_image pause 3.0 "pause-$ARCH:3.0"

echo "== 3. runc"
bundle() { # BASE DIR ARGS_JSON
  local base=$1 dir=$2 args=$3 layer
  mkdir -p "$dir/rootfs"
  layer=$(tar -xOf "$O/$base.tar" manifest.json | jq -r '.[0].Layers[0]')
  tar -xOf "$O/$base.tar" "$layer" | tar -x -C "$dir/rootfs"
  (cd "$dir" && runc spec)
  jq --argjson a "$args" '.process.terminal=false | .process.args=$a' "$dir/config.json" >"$dir/config.json.new"
  mv "$dir/config.json.new" "$dir/config.json"
}
ID=isula-imgtest-$$-bb
CIDS+=("$ID")
bundle busybox "$T/bb" '["busybox","echo","hello"]'
out=$(runc run --bundle "$T/bb" "$ID" </dev/null 2>&1) || fail "runc run busybox: $out"
[ "$out" = hello ] || fail "busybox printed '$out', expected 'hello'"
ok "runc run busybox echo hello -> $out"
bundle busybox "$T/bb2" '["sh","-c","id -un; ls /; test -d /tmp -a -k /tmp && echo tmp-sticky"]'
out=$(runc run --bundle "$T/bb2" "$ID-2" </dev/null 2>&1) || fail "runc run busybox sh: $out"
CIDS+=("$ID-2")
ok "runc run busybox sh -> $(tr '\n' ' ' <<<"$out")"

ENTRY=$(skopeo inspect --config "oci:$O/pause-oci:3.0" | jq -c '.config.Entrypoint')
for sig in TERM INT; do
  PID_=isula-imgtest-$$-pause-$sig
  CIDS+=("$PID_")
  rm -rf "$T/pause"
  bundle pause "$T/pause" "$ENTRY"
  runc run --bundle "$T/pause" "$PID_" </dev/null >"$T/pause.out" 2>&1 &
  rpid=$!
  for _ in $(seq 50); do
    [ "$(runc state "$PID_" 2>/dev/null | jq -r .status)" = running ] && break
    sleep 0.1
  done
  [ "$(runc state "$PID_" 2>/dev/null | jq -r .status)" = running ] || fail "pause container did not start: $(cat "$T/pause.out")"
  sleep 0.3 # let sh install its trap
  t0=$(date +%s%N)
  runc kill "$PID_" "$sig"
  rc=0
  wait "$rpid" || rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  [ "$rc" = 0 ] || fail "pause exited $rc on SIG$sig (expected 0): $(cat "$T/pause.out")"
  ok "pause: SIG$sig -> exit 0 after ${ms} ms"
done
echo "selftest.sh: all checks passed"
