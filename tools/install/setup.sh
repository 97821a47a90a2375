#!/bin/bash
# tools/install/setup.sh: install isula and isulad from this checkout on Debian 12, and start the daemon.
#
#   bash tools/install/setup.sh          (as root; from any directory)
#
# Steps: preflight -> (a) Debian packages -> (b) npm ci -> (c) npm run build -> (d) /usr/local/bin wrappers
# -> (e) group isulad -> (f) config files -> (g) start isulad -> (h) default images -> (i) isula run --rm busybox echo hello.
#
# Idempotent: re-running it changes nothing that is already right. Config files under /etc are written
# only when absent (your edits are never overwritten); wrappers are rewritten only when their content
# changes; a running isulad is left alone (no second daemon); npm ci is skipped while node_modules was
# installed by this script from the same package-lock.json and Node version.
#
# Environment knobs:
#   ISULA_SKIP_APT=1        skip step (a); the packages of packages.txt must already be installed
#   ISULA_FORCE_NPM_CI=1    run npm ci even when node_modules is up to date
#   ISULA_IMAGES_DIR=DIR    where the default image files go (default /usr/local/share/isula/images)
#
# Undo with tools/install/uninstall.sh [--purge].
set -Eeuo pipefail
umask 022
export LC_ALL=C.UTF-8

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)

BIN_DIR=/usr/local/bin
ETC_DIR=/etc/isulad
SYSCONFIG=/etc/sysconfig/iSulad
UNIT=/etc/systemd/system/isulad.service
GRAPH=/var/lib/isulad
PIDFILE=/var/run/isulad.pid
STDOUT_LOG=$GRAPH/isulad.stdout.log
DAEMON_LOG=$GRAPH/isulad.log
HOOK_SPEC=/etc/default/isulad/hooks/default.json
IMAGES_DIR=${ISULA_IMAGES_DIR:-/usr/local/share/isula/images}
READY_TIMEOUT=15
NODE_RANGE='>=20.19 <21'   # package.json "engines"

ISULA_JS=$REPO/packages/isula/dist/isula.js
ISULAD_JS=$REPO/packages/isulad/dist/isulad.js
NATIVE_ADDON=$REPO/packages/isulad/native/build/Release/isulad_native.node

# ---------------------------------------------------------------------------------------------------
# Output helpers, step timing, failure reporting

STEP=""
STEP_T0=0
STEP_NO=0
declare -a SUMMARY=()
declare -a WRITTEN=()
declare -a KEPT=()
SETUP_T0=${EPOCHREALTIME/./}

now_us() { echo "${EPOCHREALTIME/./}"; }
fmt_secs() { printf '%d.%03d' $(($1 / 1000000)) $((($1 % 1000000) / 1000)); }

end_step() {
  [ -n "$STEP" ] || return 0
  local dt=$(($(now_us) - STEP_T0))
  SUMMARY+=("$(printf '%-34s %8ss' "$STEP" "$(fmt_secs "$dt")")")
  echo "    ($STEP: $(fmt_secs "$dt") s)"
  STEP=""
}

step() {
  end_step
  STEP_NO=$((STEP_NO + 1))
  STEP=$1
  STEP_T0=$(now_us)
  printf '\n==> [%d/10] %s\n' "$STEP_NO" "$STEP"
}

info() { echo "    $*"; }
warn() { echo "    WARNING: $*" >&2; }
die() {
  echo >&2
  echo "setup.sh: FAILED${STEP:+ in step \"$STEP\"}: $*" >&2
  exit 1
}

on_err() {
  local rc=$? line=$1 cmd=$2
  trap - ERR
  echo >&2
  echo "setup.sh: FAILED${STEP:+ in step \"$STEP\"} (line $line, exit $rc): $cmd" >&2
  exit "$rc"
}
trap 'on_err $LINENO "$BASH_COMMAND"' ERR

