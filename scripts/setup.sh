#!/usr/bin/env bash
# Makes a fresh clone runnable: node_modules from the lock file (when missing or older than the
# lock), then the pinned Envoy (scripts/install-envoy.sh). Quiet when there is nothing to do.
# --tests (npm test): also what only the tests need, docker-compose (scripts/install-docker-compose.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi
scripts/install-envoy.sh >/dev/null
if [ "${1:-}" = "--tests" ]; then
  scripts/install-docker-compose.sh
fi
