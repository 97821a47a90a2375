#!/usr/bin/env bash
# Puts the CRI runtime.v1 api.proto into proto/runtime/v1/ at build time, from Debian's
# golang-github-kubernetes-cri-api-dev package (trixie; the customer's rule: not copied into the
# repository). The download uses a private apt configuration (nothing of the system's apt changes)
# and is cached in .cache/; the file is checked against a pinned sha256. The gogoproto options are
# Go-only and dropped, so no gogo.proto is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.32.3-1
PROTO_SHA256=21960546f65b0a088d9ea6dcfbad906ce89fef1f6a951267cf44a5aa57b19d6b
SUITE=trixie
MIRROR=${CRI_API_MIRROR:-http://deb.debian.org/debian}
OUT=proto/runtime/v1/api.proto
CACHE=.cache
DEB=$CACHE/golang-github-kubernetes-cri-api-dev_${VERSION}_all.deb
SRC=usr/share/gocode/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto

if [ -f "$OUT.sha256" ] && [ -f "$OUT" ] && [ "$(cat "$OUT.sha256")" = "$PROTO_SHA256" ]; then
  exit 0
fi
mkdir -p "$CACHE"
if [ ! -f "$DEB" ]; then
  apt_dir=$(mktemp -d "$CACHE/apt.XXXXXX")
  trap 'rm -rf "$apt_dir"' EXIT
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main" >"$apt_dir/sources.list"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  apt_opts=(-q -o "Dir::Etc::SourceList=$PWD/$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$PWD/$apt_dir/lists" -o "Dir::Cache=$PWD/$apt_dir/cache" -o Dir::State::status=/dev/null
    -o APT::Sandbox::User=root)
  echo "cri-api: fetching golang-github-kubernetes-cri-api-dev $VERSION from $MIRROR ($SUITE)" >&2
  apt-get "${apt_opts[@]}" update >/dev/null
  (cd "$apt_dir" && apt-get "${apt_opts[@]}" download "golang-github-kubernetes-cri-api-dev=$VERSION" >/dev/null)
  mv "$apt_dir"/golang-github-kubernetes-cri-api-dev_*_all.deb "$DEB"
fi
x=$(mktemp -d "$CACHE/x.XXXXXX")
dpkg-deb -x "$DEB" "$x"
got=$(sha256sum "$x/$SRC" | cut -d' ' -f1)
if [ "$got" != "$PROTO_SHA256" ]; then
  echo "cri-api: $SRC from $DEB has sha256 $got, expected $PROTO_SHA256" >&2
  rm -rf "$x"
  exit 1
fi
mkdir -p "$(dirname "$OUT")"
# gogoproto: Go code generation options only.
grep -v 'gogo' "$x/$SRC" >"$OUT"
echo "$PROTO_SHA256" >"$OUT.sha256"
rm -rf "$x"
