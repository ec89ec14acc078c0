#!/usr/bin/env bash
# Makes sure `docker-compose` is on PATH: test/feature/docker-compose.test.ts checks
# docker-compose.yml with `docker-compose config`, which works offline (no Docker engine needed).
# When it is missing, installs Debian's package (docker-compose 1.29) as root or through
# password-less sudo; otherwise says how to get it and leaves the failing test to say the rest.
# Quiet when there is nothing to do. `npm test` runs it (through scripts/setup.sh --tests).
set -euo pipefail

command -v docker-compose >/dev/null 2>&1 && exit 0

manual="install docker-compose 1.29 or later (Debian/Ubuntu: sudo apt-get install docker-compose); test/feature/docker-compose.test.ts fails without it"
if [ "$(id -u)" = 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "docker-compose is not installed and this user cannot install packages: $manual" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "docker-compose is not installed and this is not a Debian-like system (no apt-get): $manual" >&2
  exit 0
fi

echo "installing docker-compose (apt-get install docker-compose)" >&2
export DEBIAN_FRONTEND=noninteractive
apt_install() { "${sudo[@]}" apt-get install -y --no-install-recommends docker-compose >&2; }
# A fresh machine may have no package lists yet: update once and retry.
if ! apt_install && ! { "${sudo[@]}" apt-get update >&2 && apt_install; }; then
  echo "could not install docker-compose with apt-get: $manual" >&2
  exit 0
fi
docker-compose version >&2
