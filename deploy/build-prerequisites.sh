#!/usr/bin/env bash
# What the build needs beyond the .NET SDK, installed from Debian's packages when missing: Node.js and npm (the
# service's build vendors the dashboard's chart library from npm). With --browser, also Debian's chromium (the
# dashboard's browser test drives it; Playwright's own browser download cannot work here).
set -euo pipefail
packages=()
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  packages+=(chromium)
fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "build-prerequisites: installing ${packages[*]} from Debian's packages" >&2
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo=sudo; fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >&2
fi
