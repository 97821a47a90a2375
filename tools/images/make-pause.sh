#!/bin/bash
# make-pause.sh OUTDIR
#
# Builds a pause image in the style of Kubernetes' pause-<arch>:3.0 (what iSulad's CRI uses as the pod
# sandbox, "pause-${machine}:3.0"), named pause-<arch>:3.0 with <arch> as OCI spells it (amd64, arm64, ...):
#   OUTDIR/pause-oci/   OCI image layout, index.json ref.name = 3.0
#   OUTDIR/pause.tar    docker-save tarball, RepoTags pause-<arch>:3.0
#
# The real pause image is a 700-byte static C program that sleeps in pause() until SIGTERM/SIGINT. We have
# no internet and want no extra compiler step here, so the rootfs is the same busybox rootfs as
# make-busybox.sh and the entrypoint is a shell loop that behaves the same way:
#   /bin/sh -c "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"
# - the trap matters: as PID 1 of its namespace, sh would otherwise ignore TERM and INT;
# - `sleep & wait` (not a bare `sleep`) lets the trap run at once: sh only runs traps between commands,
#   but `wait` returns as soon as a trapped signal arrives; the orphaned sleep dies with the pid namespace;
# - exit status 0 on TERM/INT, as pause does.
# It costs one sh plus one sleep process per pod instead of one tiny process; acceptable for tests.
set -euo pipefail
umask 022
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR
. "$HERE/lib.sh"

[ $# -eq 1 ] || { echo "usage: $(basename "$0") OUTDIR" >&2; exit 2; }
OUTDIR=$1
img_need tar gzip jq sha256sum dpkg dpkg-query

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd -P)
WORK=$(mktemp -d "$OUTDIR/.make-pause.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

ARCH=$(img_oci_arch)
img_build_rootfs "$WORK/rootfs"
# shellcheck disable=SC2016  # $! is for the container's shell
LOOP='trap '\''exit 0'\'' TERM INT; while :; do sleep 3600 & wait $!; done'
CONFIG=$(jq -cn --arg path "$IMG_PATH_ENV" --arg loop "$LOOP" \
  '{Env:[$path], Entrypoint:["/bin/sh","-c",$loop], WorkingDir:"/"}')
img_write pause "pause-$ARCH" 3.0 "$WORK/rootfs" "$OUTDIR" "$WORK" "$CONFIG" \
  "tools/images/make-pause.sh: busybox-static $(img_busybox_version) from Debian, sh sleep loop as pause"
