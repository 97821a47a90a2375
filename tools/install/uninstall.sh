#!/bin/bash
# tools/install/uninstall.sh [--purge]: undo tools/install/setup.sh.
#
# Stops isulad (systemctl on a systemd host; otherwise SIGTERM to the pid in /var/run/isulad.pid, waiting
# for it to exit, SIGKILL after 20 s), then removes the /usr/local/bin/isula and isulad wrappers, the
# systemd unit and the generated image files. Configuration (/etc/isulad, /etc/sysconfig/iSulad) and data
# (/var/lib/isulad, /var/run/isulad) stay unless --purge is given. Debian packages, node_modules, the build
# output and the isula group always stay. Containers started by isulad are not stopped (as with upstream's
# KillMode=process); with --purge, mounts under the daemon's directories are unmounted before removal.
set -Eeuo pipefail
export LC_ALL=C.UTF-8

PURGE=0
case "${1:-}" in
  "") ;;
  --purge) PURGE=1 ;;
  -h | --help)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: $(basename "$0") [--purge]" >&2
    exit 2
    ;;
esac

BIN_DIR=/usr/local/bin
UNIT=/etc/systemd/system/isulad.service
PIDFILE=/var/run/isulad.pid
SOCKET=/var/run/isulad.sock
IMAGES_DIR=${ISULA_IMAGES_DIR:-/usr/local/share/isula/images}
STOP_TIMEOUT=20

die() {
  echo "uninstall.sh: FAILED: $*" >&2
  exit 1
}
trap 'echo "uninstall.sh: FAILED (line $LINENO, exit $?): $BASH_COMMAND" >&2' ERR
info() { echo "    $*"; }
[ "$(id -u)" = 0 ] || die "run as root"

# shellcheck source=tools/install/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


echo "==> stop isulad"
if is_systemd && systemctl cat isulad.service >/dev/null 2>&1; then
  systemctl disable --now isulad.service || die "systemctl disable --now isulad failed"
  info "isulad.service stopped and disabled"
fi
if pid=$(running_pid); then
  info "SIGTERM to isulad pid $pid (from $PIDFILE)"
  kill -TERM "$pid"
  for _ in $(seq $((STOP_TIMEOUT * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "    WARNING: isulad pid $pid still running after ${STOP_TIMEOUT}s: SIGKILL" >&2
    kill -KILL "$pid" || true
    sleep 0.5
    kill -0 "$pid" 2>/dev/null && die "isulad pid $pid survived SIGKILL"
  fi
  info "isulad pid $pid exited"
else
  info "no running isulad found through $PIDFILE"
fi
# A daemon that exits cleanly removes these itself; after a SIGKILL they are left behind.
if [ -S "$SOCKET" ]; then rm -f "$SOCKET" && info "removed stale $SOCKET"; fi
if [ -f "$PIDFILE" ] && ! running_pid >/dev/null; then rm -f "$PIDFILE" && info "removed stale $PIDFILE"; fi

echo "==> remove wrappers, unit, image files"
for w in "$BIN_DIR/isula" "$BIN_DIR/isulad" "$BIN_DIR/isula-certs"; do
  if [ -e "$w" ]; then
    if grep -q 'written by tools/install/setup.sh' "$w" 2>/dev/null; then
      rm -f "$w" && info "removed $w"
    else
      info "left $w: not a wrapper written by setup.sh"
    fi
  fi
done
if [ -e "$UNIT" ]; then
  rm -f "$UNIT" && info "removed $UNIT"
  if is_systemd; then systemctl daemon-reload; fi
fi
if [ -d "$IMAGES_DIR" ]; then
  rm -rf "$IMAGES_DIR" && info "removed $IMAGES_DIR"
  rmdir "$(dirname "$IMAGES_DIR")" 2>/dev/null || true
fi

if [ "$PURGE" = 1 ]; then
  echo "==> purge configuration and data"
  # Unmount whatever isulad left mounted below its directories (deepest first), then remove them
  # without crossing into other filesystems.
  for dir in /var/lib/isulad /var/run/isulad /var/run/isula; do
    [ -e "$dir" ] || continue
    real=$(readlink -f "$dir")
    mapfile -t mounts < <(findmnt -rn -o TARGET | awk -v d="$real" '$0 == d || index($0, d "/") == 1' | sort -r)
    for m in "${mounts[@]}"; do
      umount -l "$m" && info "unmounted $m"
    done
    rm -rf --one-file-system "$dir" && info "removed $dir"
  done
  for f in /etc/isulad /etc/sysconfig/iSulad; do
    if [ -e "$f" ]; then rm -rf "$f" && info "removed $f"; fi
  done
  rmdir /etc/sysconfig 2>/dev/null || true
else
  info "kept /etc/isulad, /etc/sysconfig/iSulad, /var/lib/isulad (use --purge to remove them)"
fi
echo "==> isulad uninstalled"
