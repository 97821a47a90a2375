#!/usr/bin/env bash
# What the test command needs on a clean Debian 12 machine: the system packages (same list as the
# setup, tools/install/packages.txt) and the npm dependencies. Idempotent; quiet when all is there.
set -euo pipefail
cd "$(dirname "$0")/../.."

mapfile -t wanted < <(sed -e 's/#.*//' tools/install/packages.txt | tr -s ' \t' '\n' | sed '/^$/d')
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test-deps: installing ${missing[*]}"
  apt-get update -qq
  # Package scripts must not start services (docker-registry ships a unit) on a CI machine.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
fi
npm ci --no-audit --no-fund --loglevel=error
