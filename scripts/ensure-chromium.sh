#!/usr/bin/env bash
# Makes sure headless Chromium is there for the inspector page test
# (tests/inspector/page.test.ts drives it with playwright-core, which cannot
# download a browser here): Debian's `chromium`, installed with apt-get when
# missing. Prints the browser's path; exits 3, saying why, when it cannot.
#
# Usage: bash scripts/ensure-chromium.sh [--no-install]
# Environment: CHROMIUM=/path/to/chromium to use another binary.
set -euo pipefail

install=1
[ "${1:-}" = --no-install ] && install=0

find_chromium() {
  if [ -n "${CHROMIUM:-}" ]; then
    if [ -x "$CHROMIUM" ]; then echo "$CHROMIUM"; fi
    return 0
  fi
  command -v chromium || command -v chromium-browser || true
}

browser=$(find_chromium)
if [ -z "$browser" ] && [ "$install" = 1 ]; then
  if [ -n "${CHROMIUM:-}" ]; then
    echo "ensure-chromium: CHROMIUM=$CHROMIUM is not an executable file." >&2
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: chromium not found; installing Debian's chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y chromium >&2 || { apt-get update >&2 && apt-get install -y chromium >&2; }
    browser=$(find_chromium)
  else
    echo "ensure-chromium: chromium not found, and it can only be installed here as root with apt-get." >&2
  fi
fi
if [ -z "$browser" ]; then
  echo "ensure-chromium: no Chromium. Install Debian's 'chromium' package (apt-get install -y chromium)," >&2
  echo "  or set CHROMIUM to a Chromium binary." >&2
  exit 3
fi
echo "$browser"