OWN_POLICY_RC=0
on_exit() {
  if [ "$OWN_POLICY_RC" = 1 ] && [ -f /usr/sbin/policy-rc.d ] && grep -q 'isula setup.sh guard' /usr/sbin/policy-rc.d; then
    rm -f /usr/sbin/policy-rc.d
  fi
}
trap on_exit EXIT

record_written() { WRITTEN+=("$1"); info "wrote $1"; }
record_kept() { KEPT+=("$1"); info "kept $1 (exists${2:+; $2})"; }

# shellcheck source=tools/install/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------------------------------------------
step "preflight"

[ "$(id -u)" = 0 ] || die "run as root: sudo bash tools/install/setup.sh"
grep -qs '^  "name": "isula-ts"' "$REPO/package.json" || die "$REPO does not look like the isula-ts repository (package.json name)"
[ -f "$REPO/package-lock.json" ] || die "$REPO/package-lock.json missing: npm ci needs it"
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  if [ "${ID:-}" != debian ] || [ "${VERSION_ID:-}" != 12 ]; then
    warn "this script targets Debian 12; found ${PRETTY_NAME:-unknown}. Continuing."
  fi
fi
command -v apt-get >/dev/null || die "apt-get not found: this script needs Debian"

# Only one setup.sh at a time (the lock goes away with this process).
mkdir -p /run/lock
exec 9>/run/lock/isula-setup.lock
flock -n 9 || die "another tools/install/setup.sh is running (lock /run/lock/isula-setup.lock)"

