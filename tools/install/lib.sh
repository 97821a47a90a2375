# Shared by setup.sh and uninstall.sh (sourced; expects PIDFILE to be set).

# True when PID 1 is systemd: the daemon is then a systemd service, not a background process.
is_systemd() { [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; }

# The pid in the pidfile, when that process is alive and is an isulad (guards against pid reuse).
running_pid() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid=$(head -n1 "$PIDFILE" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  grep -qa isulad "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}
