#!/usr/bin/env bash
# The project's test command (README, .ci/run): builds, then runs every unit and e2e suite in one
# vitest run and ends with "N passed, N failed". The e2e suites start real daemons in private
# namespaces, so this runs as root.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then
  echo "run-all: the e2e suites need root (namespaces, mounts)" >&2
  exit 1
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
npx nx run-many -t build --output-style=static
# Test code is type-checked too (vitest only strips types).
for cfg in packages/*/tsconfig.tests.json tools/certs/tsconfig.tests.json e2e/tsconfig.json; do npx tsc -p "$cfg"; done
npx vitest run --reporter=default --reporter=./tools/test/summary-reporter.mjs "$@"