# Node.js is not a Debian package we can use (bookworm ships 18); it must be there already.
command -v node >/dev/null || die "node not found. Install Node.js $NODE_RANGE (e.g. from NodeSource) first."
command -v npm >/dev/null || die "npm not found. Install npm with Node.js $NODE_RANGE first."
NODE_BIN=$(command -v node)
NODE_VERSION=$("$NODE_BIN" -v)
node_ok=$("$NODE_BIN" -e '
  const [maj, min] = process.versions.node.split(".").map(Number);
  process.stdout.write(maj === 20 && min >= 19 ? "yes" : "no");')
[ "$node_ok" = yes ] || die "Node.js $NODE_VERSION does not satisfy $NODE_RANGE (package.json engines)"
info "repository  $REPO"
info "node        $NODE_BIN $NODE_VERSION, npm $(npm -v)"
info "PID 1       $(cat /proc/1/comm 2>/dev/null || echo '?')$(is_systemd && echo ' (systemd)' || echo ' (not systemd: isulad will run in the background)')"

# ---------------------------------------------------------------------------------------------------
step "(a) Debian packages"

mapfile -t PKGS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$HERE/packages.txt" | grep -v '^$')
[ "${#PKGS[@]}" -gt 0 ] || die "no packages in $HERE/packages.txt"
pkg_installed() { [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]; }
declare -a MISSING=()
for p in "${PKGS[@]}"; do pkg_installed "$p" || MISSING+=("$p"); done
info "${#PKGS[@]} packages listed; not yet installed: ${MISSING[*]:-none}"

if [ "${ISULA_SKIP_APT:-0}" = 1 ]; then
  info "ISULA_SKIP_APT=1: not running apt-get"
else
  # policy-rc.d answering 101 stops package maintainer scripts from starting services (docker-registry
  # would otherwise start a registry on :5000). An existing policy-rc.d is the admin's: left as it is.
  if [ -e /usr/sbin/policy-rc.d ]; then
    info "/usr/sbin/policy-rc.d already exists: using it as the guard, not touching it"
  else
    printf '%s\n' '#!/bin/sh' '# isula setup.sh guard: no service starts during apt-get; removed when setup.sh ends.' 'exit 101' \
      >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    OWN_POLICY_RC=1
    info "installed temporary /usr/sbin/policy-rc.d (exit 101)"
  fi
  export DEBIAN_FRONTEND=noninteractive
  info "apt-get update"
  apt-get update -q || die "apt-get update failed (network? sources.list?)"
  info "apt-get install -y --no-install-recommends ${PKGS[*]}"
  apt-get install -y -q --no-install-recommends "${PKGS[@]}" || die "apt-get install failed"
  if [ "$OWN_POLICY_RC" = 1 ]; then
    rm -f /usr/sbin/policy-rc.d
    OWN_POLICY_RC=0
    info "removed the temporary /usr/sbin/policy-rc.d"
  fi
  # Enabled services would still start at the next boot. The registry is only wanted as a binary for
  # tests (which run their own instances), so disable its unit when this run installed the package.
  if is_systemd && [[ " ${MISSING[*]:-} " == *" docker-registry "* ]]; then
    systemctl disable docker-registry.service >/dev/null 2>&1 && info "disabled docker-registry.service (tests start their own registry)"
  fi
fi
for p in "${PKGS[@]}"; do pkg_installed "$p" || die "package $p is not installed"; done
for c in runc conmon skopeo jq curl openssl ip nsenter unshare docker-registry htpasswd hyperfine make g++ python3 git; do
  command -v "$c" >/dev/null || die "command $c missing after installing the packages"
done
if [ ! -x /bin/busybox ] || [ "$(dpkg-query -S /bin/busybox 2>/dev/null | cut -d: -f1)" != busybox-static ]; then
  die "/bin/busybox is not the one from busybox-static"
fi
[ -x /usr/lib/cni/bridge ] || die "CNI plugins missing from /usr/lib/cni (containernetworking-plugins)"
info "all ${#PKGS[@]} packages installed; runc $(runc --version | sed -n 's/^runc version //p'), conmon $(conmon --version | sed -n 's/^conmon version //p')"

# ---------------------------------------------------------------------------------------------------
step "(b) npm ci"

cd "$REPO"
# node-gyp needs Node's headers; without internet it cannot download them, so point it at the ones
# installed with Node when npm has no nodedir of its own.
NODE_PREFIX=$(dirname "$(dirname "$NODE_BIN")")
if [ -z "$(npm config get nodedir 2>/dev/null | grep -v '^undefined$' || true)" ] && [ -f "$NODE_PREFIX/include/node/node_api.h" ]; then
  export npm_config_nodedir=$NODE_PREFIX
  info "node-gyp will use the headers in $NODE_PREFIX/include/node"
fi
STAMP=$REPO/node_modules/.isula-setup-stamp
STAMP_WANT="package-lock=$(sha256sum package-lock.json | cut -d' ' -f1) node=$NODE_VERSION npm=$(npm -v)"
if [ "${ISULA_FORCE_NPM_CI:-0}" != 1 ] && [ -d node_modules ] && [ "$(cat "$STAMP" 2>/dev/null || true)" = "$STAMP_WANT" ]; then
  info "node_modules was installed by setup.sh from this package-lock.json and $NODE_VERSION: npm ci skipped"
  info "(ISULA_FORCE_NPM_CI=1 forces it)"
else
  info "npm ci (replaces node_modules)"
  npm ci --no-audit --no-fund || die "npm ci failed"
  printf '%s\n' "$STAMP_WANT" >"$STAMP"
fi

# ---------------------------------------------------------------------------------------------------
step "(c) npm run build"

npm run build || die "npm run build failed"
for f in "$ISULA_JS" "$ISULAD_JS" "$NATIVE_ADDON"; do
  [ -s "$f" ] || die "build output missing: $f"
done
info "isulad $("$NODE_BIN" "$ISULAD_JS" --version)"

# ---------------------------------------------------------------------------------------------------
step "(d) wrappers in $BIN_DIR"

# install_text DEST MODE: writes stdin to DEST atomically, only when the content differs.
install_text() {
  local dest=$1 mode=$2 tmp
  tmp=$(mktemp "$dest.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"
    chmod "$mode" "$dest"
    info "unchanged $dest"
  else
    mv -f "$tmp" "$dest"
    record_written "$dest"
  fi
}
mkdir -p "$BIN_DIR"
# A wrapper is one dash process that execs node in place: no extra process stays, the PID is kept
# (systemd's Type=notify relies on that for isulad) and the cost is well under a millisecond.
install_text "$BIN_DIR/isula" 0755 <<EOF
#!/bin/sh
# isula: client of the TypeScript iSulad in $REPO (written by tools/install/setup.sh)
exec $NODE_BIN -- $ISULA_JS "\$@"
EOF
install_text "$BIN_DIR/isulad" 0755 <<EOF
#!/bin/sh
# isulad: daemon of the TypeScript iSulad in $REPO (written by tools/install/setup.sh)
exec $NODE_BIN -- $ISULAD_JS "\$@"
EOF
install_text "$BIN_DIR/isula-certs" 0755 <<EOF
#!/bin/sh
# isula-certs: TLS certificates for isulad remote access (tools/certs in $REPO, written by tools/install/setup.sh)
exec $NODE_BIN -- $REPO/tools/certs/dist/cli.js "\$@"
EOF
[ "$(command -v isula)" = "$BIN_DIR/isula" ] || warn "'isula' on PATH is $(command -v isula || echo nothing), not $BIN_DIR/isula"
ISULA=$BIN_DIR/isula

# ---------------------------------------------------------------------------------------------------
step "(e) group isulad"

if getent group isulad >/dev/null; then
  info "group isulad exists (gid $(getent group isulad | cut -d: -f3))"
else
  groupadd -r isulad
  info "created system group isulad (gid $(getent group isulad | cut -d: -f3)): members may use /var/run/isulad.sock"
fi

# ---------------------------------------------------------------------------------------------------
step "(f) configuration files"

# install_if_absent SRC DEST MODE: copies a template unless DEST exists (then it is the admin's file).
install_if_absent() {
  local src=$1 dest=$2 mode=$3
  if [ -e "$dest" ]; then
    if cmp -s "$src" "$dest"; then record_kept "$dest" "same as template"; else record_kept "$dest" "differs from $src, left untouched"; fi
    return 0
  fi
  mkdir -p "$(dirname "$dest")"
  install -m "$mode" -o root -g root "$src" "$dest"
  record_written "$dest"
}

# /etc/isulad as upstream's package ships it: directory 0750, files 0640, root only.
if [ ! -d "$ETC_DIR" ]; then install -d -m 0750 "$ETC_DIR"; fi

# daemon.json is upstream's shipped file (src/contrib/config/daemon.json) with these changes:
# - "log-driver": "file" instead of "stdout". Upstream relies on systemd's journal to catch stdout. Here
#   isulad also runs without systemd (this script's background start, test sandboxes), where stdout would
#   be an unrotated file. With "file" the daemon log is always /var/lib/isulad/isulad.log (what upstream's
#   CI tails), and log-opts (mode 0600, max-size, max-file) really apply; under systemd the journal
#   still gets whatever isulad prints before its log is open.
# - "native.umask": "secure" (0027, the code default and the spec's) instead of "normal".
# - no "hook-spec" unless /etc/default/isulad/hooks/default.json exists (a missing file stops isulad).
# - no "registry-mirrors" (the spec's example has docker.io; this project's hosts have no internet).
# - "default-runtime": "runc" as upstream's shipped file has (the spec's lcr is a later capability).
DAEMON_JSON_SRC=$HERE/daemon.json
if [ -f "$HOOK_SPEC" ] && [ ! -e "$ETC_DIR/daemon.json" ]; then
  DAEMON_JSON_SRC=$(mktemp)
  jq --indent 4 --arg h "$HOOK_SPEC" '. + {"hook-spec": $h}' "$HERE/daemon.json" >"$DAEMON_JSON_SRC"
  info "$HOOK_SPEC exists: daemon.json gets \"hook-spec\""
fi
install_if_absent "$DAEMON_JSON_SRC" "$ETC_DIR/daemon.json" 0640
[ "$DAEMON_JSON_SRC" = "$HERE/daemon.json" ] || rm -f "$DAEMON_JSON_SRC"
jq -e . "$ETC_DIR/daemon.json" >/dev/null || die "$ETC_DIR/daemon.json is not valid JSON"
install_if_absent "$HERE/daemon_constants.json" "$ETC_DIR/daemon_constants.json" 0640
install_if_absent "$HERE/iSulad.sysconfig" "$SYSCONFIG" 0640
# The unit is installed on every host (harmless without systemd) so the files are the same everywhere.
install_if_absent "$HERE/isulad.service" "$UNIT" 0644

# ---------------------------------------------------------------------------------------------------
step "(g) start isulad"

isula_answers() { "$ISULA" version >/dev/null 2>&1; }


# wait_ready SECONDS [PID]: polls `isula version`; gives up early when PID dies.
wait_ready() {
  local deadline=$(($(now_us) + $1 * 1000000)) pid=${2:-}
  while :; do
    isula_answers && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 2; fi
    [ "$(now_us)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

show_logs() {
  local f
  for f in "$STDOUT_LOG" "$DAEMON_LOG"; do
    if [ -s "$f" ]; then
      echo "---- last lines of $f ----" >&2
      tail -n 30 "$f" >&2
    fi
  done
}

# A running isulad built from other sources than this checkout's build is restarted, so the setup's
# main job runs against the code just built (KillMode=process: containers keep running across it).
BUILT_AT=$(node -e "process.stdout.write(require('$REPO/packages/isulad/dist/build-info.json').buildTime)")
stale_daemon() {
  local served
  served=$("$ISULA" version 2>/dev/null | awk -F'\t' '/^Server:/ { s = 1 } s && /Built:/ { print $2; exit }')
  [ -n "$served" ] && [ "$served" != "$BUILT_AT" ]
}

# The readiness check talks to the default socket (unix:///var/run/isulad.sock); keep it among the
# listeners if you change hosts, or set ISULAD_HOST for isula.
if ! is_systemd && pid=$(running_pid) && stale_daemon; then
  info "isulad pid $pid runs an older build: stopping it to start this one"
  kill -TERM "$pid"
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$pid" 2>/dev/null || die "isulad pid $pid did not stop within 15 s"
fi
if is_systemd; then
  systemctl daemon-reload
  if systemctl is-active --quiet isulad; then
    info "isulad.service is already active (main pid $(systemctl show -p MainPID --value isulad))"
    systemctl enable isulad >/dev/null 2>&1
    if stale_daemon; then
      info "it runs an older build: systemctl restart isulad"
      systemctl restart isulad || die "systemctl restart isulad failed"
    fi
  else
    T_START=$(now_us)
    systemctl enable --now isulad || {
      systemctl status isulad --no-pager >&2 || true
      journalctl -u isulad -n 50 --no-pager >&2 || true
      die "systemctl enable --now isulad failed"
    }
    info "isulad.service started"
  fi
  wait_ready "$READY_TIMEOUT" || {
    journalctl -u isulad -n 50 --no-pager >&2 || true
    show_logs
    die "isulad.service is up but 'isula version' does not answer after ${READY_TIMEOUT}s"
  }
  [ -z "${T_START:-}" ] || info "start-to-ready: $(fmt_secs $(($(now_us) - T_START))) s"
elif pid=$(running_pid); then
  if wait_ready "$READY_TIMEOUT" "$pid"; then
    info "isulad already running (pid $pid), this build, answering: not starting another"
  else
    show_logs
    die "isulad pid $pid (from $PIDFILE) is alive but 'isula version' does not answer"
  fi
else
  # No systemd: start isulad detached (own session, no terminal, stdio to a file), with the environment
  # systemd would give it: the variables of /etc/sysconfig/iSulad and the unit's limits as far as this
  # host's hard limits allow.
  mkdir -p "$GRAPH"
  chmod 0750 "$GRAPH"
  [ ! -S /var/run/isulad.sock ] || info "removing stale socket /var/run/isulad.sock (no daemon owns it)"
  rm -f /var/run/isulad.sock
  touch "$STDOUT_LOG"
  chmod 0600 "$STDOUT_LOG"
  T_START=$(now_us)
  (
    set +eu
    trap - ERR EXIT
    set -a
    # shellcheck disable=SC1090
    [ -r "$SYSCONFIG" ] && . "$SYSCONFIG"
    set +a
    ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    ulimit -u unlimited 2>/dev/null || ulimit -u "$(ulimit -Hu)"
    ulimit -c unlimited 2>/dev/null || true
    # Close every inherited descriptor above stderr (the setup lock among them) before exec.
    for fd in "/proc/$BASHPID/fd"/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
    done
    cd /
    set -f # $OPTIONS is split into words like systemd does, without globbing
    # shellcheck disable=SC2086
    exec setsid nohup "$BIN_DIR/isulad" ${OPTIONS:-} </dev/null >>"$STDOUT_LOG" 2>&1
  ) &
  DAEMON_PID=$!
  info "started isulad in the background (pid $DAEMON_PID); stdout/stderr -> $STDOUT_LOG"
  rc=0
  wait_ready "$READY_TIMEOUT" "$DAEMON_PID" || rc=$?
  if [ "$rc" = 2 ]; then
    show_logs
    die "isulad exited during start-up"
  elif [ "$rc" != 0 ]; then
    show_logs
    die "isulad (pid $DAEMON_PID) did not answer 'isula version' within ${READY_TIMEOUT}s"
  fi
  info "isulad ready: start-to-ready $(fmt_secs $(($(now_us) - T_START))) s; pidfile says $(head -n1 "$PIDFILE" 2>/dev/null || echo '?')"
fi

# ---------------------------------------------------------------------------------------------------
step "(h) default images"

bash "$REPO/tools/images/make-busybox.sh" "$IMAGES_DIR" latest | sed 's/^/    /'
bash "$REPO/tools/images/make-pause.sh" "$IMAGES_DIR" | sed 's/^/    /'
WRITTEN+=("$IMAGES_DIR/busybox.tar" "$IMAGES_DIR/busybox-oci/" "$IMAGES_DIR/pause.tar" "$IMAGES_DIR/pause-oci/")
info "image files: $IMAGES_DIR/busybox.tar (docker-save) and $IMAGES_DIR/busybox-oci (OCI layout),"
info "             $IMAGES_DIR/pause.tar and $IMAGES_DIR/pause-oci"
# Loading again is harmless: same config digest, same layers, the tag points where it did.
for tar in busybox.tar pause.tar; do
  info "isula load -i $IMAGES_DIR/$tar"
  "$ISULA" load -i "$IMAGES_DIR/$tar" | sed 's/^/    /' || die "isula load -i $IMAGES_DIR/$tar failed"
done

# ---------------------------------------------------------------------------------------------------
step "(i) main job: isula run --rm busybox echo hello"

"$ISULA" version || die "isula version failed"
echo
"$ISULA" images || die "isula images failed"
echo
out=$("$ISULA" run --rm busybox echo hello) || die "isula run --rm busybox echo hello failed"
printf '%s\n' "$out"
[ "$out" = "hello" ] || die "isula run --rm busybox echo hello printed '$out', not 'hello'"

end_step
echo
echo "==> done in $(fmt_secs $(($(now_us) - SETUP_T0))) s"
printf '    %s\n' "${SUMMARY[@]}"
if [ "${#WRITTEN[@]}" -gt 0 ]; then
  echo "    files written this run:"
  printf '      %s\n' "${WRITTEN[@]}"
else
  echo "    no files written this run"
fi
[ "${#KEPT[@]}" -eq 0 ] || { echo "    existing files kept:"; printf '      %s\n' "${KEPT[@]}"; }
