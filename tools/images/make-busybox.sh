#!/bin/bash
# make-busybox.sh OUTDIR [TAG]
#
# Builds the default test image busybox:<TAG> (TAG defaults to "latest") from Debian's busybox-static
# (/bin/busybox), with no network: a rootfs holding /bin/busybox, one symlink per applet, /etc/passwd and
# /etc/group (root, nobody), /tmp (1777), /root, /home, /var, /proc, /sys and /dev. Writes
#   OUTDIR/busybox-oci/   OCI image layout, index.json ref.name = TAG   (skopeo: oci:OUTDIR/busybox-oci:TAG)
#   OUTDIR/busybox.tar    docker-save tarball, RepoTags busybox:TAG     (isula load -i OUTDIR/busybox.tar)
# The output is reproducible: the same busybox-static package gives the same digests on every run.
set -euo pipefail
umask 022
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR
. "$HERE/lib.sh"

if [ $# -lt 1 ] || [ $# -gt 2 ]; then echo "usage: $(basename "$0") OUTDIR [TAG]" >&2; exit 2; fi
OUTDIR=$1
TAG=${2:-latest}
[[ $TAG =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || img_die "invalid tag '$TAG'"
img_need tar gzip jq sha256sum dpkg dpkg-query

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd -P)
WORK=$(mktemp -d "$OUTDIR/.make-busybox.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

img_build_rootfs "$WORK/rootfs"
CONFIG=$(jq -cn --arg path "$IMG_PATH_ENV" '{Env:[$path], Cmd:["sh"]}')
img_write busybox busybox "$TAG" "$WORK/rootfs" "$OUTDIR" "$WORK" "$CONFIG" \
  "tools/images/make-busybox.sh: busybox-static $(img_busybox_version) from Debian"
