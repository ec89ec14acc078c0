#!/usr/bin/env bash
# Makes a fresh clone runnable: node_modules from the lock file (when missing or older than the
# lock), then the pinned Envoy (scripts/install-envoy.sh). Quiet when there is nothing to do.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi
scripts/install-envoy.sh >/dev/null
